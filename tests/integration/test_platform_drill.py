"""The three-broker drill of issue 21: the producer runs at 10,000 ev/s, bronze ingests with
`--trigger 2s`, one broker is SIGKILLed and brought back 20 s later with `txn-platform up` on
the same state dir. Nothing is lost or doubled (every produced id is in bronze once) and bronze
keeps committing through the outage (no gap between two commits around it longer than 30 s)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest

from txn_contract import TOPIC
from txn_lake.facts import commits, is_delta_table

# Left out of the default run (pyproject.toml's addopts) until it fits make test's budget:
# 231 s at load 13 (issue 21 allows its tests 180 s in all). Run: .venv/bin/pytest -m drill
pytestmark = [pytest.mark.integration, pytest.mark.drill]

BIN = Path(sys.executable).parent
RATE = 10_000
DURATION_S = 40
KILL_AFTER_S = 8
OUTAGE_S = 20


def _rows(table: Path) -> int:
    from deltalake import DeltaTable

    return DeltaTable(str(table)).count() if is_delta_table(table) else 0


def _commit_times(table: Path) -> list[float]:
    """Seconds (epoch) of every commit of ``table``, oldest first."""
    _version, found = commits(table, -1, 100_000)
    return sorted(c.timestamp_ms / 1000 for c in found)


def _leader_of_partition_0(bootstrap: str) -> int:
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return md.topics[TOPIC].partitions[0].leader


def _producer(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "txn-producer"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _wait(what: str, ok, timeout: float, job: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert job.poll() is None, f"bronze-ingest exited: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f} s"
        time.sleep(0.5)


def _bronze(lake: Path, log: Path, env: dict[str, str]) -> subprocess.Popen:
    """bronze-ingest as an operator runs it, every 2 s. Batches are capped at 3 s of the
    producer's output so a commit's gap measures the outage, not a catch-up batch on a busy
    machine."""
    args = ["--lake", str(lake), "--trigger", "2s", "--master", "local[2]"]
    args += ["--max-offsets-per-trigger", str(3 * RATE)]
    return subprocess.Popen(
        [str(BIN / "bronze-ingest"), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # the child holds it
        start_new_session=True,
    )


def _stop(bronze: subprocess.Popen) -> None:
    if bronze.poll() is None:
        bronze.send_signal(signal.SIGTERM)  # the job's own stop: after the current batch
        try:
            bronze.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(bronze.pid, signal.SIGKILL)


def _kill_and_bring_back(platform, bootstrap: str) -> tuple[str, float, float]:
    """SIGKILL the leader of partition 0, wait the outage, `txn-platform up`; the victim and
    the epoch seconds of the kill and of its return."""
    from local_platform.kafka import KafkaCluster

    victim = f"kafka-{_leader_of_partition_0(bootstrap)}"
    node = next(n for n in KafkaCluster(platform.settings).nodes if n.name == victim)
    os.killpg(node.proc.pid(), signal.SIGKILL)
    killed = time.time()
    time.sleep(OUTAGE_S)
    up = subprocess.run(
        [str(BIN / "txn-platform"), "up", *platform.settings_flags()],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert up.returncode == 0, up.stderr
    assert up.stderr.count("already running") == 3  # the other two brokers, the registry
    assert f"{victim}: serving on" in up.stderr
    return victim, killed, time.time()


def test_sigkill_a_broker_under_load_loses_nothing_and_bronze_keeps_committing(
    three_brokers, tmp_path
):
    from deltalake import DeltaTable

    from txn_contract import packaged_contract
    from txn_contract.registry import register_contract, registry_client

    env = three_brokers.cli_env()
    url = env["SCHEMA_REGISTRY_URL"]
    register_contract(registry_client(url), packaged_contract(), url)
    seed = _producer(["--count", "1000", "--seed", "1"], env)
    assert seed.wait(60) == 0
    seeded = json.loads(seed.stdout.read())["delivered"]

    lake, log = tmp_path / "lake", tmp_path / "bronze.log"
    started = time.monotonic()
    bronze = _bronze(lake, log, env)
    try:
        _wait("bronze's first batch", lambda: _rows(lake / "bronze") >= seeded, 300, bronze, log)
        phases = {"bronze_started_s": time.monotonic() - started}
        load = _producer(["--rate", str(RATE), "--duration", str(DURATION_S), "--seed", "2"], env)
        time.sleep(KILL_AFTER_S)
        victim, killed, back = _kill_and_bring_back(three_brokers, env["KAFKA_BOOTSTRAP_SERVERS"])
        assert load.wait(DURATION_S + 120) == 0
        summary = json.loads(load.stdout.read())
        assert summary["failed"] == 0 and summary["delivered"] == summary["produced"]
        total = seeded + summary["delivered"]
        phases["producer_done_s"] = time.monotonic() - started
        _wait("every event in bronze", lambda: _rows(lake / "bronze") >= total, 300, bronze, log)
        phases["bronze_caught_up_s"] = time.monotonic() - started
    finally:
        _stop(bronze)

    ids = DeltaTable(str(lake / "bronze")).to_pyarrow_table(columns=["transaction_id"])
    ids = ids.column("transaction_id").to_pylist()
    assert len(ids) == total and len(set(ids)) == total  # every produced id, once
    assert _rows(lake / "quarantine") == 0

    times = _commit_times(lake / "bronze")
    gaps = [(b - a, a) for a, b in pairwise(times)]
    longest, at = max(gaps)
    # The figure: the commits around the outage, from the last one before the kill to
    # the first after the broker is back (the gaps that overlap the outage).
    outage = max(g for g, a in gaps if a <= back and a + g >= killed)
    print(
        f"\ndrill: {total:,} events ({summary['produced']:,} at {summary['rate']:,.0f} ev/s), "
        f"{victim} SIGKILLed for {back - killed:.1f} s; bronze: {len(times)} commits, "
        f"longest gap around the outage {outage:.1f} s; longest overall {longest:.1f} s "
        f"({at - killed:+.1f} s from the kill); "
        + ", ".join(f"{k} {v:.0f}" for k, v in phases.items())
        + f"; load average {os.getloadavg()[0]:.1f}"
    )
    assert outage <= 30
