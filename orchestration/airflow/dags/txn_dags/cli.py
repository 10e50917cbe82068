"""Running the project's CLIs from a task, as a person types them.

A task runs ``TXN_BIN/<command>`` (default: the project venv's ``bin``, beside this folder in
the clone) with the environment of the Airflow worker, where a credentials directory decides
which principal's credentials the command gets: ``TXN_CREDENTIALS_DIR/<principal>.env``, else
``TXN_STATE_DIR/credentials/<principal>.env`` when the platform was started with ``--secure``
(docs/security.md). When one is configured, a task never inherits another principal's
credentials: those variables are dropped first, and a task of a service without a principal
(``silver-refine``, ``txn-lake``) runs with none.

Example::

    out = run_cli("txn-report", "--lake", "/data/lake", "--format", "json", principal="report")
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = [
    "DAG_SETTINGS",
    "DEFAULT_ARGS",
    "CliFailed",
    "credentials_file",
    "lake_path",
    "read_env_file",
    "run_cli",
    "task_env",
    "txn_bin",
]

# Every DAG's task defaults: the owner the tests hold, and one retry a few minutes later.
DEFAULT_ARGS = {"owner": "data-platform", "retries": 1, "retry_delay": timedelta(minutes=5)}
# What every DAG of the project shares: hourly, no backfill, one run at a time.
DAG_SETTINGS = {
    "schedule": "@hourly",
    "start_date": datetime(2026, 1, 1, tzinfo=UTC),
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
}

log = logging.getLogger(__name__)

# Variables of a principal's credentials file (txn_runtime.connections reads them).
CREDENTIAL_PREFIXES = ("KAFKA_SASL_", "SCHEMA_REGISTRY_BASIC_AUTH_")
# REPO/orchestration/airflow/dags/txn_dags/cli.py -> REPO/.venv/bin (a DAG folder mounted
# elsewhere, as in docker-compose.yml, sets TXN_BIN).
_HERE = Path(__file__).resolve()
DEFAULT_BIN = (_HERE.parents[4] if len(_HERE.parents) > 4 else _HERE.parent) / ".venv" / "bin"


class CliFailed(Exception):
    """A CLI could not run or exited non-zero; the message is one sentence."""


def txn_bin(env: Mapping[str, str] | None = None) -> Path:
    """The directory of the project's console scripts: ``TXN_BIN``, else the clone's venv."""
    explicit = (os.environ if env is None else env).get("TXN_BIN")
    return Path(explicit).expanduser() if explicit else DEFAULT_BIN


def lake_path(param: str | None, env: Mapping[str, str] | None = None) -> str:
    """The lake a run works on: its ``lake`` param, else ``TXN_LAKE`` of the worker."""
    lake = param or (os.environ if env is None else env).get("TXN_LAKE")
    if not lake:
        raise CliFailed("no lake: set the DAG run's lake param, or TXN_LAKE for the workers")
    return lake


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``platform.env`` or ``credentials/<principal>.env`` file."""
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _credentials_dir(env: Mapping[str, str]) -> Path | None:
    explicit = env.get("TXN_CREDENTIALS_DIR")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise CliFailed(f"TXN_CREDENTIALS_DIR {path} is not a directory")
        return path
    state = env.get("TXN_STATE_DIR")
    if state and (Path(state).expanduser() / "credentials").is_dir():
        return Path(state).expanduser() / "credentials"
    return None


def credentials_file(principal: str | None, env: Mapping[str, str]) -> Path | None:
    """The credentials file of ``principal``, or None when no credentials directory is
    configured (an unsecured platform) or the task's service has no principal."""
    where = _credentials_dir(env)
    if where is None or principal is None:
        return None
    path = where / f"{principal}.env"
    if not path.is_file():
        raise CliFailed(f"no credentials for principal {principal}: {path} does not exist")
    return path


def task_env(principal: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a task's command runs with: the worker's, with exactly ``principal``'s
    credentials when a credentials directory is configured (see the module's docstring)."""
    base = dict(os.environ if env is None else env)
    if _credentials_dir(base) is None:
        return base
    out = {k: v for k, v in base.items() if not k.startswith(CREDENTIAL_PREFIXES)}
    path = credentials_file(principal, base)
    return out | (read_env_file(path) if path else {})


def _last_error(lines: Iterable[str]) -> str:
    """The CLI's own sentence: its last non-empty stderr line (``prog: error: ...``)."""
    return next((line.strip() for line in reversed(lines) if line.strip()), "no output")


def run_cli(command: str, *args: str, principal: str | None = None, echo: bool = True) -> str:
    """Run ``TXN_BIN/command args`` as ``principal``, its stderr (and, with ``echo``, its
    stdout) line by line into the task log; returns its stdout.

    Raises :class:`CliFailed` with the command's last error line when it exits non-zero. A
    task that is stopped (timeout, a person marking it failed) stops the command with SIGTERM
    first: the streaming jobs finish their current batch and exit.
    """
    exe = txn_bin() / command
    if not exe.is_file():
        raise CliFailed(f"{exe} does not exist: set TXN_BIN to the project venv's bin directory")
    env = task_env(principal)
    who = f" as principal {principal}" if credentials_file(principal, env) else ""
    log.info("running%s: %s", who, shlex.join([str(exe), *args]))
    proc = subprocess.Popen(
        [str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    errors: deque[str] = deque(maxlen=20)
    pump = threading.Thread(target=_pump, args=(proc.stderr, errors), daemon=True)
    pump.start()
    try:
        out = []
        for line in proc.stdout:
            out.append(line)
            if echo:
                log.info("%s", line.rstrip())
        proc.wait()
    finally:
        _stop(proc)
    pump.join(10)
    if proc.returncode:
        raise CliFailed(f"{command} exited with {proc.returncode}: {_last_error(errors)}")
    return "".join(out)


def _pump(stream, lines: deque[str]) -> None:
    for line in stream:
        lines.append(line)
        log.info("%s", line.rstrip())


def _stop(proc: subprocess.Popen, grace_s: float = 120) -> None:
    if proc.poll() is not None:
        return
    log.warning("stopping %s (SIGTERM; the job finishes its current batch)", proc.args[0])
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
