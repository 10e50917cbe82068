"""``txn-contract`` from its home in ``txn_runtime``: it still generates into ``txn_contract``.

Regression (issue 18, the CLI moved out of ``txn_contract``): the fallback directory was the
CLI module's own, which became ``txn_runtime``'s; outside a checkout it must be the installed
``txn_contract`` package's.
"""

from __future__ import annotations

from pathlib import Path

import txn_contract
from txn_runtime.contract_cli import _package_dir


def test_in_a_checkout_it_generates_into_libs_txn_contract_next_to_contracts(tmp_path: Path):
    (tmp_path / "libs" / "txn_contract").mkdir(parents=True)
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    assert _package_dir(contracts) == (tmp_path / "libs" / "txn_contract").resolve()


def test_outside_a_checkout_it_generates_into_the_installed_txn_contract(tmp_path: Path):
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    assert _package_dir(contracts) == Path(txn_contract.__file__).resolve().parent
