"""Classifying a batch of bronze rows: rejected by a rule, inserted, exact duplicate, conflict.

The first-seen row of a ``transaction_id`` is the one in silver, else the batch's first valid
row in bronze order (``ingest_ts``, ``kafka_partition``, ``kafka_offset``). Every other valid
row with that id is an exact duplicate (same content hash) or a conflict (other content).

Against history, the batch's ids are semi-joined with silver's two narrow columns
(``transaction_id``, ``content_hash``) with the batch's ids broadcast, so silver is scanned once,
as the streaming side, without a shuffle. Only when a batch holds conflicts with silver are the
conflicting ids' full silver rows read, to name the fields that differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from txn_contract.rules import CONFLICT_RULE

from .quality import VIOLATED

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = [
    "CONFLICT",
    "DUPLICATE",
    "INSERT",
    "OUTCOME",
    "REJECTED",
    "classify",
    "content_hash",
    "with_history_details",
]

OUTCOME = "_outcome"
INSERT, DUPLICATE, CONFLICT, REJECTED = "insert", "duplicate", "conflict", "rejected"
_FIRST = "_first"  # the batch's first valid row of the id (struct)
_SEEN_HASH = "_seen_hash"  # silver's hash of the id, when silver has it


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


def classify(ev: DataFrame, silver_keys: DataFrame, contract_cols: list[str]) -> DataFrame:
    """``ev`` (rules evaluated, with ``content_hash``) plus :data:`OUTCOME`, ``rules`` and
    ``detail``; ``detail`` of conflicts with silver is filled by :func:`with_history_details`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("transaction_id").orderBy(
        "ingest_ts", "kafka_partition", "kafka_offset"
    )
    rejected = F.size(VIOLATED) > 0
    ids = ev.where(~rejected).select("transaction_id").distinct()
    hits = silver_keys.join(F.broadcast(ids), "transaction_id", "left_semi").withColumnRenamed(
        "content_hash", _SEEN_HASH
    )
    first = F.struct(
        *[F.col(f"`{c}`") for c in contract_cols], "kafka_partition", "kafka_offset", "content_hash"
    )
    valid = (
        ev.where(~rejected)
        .withColumns({"_rn": F.row_number().over(order), _FIRST: F.first(first).over(order)})
        .join(hits, "transaction_id", "left")
    )
    in_silver = F.col(_SEEN_HASH).isNotNull()
    same_as_first = F.col("content_hash") == F.col(_FIRST).getField("content_hash")
    outcome = (
        F.when(in_silver & (F.col("content_hash") == F.col(_SEEN_HASH)), F.lit(DUPLICATE))
        .when(in_silver, F.lit(CONFLICT))
        .when(F.col("_rn") == 1, F.lit(INSERT))
        .when(same_as_first, F.lit(DUPLICATE))
        .otherwise(F.lit(CONFLICT))
    )
    batch_conflict = F.format_string(
        "transaction_id %s was first seen with other content at Kafka partition %d offset %d "
        "in the same batch; differing fields: %s.",
        F.col("transaction_id"),
        F.col(_FIRST).getField("kafka_partition"),
        F.col(_FIRST).getField("kafka_offset"),
        _differing(contract_cols, _FIRST),
    )
    valid = valid.withColumn(OUTCOME, outcome).withColumns(
        {
            "rules": F.when(F.col(OUTCOME) == CONFLICT, F.array(F.lit(CONFLICT_RULE))).otherwise(
                F.array().cast("array<string>")
            ),
            "detail": F.when((F.col(OUTCOME) == CONFLICT) & ~in_silver, batch_conflict).otherwise(
                F.lit(None).cast("string")
            ),
            "_conflict_in_silver": (F.col(OUTCOME) == CONFLICT) & in_silver,
        }
    )
    bad = ev.where(rejected).withColumns(
        {
            OUTCOME: F.lit(REJECTED),
            "rules": F.col(VIOLATED),
            "detail": F.concat(F.lit("Violates "), F.array_join(VIOLATED, ", "), F.lit(".")),
            "_conflict_in_silver": F.lit(False),
        }
    )
    columns = [*ev.columns, OUTCOME, "rules", "detail", "_conflict_in_silver"]
    return valid.select(*columns).unionByName(bad.select(*columns))


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
