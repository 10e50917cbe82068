"""The libraries import in one direction: the import-linter contracts of ``pyproject.toml`` hold.

``[tool.importlinter]`` states the order of docs/architecture.md: services > ``txn_lake`` >
``txn_runtime`` > ``txn_contract``, services never import each other, nothing imports
``local_platform`` and it imports only ``txn_contract`` and ``txn_runtime`` of ours. These tests
run ``lint-imports`` (the venv's) on the working tree, and on copies with one deliberate
violation per contract, so that each contract is shown able to fail.

How the tree ``lint-imports`` reads is chosen: the packages live under ``libs/`` and
``services/`` with other import names (``services/producer`` is ``txn_producer``), and the
project is installed editable, where setuptools' finder maps the names to the repository. Each
run gets a directory of the eight packages under their import names (symlinks to the working
tree, or copies to inject into) and runs with that directory as its working directory and
``PYTHONPATH``. ``lint-imports`` puts its working directory first on ``sys.path``, and the
path-based finder comes before the editable finder (which setuptools appends to
``sys.meta_path``), so grimp finds the directory's packages whatever the install mode. The
violation tests assert that the report names the injected line (module and line number), which
no file of the repository has: they fail if the copy was not what was read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
_CONFIG = tomllib.loads(PYPROJECT.read_text())
# Import name -> directory, e.g. "txn_producer" -> "services/producer".
PACKAGE_DIRS: dict[str, str] = _CONFIG["tool"]["setuptools"]["package-dir"]
CONTRACTS = {c["id"]: c for c in _CONFIG["tool"]["importlinter"]["contracts"]}
# The one-application run: the composition root above the services (it runs their jobs).
COMPOSITION = "txn_pipeline"
SERVICES = sorted(
    name for name, d in PACKAGE_DIRS.items() if d.startswith("services/") and name != COMPOSITION
)


def _view(at: Path, *, copy: bool) -> Path:
    """``at`` holding the eight packages under their import names: copies of the working
    tree's (to edit) or symlinks to it."""
    at.mkdir()
    for name, directory in PACKAGE_DIRS.items():
        if copy:
            shutil.copytree(
                ROOT / directory, at / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            (at / name).symlink_to(ROOT / directory, target_is_directory=True)
    return at


def lint_imports(view: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the repository's contracts on the packages of ``view``."""
    env = {**os.environ, "PYTHONPATH": str(view)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(PYPROJECT)],
        cwd=view,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_contracts_cover_every_package():
    """A package added to pyproject.toml is in the graph, and every service in both service
    contracts; otherwise its imports would go unchecked."""
    assert sorted(_CONFIG["tool"]["importlinter"]["root_packages"]) == sorted(PACKAGE_DIRS)
    top, services = CONTRACTS["layers"]["layers"][:2]
    assert top == COMPOSITION
    assert sorted(s.strip() for s in services.split(":")) == SERVICES
    assert sorted(CONTRACTS["services"]["modules"]) == SERVICES


def test_the_working_tree_keeps_every_contract(tmp_path: Path):
    run = lint_imports(_view(tmp_path / "view", copy=False))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in run.stdout


# (contract, module, the import added at its end, the module the report names as imported)
VIOLATIONS = [
    # The cycles of issue 18: the bottom library importing the ones above it.
    ("layers", "txn_contract.errors", "import txn_lake", "txn_lake"),
    ("layers", "txn_contract.registry", "import txn_runtime.connections", "txn_runtime.connections"),
    ("layers", "txn_runtime.durations", "from txn_lake import layout", "txn_lake.layout"),
    # A service importing the one-application run above it.
    ("layers", "txn_silver.job", "import txn_pipeline.runner", "txn_pipeline.runner"),
    ("services", "txn_report.report", "import txn_silver.job", "txn_silver.job"),
    ("nothing-imports-local-platform", "txn_producer.config", "import local_platform", "local_platform"),
    ("local-platform-imports", "local_platform.settings", "import txn_lake.facts", "txn_lake.facts"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("contract", "module", "injected", "imported"),
    VIOLATIONS,
    ids=[f"{module}->{imported}" for _, module, _, imported in VIOLATIONS],
)
def test_a_deliberate_violation_breaks_its_contract(
    tmp_path: Path, contract: str, module: str, injected: str, imported: str
):
    view = _view(tmp_path / "view", copy=True)
    path = view.joinpath(*module.split(".")).with_suffix(".py")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, f"{injected}  # deliberate violation", ""]))

    run = lint_imports(view)

    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{CONTRACTS[contract]['name']} BROKEN" in run.stdout, run.stdout
    # The injected import, at its line in the copy: the copy is what was read.
    assert f"{module} -> {imported} (l.{len(lines) + 1})" in run.stdout, run.stdout
