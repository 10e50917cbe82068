"""Latency from the Delta log (txn_lake.latency): per-row latency as the benchmark measures it,
and per-table freshness as txn-report shows it, on real Delta tables written by delta-rs with
the jobs' userMetadata (no JVM)."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pytest
from deltalake import CommitProperties, DeltaTable, write_deltalake

from txn_lake import BRONZE, QUARANTINE, SILVER, Lake
from txn_lake.facts import commits
from txn_lake.gold_tables import ALERTS_TABLE
from txn_lake.latency import (
    Freshness,
    alert_row_latencies,
    batch_latency_ms,
    bronze_row_latencies,
    freshness,
    lake_freshness,
    percentile,
    silver_row_latencies,
)
from txn_lake.tables import BRONZE_TABLE, QUARANTINE_TABLE, SILVER_TABLE

NOW_MS = time.time_ns() // 1_000_000
BRONZE_APP, SILVER_APP = BRONZE_TABLE.app_id, SILVER_TABLE.app_id


def _ts(ms: list[int]) -> pa.Array:
    return pa.array([m * 1000 for m in ms], pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _write(path, data: pa.Table, meta: dict | None) -> int:
    """Append ``data`` with ``meta`` as the commit's userMetadata; the new version."""
    props = CommitProperties(custom_metadata={"userMetadata": json.dumps(meta)}) if meta else None
    write_deltalake(str(path), data, mode="append", commit_properties=props)
    return DeltaTable(str(path)).version()


def _bronze(path, rows: list[tuple[int, int, int]], meta: dict | None) -> int:
    """Bronze rows ``(partition, offset, event ms)`` of topic ``t``."""
    data = pa.table(
        {
            "kafka_topic": ["t"] * len(rows),
            "kafka_partition": pa.array([r[0] for r in rows], pa.int32()),
            "kafka_offset": pa.array([r[1] for r in rows], pa.int64()),
            "timestamp": _ts([r[2] for r in rows]),
        }
    )
    return _write(path, data, meta)


def _silver(path, batch_id: int, events: list[int], meta: dict | None) -> int:
    data = pa.table({"batch_id": pa.array([batch_id] * len(events)), "timestamp": _ts(events)})
    return _write(path, data, meta)


def _commit_ms(path) -> dict[int, int]:
    """Commit time per version, from the log."""
    return {c.version: c.timestamp_ms for c in commits(path, -1, 100)[1]}


def _sorted_ms(lat) -> list[int]:
    return sorted(lat.latencies_ms.to_pylist())


def test_bronze_row_is_timed_by_the_writer_commit_whose_offsets_hold_it(tmp_path):
    e = NOW_MS - 60_000
    v0 = _bronze(
        tmp_path,
        [(0, 0, e), (0, 1, e + 1), (0, 2, e + 2), (1, 0, e + 3), (1, 1, e + 4)],
        {"app_id": BRONZE_APP, "batch_id": 0, "offsets": {"t": {"0": [0, 3], "1": [0, 2]}}},
    )
    time.sleep(0.02)
    # The next batch starts at offset 3 of partition 0: the span's first offset is its own.
    v1 = _bronze(
        tmp_path,
        [(0, 3, e + 10), (0, 4, e + 11)],
        {"app_id": BRONZE_APP, "batch_id": 1, "offsets": {"t": {"0": [3, 5]}}},
    )
    # Someone else's commit: its rows are accounted for by no writer commit.
    _bronze(tmp_path, [(1, 2, e + 20)], {"app_id": "someone-else", "offsets": {"t": {"1": [2, 3]}}})
    # OPTIMIZE re-adds every row in a commit of its own; rows keep their first commit's time.
    DeltaTable(str(tmp_path)).optimize.compact()
    at = _commit_ms(tmp_path)
    lat = bronze_row_latencies(tmp_path)
    expected = [at[v0] - e - d for d in range(5)] + [at[v1] - e - 10, at[v1] - e - 11]
    assert _sorted_ms(lat) == sorted(expected)
    assert (lat.rows, lat.commits, lat.writer_commits, lat.unmatched) == (7, 2, 2, 1)
    summary = lat.summary()
    assert summary["max_s"] == max(expected) / 1000
    assert summary["rows"] == 7 and summary["p50_s"] is not None


def test_bronze_warm_up_leaves_out_early_events(tmp_path):
    e = NOW_MS - 60_000
    v0 = _bronze(
        tmp_path,
        [(0, 0, e), (0, 1, e + 5_000), (0, 2, e + 9_000)],
        {"app_id": BRONZE_APP, "batch_id": 0, "offsets": {"t": {"0": [0, 3]}}},
    )
    lat = bronze_row_latencies(tmp_path, since_ms=e + 5_000)
    at = _commit_ms(tmp_path)[v0]
    assert _sorted_ms(lat) == [at - e - 9_000, at - e - 5_000]
    assert lat.unmatched == 0


def test_silver_row_is_timed_by_its_batch_commit(tmp_path):
    e = NOW_MS - 30_000
    v0 = _silver(tmp_path, 0, [e, e + 100], {"app_id": SILVER_APP, "batch_id": 0})
    time.sleep(0.02)
    v1 = _silver(tmp_path, 1, [e + 200], {"app_id": SILVER_APP, "batch_id": 1})
    # The same batch id from another writer (silver_rejects' app) is not silver's commit.
    _silver(tmp_path, 7, [e + 300], {"app_id": "txn-pipeline.silver_refine.silver_rejects"})
    DeltaTable(str(tmp_path)).optimize.compact()
    at = _commit_ms(tmp_path)
    lat = silver_row_latencies(tmp_path)
    assert _sorted_ms(lat) == sorted([at[v0] - e, at[v0] - e - 100, at[v1] - e - 200])
    assert (lat.commits, lat.writer_commits, lat.unmatched) == (2, 2, 1)
    assert silver_row_latencies(tmp_path, since_ms=e + 150).rows == 1


