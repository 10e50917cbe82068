"""Which partitions compaction touches, from the Delta log (tables written by delta-rs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from deltalake import write_deltalake

from txn_lake.maintenance import closed_partitions, partition_end


def test_partition_windows_end_with_their_hour_or_day():
    assert partition_end({"date": "2026-12-01", "hour": "9"}) == datetime(
        2026, 12, 1, 10, tzinfo=UTC
    )
    assert partition_end({"event_date": "2026-12-01"}) == datetime(2026, 12, 2, tzinfo=UTC)
    assert partition_end({"other": "x"}) is None


def _table(path, rows: list[tuple[str, int]], writes: int) -> None:
    for _ in range(writes):
        data = pa.table(
            {
                "x": list(range(len(rows))),
                "date": [d for d, _ in rows],
                "hour": pa.array([h for _, h in rows], pa.int32()),
            }
        )
        write_deltalake(str(path), data, partition_by=["date", "hour"], mode="append")


def test_only_closed_partitions_with_several_files_are_compacted(tmp_path):
    _table(tmp_path, [("2026-12-01", 8), ("2026-12-01", 9), ("2026-12-01", 10)], writes=3)
    _table(tmp_path, [("2026-11-30", 23)], writes=1)  # one file: already compact
    now = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    # Hour 8 ended 1.5 h ago, hour 9 30 min ago, hour 10 is still open.
    assert closed_partitions(tmp_path, 3600, now) == [{"date": "2026-12-01", "hour": "8"}]
    assert [p["hour"] for p in closed_partitions(tmp_path, 1200, now)] == ["8", "9"]
    assert [p["hour"] for p in closed_partitions(tmp_path, 0, now)] == ["10", "8", "9"]
    assert closed_partitions(tmp_path, 0, now) == closed_partitions(tmp_path, 0)
