"""`bronze-ingest` as an operator runs it: killed with SIGKILL at an arbitrary moment, restarted,
stopped with SIGTERM — and bronze plus quarantine still hold every offset exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.conftest import create_topic
from txn_contract import packaged_contract, wire

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
CONTRACT = packaged_contract()


def _committed_batches(output: Path) -> int:
    meta = output / "_spark_metadata"
    return (
        len([p for p in meta.glob("[0-9]*") if not p.name.endswith(".tmp")]) if meta.exists() else 0
    )


def _rows(spark, output: Path) -> int:
    """Rows Spark reads from a sink output; 0 while no batch has committed a file yet."""
    from pyspark.errors import AnalysisException

    try:
        return spark.read.parquet(str(output)).count()
    except AnalysisException:  # no committed file yet: Spark cannot infer a schema
        return 0


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
    base = {
        "transaction_id": "",
        "timestamp": 1_764_000_000_000,
        "customer_id": "",
        "merchant_id": "M1",
        "amount": None,
        "currency": "CAD",
        "channel": "POS",
        "city": "Toronto",
        "country": "CA",
        "device_id": "D1",
        "status": "APPROVED",
        "merchant_category_code": "5411",
        "province": "CA-ON",
    }
    from decimal import Decimal

    producer = Producer(
        {"bootstrap.servers": platform.bootstrap_servers, "enable.idempotence": True}
    )
    total = 24_000
    for i in range(total):
        rec = dict(base, transaction_id=f"t-{i}", customer_id=f"C{i % 97}", amount=Decimal(i) / 100)
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
        "2000",
        "--trigger",
        "1s",
    ]
    log = tmp_path / "bronze.log"

    first = _start(common, env, log)
    deadline = time.monotonic() + 180
    while _committed_batches(lake / "bronze") < 2:
        assert first.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, "no batch committed in time"
        time.sleep(0.2)
    time.sleep(random.uniform(0.0, 2.0))  # somewhere inside a later batch
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(30)

    second = _start(common, env, log)
    deadline = time.monotonic() + 300
    while True:
        if _rows(spark, lake / "bronze") + _rows(spark, lake / "quarantine") >= total:
            break
        assert second.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, f"not all {total} offsets landed after restart"
        time.sleep(1)
    second.send_signal(signal.SIGTERM)
    assert second.wait(120) == 0, log.read_text()[-2000:]
    assert "received SIGTERM" in log.read_text()

    coords = [
        (r.kafka_partition, r.kafka_offset)
        for out in ("bronze", "quarantine")
        for r in spark.read.parquet(str(lake / out))
        .select("kafka_partition", "kafka_offset")
        .collect()
    ]
    assert len(coords) == total
    assert len(set(coords)) == total
    q = spark.read.parquet(str(lake / "quarantine"))
    assert q.count() == total // 1000
    assert {r.reason for r in q.select("reason").collect()} == {"BAD_MAGIC_BYTE"}


def test_bad_config_is_one_sentence_before_spark_starts(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL")
    }
    started = time.monotonic()
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
    assert time.monotonic() - started < 20  # no Spark was started
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
    assert res.returncode == 2
    assert "--topic" in res.stderr and "no_such_topic does not exist" in res.stderr
    # The Confluent API root of Apicurio is .../apis/ccompat/v7; the bare host is a common slip.
    root = platform.registry_url.removesuffix("/apis/ccompat/v7")
    res = subprocess.run(
        [*base, "--schema-registry-url", root], capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode != 0
    assert "txn-contract register" in res.stderr and "/apis/ccompat/v7" in res.stderr
    assert "Traceback" not in res.stderr
