"""`txn-report` agrees with Spark and delta-rs on the same lake, ignores files no table version
references, measures lag from the tables' commits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.conftest import bronze_available_now, create_topic
from txn_contract import packaged_contract, wire

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()
BIN = Path(sys.executable).parent


def _report(platform, lake: Path, topic: str) -> dict:
    env = {**os.environ, **platform.env()}
    args = [str(BIN / "txn-report"), "--lake", str(lake), "--topic", topic, "--format", "json"]
    if platform.state_dir:
        args += ["--state-dir", str(platform.state_dir)]
    res = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _produce(platform, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": platform.bootstrap_servers})
    for v in values:
        producer.produce(topic, key=b"k", value=v)
    assert producer.flush(30) == 0


def test_report_agrees_with_spark_and_ignores_leftovers(
    spark, platform, registered_contract, tmp_path
):
    topic = f"report_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    record = {
        "transaction_id": "3f1c7a52-8d0e-4b7a-9c51-0b6d2f9e4a10",
        "timestamp": 1_764_000_000_000,
        "customer_id": "C000042",
        "merchant_id": "M00007",
        "amount": Decimal("42.50"),
        "currency": "CAD",
        "channel": "POS",
        "city": "Toronto",
        "country": "CA",
        "device_id": "D000042-1",
        "status": "APPROVED",
        "merchant_category_code": "5411",
        "province": "CA-ON",
    }
    good = [wire.encode(record, CONTRACT.latest.parsed, registered_contract[2])] * 500
    _produce(platform, topic, [*good, b"", b"\x00\x01", b'{"a": 1}'])

    lake = tmp_path / "lake"
    bronze_available_now(spark, platform, lake, topic)

    # A killed attempt leaves a file that no batch committed: never data.
    committed = next((lake / "bronze").rglob("*.parquet"))
    shutil.copy(committed, committed.with_name("part-99999-leftover.c000.snappy.parquet"))

    from deltalake import DeltaTable

    report = _report(platform, lake, topic)
    bronze = spark.read.format("delta").load(str(lake / "bronze"))
    assert report["bronze_rows"] == bronze.count() == 500
    assert DeltaTable(str(lake / "bronze")).count() == 500
    quarantine = spark.read.format("delta").load(str(lake / "quarantine"))
    assert report["quarantine_rows"] == quarantine.count() == 3
    assert report["quarantine_by_reason"] == {
        "EMPTY_VALUE": 1,
        "SHORT_HEADER": 1,
        "BAD_MAGIC_BYTE": 1,
    }
    assert report["uncommitted_files"] == 1
    assert report["bronze_files"] == len(bronze.inputFiles())
    assert report["bronze_bytes"] > 0 and report["avg_file_bytes"] > 0
    assert report["lag"]["total"] == 0 and report["lag"]["checkpoint_found"]
    assert report["topic_messages_total"] == 503
    if platform.state_dir:
        assert report["topic_bytes"] > 0

    _produce(platform, topic, good[:7])
    assert _report(platform, lake, topic)["lag"]["total"] == 7
