"""Classifying a batch of bronze rows: rejected by a rule, inserted, exact duplicate, conflict.

The first-seen row of a ``transaction_id`` is the one in silver, else the batch's first valid
row in bronze order (``ingest_ts``, ``kafka_partition``, ``kafka_offset``). Every other valid
row with that id is an exact duplicate (same content hash) or a conflict (other content).

The batch is evaluated once into a cache, and its rows are never shuffled. One aggregation of
narrow columns gives each id its row count and its first valid row (a ``min`` over bronze
order). The ids that need a decision (several rows, or already in silver: re-sends, few) are
found on the driver for a batch of a few thousand ids (silver looked up with delta-rs) and
go back to Spark as a local table, which every later plan of the batch broadcasts without a
Spark job and without silver in its lineage; for a larger batch, Spark semi-joins silver's
two narrow columns (``transaction_id``, ``content_hash``) with the batch's ids (broadcast),
so silver is scanned once, as the streaming side. The fields that differ are named only for
the conflicts a batch has: the first rows' fields, or silver's, are read then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from txn_contract.rules import CONFLICT_RULE

from .quality import VIOLATED

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame

__all__ = [
    "BROADCAST_FLAGGED_IDS",
    "CONFLICT",
    "DRIVER_ROWS",
    "DUPLICATE",
    "INSERT",
    "OUTCOME",
    "REJECTED",
    "Classified",
    "Lookup",
    "classify",
    "content_hash",
    "with_batch_details",
    "with_history_details",
]

OUTCOME = "_outcome"
INSERT, DUPLICATE, CONFLICT, REJECTED = "insert", "duplicate", "conflict", "rejected"
_FIRST = "_first"  # the batch's first valid row of the id: bronze order and content hash
_SEEN_HASH = "_seen_hash"  # silver's hash of the id, when silver has it
_ORDER = ("ingest_ts", "kafka_partition", "kafka_offset")

# A batch of up to this many rows is decided on the driver: its rows come back to Spark as a
# local table and its ids are looked up in silver with delta-rs (one scan of silver's two
# narrow columns filtered by the ids' hash set; Spark's scan of even a small silver cost a
# second, most of it Delta's listing of the new snapshot's files, a Spark job of its own).
# Above it, Spark semi-joins silver with the batch's ids; and above the next figure (a replay
# of a topic into bronze) the small side of the join is not broadcast either. At 100,000 the
# driver's path was slower per row than Spark's for batches of 20,000-60,000 rows (3,500-4,500
# rows/s against 5,600-8,800 on the same 2 shared cores; docs/performance.md, issue 19).
DRIVER_ROWS = 5_000
BROADCAST_FLAGGED_IDS = 500_000
Lookup = Callable[[list[str]], "pa.Table"]
"""Silver's ``transaction_id`` and ``content_hash`` of the given ids."""


