"""``txn-pipeline run``: bronze, silver and gold as queries of one application, and the switch
between that run and the separate jobs on one lake, both ways, with nothing lost or doubled.

1. The one-app run (in process, on the suite's session, trigger 1s) is stopped mid-stream, while
   a second load is arriving; the separate jobs (available-now) finish the lake.
2. A third load; the separate bronze job (trigger 1s) is stopped mid-stream; ``txn-pipeline run
   --available-now`` (the CLI, its own application) finishes the lake, layer after layer.

After each step every produced event is in bronze exactly once (by Kafka offset) and in silver
exactly once (by transaction id), and every silver batch reconciles. At the end the gold tables
the one-app runs wrote equal what a separate gold-signals writes from the same silver.
"""

from __future__ import annotations

import os
import shutil
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
from txn_contract.alerts import SUBJECT as ALERTS_SUBJECT
from txn_contract.detectors import packaged_detectors
from txn_contract.rules import packaged_rules
from txn_lake import Lake
from txn_lake.gold_tables import GOLD_TABLES
from txn_lake.outputs import StreamOutput
from txn_lake.tables import BRONZE_TABLE, SILVER_AUDIT_TABLE, SILVER_TABLE

pytestmark = pytest.mark.integration

PIPELINE = Path(sys.executable).parent / "txn-pipeline"
NOW_MS = int(time.time() * 1000)


def _records(start: int, n: int) -> list[dict]:
    """Valid events ``start + 1`` .. ``start + n`` (record 0's amount, 0.00, breaks a rule)."""
    return [record(i, timestamp=NOW_MS - 60_000 + i) for i in range(start + 1, start + n + 1)]


def _settings(platform, lake: Path, topic: str, alerts: str, **extra):
    from txn_pipeline.config import PipelineSettings

    cfg = bronze_config(platform, lake, topic, **extra)
    dumped = cfg.model_dump(exclude={"checkpoint"})
    return PipelineSettings(**dumped, alerts_topic=alerts).validated()


def _alert_schema_id(platform) -> int:
    """Register the alert contract (as `txn-contract register` does); its latest version's id."""
    from txn_contract.registry import lookup_schema_id, register_contract, registry_client

    contract = packaged_contract(ALERTS_SUBJECT)
    client = registry_client(platform.registry_url)
    register_contract(client, contract, platform.registry_url)
    return lookup_schema_id(client, contract, contract.latest.version, platform.registry_url)


def _gold_rows(spark, lake: Path) -> dict[str, list[str]]:
    """Each gold table's rows, without the columns that say when or in which batch."""
    out = {}
    for spec in GOLD_TABLES:
        df = spark.read.format("delta").load(str(spec.path(Lake(lake))))
        df = df.drop("updated_ts", "detected_at", "batch_id")
        out[spec.name] = sorted(map(str, df.collect()))
    return out


def _assert_gold_as_separate(spark, platform, lake: Path, alerts: str, schema_id: int) -> None:
    """gold-signals (available-now) over a copy of the lake's silver writes the same gold."""
    from txn_gold.config import GoldSettings
    from txn_gold.job import GoldJob

    separate = lake.parent / "separate_gold"
    shutil.copytree(SILVER_TABLE.path(Lake(lake)), SILVER_TABLE.path(Lake(separate)))
    cfg = GoldSettings(
        lake=separate, bootstrap_servers=platform.bootstrap_servers,
        schema_registry_url=platform.registry_url, alerts_topic=alerts, available_now=True,
    ).validated()  # fmt: skip
    GoldJob(cfg, spark, packaged_detectors(), schema_id).run(print)
    got = _gold_rows(spark, lake)
    assert got["alerts"]  # 97 customers, 14 transactions each within seconds: velocity
    assert got == _gold_rows(spark, separate)


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

    topic, alerts = f"pipeline_{uuid.uuid4().hex[:8]}", f"pipeline_alerts_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    create_topic(platform.bootstrap_servers, alerts)
    alert_schema_id = _alert_schema_id(platform)
    schema_id = registered_contract[packaged_contract().latest.version]
    lake = tmp_path / "lake"
    silver_out = StreamOutput(Lake(lake), SILVER_TABLE)
    produce_records(platform.bootstrap_servers, topic, schema_id, _records(0, 400))

    # 1. One application, processing time, stopped while a second load arrives.
    settings = _settings(platform, lake, topic, alerts, trigger="1s")
    pipeline = Pipeline(settings, spark, packaged_rules(), packaged_detectors(), alert_schema_id)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(pipeline.run, print)
        _wait(lambda: running.done() or silver_out.committed_batch() is not None, "silver")
        produce_records(platform.bootstrap_servers, topic, schema_id, _records(400, 400))
        pipeline.request_stop()
        totals = running.result(timeout=120)  # raises what the run raised
    assert set(totals) == {"bronze_ingest", "silver_refine", "gold_signals"}
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
         "--available-now", "--alerts-topic", alerts,
         "--master", "local[2]", "--driver-memory", "1g"],
        capture_output=True, text=True, env={**os.environ, **platform.env()}, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "silver_refine: batch" in res.stderr and "Traceback" not in res.stderr
    assert "gold_signals: batch" in res.stderr
    _assert_exactly_once(spark, lake, 1400)
    _assert_gold_as_separate(spark, platform, lake, alerts, alert_schema_id)
