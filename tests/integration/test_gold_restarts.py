"""gold-signals' exactly-once and its writes beside maintenance (real broker, registry, Spark
with Delta), on the lake of ``tests/integration/gold_lake.py``: a SIGKILL mid-batch then a
restart leaves the tables as if nothing happened; compaction beside a running job does not
break its writes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import create_topic
from tests.integration.gold_lake import (
    GOLD_SIGNALS,
    _aggregates,
    _append_silver,
    _commits,
    _consume,
    _decode,
    _read,
    _recomputed,
    _settings,
    _snapshot,
    _txn,
)
from txn_contract.detectors import packaged_detectors
from txn_gold.job import GoldJob
from txn_lake.gold_tables import ALERTS_TABLE, GOLD_CUSTOMER_DAILY_TABLE, GOLD_MERCHANT_HOURLY_TABLE
from txn_lake.layout import Lake
from txn_lake.outputs import StreamOutput

pytestmark = pytest.mark.integration


def test_sigkill_mid_batch_then_restart_is_as_if_nothing_happened(
    spark, platform, gold, alert_schema_id, tmp_path
):
    """The CLI, on the lake as the first run left it plus silver batch 1, is killed right after
    the batch's first MERGE (its aggregates half committed, its alerts not); a restart leaves the
    tables equal to the fixture's, and the topic holds the alerts of that batch."""
    killed = tmp_path / "killed"
    shutil.copytree(gold["after_first"], killed)
    _append_silver(killed, gold["batch1"], 1)
    topic = f"gold_killed_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    args = [
        str(GOLD_SIGNALS), "--lake", str(killed), "--available-now", "--master", "local[1]",
        "--driver-memory", "1g", "--bootstrap-servers", platform.bootstrap_servers,
        "--schema-registry-url", platform.registry_url, "--alerts-topic", topic,
    ]  # fmt: skip
    hourly = GOLD_MERCHANT_HOURLY_TABLE.path(Lake(killed))
    merged = _commits(hourly) + 1  # batch 1's MERGE into the hourly table
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while _commits(hourly) < merged and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    hourly_out = StreamOutput(Lake(killed), GOLD_MERCHANT_HOURLY_TABLE)
    assert hourly_out.committed_batch() == 1, proc.stderr.read()
    alerts_out = StreamOutput(Lake(killed), ALERTS_TABLE)
    killed_before_alerts = alerts_out.committed_batch() == 0
    lines: list[str] = []
    cfg = _settings(platform, killed, topic)
    totals = GoldJob(cfg, spark, packaged_detectors(), alert_schema_id).run(emit=lines.append)
    assert totals["batches"] == 1 and alerts_out.committed_batch() == 1, lines
    if killed_before_alerts:
        assert any("batch 1: silver batches 1..1" in line for line in lines), lines
    assert _snapshot(spark, killed) == _snapshot(spark, gold["lake"])
    batch1 = _read(spark, gold["lake"], ALERTS_TABLE.name).where("batch_id = 1").collect()
    assert batch1  # the late row completed K's velocity window
    records = _decode(platform, _consume(platform, topic, len(batch1)))
    assert {r["alert_id"] for r in records} == {r.alert_id for r in batch1}


def _compact(spark, lake: Path) -> int:
    """What `txn-lake compact --min-age 0 --table gold_customer_daily` does (on the suite's
    session); the files it removed."""
    from txn_lake.maintenance import compact_table

    path = GOLD_CUSTOMER_DAILY_TABLE.path(Lake(lake))
    return compact_table(spark, GOLD_CUSTOMER_DAILY_TABLE.name, path, 0, print).files_removed


def _late_batch(lake: Path, batch: int) -> None:
    """Silver batch ``batch``: a late row into merchant M1's 10:00 hour (a MERGE rewriting the
    file that holds it) and one of a new merchant and customer (an insert, a new file)."""
    rows = [
        _txn(f"Y{batch}", 20 + batch % 30, merchant="M1", amount="1.00", late=True),
        _txn(f"Y{batch}", 21 + batch % 30, merchant=f"N{batch}", late=True),
    ]
    _append_silver(lake, rows, batch)


def _wait_for(cond, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_compaction_beside_a_running_job_does_not_break_its_writes(
    spark, platform, gold, alert_schema_id, tmp_path
):
    """gold-signals runs (a 0.5 s trigger) on a copy of the fixture's lake while silver gains late
    rows into hours it aggregated and `txn-lake compact` OPTIMIZEs the aggregates' partition: the
    job keeps committing (a MERGE that conflicts is done again), the compaction happens between
    its MERGEs, and the aggregates still equal a recomputation over silver."""
    from deltalake import DeltaTable

    lake = tmp_path / "compacted"
    shutil.copytree(gold["lake"], lake)
    topic = f"gold_compact_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    cfg = _settings(platform, lake, topic).model_copy(
        update={"available_now": False, "trigger": "0.5s"}
    )
    job = GoldJob(cfg, spark, packaged_detectors(), alert_schema_id)
    pool = ThreadPoolExecutor(2)
    runner = pool.submit(job.run, print)
    batch = 1
    try:
        for _ in range(3):  # small files in the aggregates' only partition
            batch += 1
            _late_batch(lake, batch)
            _wait_for(lambda b=batch: job.outputs.last_silver_batch() >= b, f"silver {batch}")
        compacting = pool.submit(_compact, spark, lake)
        while not compacting.done():  # the job keeps merging throughout
            batch += 1
            _late_batch(lake, batch)
            _wait_for(lambda b=batch: job.outputs.last_silver_batch() >= b, f"silver {batch}")
        removed = compacting.result()  # raises what the compaction raised
        batch += 1  # and after the compaction, on its files
        _late_batch(lake, batch)
        _wait_for(lambda b=batch: job.outputs.last_silver_batch() >= b, f"silver {batch}")
    finally:
        job.request_stop()
        runner.result(timeout=60)
        pool.shutdown()
    assert removed > 1
    assert job.failure is None
    print(f"MERGEs a compaction conflicted with, done again: {job.outputs.conflicts}")
    history = DeltaTable(str(GOLD_CUSTOMER_DAILY_TABLE.path(Lake(lake)))).history()
    optimized = [h for h in history if h["operation"] == "OPTIMIZE"]
    assert len(optimized) == 1
    last_merge = max(h["version"] for h in history if h["operation"] == "MERGE")
    assert last_merge > optimized[0]["version"]  # the job merged into the compacted files
    got = _aggregates(spark, lake)
    for name, frame in _recomputed(spark, lake).items():
        columns = [c for c in _read(spark, lake, name).columns if c != "updated_ts"]
        assert got[name] == sorted(map(str, frame.select(*columns).collect())), name
    alerts = _read(spark, lake, ALERTS_TABLE.name)
    assert alerts.count() == alerts.select("alert_id").distinct().count() == len(gold["expected"])
