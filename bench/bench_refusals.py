"""How fast the CLIs refuse what they cannot work with: seconds from start to the one-sentence
error, per case, median of ``--rounds`` runs.

These were wall-clock assertions in the tests until issue 18 (a busy machine failed them); the
figures they held are printed beside each case as the budget:

- ``bronze-ingest`` with no broker configured: refused before Spark starts (budget 20 s);
- ``txn-producer`` against a broker port nobody listens on (budget 15 s);
- ``txn-producer`` against a registry port nobody listens on (budget 15 s).

The producer cases run beside a live platform, as the tests did: they read
``KAFKA_BOOTSTRAP_SERVERS`` and ``SCHEMA_REGISTRY_URL`` (``set -a; . .local/platform.env;
set +a`` after ``txn-platform up``) and are skipped, saying so, when those are not set.

Run::

    .venv/bin/python bench/bench_refusals.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import load_average, machine  # bench/machine.py, beside this script

__all__ = ["main"]

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(cmd: list[str], env: dict[str, str], expect: int) -> float:
    started = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    took = time.monotonic() - started
    if res.returncode != expect or "Traceback" in res.stderr:
        raise SystemExit(f"{' '.join(cmd)}: exit {res.returncode}, expected {expect}\n{res.stderr}")
    return took


def _cases(env: dict[str, str]) -> list[tuple[str, float, list[str], dict[str, str], int]]:
    """(name, budget s, command, env, expected exit code) of each case this environment allows."""
    bare = {k: v for k, v in env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    lake = f"/tmp/bench-refusals-{os.getpid()}"
    producer = [str(BIN / "txn-producer"), "--count", "10"]
    cases = [
        ("bronze-ingest, no broker configured", 20.0, [str(BIN / "bronze-ingest"), "--lake", lake], bare, 2),
    ]  # fmt: skip
    if not (env.get("SCHEMA_REGISTRY_URL") and env.get("KAFKA_BOOTSTRAP_SERVERS")):
        print(
            "skipped: the txn-producer cases (KAFKA_BOOTSTRAP_SERVERS/SCHEMA_REGISTRY_URL not set)"
        )
        return cases
    closed_registry = f"http://127.0.0.1:{_free_port()}/apis/ccompat/v7"
    closed_broker = f"127.0.0.1:{_free_port()}"
    cases += [
        ("txn-producer, broker port closed", 15.0, [*producer, "--bootstrap-servers", closed_broker], env, 1),
        ("txn-producer, registry port closed", 15.0, [*producer, "--schema-registry-url", closed_registry], env, 1),
    ]  # fmt: skip
    return cases


def main(argv: list[str] | None = None) -> int:
    """Time every case ``--rounds`` times and print medians against the old budgets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per case (default 3)")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}; load {load_average()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for name, budget, cmd, env, expect in _cases(dict(os.environ)):
        runs = [_timed(cmd, env, expect) for _ in range(args.rounds)]
        med = statistics.median(runs)
        verdict = "within" if med <= budget else "OVER"
        print(
            f"{name}: median {med:.2f} s (range {min(runs):.2f}-{max(runs):.2f} s, "
            f"{args.rounds} runs); {verdict} the {budget:.0f} s budget"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
