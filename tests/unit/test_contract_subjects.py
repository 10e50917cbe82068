"""Every subject folder of ``contracts/``: loading, the packaged copies, and ``txn-contract check``
and ``register`` iterating the subjects.

``register`` runs against an in-memory registry (the calls ``txn_contract.registry`` makes, with
the Confluent error codes), so the iteration and the idempotence are tested without a platform;
tests/e2e/test_contract_cli.py runs the same against the live one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from confluent_kafka.schema_registry.error import SchemaRegistryError

from txn_contract.contract import (
    load_contract,
    load_contracts,
    packaged_contract,
    packaged_contracts,
)
from txn_contract.errors import SchemaFileError, TxnError
from txn_contract.generate import check_all
from txn_runtime.connections import RegistrySettings
from txn_runtime.contract_cli import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
STREAM, ALERTS = "bank_txn_stream-value", "bank_txn_alerts-value"
URL = "http://registry.invalid:8081/apis/ccompat/v7"


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    """A copy of ``contracts/``."""
    shutil.copytree(CONTRACTS_DIR, tmp_path / "contracts")
    return tmp_path / "contracts"


def _edit_policy(contracts: Path, folder: str, **keys: Any) -> None:
    path = contracts / folder / "policy.json"
    policy = {**json.loads(path.read_text()), **keys}
    path.write_text(json.dumps({k: v for k, v in policy.items() if v is not None}, indent=2))


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def test_load_contracts_reads_every_subject_folder_and_load_contract_defaults_to_the_stream():
    contracts = load_contracts(CONTRACTS_DIR)
    assert [(c.subject, c.module) for c in contracts] == [(ALERTS, "alerts"), (STREAM, None)]
    assert load_contract(CONTRACTS_DIR).subject == STREAM
    assert load_contract(CONTRACTS_DIR, ALERTS).module == "alerts"
    with pytest.raises(SchemaFileError, match="holds no subject 'nope-value'; found bank_txn_"):
        load_contract(CONTRACTS_DIR, "nope-value")


def test_packaged_contracts_are_the_stream_then_the_alerts():
    assert [c.subject for c in packaged_contracts()] == [STREAM, ALERTS]
    assert packaged_contract().subject == STREAM
    alerts = packaged_contract(ALERTS)
    assert Path(alerts.root).parts[-3:] == ("txn_contract", "alerts", "schemas")
    with pytest.raises(TxnError, match="Subject nope-value is not compiled into txn_contract"):
        packaged_contract("nope-value")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            {"subject": STREAM},
            f"two subject directories share the subject '{STREAM}'",
            id="subject",
        ),
        pytest.param(
            {"module": None},
            "only one subject may be generated into txn_contract itself, but "
            "bank_txn_alerts-value and bank_txn_stream-value name no 'module'",
            id="two-roots",
        ),
        pytest.param({"module": "Alerts"}, "'module' must be a lowercase Python name", id="case"),
        pytest.param({"module": "class"}, "'module' must be a lowercase Python name", id="keyword"),
    ],
)
def test_load_contracts_refuses_ambiguous_subjects(contracts: Path, edit, message: str):
    _edit_policy(contracts, ALERTS, **edit)
    with pytest.raises(SchemaFileError, match=message):
        load_contracts(contracts)


def test_two_modules_of_the_same_name_are_refused(contracts: Path):
    shutil.copytree(contracts / ALERTS, contracts / "copy_alerts-value")
    _edit_policy(contracts, "copy_alerts-value", subject="copy_alerts-value")
    with pytest.raises(SchemaFileError, match="two subject directories share the module 'alerts'"):
        load_contracts(contracts)


@pytest.mark.parametrize("module", ["rules", "compatibility", "schemas"])
def test_a_module_that_would_overwrite_the_package_is_refused(contracts: Path, module: str):
    _edit_policy(contracts, ALERTS, module=module)
    package = REPO_ROOT / "libs" / "txn_contract"
    with pytest.raises(SchemaFileError, match=f"module '{module}' would overwrite txn_contract"):
        check_all(load_contracts(contracts), contracts, package)


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------


def test_check_judges_every_subject_and_names_each_in_its_summary():
    result = CliRunner().invoke(cli, ["check", "--contracts", str(CONTRACTS_DIR)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    alerts, stream = result.stderr.splitlines()
    assert alerts == (
        f"{ALERTS}: 1 schema(s) checked at FULL_TRANSITIVE: compatible; 4 detector(s) in "
        f"{CONTRACTS_DIR / ALERTS / 'detectors.yaml'}: valid"
    )
    assert stream.startswith(f"{STREAM}: 2 schema(s) checked at FULL_TRANSITIVE: compatible; ")
    assert stream.endswith(f"rule(s) in {CONTRACTS_DIR / STREAM / 'expectations.yaml'}: valid")


def test_check_json_has_one_entry_a_subject():
    result = CliRunner().invoke(
        cli, ["check", "--contracts", str(CONTRACTS_DIR), "--format", "json"]
    )
    report = json.loads(result.stdout)
    assert report["compatible"] is True
    assert [(s["subject"], s["schemas"], s["level"]) for s in report["subjects"]] == [
        (ALERTS, 1, "FULL_TRANSITIVE"),
        (STREAM, 2, "FULL_TRANSITIVE"),
    ]
    alerts, stream = report["subjects"]
    assert alerts["rules"] is None and alerts["detectors"]["detectors"] == 4
    assert stream["detectors"] is None and stream["rules"] == report["rules"]


def test_check_reports_a_detectors_problem_as_a_violation_line_and_exits_1(contracts: Path):
    path = contracts / ALERTS / "detectors.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["detectors"][0]["severity"] = "urgent"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    result = CliRunner().invoke(cli, ["check", "--contracts", str(contracts)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"{path}: velocity: unknown severity 'urgent'; choose from low, medium, high, critical "
        f"(symbols of enum Severity of {ALERTS})\n"
    )
    assert f"{ALERTS}: 1 schema(s) checked at FULL_TRANSITIVE: compatible; 4 detector(s) in " in (
        result.stderr
    )
    assert ": 1 problem(s)" in result.stderr
    report = json.loads(
        CliRunner().invoke(cli, ["check", "--contracts", str(contracts), "--format", "json"]).stdout
    )
    (violation,) = report["subjects"][0]["detectors"]["violations"]
    assert violation["detector"] == "velocity"


def test_check_judges_each_subject_at_its_own_level(contracts: Path):
    _edit_policy(contracts, ALERTS, compatibility="BACKWARD")
    result = CliRunner().invoke(cli, ["check", "--contracts", str(contracts)])
    assert result.exit_code == 0, result.output
    assert f"{ALERTS}: 1 schema(s) checked at BACKWARD: " in result.stderr
    assert f"{STREAM}: 2 schema(s) checked at FULL_TRANSITIVE: " in result.stderr


def test_an_incompatible_alerts_version_fails_check_naming_the_file(contracts: Path):
    v1 = json.loads((contracts / ALERTS / "v1.avsc").read_text())
    v1["fields"].append({"name": "score", "type": "int", "doc": "Risk score."})
    v2 = contracts / ALERTS / "v2.avsc"
    v2.write_text(json.dumps(v1, indent=2))
    result = CliRunner().invoke(cli, ["check", "--contracts", str(contracts)])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{v2}: score: field 'score' (int) was added")
    assert f"{ALERTS}: 2 schema(s) checked at FULL_TRANSITIVE: 1 violation(s)" in result.stderr


# ---------------------------------------------------------------------------------------------
# register
# ---------------------------------------------------------------------------------------------


class FakeRegistry:
    """The registry calls ``txn_contract.registry`` makes, in memory, with Confluent's codes."""

    def __init__(self) -> None:
        self.schemas: dict[str, list[str]] = {}
        self.levels: dict[str, str] = {}
        self.ids: dict[str, int] = {}

    def lookup_schema(self, subject: str, schema) -> SimpleNamespace:
        versions = self.schemas.get(subject, [])
        if schema.schema_str not in versions:
            raise SchemaRegistryError(404, 40403, "Schema not found")
        version = versions.index(schema.schema_str) + 1
        return SimpleNamespace(schema_id=self.ids[schema.schema_str], version=version)

    def register_schema(self, subject: str, schema) -> int:
        self.schemas.setdefault(subject, []).append(schema.schema_str)
        return self.ids.setdefault(schema.schema_str, len(self.ids) + 1)

    def get_compatibility(self, subject: str) -> str:
        if subject not in self.levels:
            raise SchemaRegistryError(404, 40408, "Subject does not have subject-level config")
        return self.levels[subject]

    def set_compatibility(self, subject: str, level: str) -> None:
        self.levels[subject] = level


