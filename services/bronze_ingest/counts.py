"""What the decoding pass counts while it writes: the batch's figures without a pass of their own.

The bronze write observes the classified rows (``DataFrame.observe``): Spark computes these
aggregates in the same pass that writes the files, and hands them to the driver when the write
ends, before the batch is committed. They are what :func:`bronze_ingest.decode.tally` computes in
a pass of its own: rows per reason, good rows per writer schema id, the ids outside the plan
(usually none), the Kafka offsets read per partition and the event time of the good rows.

``DataFrame.observe`` takes no grouping, so the offsets are one pair of aggregates per Kafka
partition of the topic (its partition count is read from the broker); a row of a partition beyond
that count (partitions added since) is counted, and the batch's offsets are then taken again.

Example::

    obs = Observation("bronze-7")
    written = classified.observe(obs, *observed_metrics(classified_ids, 3))
    ...  # the write
    counted = observed_tally(obs.get, "bank_txn_stream", 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from txn_contract import wire
from txn_lake.event_time import EventTime, event_time_aggregates

from .decode import INTERNAL_REASONS, UNRESOLVED, Tally

if TYPE_CHECKING:
    from pyspark.sql import Column

__all__ = ["REASONS", "observed_metrics", "observed_tally", "partitions_read"]

REASONS = (*wire.REASONS, *sorted(INTERNAL_REASONS))
"""Every reason a classified row can carry (the quarantine's and the internal ones)."""

_GOOD = "_good"
_GOOD_ID = "_good_id_"
_REASON = "_reason_"
_LOW, _HIGH = "_lo_", "_hi_"
_UNRESOLVED_IDS = "_unresolved_ids"
_MAX_PARTITION = "_max_partition"


def observed_metrics(decodable_ids: Iterable[int], partitions: int) -> list[Column]:
    """The aggregate columns to observe over a classified batch (columns ``reason``,
    ``schema_id``, ``partition``, ``offset`` and ``event``): see the module doc. Built once per
    set of ids and partition count by the caller (each column costs calls into the JVM)."""
    from pyspark.sql import functions as F

    reason, sid = F.col("reason"), F.col("schema_id")
    good = reason.isNull()
    part, offset = F.col("partition"), F.col("offset")
    return [
        F.count(F.when(good, 1)).alias(_GOOD),
        *(F.count(F.when(reason == r, 1)).alias(_REASON + r) for r in REASONS),
        *(F.count(F.when(good & (sid == i), 1)).alias(f"{_GOOD_ID}{i}") for i in decodable_ids),
        F.collect_set(F.when(reason == UNRESOLVED, sid)).alias(_UNRESOLVED_IDS),
        *(F.min(F.when(part == p, offset)).alias(f"{_LOW}{p}") for p in range(partitions)),
        *(F.max(F.when(part == p, offset)).alias(f"{_HIGH}{p}") for p in range(partitions)),
        F.max(part).alias(_MAX_PARTITION),
        *event_time_aggregates(F.when(good, F.col("event.timestamp"))),
    ]


def partitions_read(values: Mapping[str, Any], partitions: int) -> int:
    """How many partitions the observed offsets should have covered: ``partitions``, or more
    when the batch read a partition added since the count was taken."""
    top = values.get(_MAX_PARTITION)
    return partitions if top is None else max(partitions, top + 1)


def observed_tally(values: Mapping[str, Any], topic: str, partitions: int) -> Tally:
    """The :class:`~bronze_ingest.decode.Tally` that :func:`observed_metrics` gave."""
    counts: dict[str | None, int] = {}
    if values[_GOOD]:
        counts[None] = values[_GOOD]
    for r in REASONS:
        if values[_REASON + r]:
            counts[r] = values[_REASON + r]
    good_by_id = {
        int(k.removeprefix(_GOOD_ID)): v for k, v in values.items() if k.startswith(_GOOD_ID) and v
    }
    spans = {
        str(p): [values[f"{_LOW}{p}"], values[f"{_HIGH}{p}"] + 1]
        for p in range(partitions)
        if values[f"{_LOW}{p}"] is not None
    }
    return Tally(
        counts,
        sorted(int(i) for i in values[_UNRESOLVED_IDS] or ()),
        good_by_id,
        {topic: spans} if spans else {},
        EventTime.of_groups([values]),
    )
