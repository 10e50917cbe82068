"""`txn-lake` as an operator runs it, on a lake that `bronze-ingest` wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.conftest import bronze_available_now, create_topic
from tests.records import produce_records, record
from txn_contract import packaged_contract

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
CONTRACT = packaged_contract()


def _run(*args: str, env=None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def lake(spark, platform, registered_contract, tmp_path_factory) -> Path:
    """A lake with 40 bronze rows and 2 quarantined messages, written by the bronze job (in
    process, on the suite's session: the bronze CLI has its own end-to-end tests)."""
    topic = f"lake_cli_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    records = [record(i, amount=Decimal(i + 1)) for i in range(40)]
    produce_records(platform.bootstrap_servers, topic, registered_contract[2], records)
    producer = Producer({"bootstrap.servers": platform.bootstrap_servers})
    producer.produce(topic, value=b"not avro")
    producer.produce(topic, value=b"")
    assert producer.flush(30) == 0
    root = tmp_path_factory.mktemp("lake")
    totals = bronze_available_now(spark, platform, root, topic)
    assert (totals["bronze"], totals["quarantine"]) == (40, 2), totals
    return root


def test_describe_shows_figures_comments_properties_and_commits(lake):
    res = _run("txn-lake", "describe", "--lake", str(lake))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "bronze: " in out and "quarantine: " in out
    assert "40 rows in" in out and "2 rows in" in out
    amount_doc = next(
        f["doc"] for f in json.loads(CONTRACT.latest.schema_str)["fields"] if f["name"] == "amount"
    )
    assert amount_doc[:40] in out
    assert "property txn.contract.subject = bank_txn_stream-value" in out
    assert "WRITE batch 0 offsets" in out
    res = _run("txn-lake", "describe", "--lake", str(lake), "--table", "bronze", "--format", "json")
    (bronze,) = json.loads(res.stdout)
    assert bronze["rows"] == 40 and bronze["files"] >= 1
    assert bronze["avg_file_bytes"] == bronze["bytes"] / bronze["files"]
    assert {c["name"]: c["comment"] for c in bronze["columns"]}["amount"] == amount_doc
    writes = [c for c in bronze["recent"] if c["operation"] == "WRITE"]
    assert writes[0]["user_metadata"]["batch_id"] == 0


def test_vacuum_refuses_a_retention_delta_would_ignore_before_spark_then_vacuums(lake):
    res = _run(
        "txn-lake", "vacuum", "--lake", str(lake), "--table", "bronze", "--retain-hours", "1"
    )
    assert res.returncode == 2, res.stderr[-2000:]
    assert "--retain-hours" in res.stderr and "retention" in res.stderr
    assert "Traceback" not in res.stderr
    assert "starting Spark" not in res.stderr  # refused from the log, before Spark starts
    res = _run("txn-lake", "vacuum", "--lake", str(lake), "--table", "bronze")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "starting Spark" in res.stderr
    assert "bronze: vacuum removed 0 file(s)" in res.stderr


def test_a_table_that_does_not_exist_is_named(lake):
    res = _run("txn-lake", "compact", "--lake", str(lake), "--table", "silver")
    assert res.returncode == 2
    assert "--table" in res.stderr and "silver" in res.stderr and "Traceback" not in res.stderr
    res = _run("txn-lake", "describe", "--lake", str(lake / "nowhere"))
    assert res.returncode == 2 and "--lake" in res.stderr
