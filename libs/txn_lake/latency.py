"""Latency from the Delta log: how long after its event each row was committed, and how fresh
each table is, read with delta-rs (no JVM).

Two measures, both from the commit times (``timestamp``) of the log:

- **Per row, exact** (``bench/bench_latency.py``): a row's latency is the commit time of the
  version that first added it minus its event ``timestamp``. Only the writer's commits count
  (``userMetadata.app_id`` is the table's app id): OPTIMIZE re-adds rows in a later commit
  without changing when they arrived. A bronze row belongs to the writer commit whose
  ``userMetadata.offsets`` range (``{topic: {partition: [first, last + 1]}}``) holds its Kafka
  offset (a re-run batch is skipped by Delta's idempotent write, so each offset is in one
  commit); a silver row to the writer commit of its ``batch_id``.
- **Per batch, for** ``txn-report``: each writer commit records its batch's event times
  (``userMetadata.event_time``: rows, min, approximate median and max, epoch ms). A batch's
  latency is its commit time minus its median event time; a table's :class:`Freshness` is the
  time since the writer's newest commit and the p95 of those latencies over its recent commits.

Example::

    lake = Lake(Path("lake"))
    bronze_row_latencies(lake.table_path(BRONZE), since_ms=start_ms + 30_000).summary()
    # {"rows": 600000, "commits": 118, "unmatched": 0, "p50_s": 1.9, "p95_s": 3.2, ...}
    lake_freshness(lake)["silver"].as_json()
    # {"seconds_since_commit": 1.4, "p95_latency_seconds": 6.8, "batches": 20}
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .facts import CommitInfo, commits, is_delta_table, query_table
from .gold_tables import ALERTS_TABLE
from .layout import Lake
from .tables import BRONZE_TABLE, SILVER_TABLE, TABLES

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "RECENT_BATCHES",
    "Freshness",
    "RowLatencies",
    "alert_row_latencies",
    "batch_latency_ms",
    "bronze_row_latencies",
    "freshness",
    "lake_freshness",
    "percentile",
    "silver_row_latencies",
    "writer_commits",
]

RECENT_BATCHES = 20
"""How many of the writer's newest commits a table's p95 latency is taken over."""

# Enough history for any run the benchmark makes (one commit per second for hours).
_ALL = 1_000_000


def percentile(values: Sequence[float] | pa.Array, q: float) -> float | None:
    """The ``q`` quantile (0-1) of ``values``, linearly interpolated; None when empty.

    Example: ``percentile([1, 2, 3, 4], 0.5) == 2.5``
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.float64())
    if len(arr) == 0:
        return None
    return pc.quantile(arr, q=q, interpolation="linear")[0].as_py()


def writer_commits(path: Path, app_id: str, *, scan: int = _ALL) -> list[CommitInfo]:
    """The commits ``app_id`` wrote to the table at ``path`` (among its newest ``scan``),
    newest first; none when there is no table."""
    if not is_delta_table(path):
        return []
    _, log = commits(path, -1, scan)
    return [c for c in log if (c.user_metadata or {}).get("app_id") == app_id]


# ------------------------------------------------------------------------------- per row


@dataclass(frozen=True, eq=False)
class RowLatencies:
    """Per-row latencies of one table: ``latencies_ms`` (int64, one per measured row, in no
    particular order); ``commits``, how many writer commits added those rows, of the
    ``writer_commits`` in the log; ``unmatched``, rows (after the warm-up) that no writer commit
    accounts for."""

    latencies_ms: pa.Array
    commits: int
    writer_commits: int
    unmatched: int = 0

    @property
    def rows(self) -> int:
        """Rows measured."""
        return len(self.latencies_ms)

    def seconds(self, q: float) -> float | None:
        """The ``q`` quantile of the rows' latencies in seconds (None without rows)."""
        ms = percentile(self.latencies_ms, q)
        return None if ms is None else ms / 1000

    def summary(self) -> dict[str, Any]:
        """Rows, commits, p50/p95/p99/max in seconds: what the benchmark prints."""
        return {
            "rows": self.rows,
            "commits": self.commits,
            "writer_commits": self.writer_commits,
            "unmatched": self.unmatched,
            "p50_s": self.seconds(0.5),
            "p95_s": self.seconds(0.95),
            "p99_s": self.seconds(0.99),
            "max_s": self.seconds(1.0),
        }


