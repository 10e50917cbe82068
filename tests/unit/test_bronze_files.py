"""bronze-ingest's one-pass pieces that need no Spark: the statistics of a staged file's add
action (from its Parquet footer), the figures the write pass observes, and how the rare-row
pass's figures replace them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bronze_ingest import counts
from bronze_ingest.decode import SUSPECT, UNRESOLVED, Tally
from bronze_ingest.files import Staged, file_stats
from bronze_ingest.passes import merge_rare
from txn_lake.event_time import EventTime


def _micros(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1_000_000)


def _file(path: Path) -> Path:
    """Two row groups of what a bronze file holds, as Spark writes it (timestamps in micros)."""
    ts = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "timestamp": pa.array(
                [_micros("2026-12-01T17:00:00.000500"), _micros("2026-12-01T17:00:01.250001")], ts
            ),
            "kafka_partition": pa.array([2, 2], pa.int32()),
            "kafka_offset": pa.array([40, 41], pa.int64()),
            "reason": pa.array(["CORRUPT_PAYLOAD", "BAD_MAGIC_BYTE"]),
            "transaction_id": pa.array(["x" * 36, "y" * 36]),
            "schema_id": pa.array([None, None], pa.int32()),
        }
    )
    pq.write_table(table, path, row_group_size=1)
    return path


def test_a_files_statistics_are_the_ones_delta_writes_for_the_chosen_columns(tmp_path):
    columns = ["timestamp", "kafka_partition", "kafka_offset", "reason", "transaction_id"]
    stats = file_stats(_file(tmp_path / "f.parquet"), [*columns, "schema_id", "absent"])
    assert stats["numRecords"] == 2
    # Milliseconds, rounded outwards: still bounds of every row.
    assert stats["minValues"]["timestamp"] == "2026-12-01T17:00:00.000Z"
    assert stats["maxValues"]["timestamp"] == "2026-12-01T17:00:01.251Z"
    assert (stats["minValues"]["kafka_offset"], stats["maxValues"]["kafka_offset"]) == (40, 41)
    assert stats["minValues"]["kafka_partition"] == stats["maxValues"]["kafka_partition"] == 2
    assert (stats["minValues"]["reason"], stats["maxValues"]["reason"]) == (
        "BAD_MAGIC_BYTE",
        "CORRUPT_PAYLOAD",
    )
    # A string longer than Delta's 32-character prefix has no bounds; an all-null column only
    # its null count; a column the file lacks nothing.
    assert "transaction_id" not in stats["minValues"]
    assert stats["nullCount"]["transaction_id"] == 0
    assert stats["nullCount"]["schema_id"] == 2 and "schema_id" not in stats["minValues"]
    assert "absent" not in stats["nullCount"]


def test_bounds_only_when_every_row_group_with_a_value_has_them(tmp_path):
    """A row group with values but without bounds (a value too long for the writer to keep)
    leaves the file without bounds: the others' would not bound it. A row group with more
    nulls than values keeps its bounds."""
    nullish = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"s": ["a", None, None, "b"], "n": [1, None, None, 2]}), nullish)
    stats = file_stats(nullish, ["s", "n"])
    assert (stats["minValues"], stats["maxValues"]) == ({"s": "a", "n": 1}, {"s": "b", "n": 2})
    assert stats["nullCount"] == {"s": 2, "n": 2}

    long = tmp_path / "long.parquet"
    with pq.ParquetWriter(long, pa.schema([("s", pa.string())])) as w:
        w.write_table(pa.table({"s": ["x" * 5000, None, None]}))  # no bounds kept
        w.write_table(pa.table({"s": ["m", "n"]}))
    meta = pq.ParquetFile(long).metadata
    assert not meta.row_group(0).column(0).statistics.has_min_max  # the case under test
    stats = file_stats(long, ["s"])
    assert "s" not in stats["minValues"] and "s" not in stats["maxValues"]
    assert stats["nullCount"] == {"s": 2}


def test_timestamps_without_time_zone_and_small_ints(tmp_path):
    """Bounds in Delta's form only where it is certain: a timestamp without time zone gets
    none (its JSON form has no offset), a signed byte is an integer."""
    path = tmp_path / "types.parquet"
    pq.write_table(
        pa.table(
            {
                "ntz": pa.array([_micros("2026-12-01T17:00:00")], pa.timestamp("us")),
                "b": pa.array([-3], pa.int8()),
            }
        ),
        path,
    )
    stats = file_stats(path, ["ntz", "b"])
    assert "ntz" not in stats["minValues"] and stats["nullCount"]["ntz"] == 0
    assert stats["minValues"]["b"] == stats["maxValues"]["b"] == -3


def test_a_staged_attempt_lists_only_sparks_data_files_and_is_discarded_whole(tmp_path):
    staged = Staged(tmp_path / "date=2026-12-01" / "hour=17" / "b3-0a1b2c3d", {"date": "x"})
    assert staged.files() == []
    staged.directory.mkdir(parents=True)
    for name in ("part-00001-a.snappy.parquet", "part-00000-a.snappy.parquet", ".part-0.crc"):
        (staged.directory / name).write_bytes(b"")
    assert [p.name for p in staged.files()] == [
        "part-00000-a.snappy.parquet",
        "part-00001-a.snappy.parquet",
    ]
    staged.discard()
    assert not staged.directory.exists()


def _observed(**overrides) -> dict:
    """What ``observed_metrics`` hands back for a batch read from 3 partitions of topic t."""
    values = {counts._GOOD: 7, counts._UNRESOLVED_IDS: [], counts._MAX_PARTITION: 2}
    values |= {counts._REASON + r: 0 for r in counts.REASONS}
    values |= {f"{counts._GOOD_ID}1": 2, f"{counts._GOOD_ID}2": 5}
    values |= {f"{counts._LOW}0": 10, f"{counts._HIGH}0": 14, f"{counts._LOW}1": None}
    values |= {f"{counts._HIGH}1": None, f"{counts._LOW}2": 0, f"{counts._HIGH}2": 3}
    values |= {"_et_rows": 7, "_et_min_ms": 100, "_et_p50_ms": 150, "_et_max_ms": 200}
    return values | overrides


def test_the_observed_figures_are_the_tally_a_pass_of_their_own_gave():
    values = _observed(
        **{counts._REASON + "BAD_MAGIC_BYTE": 1, counts._REASON + UNRESOLVED: 2},
        **{counts._UNRESOLVED_IDS: [987654, 55]},
    )
    tally = counts.observed_tally(values, "t", 3)
    assert tally.counts == {None: 7, "BAD_MAGIC_BYTE": 1, UNRESOLVED: 2}
    assert tally.good_by_id == {1: 2, 2: 5}
    assert tally.unresolved_ids == [55, 987654]
    # [first, last + 1) per partition read; partition 1 had no row in this batch.
    assert tally.ranges == {"t": {"0": [10, 15], "2": [0, 4]}}
    assert tally.event_time == EventTime(7, 100, 150, 200)
    assert counts.partitions_read(values, 3) == 3
    assert counts.partitions_read(values | {counts._MAX_PARTITION: 4}, 3) == 5


def test_the_rare_rows_final_reasons_replace_what_the_write_pass_saw():
    first = Tally(
        {None: 7, SUSPECT: 2, "BAD_MAGIC_BYTE": 1},
        [],
        {2: 7},
        {"t": {"0": [0, 10]}},
        EventTime(7, 100, 150, 200),
    )
    rare = Tally(
        {None: 1, "TRAILING_BYTES": 1, "BAD_MAGIC_BYTE": 1},
        [],
        {2: 1},
        {},
        EventTime(1, 50, 50, 50),
    )
    merged = merge_rare(first, rare)
    assert merged.counts == {None: 8, "TRAILING_BYTES": 1, "BAD_MAGIC_BYTE": 1}
    assert merged.good_by_id == {2: 8}
    assert merged.ranges == first.ranges
    assert merged.event_time == EventTime(8, 50, 150, 200)
