"""The two output frames of a decoded batch: bronze rows and quarantine rows, with ingest time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["output_frames"]


def output_frames(
    settled: DataFrame, reader_schema_str: str, now: datetime
) -> tuple[DataFrame, DataFrame]:
    """``(bronze, quarantine)`` frames of a settled batch, both stamped with ``now`` (UTC).

    One ingest time per batch, fixed on the driver: bronze and quarantine rows of a batch agree
    on it, and so do the date/hour partitions derived from it. ``now`` must be tz-aware:
    PySpark reads a naive datetime as local time. Contract columns carry their field's doc as
    column metadata, which becomes the comment of a column that schema evolution adds.
    """
    from pyspark.sql import functions as F

    ingest = {
        "ingest_ts": F.lit(now).cast("timestamp"),
        "date": F.lit(now.strftime("%Y-%m-%d")),
        "hour": F.lit(now.hour),
    }
    fields = json.loads(reader_schema_str)["fields"]
    contract = [
        F.col(f"event.{f['name']}").alias(f["name"], metadata={"comment": f.get("doc", "")})
        for f in fields
    ]
    bronze = settled.where(F.col("reason").isNull()).select(
        *contract,
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").cast("string").alias("kafka_key"),
        F.col("schema_id").cast("int").alias("schema_id"),
        *[v.alias(k) for k, v in ingest.items()],
    )
    quarantine = settled.where(F.col("reason").isNotNull()).select(
        "value",
        F.col("key").alias("kafka_key"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("schema_id").cast("int").alias("schema_id"),
        "reason",
        "detail",
        *[v.alias(k) for k, v in ingest.items()],
    )
    return bronze, quarantine