def test_alert_is_timed_by_its_batch_commit_from_its_trigger_event_time(tmp_path):
    e = NOW_MS - 30_000
    alert = ALERTS_TABLE.app_id
    meta = {"app_id": alert, "batch_id": 4}
    v = _write(
        tmp_path, pa.table({"batch_id": pa.array([4, 4]), "event_time": _ts([e, e + 50])}), meta
    )
    _write(tmp_path, pa.table({"batch_id": pa.array([5]), "event_time": _ts([e])}), {"app_id": "x"})
    lat = alert_row_latencies(tmp_path)
    at = _commit_ms(tmp_path)
    assert _sorted_ms(lat) == sorted([at[v] - e, at[v] - e - 50])
    assert (lat.commits, lat.writer_commits, lat.unmatched) == (1, 1, 1)
    assert alert_row_latencies(tmp_path, since_ms=e + 10).rows == 1


def test_no_table_or_no_rows_measures_nothing(tmp_path):
    lat = bronze_row_latencies(tmp_path / "missing")
    assert (lat.rows, lat.summary()["p95_s"]) == (0, None)
    assert silver_row_latencies(tmp_path / "missing").summary()["max_s"] is None


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10.0], 0.95) == 10.0
    assert percentile([], 0.95) is None


def _event_time(rows: int, p50: int | None) -> dict:
    return {"rows": rows, "min_ms": p50, "p50_ms": p50, "max_ms": p50}


def test_freshness_is_time_since_the_newest_writer_commit_and_p95_of_batches(tmp_path):
    e = NOW_MS - 120_000
    metas = [
        {"app_id": BRONZE_APP, "batch_id": 0, "event_time": _event_time(10, e)},
        {"app_id": BRONZE_APP, "batch_id": 1, "event_time": _event_time(0, None)},  # empty
        {"app_id": BRONZE_APP, "batch_id": 2},  # written before event_time was recorded
        {"app_id": BRONZE_APP, "batch_id": 3, "event_time": _event_time(5, e + 1_000)},
    ]
    versions = [_bronze(tmp_path, [(0, i, e)], m) for i, m in enumerate(metas)]
    _bronze(tmp_path, [(0, 9, e)], {"app_id": "someone-else"})  # newer, not the writer's
    at = _commit_ms(tmp_path)
    now = at[max(at)] + 2_500
    f = freshness(tmp_path, BRONZE_APP, now_ms=now)
    assert f.seconds_since_commit == (now - at[versions[3]]) / 1000
    batches = [at[versions[0]] - e, at[versions[3]] - e - 1_000]
    assert f.batches == 2
    assert f.p95_latency_seconds == pytest.approx(percentile(batches, 0.95) / 1000)
    # Only the newest `recent` writer commits count: the newest two hold one batch with events.
    only = freshness(tmp_path, BRONZE_APP, now_ms=now, recent=2)
    assert only.batches == 1
    assert only.p95_latency_seconds == (at[versions[3]] - e - 1_000) / 1000
    assert only.as_json() == {
        "seconds_since_commit": round((now - at[versions[3]]) / 1000, 3),
        "p95_latency_seconds": round((at[versions[3]] - e - 1_000) / 1000, 3),
        "batches": 1,
    }


def test_freshness_without_event_times_or_writer_commits(tmp_path):
    _bronze(tmp_path, [(0, 0, NOW_MS)], {"app_id": BRONZE_APP, "batch_id": 0})
    f = freshness(tmp_path, BRONZE_APP)
    assert f.seconds_since_commit is not None and f.seconds_since_commit >= 0
    assert (f.p95_latency_seconds, f.batches) == (None, 0)
    assert freshness(tmp_path, "someone-else") == Freshness()
    assert freshness(tmp_path / "missing", BRONZE_APP).as_json() == {
        "seconds_since_commit": None,
        "p95_latency_seconds": None,
        "batches": 0,
    }


def test_batch_latency_needs_rows_and_a_median():
    from txn_lake.facts import CommitInfo

    def info(meta):
        return CommitInfo(3, 10_000, "WRITE", {}, meta)

    assert batch_latency_ms(info({"event_time": _event_time(4, 7_000)})) == 3_000
    assert batch_latency_ms(info({"event_time": _event_time(0, None)})) is None
    assert batch_latency_ms(info({"batch_id": 1})) is None
    assert batch_latency_ms(info(None)) is None


def test_lake_freshness_covers_the_tables_that_exist(tmp_path):
    lake = Lake(tmp_path)
    meta = {"event_time": _event_time(1, NOW_MS - 1_000)}
    _bronze(lake.table_path(BRONZE), [(0, 0, NOW_MS)], {"app_id": BRONZE_APP, **meta})
    _bronze(lake.table_path(QUARANTINE), [(0, 1, NOW_MS)], {"app_id": QUARANTINE_TABLE.app_id})
    out = lake_freshness(lake)
    assert list(out) == [BRONZE, QUARANTINE]
    assert out[BRONZE].batches == 1 and out[QUARANTINE].batches == 0
    assert SILVER not in out
