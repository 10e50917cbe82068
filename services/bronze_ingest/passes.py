"""A batch's passes over its Kafka rows: one in the common case, a second only for rare rows.

**The write pass** (every batch): classify each message (:func:`bronze_ingest.decode.classify`),
observe the batch's figures on the way (:mod:`bronze_ingest.counts`) and write the good rows as
bronze's files, in one Spark job. Nothing is cached and nothing is counted beforehand.

**The rare-row pass** (only when the write pass saw a row that is not plainly good: poison,
an id outside the plan, or a non-canonical encoding to settle): classify again, keep the rows
with a reason (a few, cached), settle them (:func:`bronze_ingest.decode.finish`), count them,
and write the quarantine's files plus any settled row to bronze's files. Nothing is committed
until both passes are done, so the rows of a batch land in its one commit per output.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from txn_lake.event_time import EventTime

from .counts import observed_metrics, observed_tally, partitions_read
from .decode import INTERNAL_REASONS, Classifier, Tally, finish, tally
from .files import Staged
from .frames import bronze_frame, output_frames
from .outputs import BatchPlan

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

__all__ = [
    "PlanColumns",
    "WritePass",
    "merge_rare",
    "offsets_read",
    "rare_pass",
    "write_pass",
]

# The write pass keeps what bronze and the figures need; the rare pass what quarantine needs.
_WRITE_COLUMNS = (
    "key",
    "topic",
    "partition",
    "offset",
    "timestamp",
    "schema_id",
    "reason",
    "event",
)
_RARE_COLUMNS = ("value", *_WRITE_COLUMNS, "detail")


class PlanColumns:
    """A plan's expressions, built once and used by every batch decoded with the plan: the
    classify layers and the observed metrics (per partition count)."""

    def __init__(self, plan: BatchPlan) -> None:
        self.plan = plan
        self.reader = plan.verdicts[plan.reader_id].schema_str
        self.classifier = Classifier(plan.verdicts, self.reader)
        self._decodable = sorted(i for i, v in plan.verdicts.items() if v.schema_str)
        self._metrics: dict[int, list[Column]] = {}

    def metrics(self, partitions: int) -> list[Column]:
        """:func:`~bronze_ingest.counts.observed_metrics` for ``partitions``."""
        if partitions not in self._metrics:
            self._metrics[partitions] = observed_metrics(self._decodable, partitions)
        return self._metrics[partitions]


@dataclass(frozen=True)
class WritePass:
    """What the write pass did: the batch's figures and the schema of bronze's rows."""

    counted: Tally
    bronze_schema: StructType
    partitions_read: int
    """Partitions the batch read up to (the observed offsets cover fewer when it exceeds the
    count they were observed for)."""


def write_pass(
    raw: DataFrame,
    columns: PlanColumns,
    now: datetime,
    staged: Staged | None,
    source: tuple[str, int],
    max_records_per_file: int | None = None,
) -> WritePass:
    """Classify ``raw`` with a plan (``columns``), write its good rows to ``staged`` (to Spark's ``noop``
    sink when None: the output has committed this batch already) and observe its figures;
    ``source`` is the topic and its partition count."""

    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    topic, partitions = source
    classified = columns.classifier.apply(raw).select(*_WRITE_COLUMNS)
    observation = Observation()
    # The observation is also a fence: Spark does not push the filter below it into classify's
    # projections (copying from_avro into the filter overflows Java's 64 KB method limit).
    observed = classified.observe(observation, *columns.metrics(partitions))
    good = bronze_frame(observed.where(F.col("reason").isNull()), columns.reader, now)
    if staged is None:
        good.write.format("noop").mode("overwrite").save()
    else:
        staged.write(good, max_records_per_file)
    values = observation.get
    counted = observed_tally(values, topic, partitions)
    read = partitions_read(values, partitions)
    if read > partitions:
        # Partitions were added since the count was read: take the offsets again (rare).
        counted = replace(counted, ranges=offsets_read(raw))
    return WritePass(counted, good.schema, read)


def offsets_read(raw: DataFrame) -> dict[str, dict[str, list[int]]]:
    """The offset range ``[first, last + 1)`` the batch read per topic and partition (a pass
    of its own: only when the observed offsets do not cover every partition)."""
    from pyspark.sql import functions as F

    rows = raw.groupBy("topic", "partition").agg(F.min("offset"), F.max("offset")).collect()
    out: dict[str, dict[str, list[int]]] = {}
    for topic, part, lo, hi in rows:
        out.setdefault(topic, {})[str(part)] = [lo, hi + 1]
    return out


def rare_pass(
    raw: DataFrame,
    columns: PlanColumns,
    now: datetime,
    bronze: Staged | None,
    quarantine: Staged | None,
    max_records_per_file: int | None = None,
) -> Tally:
    """Classify ``raw`` again (``columns``: the plan's), settle the rows with a reason, write the quarantine's files to
    ``quarantine`` and settled good rows to ``bronze`` (either skipped when None), and count
    them: rows per final reason (None: settled good), good rows per writer id, their event time.
    """
    from pyspark import StorageLevel
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    plan, reader = columns.plan, columns.reader
    classified = columns.classifier.apply(raw).select(*_RARE_COLUMNS)
    fenced = classified.observe(Observation(), F.count(F.lit(1)).alias("_rows"))
    rare = fenced.where(F.col("reason").isNotNull()).persist(StorageLevel.MEMORY_AND_DISK)
    cached = [rare]
    try:
        counted = tally(rare)
        if counted.counts.keys() & INTERNAL_REASONS:
            settled = finish(rare, plan.verdicts).persist(StorageLevel.MEMORY_AND_DISK)
            cached.append(settled)
            counted = tally(settled)
        else:
            settled = rare
        bronze_rows, quarantine_rows = output_frames(settled, reader, now)
        if bronze is not None and counted.counts.get(None):
            bronze.write(bronze_rows, max_records_per_file)
        if quarantine is not None and set(counted.counts) - {None}:
            quarantine.write(quarantine_rows, max_records_per_file)
    finally:
        for df in cached:
            df.unpersist()
    return counted


def merge_rare(first: Tally, rare: Tally) -> Tally:
    """The batch's figures: the write pass's good rows and offsets, with the rare rows' final
    reasons in place of the reasons the write pass saw."""
    counts = {k: v for k, v in rare.counts.items() if k is not None}
    good = first.counts.get(None, 0) + rare.counts.get(None, 0)
    if good:
        counts[None] = good
    by_id = dict(first.good_by_id)
    for i, n in rare.good_by_id.items():
        by_id[i] = by_id.get(i, 0) + n
    return Tally(counts, [], by_id, first.ranges, _merged(first.event_time, rare.event_time))


def _merged(a: EventTime, b: EventTime) -> EventTime:
    """Both batches' event times; the median is the larger part's (the rare rows are few)."""
    if not b.rows:
        return a
    if not a.rows:
        return b
    return EventTime(
        a.rows + b.rows,
        min(a.min_ms, b.min_ms),  # type: ignore[type-var]
        a.p50_ms if a.rows >= b.rows else b.p50_ms,
        max(a.max_ms, b.max_ms),  # type: ignore[type-var]
    )