def content_hash(contract_cols: list[str]) -> Column:
    """SHA-256 of the contract fields as JSON; null fields are omitted, so a column added by
    schema evolution (null in older events) leaves the hash of older content unchanged."""
    from pyspark.sql import functions as F

    as_json = F.to_json(
        F.struct(*[F.col(f"`{c}`") for c in contract_cols]),
        {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX", "ignoreNullFields": "true"},
    )
    return F.unhex(F.sha2(as_json, 256))


def _differing(contract_cols: list[str], other: str) -> Column:
    """Names of the contract fields where the row differs from struct column ``other``."""
    from pyspark.sql import functions as F

    names = F.array(
        *[
            F.when(~F.col(f"`{c}`").eqNullSafe(F.col(other).getField(c)), F.lit(c))
            for c in contract_cols
        ]
    )
    return F.array_join(F.filter(names, lambda x: x.isNotNull()), ", ")


@dataclass
class Classified:
    """A classified batch: ``rows`` (the batch's rows with their outcome), ``rows_read`` (the
    batch's row count, taken before any join, so the joins that classify are checked against
    it) and the cached frames behind them (:meth:`release` after the batch)."""

    rows: DataFrame
    rows_read: int
    cached: list[DataFrame]

    def release(self) -> None:
        """Drop the batch's cached frames."""
        for frame in self.cached:
            frame.unpersist()


def _per_id(ev: DataFrame) -> DataFrame:
    """Per id: its rows in the batch (``n``) and its first valid row (``_FIRST``: the smallest
    (ingest_ts, partition, offset), the first in bronze order, with its content hash; null when
    every row of the id breaks a rule). One hash aggregation of narrow columns."""
    from pyspark.sql import functions as F

    first = F.when(F.size(VIOLATED) == 0, F.struct(*_ORDER, "content_hash"))
    return ev.groupBy("transaction_id").agg(F.count("*").alias("n"), F.min(first).alias(_FIRST))


def _flagged_on_driver(ev: DataFrame, lookup: Lookup) -> DataFrame:
    """The ids needing a decision (several rows in the batch, or already in silver) with
    silver's hash (``_SEEN_HASH``) and their first row, as a local table: the batch's ids come
    to the driver and are looked up in silver there."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyspark.sql import functions as F

    per_id = _per_id(ev)
    per = per_id.toArrow()
    ids = per["transaction_id"]
    hits = lookup([i for i in ids.to_pylist() if i is not None])
    at = pc.index_in(ids, value_set=hits["transaction_id"])
    seen = pc.take(hits["content_hash"], at)
    table = pa.table({"transaction_id": ids, _SEEN_HASH: seen, _FIRST: per[_FIRST]})
    flagged = table.filter(pc.or_(pc.greater(per["n"], 1), pc.is_valid(at)))
    null_hash = F.lit(None).cast("binary").alias(_SEEN_HASH)
    schema = per_id.select("transaction_id", null_hash, _FIRST).schema
    return ev.sparkSession.createDataFrame(_chunked(flagged), schema)


def _chunked(table: pa.Table) -> pa.Table:
    """``table`` with at least one chunk per column (PySpark cannot make a frame of a column
    without one, which is what an empty result is)."""
    import pyarrow as pa

    if table.num_rows:
        return table
    return pa.Table.from_batches([pa.RecordBatch.from_pylist([], schema=table.schema)])


def _flagged_in_spark(ev: DataFrame, silver_keys: DataFrame) -> tuple[DataFrame, int, list]:
    """As :func:`_flagged_on_driver`, with Spark: silver is semi-joined with the batch's ids
    (broadcast), so it is scanned once, as the streaming side. Also the batch's row count and
    the frames cached on the way."""
    from pyspark.sql import functions as F

    per = _per_id(ev).persist()
    rows_read = per.agg(F.sum("n")).first()[0] or 0  # evaluates the batch into its cache
    hits = (
        silver_keys.join(F.broadcast(per.select("transaction_id")), "transaction_id", "left_semi")
        .groupBy("transaction_id")
        .agg(F.max("content_hash").alias(_SEEN_HASH))
    )
    flagged = per.join(hits, "transaction_id", "left").where(
        (F.col("n") > 1) | F.col(_SEEN_HASH).isNotNull()
    )
    flagged = flagged.select("transaction_id", _SEEN_HASH, _FIRST).persist()
    return flagged, rows_read, [per, flagged]


def classify(
    evaluated: DataFrame, silver_keys: Callable[[], DataFrame], lookup: Lookup | None = None
) -> Classified:
    """The batch's evaluated rows (rules, ``content_hash``, event time) plus :data:`OUTCOME`,
    ``rules``, ``detail``, ``_conflict_in_silver`` and ``_first``; ``detail`` of conflicts is
    filled by :func:`with_batch_details` and :func:`with_history_details`.

    The batch is read once (in ``foreachBatch`` every other action would scan it again: Spark
    hands it over as an RDD, which no column pruning reaches): up to :data:`DRIVER_ROWS` rows
    into the driver, whence they come back as a local table of one partition, and its ids are
    looked up in silver by ``lookup``; a larger batch into a cache, with silver's two narrow
    columns (``silver_keys``) semi-joined by Spark. Its row count is taken then, before any
    join. The ids that need a decision (re-sends: few) are broadcast back to the rows; every
    other valid row is an insert, and no row is shuffled. An id counted twice because one of
    its rows breaks a rule needs no decision, but flagging it is harmless: its one valid row
    is its first row, an insert.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    head = evaluated.limit(DRIVER_ROWS + 1).toArrow() if lookup is not None else None
    if head is not None and head.num_rows <= DRIVER_ROWS:
        # One partition, and no lineage: the batch's aggregations need no shuffle (a stage
        # and, with adaptive execution, a Spark job each), its writes take one task, and no
        # task carries the plan that evaluated the rows.
        ev = evaluated.sparkSession.createDataFrame(_chunked(head), evaluated.schema).coalesce(1)
        rows_read, cached = head.num_rows, []
        rows = ev.join(F.broadcast(_flagged_on_driver(ev, lookup)), "transaction_id", "left")
    else:
        ev = evaluated.persist(StorageLevel.MEMORY_AND_DISK)
        flagged, rows_read, cached = _flagged_in_spark(ev, silver_keys())
        cached = [ev, *cached]
        small = flagged.count() <= BROADCAST_FLAGGED_IDS
        rows = ev.join(F.broadcast(flagged) if small else flagged, "transaction_id", "left")
    rejected = F.size(VIOLATED) > 0
    in_silver = F.col(_SEEN_HASH).isNotNull()
    first = F.col(_FIRST)
    is_first = first.isNull() | (
        (F.col("kafka_partition") == first.getField("kafka_partition"))
        & (F.col("kafka_offset") == first.getField("kafka_offset"))
        & (F.col("ingest_ts") == first.getField("ingest_ts"))
    )
    outcome = (
        F.when(rejected, F.lit(REJECTED))
        .when(in_silver & (F.col("content_hash") == F.col(_SEEN_HASH)), F.lit(DUPLICATE))
        .when(in_silver, F.lit(CONFLICT))
        .when(is_first, F.lit(INSERT))
        .when(F.col("content_hash") == first.getField("content_hash"), F.lit(DUPLICATE))
        .otherwise(F.lit(CONFLICT))
    )
    violated = F.concat(F.lit("Violates "), F.array_join(VIOLATED, ", "), F.lit("."))
    conflict = F.col(OUTCOME) == CONFLICT
    out = rows.withColumn(OUTCOME, outcome).withColumns(
        {
            "rules": F.when(rejected, F.col(VIOLATED))
            .when(conflict, F.array(F.lit(CONFLICT_RULE)))
            .otherwise(F.array().cast("array<string>")),
            "detail": F.when(rejected, violated).otherwise(F.lit(None).cast("string")),
            "_conflict_in_silver": conflict & in_silver,
        }
    )
    out = out.select(*ev.columns, OUTCOME, "rules", "detail", "_conflict_in_silver", _FIRST)
    return Classified(out, rows_read, cached)


def with_batch_details(rejects: DataFrame, batch: DataFrame, contract_cols: list[str]):
    """``rejects`` with the detail of each conflict within the batch: where the first row of
    its id was and the fields that differ (reads those first rows of ``batch`` only)."""
    from pyspark.sql import functions as F

    first = F.col(_FIRST)
    in_batch = (F.col(OUTCOME) == CONFLICT) & ~F.col("_conflict_in_silver")
    at = rejects.where(in_batch).select(*[first.getField(c).alias(c) for c in _ORDER])
    seen = batch.join(F.broadcast(at.distinct()), list(_ORDER), "left_semi").select(
        *[F.col(c).alias(f"_at_{c}") for c in _ORDER],
        F.struct(*[F.col(f"`{c}`") for c in contract_cols]).alias("_seen"),
    )
    on = [first.getField(c) == F.col(f"_at_{c}") for c in _ORDER]
    detail = F.format_string(
        "transaction_id %s was first seen with other content at Kafka partition %d offset %d "
        "in the same batch; differing fields: %s.",
        F.col("transaction_id"),
        first.getField("kafka_partition"),
        first.getField("kafka_offset"),
        _differing(contract_cols, "_seen"),
    )
    joined = rejects.join(F.broadcast(seen), on, "left")
    filled = joined.withColumn("detail", F.when(in_batch, detail).otherwise(F.col("detail")))
    return filled.drop("_seen", *[f"_at_{c}" for c in _ORDER])


def with_history_details(
    rejects: DataFrame, silver: DataFrame, contract_cols: list[str]
) -> DataFrame:
    """``rejects`` with the detail of each conflict with silver: where silver's row came from
    and the fields that differ (reads the conflicting ids' silver rows only)."""
    from pyspark.sql import functions as F

    ids = rejects.where("_conflict_in_silver").select("transaction_id").distinct()
    seen = (
        silver.join(F.broadcast(ids), "transaction_id", "left_semi")
        .select(
            "transaction_id",
            F.struct(
                *[F.col(f"`{c}`") for c in contract_cols if c in silver.columns],
                "kafka_partition",
                "kafka_offset",
                "batch_id",
            ).alias("_seen"),
        )
        .withColumn("_hist", F.lit(True))
    )
    present = [c for c in contract_cols if c in silver.columns]
    detail = F.format_string(
        "transaction_id %s is already in silver (from Kafka partition %d offset %d, silver "
        "batch %d) with other content; differing fields: %s.",
        F.col("transaction_id"),
        F.col("_seen").getField("kafka_partition"),
        F.col("_seen").getField("kafka_offset"),
        F.col("_seen").getField("batch_id"),
        _differing(present, "_seen"),
    )
    joined = rejects.join(seen, "transaction_id", "left")
    return joined.withColumn(
        "detail", F.when(F.col("_conflict_in_silver"), detail).otherwise(F.col("detail"))
    ).drop("_seen", "_hist")