def _event_rows(
    path: Path, columns: Sequence[str], since_ms: int | None, time_column: str = "timestamp"
) -> pa.Table | None:
    """``columns`` plus ``event_ms`` (``time_column``, the event time, in epoch ms) of every
    row whose event is at or after ``since_ms``; None when there is no table."""
    if not is_delta_table(path):
        return None
    cols = ", ".join(f'"{c}"' for c in columns)
    where = ""
    if since_ms is not None:
        where = f' WHERE "{time_column}" >= to_timestamp_millis({int(since_ms)})'
    return query_table(
        path,
        f'SELECT {cols}, CAST(to_timestamp_millis("{time_column}") AS BIGINT) AS event_ms '
        "FROM t" + where,
    )


def _empty(writers: int, unmatched: int = 0) -> RowLatencies:
    import pyarrow as pa

    return RowLatencies(pa.array([], pa.int64()), 0, writers, unmatched)


def _spans(writers: list[CommitInfo]) -> dict[tuple[str, int], list[tuple[int, int, int, int]]]:
    """``(topic, partition) -> [(first, end, commit ms, version)]`` sorted by first offset."""
    out: dict[tuple[str, int], list[tuple[int, int, int, int]]] = {}
    for c in writers:
        offsets = (c.user_metadata or {}).get("offsets") or {}
        for topic, parts in offsets.items():
            for part, (first, end) in parts.items():
                out.setdefault((topic, int(part)), []).append(
                    (int(first), int(end), c.timestamp_ms, c.version)
                )
    return {key: sorted(spans) for key, spans in out.items()}


def _match_offsets(
    offsets: pa.Array, spans: list[tuple[int, int, int, int]]
) -> tuple[pa.Array, pa.Array]:
    """For each offset, the index of the span ``[first, end)`` holding it: ``(row positions,
    span indices)`` of the offsets that one holds. ``spans`` are disjoint and sorted.

    A vectorised binary search: the spans' first offsets and the rows' offsets sorted together
    (a span before a row at the same offset); the number of spans started at or before a row's
    place is one more than its span's index.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    m = len(spans)
    firsts = pa.array([s[0] for s in spans], pa.int64())
    ends = pa.array([s[1] for s in spans], pa.int64())
    keys = pa.concat_arrays([firsts, offsets.cast(pa.int64())])
    kind = pa.concat_arrays(
        [pa.repeat(pa.scalar(0, pa.int64()), m), pa.repeat(pa.scalar(1, pa.int64()), len(offsets))]
    )
    order = pc.sort_indices(
        pa.table({"key": keys, "kind": kind}), [("key", "ascending"), ("kind", "ascending")]
    )
    kinds = kind.take(order)
    started = pc.cumulative_sum(pc.subtract(1, kinds))
    is_row = pc.equal(kinds, 1)
    rows = pc.subtract(order.filter(is_row), m)
    span = pc.subtract(started.filter(is_row), 1)
    span = pc.if_else(pc.less(span, 0), pa.scalar(None, pa.int64()), span)
    inside = pc.less(offsets.cast(pa.int64()).take(rows), ends.take(span))
    return rows.filter(inside), span.filter(inside)


def bronze_row_latencies(
    path: Path, app_id: str = BRONZE_TABLE.app_id, *, since_ms: int | None = None
) -> RowLatencies:
    """Each bronze row's commit time minus its event time, for rows whose event is at or after
    ``since_ms`` (the end of a warm-up); the row's commit is the writer commit whose Kafka
    offset range holds it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    writers = writer_commits(path, app_id)
    table = _event_rows(path, ["kafka_topic", "kafka_partition", "kafka_offset"], since_ms)
    if table is None or table.num_rows == 0:
        return _empty(len(writers))
    # DataFusion returns strings as views, which Arrow's filter does not take.
    table = table.set_column(0, "kafka_topic", table.column("kafka_topic").cast(pa.string()))
    latencies, versions = [], []
    for (topic, part), spans in _spans(writers).items():
        mine = pc.and_(
            pc.equal(table.column("kafka_topic"), topic),
            pc.equal(table.column("kafka_partition"), part),
        )
        sub = table.filter(mine)
        if sub.num_rows == 0:
            continue
        rows, span = _match_offsets(sub.column("kafka_offset").combine_chunks(), spans)
        committed = pa.array([s[2] for s in spans], pa.int64()).take(span)
        event = sub.column("event_ms").combine_chunks().take(rows)
        latencies.append(pc.subtract(committed, event))
        versions.append(pa.array([s[3] for s in spans], pa.int64()).take(span))
    return _result(latencies, versions, len(writers), table.num_rows)


