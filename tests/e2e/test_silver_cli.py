"""`silver-refine` as a user runs it: bad configuration and a missing bronze table are one
sentence and exit 2, before Spark starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SILVER_REFINE = Path(sys.executable).parent / "silver-refine"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TXN_")}
    return subprocess.run(
        [str(SILVER_REFINE), *args],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_ends_with_an_example():
    result = run("--help")
    assert result.returncode == 0
    assert "Example: silver-refine --lake ./lake --available-now" in result.stdout
    for flag in ("--allowed-lateness", "--trigger", "--available-now", "--master"):
        assert flag in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--allowed-lateness", "soon"], {}, "--allowed-lateness: 'soon' is not a duration"),
        (["--allowed-lateness", "0s"], {}, "--allowed-lateness: must be longer than zero"),
        ([], {"TXN_TRIGGER": "0s"}, "TXN_TRIGGER: must be longer than zero"),
        (["--max-files-per-trigger", "0"], {}, "--max-files-per-trigger: must be a positive"),
    ],
)
def test_bad_configuration_is_one_sentence_and_exit_2(tmp_path, args, env, needle):
    result = run("--lake", str(tmp_path), *args, **env)
    assert result.returncode == 2
    assert f"silver-refine: error: {needle}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_lake_without_bronze_is_refused_before_spark(tmp_path):
    result = run(**{"TXN_LAKE": str(tmp_path)})
    assert result.returncode == 2
    assert "bronze is not a Delta table; start bronze-ingest" in result.stderr
    assert "Traceback" not in result.stderr and "starting Spark" not in result.stderr
