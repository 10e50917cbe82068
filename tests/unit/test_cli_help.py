"""Every console script's ``--help`` shows the shared options under the same names.

The shared options are defined once (``txn_runtime.options``, from the fields of
``txn_runtime.settings``); this checks every command of every script in ``pyproject.toml``:
an option for a shared setting has its flag, its variable and its metavar, and no option
reads a shared variable under another name.
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from txn_runtime.connections import KafkaSettings, RegistrySettings
from txn_runtime.settings import env_of, flag_of
from txn_runtime.shared import LakeSettings, SparkSettings, StreamSettings, TopicSettings

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
SHARED = {
    name: (model.model_fields[name], metavar)
    for model, name, metavar in (
        (KafkaSettings, "bootstrap_servers", "HOST:PORT"),
        (RegistrySettings, "schema_registry_url", "URL"),
        (TopicSettings, "topic", "NAME"),
        (LakeSettings, "lake", "DIRECTORY"),
        (SparkSettings, "master", "URL"),
        (SparkSettings, "driver_memory", "SIZE"),
        (StreamSettings, "trigger", "DURATION"),
    )
}
# Aliases kept where they existed before the names were shared.
ALIASES = {("txn-contract check", "--registry"), ("txn-contract register", "--registry")}


def _commands() -> list[tuple[str, list[str], click.Command]]:
    out = []

    def walk(name: str, argv: list[str], cmd: click.Command, script: str) -> None:
        out.append((name, argv, cmd))
        if isinstance(cmd, click.Group):
            for sub, child in sorted(cmd.commands.items()):
                walk(f"{name} {sub}", [*argv, sub], child, script)

    for script, target in sorted(SCRIPTS.items()):
        walk(script, [], importlib.import_module(target.split(":")[0]).cli, script)
    return out


COMMANDS = _commands()


@pytest.mark.parametrize(("name", "argv", "cmd"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_shared_options_have_one_name_variable_and_metavar(name, argv, cmd):
    variables = {env_of(f): n for n, (f, _m) in SHARED.items()}
    for param in cmd.params:
        if not isinstance(param, click.Option):
            continue
        if param.name in SHARED:
            field, metavar = SHARED[param.name]
            assert param.opts[0] == flag_of(field), f"{name}: {param.opts} for {param.name}"
            extra = [o for o in param.opts[1:] if (name, o) not in ALIASES]
            assert not extra, f"{name}: {param.name} has extra names {extra}"
            assert param.envvar in (env_of(field), None), f"{name}: {param.opts[0]}"
            assert param.make_metavar(click.Context(cmd)) == metavar, f"{name}: {param.opts[0]}"
        elif param.envvar in variables:
            pytest.fail(
                f"{name}: {param.opts[0]} reads {param.envvar}, which is {flag_of(SHARED[variables[param.envvar]][0])}"
            )


@pytest.mark.parametrize(("name", "argv", "cmd"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_help_shows_the_shared_names(name, argv, cmd):
    script = name.split()[0]
    top = importlib.import_module(SCRIPTS[script].split(":")[0]).cli
    result = CliRunner().invoke(top, [*argv, "--help"], prog_name=script, terminal_width=200)
    assert result.exit_code == 0, result.output
    for param in cmd.params:
        if param.name in SHARED:
            field, metavar = SHARED[param.name]
            assert f"{flag_of(field)}" in result.output and metavar in result.output, name
            if param.envvar:
                assert f"Env: {env_of(field)}." in result.output, name
