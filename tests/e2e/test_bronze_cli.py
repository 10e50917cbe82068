"""`bronze-ingest` as an operator runs it: killed with SIGKILL while a batch is being written,
restarted, stopped with SIGTERM — and bronze plus quarantine still hold every offset exactly
once, for Spark and for delta-rs alike, although the killed attempt left its files on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.conftest import create_topic, free_ports
from tests.records import record
from txn_contract import packaged_contract, wire
from txn_lake.facts import is_delta_table

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
CONTRACT = packaged_contract()


def _committed_batches(output: Path) -> int:
    """Batches the job committed to ``output``, from the Delta log (0 before the first)."""
    from txn_lake.facts import committed_batch

    app = f"txn-pipeline.bronze_ingest.{output.name}"
    last = committed_batch(output, app)
    return 0 if last is None else last + 1


def _rows(output: Path) -> int:
    """Rows delta-rs reads from a table; 0 before the job created it."""
    from deltalake import DeltaTable

    return DeltaTable(str(output)).count() if is_delta_table(output) else 0


def _unreferenced(output: Path) -> list[Path]:
    """Parquet files on disk that the table's current version does not list: the files of a
    batch being written (Delta writes them in place and commits the list afterwards)."""
    from deltalake import DeltaTable

    if not is_delta_table(output):
        return []
    listed = {Path(u.removeprefix("file://")) for u in DeltaTable(str(output)).file_uris()}
    return [p for p in output.rglob("*.parquet") if p not in listed]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "bronze-ingest"), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),
        start_new_session=True,  # its own process group: SIGKILL takes Spark's JVM too
    )


def test_sigkill_then_restart_then_sigterm_is_exactly_once(
    platform, registered_contract, spark, tmp_path
):
    topic = f"bronze_kill_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    v2_id = registered_contract[2]

    producer = Producer(
        {"bootstrap.servers": platform.bootstrap_servers, "enable.idempotence": True}
    )
    total = 40_000  # 10 batches: room for up to four kills
    for i in range(total):
        rec = record(i)
        value = wire.encode(rec, CONTRACT.latest.parsed, v2_id) if i % 1000 else b"poison"
        producer.produce(topic, key=rec["customer_id"].encode(), value=value)
        if i % 5000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0

    lake = tmp_path / "lake"
    env = {**os.environ, **platform.env()}
    common = [
        "--lake",
        str(lake),
        "--topic",
        topic,
        "--subject",
        "bank_txn_stream-value",
        "--master",
        "local[2]",
        "--max-offsets-per-trigger",
        "4000",
        "--trigger",
        "1s",
    ]
    log = tmp_path / "bronze.log"

    # Kill while a batch is being written: some of its files are on disk, not committed. The
    # commit may still land between seeing the files and the kill; then kill the restarted job
    # again (exactly once must hold across every kill), up to four times.
    orphans: list[Path] = []
    kills = 0
    while not orphans and kills < 4:
        job = _start(common, env, log)
        deadline = time.monotonic() + 180
        target = _committed_batches(lake / "bronze") + 1
        while _committed_batches(lake / "bronze") < target:
            assert job.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "no batch committed in time"
            time.sleep(0.2)
        while not (seen := _unreferenced(lake / "bronze")):
            assert job.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "never saw a batch being written"
            time.sleep(0.01)
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(30)
        kills += 1
        orphans = [p for p in _unreferenced(lake / "bronze") if p in seen]
    assert orphans, f"all {kills} kills landed after their batch had committed"

    # The restart redoes the batch the killed job had planned (its checkpoint's offsets), then
    # takes the rest uncapped, as an operator draining a backlog would.
    # It serves its Prometheus metrics: scraped while it runs, against the tables.
    uncapped = [a for a in common if a not in ("--max-offsets-per-trigger", "4000")]
    (port,) = free_ports(1)
    landed = {t: _rows(lake / t) for t in ("bronze", "quarantine")}
    started = time.time()
    second = _start([*uncapped, "--metrics-port", str(port)], env, log)
    deadline = time.monotonic() + 300
    while True:
        if _rows(lake / "bronze") + _rows(lake / "quarantine") >= total:
            break
        assert second.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, f"not all {total} offsets landed after restart"
        time.sleep(1)
    lags = [("txn_kafka_lag_messages", p) for p in ("0", "1", "2")]
    metrics = _scrape_until(port, lambda m: all(m.get(k) == 0 for k in lags))
    for table in ("bronze", "quarantine"):
        written = _rows(lake / table) - landed[table]
        assert metrics[("txn_rows_out_total", table)] == written, table
        assert metrics[("txn_last_commit_timestamp_seconds", table)] >= started, table
    assert metrics[("txn_quarantined_total", "BAD_MAGIC_BYTE")] == (
        _rows(lake / "quarantine") - landed["quarantine"]
    )
    assert metrics[("txn_batches_total", "bronze")] >= 1
    assert (
        metrics[("txn_batch_duration_seconds_count", "bronze")]
        == (metrics[("txn_batches_total", "bronze")])
    )
    assert [metrics.get(k) for k in lags] == [0, 0, 0]
    second.send_signal(signal.SIGTERM)
    assert second.wait(120) == 0, log.read_text()[-2000:]
    assert "received SIGTERM" in log.read_text()

    from deltalake import DeltaTable

    def spark_coords(out: str) -> list[tuple[int, int]]:
        df = spark.read.format("delta").load(str(lake / out))
        return [(r.kafka_partition, r.kafka_offset) for r in df.collect()]

    def rs_coords(out: str) -> list[tuple[int, int]]:
        t = DeltaTable(str(lake / out)).to_pyarrow_table(
            columns=["kafka_partition", "kafka_offset"]
        )
        return list(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))

    for read in (spark_coords, rs_coords):
        coords = read("bronze") + read("quarantine")
        assert len(coords) == total, read.__name__
        assert len(set(coords)) == total, read.__name__
    # The killed attempt's files are still on disk, in no version: a glob would read them
    # (they may be partly written), every Delta reader does not.
    assert set(orphans) <= set(_unreferenced(lake / "bronze"))
    q = spark.read.format("delta").load(str(lake / "quarantine"))
    assert q.count() == total // 1000
    assert {r.reason for r in q.select("reason").collect()} == {"BAD_MAGIC_BYTE"}


def _scrape_until(port: int, ready, timeout: float = 60) -> dict[tuple[str, str], float]:
    """The job's metrics, ``{(name, first label value): value}``, once ``ready`` holds (the
    progress listener sets the lag just after a batch's commit)."""
    from prometheus_client.parser import text_string_to_metric_families

    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        found = {
            (s.name, next(iter(s.labels.values()), "") if s.name != "txn_kafka_lag_messages"
             else s.labels["partition"]): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.startswith("txn_")
        }  # fmt: skip
        if ready(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_bad_config_is_one_sentence_before_spark_starts(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL")
    }
    res = subprocess.run(
        [str(BIN / "bronze-ingest"), "--lake", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode == 2
    assert "--bootstrap-servers" in res.stderr and "KAFKA_BOOTSTRAP_SERVERS" in res.stderr
    assert "Traceback" not in res.stderr
    assert "starting Spark" not in res.stderr  # refused before Spark (bench_refusals: how fast)
    res = subprocess.run(
        [
            str(BIN / "bronze-ingest"),
            "--lake",
            str(tmp_path),
            "--bootstrap-servers",
            "x:1",
            "--schema-registry-url",
            "http://x",
            "--trigger",
            "soon",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode == 2
    assert "--trigger" in res.stderr and "Traceback" not in res.stderr


def test_missing_topic_and_wrong_registry_are_refused_before_spark(
    platform, registered_contract, tmp_path
):
    env = {**os.environ, **platform.env()}
    base = [str(BIN / "bronze-ingest"), "--lake", str(tmp_path)]
    res = subprocess.run(
        [*base, "--topic", "no_such_topic"], capture_output=True, text=True, env=env, timeout=60
    )
    # One preflight error for every service: exit 1, naming the flag to check.
    assert res.returncode == 1
    assert "--topic" in res.stderr and "no_such_topic does not exist" in res.stderr
    # The Confluent API root of Apicurio is .../apis/ccompat/v7; the bare host is a common slip.
    root = platform.registry_url.removesuffix("/apis/ccompat/v7")
    res = subprocess.run(
        [*base, "--schema-registry-url", root], capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode != 0
    assert "txn-contract register" in res.stderr and "/apis/ccompat/v7" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_subject_without_a_transitive_level_is_refused(platform, registered_contract, tmp_path):
    """Bronze projects every version onto the newest registered one: only a transitive level
    guarantees that it reads them all."""
    from confluent_kafka.schema_registry import Schema

    from txn_contract.registry import registry_client

    subject = f"plain_backward_{uuid.uuid4().hex[:8]}-value"
    client = registry_client(platform.registry_url)
    client.register_schema(subject, Schema(CONTRACT.latest.schema_str, "AVRO"))
    client.set_compatibility(subject, "BACKWARD")
    env = {**os.environ, **platform.env()}
    res = subprocess.run(
        [str(BIN / "bronze-ingest"), "--lake", str(tmp_path), "--subject", subject],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode == 2, res.stderr
    assert "--subject" in res.stderr and "BACKWARD" in res.stderr
    assert "FULL_TRANSITIVE or BACKWARD_TRANSITIVE" in res.stderr
    assert "Traceback" not in res.stderr
