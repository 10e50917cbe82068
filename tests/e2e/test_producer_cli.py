"""`txn-producer` as a user runs it: its summary line, its failures, its signals, its terminal."""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import free_ports
from tests.unit.test_producer_run import SUMMARY_KEYS
from txn_contract import packaged_contract
from txn_contract.registry import register_contract, registry_client

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
EXE = str(BIN / "txn-producer")


def _env(platform, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TXN_")}
    return {**env, **platform.env(), **extra}


def _run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env=env, timeout=timeout, stdin=None
    )


@pytest.fixture
def fresh_topic(platform, registered_contract):
    """A 3-partition topic whose subject holds the contract; deleted afterwards."""
    admin = AdminClient({"bootstrap.servers": platform.bootstrap_servers})
    client = registry_client(platform.registry_url)
    name = f"producer-e2e-{uuid.uuid4().hex[:10]}"
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        if topic and topic.error is None and len(topic.partitions) == 3:
            break
        time.sleep(0.1)
    contract = dataclasses.replace(packaged_contract(), subject=f"{name}-value", topic=name)
    register_contract(client, contract, platform.registry_url)
    yield name
    admin.delete_topics([name])[name].result(30)
    client.delete_subject(f"{name}-value")
    client.delete_subject(f"{name}-value", permanent=True)


def _summary(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    summary = json.loads(lines[0])
    assert set(summary) == SUMMARY_KEYS
    return summary


def test_help_ends_with_an_example():
    res = subprocess.run([EXE, "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    # The help ends with its examples (an epilog, so click keeps each on one line).
    lines = [line.strip() for line in res.stdout.strip().splitlines()]
    tail = lines[lines.index("Examples:") :]
    assert len(tail) >= 3 and all(t.startswith("txn-producer ") for t in tail[1:])
    for flag in (
        "--rate",
        "--count",
        "--duration",
        "--topic",
        "--seed",
        "--customers",
        "--bootstrap-servers",
        "--schema-registry-url",
        "--contract-version",
        "--progress / --no-progress",
        "--start-time",
        "--poison-rate",
        "--violation-rate",
        "--conflict-rate",
        "--metrics-port",
    ):
        assert flag in res.stdout


def test_a_counted_run_prints_one_json_line_and_exits_zero(platform, fresh_topic):
    res = _run(
        "--count", "2000", "--seed", "3", "--no-progress", "--topic", fresh_topic,
        env=_env(platform),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = _summary(res.stdout)
    assert summary["produced"] == summary["delivered"] == 2000
    assert summary["failed"] == 0 and summary["rate"] > 0


def test_unreachable_broker_is_one_sentence(platform, registered_contract):
    # How long the refusal takes is measured by bench/bench_refusals.py, not asserted here.
    (port,) = free_ports(1)
    res = _run(
        "--count", "10", "--bootstrap-servers", f"127.0.0.1:{port}", env=_env(platform),
    )  # fmt: skip
    assert res.returncode == 1
    assert f"The Kafka broker at 127.0.0.1:{port} could not be reached" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_unreachable_registry_is_one_sentence(platform):
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}/apis/ccompat/v7"
    res = _run("--count", "10", "--schema-registry-url", url, env=_env(platform))
    assert res.returncode == 1
    assert f"The schema registry at {url} could not be reached" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_unregistered_subject_names_the_command_to_run(platform, registered_contract):
    topic = f"unregistered-{uuid.uuid4().hex[:10]}"
    res = _run("--count", "10", "--topic", topic, env=_env(platform))
    assert res.returncode == 1
    assert f"subject {topic}-value is not registered" in res.stderr
    assert "`txn-contract register`" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_bad_flag_and_bad_variable_name_themselves(platform):
    res = _run("--rate", "-5", env=_env(platform))
    assert res.returncode == 2 and "--rate" in res.stderr and "Traceback" not in res.stderr
    res = _run(env=_env(platform, TXN_CUSTOMERS="many"))
    assert res.returncode == 2 and "TXN_CUSTOMERS" in res.stderr


def test_sigterm_stops_flushes_and_summarises(platform, fresh_topic):
    """Also, while it runs, its --metrics-port is scraped, with every kind of dirt on."""
    (port,) = free_ports(1)
    dirt = ["--poison-rate", "0.01", "--violation-rate", "0.01", "--conflict-rate", "0.01"]
    args = ["--rate", "2000", "--no-progress", "--topic", fresh_topic, *dirt]
    proc = subprocess.Popen(
        [EXE, *args, "--metrics-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(platform),
    )
    try:
        # Wait until it is producing (it logs the population line once started).
        deadline = time.monotonic() + 60
        seen = ""
        while "population built" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "population built" in seen, seen
        time.sleep(1.5)
        scraped = _scrape(port)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = _summary(out)
    assert summary["produced"] == summary["delivered"] > 1000
    assert summary["failed"] == 0
    produced = {k: v for (name, k), v in scraped.items() if name == "txn_producer_produced_total"}
    assert 0 < sum(produced.values()) <= summary["produced"]
    assert 0 < produced["poison"] <= summary["poison"]
    assert scraped[("txn_producer_delivered_total", "")] <= summary["delivered"]


def _scrape(port: int) -> dict[tuple[str, str], float]:
    """(metric, its one label's value or "") -> value, from the producer's /metrics."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, next(iter(s.labels.values()), "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_progress_line_on_a_terminal(platform, fresh_topic):
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [EXE, "--count", "12000", "--rate", "8000", "--topic", fresh_topic],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=_env(platform),
    )
    os.close(secondary)
    shown = b""
    try:
        while True:
            ready, _, _ = select.select([primary], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closes when the process exits
                break
            if not chunk:
                break
            shown += chunk
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert b"\r" in shown and b"delivered" in shown and b"in flight" in shown
    assert _summary(out.decode())["delivered"] == 12000
