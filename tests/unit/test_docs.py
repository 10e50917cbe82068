"""The docs name only flags and variables the CLIs have, and name every one they have.

The CLIs' own definitions are the reference: each console script of ``pyproject.toml``, its
click commands, their options and variables, and the settings model each command resolves them
with (variables without a flag, such as the Kafka SASL settings). The hand-written docs
(``docs/*.md`` and ``README.md``; ``docs/configuration.md`` is generated from the same
definitions) must mention every flag and variable, and every command line of ours they show
must use flags its command has.

``docs/architecture.md``'s Packages table names every package of ``pyproject.toml``, each at its
directory, bottom first, with the packages of ours the import-linter contracts let it import.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import runpy
import tomllib
from pathlib import Path

import click
import pytest

from txn_runtime.options import settings_model
from txn_runtime.settings import env_of

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS: dict[str, str] = PYPROJECT["project"]["scripts"]
# Import name -> directory, e.g. "txn_producer" -> "services/producer".
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
GENERATED = ROOT / "docs" / "configuration.md"
DOCS = [p for p in sorted((ROOT / "docs").glob("*.md")) if p != GENERATED] + [ROOT / "README.md"]
# Our variables: the project's own prefix and the standard client ones.
VARIABLE = re.compile(r"\b((?:TXN|KAFKA|SCHEMA_REGISTRY)_[A-Z0-9_]*[A-Z0-9])\b")
# Where a variable that no CLI reads may be read: the deployment and the code that is not a CLI
# (txn_runtime.jars reads TXN_JARS_DIR, compose passes TXN_BRONZE_CORES to spark-submit).
READERS = [ROOT / "docker-compose.yml", *ROOT.glob("deploy/*"), *ROOT.glob("libs/**/*.py")]
READERS += [*ROOT.glob("services/**/*.py"), *ROOT.glob("tests/**/*.py"), ROOT / "Makefile"]


def _commands() -> dict[str, click.Command]:
    """``"txn-lake compact"`` -> its click command, for every console script."""
    out: dict[str, click.Command] = {}

    def walk(name: str, cmd: click.Command) -> None:
        out[name] = cmd
        if isinstance(cmd, click.Group):
            for sub, child in cmd.commands.items():
                walk(f"{name} {sub}", child)

    for script, target in SCRIPTS.items():
        walk(script, importlib.import_module(target.split(":")[0]).cli)
    return out


COMMANDS = _commands()


def flags_of(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}


def variables_of(cmd: click.Command) -> set[str]:
    names = {p.envvar for p in cmd.params if isinstance(p.envvar, str)}
    model = settings_model(cmd)
    if model is not None:
        names |= {env_of(f) for f in model.model_fields.values() if env_of(f)}
    return names


def _doc_text() -> str:
    return "\n".join(p.read_text() for p in DOCS)


def _command_lines() -> list[tuple[str, str]]:
    """(doc, command line) of every invocation of one of our scripts in the docs: in code
    blocks (backslash continuations joined) and in inline code."""
    scripts = "|".join(re.escape(s) for s in sorted(SCRIPTS, key=len, reverse=True))
    # The script as a command: not a word's part, not spark-submit's --name, followed by a
    # space or the end (not "txn-producer: error: ..." quoted output).
    call = re.compile(rf"(?<![\w/.:\[\"-])(?<!--name )(?:{scripts})(?=[ \t]|$)[^`|;&)\n]*", re.M)
    # spark-submit ... services/<dir>/__main__.py ARGS runs the script of that package.
    submit = re.compile(r"spark-submit\b[^`|;&\n]*?(\S+)/__main__\.py([^`|;&)\n]*)")
    dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    by_dir = {d: pkg for pkg, d in dirs["package-dir"].items()}
    by_package = {t.split(":")[0].split(".")[0]: s for s, t in SCRIPTS.items()}
    out = []
    for doc in DOCS:
        text = re.sub(r"\\\n\s*", " ", doc.read_text())
        out += [(doc.name, m.group(0).strip()) for m in call.finditer(text)]
        for m in submit.finditer(text):
            package = by_dir.get(m.group(1).removeprefix("/app/").removeprefix("./"))
            if package in by_package:
                out.append((doc.name, f"{by_package[package]}{m.group(2)}".strip()))
    return out


def _resolve(line: str) -> tuple[str, list[str]]:
    """The command a line runs (``txn-lake compact``) and the words after it."""
    words = line.split()
    name, rest = words[0], words[1:]
    while isinstance(COMMANDS[name], click.Group) and rest and f"{name} {rest[0]}" in COMMANDS:
        name, rest = f"{name} {rest[0]}", rest[1:]
    return name, rest


def test_configuration_reference_matches_the_clis():
    gen = runpy.run_path(str(ROOT / "scripts" / "gen_config_reference.py"))
    assert GENERATED.read_text() == gen["render"](), (
        "docs/configuration.md is stale: run .venv/bin/python scripts/gen_config_reference.py"
    )


@pytest.mark.parametrize(("doc", "line"), _command_lines(), ids=lambda v: str(v)[:60])
def test_every_flag_in_a_documented_command_line_exists(doc, line):
    name, words = _resolve(line)
    unknown = sorted(
        {w.split("=")[0] for w in words if re.fullmatch(r"--[a-z][a-z0-9-]*(=.*)?", w)}
        - flags_of(COMMANDS[name])
    )
    assert not unknown, f"{doc}: `{line}`: {name} has no option {', '.join(unknown)}"


def test_every_cli_flag_and_variable_is_documented():
    text = _doc_text()
    missing = []
    for name, cmd in COMMANDS.items():
        for flag in sorted(flags_of(cmd) - {"--help", "-h"}):
            if flag.startswith("--") and not re.search(rf"{re.escape(flag)}(?![\w-])", text):
                missing.append(f"{name} {flag}")
        missing += [f"{name}: {v}" for v in sorted(variables_of(cmd)) if v not in text]
    assert not missing, f"not in docs/*.md or README.md: {missing}"


def test_every_documented_variable_is_read_by_a_cli_or_the_deployment():
    read = set().union(*(variables_of(c) for c in COMMANDS.values()))
    code = "\n".join(p.read_text() for p in READERS if p.is_file())
    documented = set(VARIABLE.findall(_doc_text()))
    unknown = sorted(v for v in documented - read if not re.search(rf"\b{v}\b", code))
    assert not unknown, f"documented but read by no CLI and nowhere in the code: {unknown}"


def _packages_table() -> list[tuple[str, str, set[str]]]:
    """``(package, directory, packages of ours it may import)`` per row of the Packages table
    of docs/architecture.md, in the table's order."""
    section = ARCHITECTURE.read_text().split("\n## Packages\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        may_import = set(re.findall(r"`(\w+)`", cells[-1])) & set(PACKAGE_DIRS)
        rows.append((cells[0].strip("`"), cells[1].strip("`"), may_import))
    return rows


def _allowed_by_import_contracts() -> dict[str, set[str]]:
    """Package -> the packages of ours that ``[tool.importlinter]``'s contracts let it import."""
    config = PYPROJECT["tool"]["importlinter"]
    ours = set(config["root_packages"])
    allowed = {p: ours - {p} for p in ours}
    for contract in config["contracts"]:
        kind = contract["type"]
        if kind == "layers":
            layers = [{m.strip() for m in re.split(r"[:|]", raw)} for raw in contract["layers"]]
            for i, (raw, layer) in enumerate(zip(contract["layers"], layers, strict=True)):
                for p in layer:
                    allowed[p] -= set().union(*layers[:i])
                    if "|" in raw:  # independent siblings
                        allowed[p] -= layer
        elif kind == "independence":
            for p in contract["modules"]:
                allowed[p] -= set(contract["modules"])
        elif kind == "forbidden":
            for p in contract["source_modules"]:
                allowed[p] -= set(contract["forbidden_modules"])
        else:
            raise AssertionError(f"contract type {kind!r}: teach _allowed_by_import_contracts")
    return allowed


def test_architecture_names_every_package_at_its_directory():
    rows = _packages_table()
    named = [package for package, _, _ in rows]
    assert sorted(named) == sorted(PACKAGE_DIRS), (
        "docs/architecture.md's Packages table and pyproject.toml's package-dir differ: "
        f"not named {sorted(set(PACKAGE_DIRS) - set(named))}, "
        f"no such package {sorted(set(named) - set(PACKAGE_DIRS))}"
    )
    for package, directory, _ in rows:
        assert directory == PACKAGE_DIRS[package], f"{package}: {directory}"
        assert (ROOT / directory / "__init__.py").is_file(), f"{package}: no {directory}"
        assert importlib.util.find_spec(package) is not None, f"{package} is not importable"


def test_architecture_says_what_the_import_contracts_allow_bottom_first():
    allowed = _allowed_by_import_contracts()
    above: set[str] = set()
    for package, _, may_import in _packages_table():
        assert package in allowed, f"{package} is in no import contract of pyproject.toml"
        assert may_import == allowed[package], (
            f"docs/architecture.md: {package} may import {sorted(may_import)}; "
            f"pyproject.toml's import contracts allow {sorted(allowed[package])}"
        )
        assert may_import <= above, f"{package}'s row comes before {sorted(may_import - above)}"
        above.add(package)