def test_register_registers_every_subject_in_order_and_is_idempotent(monkeypatch):
    registry = FakeRegistry()
    monkeypatch.setattr(RegistrySettings, "registry_client", lambda self, **_kw: registry)
    args = ["register", "--registry", URL, "--contracts", str(CONTRACTS_DIR)]

    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    lines = [line.removeprefix("[txn-contract] ") for line in first.stderr.splitlines()]
    assert lines == [
        f"{ALERTS}: v1 registered (id 1)",
        f"{ALERTS}: compatibility level set to FULL_TRANSITIVE (was unset)",
        f"{ALERTS}: 2 change(s)",
        f"{STREAM}: v1 registered (id 2)",
        f"{STREAM}: compatibility level set to FULL_TRANSITIVE (was unset)",
        f"{STREAM}: v2 registered (id 3)",
        f"{STREAM}: 3 change(s)",
    ]
    assert [len(registry.schemas[s]) for s in (ALERTS, STREAM)] == [1, 2]
    assert registry.levels == {ALERTS: "FULL_TRANSITIVE", STREAM: "FULL_TRANSITIVE"}

    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert f"{ALERTS}: v1 already registered (id 1, registry version 1)" in again.stderr
    assert f"{STREAM}: v2 already registered (id 3, registry version 2)" in again.stderr
    assert f"{ALERTS}: nothing to do" in again.stderr
    assert f"{STREAM}: nothing to do" in again.stderr


def test_register_outside_a_checkout_registers_the_packaged_subjects(monkeypatch, tmp_path):
    registry = FakeRegistry()
    monkeypatch.setattr(RegistrySettings, "registry_client", lambda self, **_kw: registry)
    monkeypatch.chdir(tmp_path)  # no contracts/ here or above
    result = CliRunner().invoke(cli, ["register", "--registry", URL])
    assert result.exit_code == 0, result.output
    assert set(registry.schemas) == {STREAM, ALERTS}
