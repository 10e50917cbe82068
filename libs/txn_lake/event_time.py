"""The event time of a batch's rows, taken from an aggregation the batch already runs.

Each streaming job folds :func:`event_time_aggregates` into the one ``groupBy`` that counts its
batch, so knowing how old a batch's events are costs no extra Spark action. The result,
:class:`EventTime`, goes into the batch's progress line (how old its events were when it was
written) and into its commits' ``userMetadata`` as ``event_time``, from which ``txn-report``
computes each table's freshness.

Example::

    groups = df.groupBy("kafka_partition").agg(F.count("*").alias("n"),
                                                 *event_time_aggregates(F.col("timestamp")))
    et = EventTime.of_groups(groups.collect())
    meta["event_time"] = et.to_json()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column

__all__ = ["EventTime", "event_time_aggregates"]

_ROWS, _MIN, _P50, _MAX = "_et_rows", "_et_min_ms", "_et_p50_ms", "_et_max_ms"


def event_time_aggregates(timestamp: Column) -> list[Column]:
    """Aggregate columns over ``timestamp`` (a TIMESTAMP; nulls are left out): rows with one,
    the earliest, an approximate median and the latest, in epoch milliseconds."""
    from pyspark.sql import functions as F

    ms = F.unix_millis(timestamp)
    return [
        F.count(ms).alias(_ROWS),
        F.min(ms).alias(_MIN),
        # Approximate within 1 % of the group's rank, which is what a freshness figure needs.
        F.percentile_approx(ms, 0.5, 100).alias(_P50),
        F.max(ms).alias(_MAX),
    ]


@dataclass(frozen=True)
class EventTime:
    """A batch's event times in epoch milliseconds (None when it has no row with one)."""

    rows: int = 0
    min_ms: int | None = None
    p50_ms: int | None = None
    max_ms: int | None = None

    @classmethod
    def of_groups(cls, groups: Iterable[Mapping[str, Any]]) -> EventTime:
        """Merge the aggregates of several groups (rows of a ``groupBy`` that carried
        :func:`event_time_aggregates`); the median is the row-weighted median of the groups'."""
        found = [g for g in groups if g[_ROWS]]
        if not found:
            return cls()
        rows = sum(g[_ROWS] for g in found)
        half, seen, p50 = rows / 2, 0, None
        for g in sorted(found, key=lambda g: g[_P50]):
            seen += g[_ROWS]
            if seen >= half:
                p50 = g[_P50]
                break
        return cls(rows, min(g[_MIN] for g in found), p50, max(g[_MAX] for g in found))

    def to_json(self) -> dict[str, int | None]:
        """The ``event_time`` entry of a commit's ``userMetadata``."""
        return {
            "rows": self.rows,
            "min_ms": self.min_ms,
            "p50_ms": self.p50_ms,
            "max_ms": self.max_ms,
        }

    def ages(self, now_ms: int) -> str:
        """How old the batch's events are at ``now_ms``: ``"p50 1.2 s, max 3.4 s"`` (the max is
        the oldest event's age), or ``"no events"``."""
        if self.p50_ms is None or self.min_ms is None:
            return "no events"
        return (
            f"p50 {(now_ms - self.p50_ms) / 1000:.1f} s, max {(now_ms - self.min_ms) / 1000:.1f} s"
        )
