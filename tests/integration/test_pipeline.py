"""``txn-pipeline run``: bronze and silver as queries of one application, and the switch between
that run and the separate jobs on one lake, both ways, with nothing lost or doubled.

1. The one-app run (in process, on the suite's session, trigger 1s) is stopped mid-stream, while
   a second load is arriving; the separate jobs (available-now) finish the lake.
2. A third load; the separate bronze job (trigger 1s) is stopped mid-stream; ``txn-pipeline run
   --available-now`` (the CLI, its own application) finishes the lake, layer after layer.

After each step every produced event is in bronze exactly once (by Kafka offset) and in silver
exactly once (by transaction id), and every silver batch reconciles.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import bronze_config, create_topic
from tests.records import produce_records, record
from txn_contract import SUBJECT, packaged_contract
from txn_contract.rules import packaged_rules
from txn_lake import Lake
from txn_lake.outputs import StreamOutput
from txn_lake.tables import BRONZE_TABLE, SILVER_AUDIT_TABLE, SILVER_TABLE

pytestmark = pytest.mark.integration

PIPELINE = Path(sys.executable).parent / "txn-pipeline"
NOW_MS = int(time.time() * 1000)


def _records(start: int, n: int) -> list[dict]:
    """Valid events ``start + 1`` .. ``start + n`` (record 0's amount, 0.00, breaks a rule)."""
    return [record(i, timestamp=NOW_MS - 60_000 + i) for i in range(start + 1, start + n + 1)]


def _settings(platform, lake: Path, topic: str, **extra):
    from txn_pipeline.config import PipelineSettings

    cfg = bronze_config(platform, lake, topic, **extra)
    return PipelineSettings(**cfg.model_dump(exclude={"checkpoint"})).validated()


def _wait(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _assert_exactly_once(spark, lake: Path, produced: int) -> None:
    root = Lake(lake)
    bronze = spark.read.format("delta").load(str(BRONZE_TABLE.path(root)))
    silver = spark.read.format("delta").load(str(SILVER_TABLE.path(root)))
    audit = spark.read.format("delta").load(str(SILVER_AUDIT_TABLE.path(root)))
    coords = bronze.select("kafka_partition", "kafka_offset")
    assert coords.count() == coords.distinct().count() == produced
    assert silver.count() == silver.select("transaction_id").distinct().count() == produced
    assert audit.where("NOT reconciled").count() == 0
    assert audit.groupBy().sum("rows_read").first()[0] == produced


def _separate_available_now(spark, platform, lake: Path, topic: str) -> None:
    from bronze_ingest.job import BronzeJob
    from txn_silver.config import SilverSettings
    from txn_silver.job import SilverJob

    BronzeJob(bronze_config(platform, lake, topic, available_now=True), spark).run(print)
    SilverJob(SilverSettings(lake=lake, available_now=True), spark, packaged_rules()).run(print)


def test_the_one_app_run_and_the_separate_jobs_take_over_from_each_other(
    spark, platform, registered_contract, tmp_path
):
    from txn_pipeline.runner import Pipeline

    topic = f"pipeline_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    schema_id = registered_contract[packaged_contract().latest.version]
    lake = tmp_path / "lake"
    silver_out = StreamOutput(Lake(lake), SILVER_TABLE)
    produce_records(platform.bootstrap_servers, topic, schema_id, _records(0, 400))

    # 1. One application, processing time, stopped while a second load arrives.
    pipeline = Pipeline(_settings(platform, lake, topic, trigger="1s"), spark, packaged_rules())
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(pipeline.run, print)
        _wait(lambda: running.done() or silver_out.committed_batch() is not None, "silver")
        produce_records(platform.bootstrap_servers, topic, schema_id, _records(400, 400))
        pipeline.request_stop()
        totals = running.result(timeout=120)  # raises what the run raised
    assert set(totals) == {"bronze_ingest", "silver_refine"}
    _separate_available_now(spark, platform, lake, topic)
    _assert_exactly_once(spark, lake, 800)

    # 2. The separate bronze job stopped mid-stream; the one-app CLI drains every layer.
    from bronze_ingest.job import BronzeJob

    produce_records(platform.bootstrap_servers, topic, schema_id, _records(800, 300))
    bronze = BronzeJob(bronze_config(platform, lake, topic, trigger="1s"), spark)
    bronze_out = StreamOutput(Lake(lake), BRONZE_TABLE)
    before = bronze_out.committed_batch()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(bronze.run, print)
        _wait(lambda: running.done() or bronze_out.committed_batch() != before, "bronze")
        produce_records(platform.bootstrap_servers, topic, schema_id, _records(1100, 300))
        bronze.request_stop()
        running.result(timeout=120)
    res = subprocess.run(
        [str(PIPELINE), "run", "--lake", str(lake), "--topic", topic, "--subject", SUBJECT,
         "--available-now",
         "--master", "local[2]", "--driver-memory", "1g"],
        capture_output=True, text=True, env={**os.environ, **platform.env()}, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "silver_refine: batch" in res.stderr and "Traceback" not in res.stderr
    _assert_exactly_once(spark, lake, 1400)
