"""The docs name only flags and variables the CLIs have, and name every one they have.

The CLIs' own definitions are the reference: each console script of ``pyproject.toml``, its
click commands, their options and variables, and the settings model each command resolves them
with (variables without a flag, such as the Kafka SASL settings). The hand-written docs
(``docs/*.md`` and ``README.md``; ``docs/configuration.md`` is generated from the same
definitions) must mention every flag and variable, and every command line of ours they show
must use flags its command has.
"""

from __future__ import annotations

import importlib
import re
import runpy
import tomllib
from pathlib import Path

import click
import pytest

from txn_runtime.options import settings_model
from txn_runtime.settings import env_of

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
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
