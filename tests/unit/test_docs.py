"""Docs that are generated from code stay in step with it."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_matches_the_clis():
    gen = runpy.run_path(str(ROOT / "scripts" / "gen_config_reference.py"))
    assert (ROOT / "docs" / "configuration.md").read_text() == gen["render"](), (
        "docs/configuration.md is stale: run .venv/bin/python scripts/gen_config_reference.py"
    )


def test_every_documented_environment_variable_is_read_by_a_cli():
    gen = runpy.run_path(str(ROOT / "scripts" / "gen_config_reference.py"))
    envvars = {
        p.envvar for _n, cmd in gen["commands"]() for p in cmd.params if isinstance(p.envvar, str)
    }
    assert {
        "KAFKA_BOOTSTRAP_SERVERS",
        "SCHEMA_REGISTRY_URL",
        "TXN_STATE_DIR",
        "TXN_LAKE",
    } <= envvars