def _result(latencies: list, versions: list, writers: int, total: int) -> RowLatencies:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not latencies:
        return _empty(writers, total)
    ms = pa.concat_arrays(latencies).drop_null()
    hit = pc.count_distinct(pa.concat_arrays(versions)).as_py()
    return RowLatencies(ms, hit, writers, total - len(ms))


def silver_row_latencies(
    path: Path, app_id: str = SILVER_TABLE.app_id, *, since_ms: int | None = None
) -> RowLatencies:
    """Each silver row's commit time minus its event time, for rows whose event is at or after
    ``since_ms``; the row's commit is the writer commit of its ``batch_id``."""
    return _batch_row_latencies(path, app_id, "timestamp", since_ms)


def alert_row_latencies(
    path: Path, app_id: str = ALERTS_TABLE.app_id, *, since_ms: int | None = None
) -> RowLatencies:
    """Each alert's commit time minus the event time of the transaction that raised it
    (``event_time``), for alerts whose trigger is at or after ``since_ms``; the alert's commit
    is gold-signals' commit of its ``batch_id``."""
    return _batch_row_latencies(path, app_id, "event_time", since_ms)


def _batch_row_latencies(
    path: Path, app_id: str, time_column: str, since_ms: int | None
) -> RowLatencies:
    import pyarrow as pa
    import pyarrow.compute as pc

    writers = writer_commits(path, app_id)
    table = _event_rows(path, ["batch_id"], since_ms, time_column)
    if table is None or table.num_rows == 0:
        return _empty(len(writers))
    first: dict[int, CommitInfo] = {}
    for c in writers:  # newest first: the oldest commit of a batch id is the one left
        if c.batch_id is not None:
            first[int(c.batch_id)] = c
    batches = pa.array(list(first), pa.int64())
    at = pc.index_in(table.column("batch_id").combine_chunks().cast(pa.int64()), batches)
    committed = pa.array([c.timestamp_ms for c in first.values()], pa.int64()).take(at)
    event = table.column("event_ms").combine_chunks()
    versions = pa.array([c.version for c in first.values()], pa.int64()).take(at)
    return _result([pc.subtract(committed, event)], [versions.drop_null()], len(writers), len(at))


# ------------------------------------------------------------------------------ freshness


@dataclass(frozen=True)
class Freshness:
    """How fresh a table is: seconds since the writer's newest commit, and the p95 over its
    recent commits of each batch's latency (commit time minus the batch's median event time),
    over ``batches`` batches that recorded event times. None where there is nothing to say."""

    seconds_since_commit: float | None = None
    p95_latency_seconds: float | None = None
    batches: int = 0

    def as_json(self) -> dict[str, float | int | None]:
        """``txn-report``'s ``freshness.<table>`` object."""
        return {
            "seconds_since_commit": _round(self.seconds_since_commit),
            "p95_latency_seconds": _round(self.p95_latency_seconds),
            "batches": self.batches,
        }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def batch_latency_ms(info: CommitInfo) -> int | None:
    """The commit time minus the median event time its ``userMetadata.event_time`` records;
    None for a batch without rows or without the record (commits of older jobs)."""
    et = (info.user_metadata or {}).get("event_time")
    if not isinstance(et, dict) or not et.get("rows") or et.get("p50_ms") is None:
        return None
    return info.timestamp_ms - int(et["p50_ms"])


def freshness(
    path: Path,
    app_id: str,
    *,
    recent: int = RECENT_BATCHES,
    now_ms: int | None = None,
    scan: int = 200,
) -> Freshness:
    """The freshness of the table at ``path`` written by ``app_id``: over the writer's newest
    ``recent`` commits among the log's newest ``scan``, at ``now_ms`` (default: now)."""
    mine = writer_commits(path, app_id, scan=scan)[:recent]
    if not mine:
        return Freshness()
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    batches = [ms for c in mine if (ms := batch_latency_ms(c)) is not None]
    p95 = percentile(batches, 0.95)
    return Freshness(
        seconds_since_commit=(now - mine[0].timestamp_ms) / 1000,
        p95_latency_seconds=None if p95 is None else p95 / 1000,
        batches=len(batches),
    )


def lake_freshness(
    lake: Lake, *, recent: int = RECENT_BATCHES, now_ms: int | None = None
) -> dict[str, Freshness]:
    """:func:`freshness` of every table of ``lake`` that exists, in flow order, at one instant."""
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return {
        name: freshness(lake.table_path(name), TABLES[name].app_id, recent=recent, now_ms=now)
        for name in lake.existing_tables()
    }
