"""The two output frames of a decoded batch: bronze rows and quarantine rows, with ingest time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from txn_lake.tables import BRONZE_TABLE, QUARANTINE_TABLE

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["output_frames"]


def output_frames(
    settled: DataFrame, reader_schema_str: str, now: datetime
) -> tuple[DataFrame, DataFrame]:
    """``(bronze, quarantine)`` frames of a settled batch, both stamped with ``now`` (UTC).

    Columns, their order, types and sources are the tables' specs (:mod:`txn_lake.tables`).
    One ingest time per batch, fixed on the driver: bronze and quarantine rows of a batch agree
    on it, and so do the date/hour partitions derived from it. ``now`` must be tz-aware:
    PySpark reads a naive datetime as local time. Contract columns carry their field's doc as
    column metadata, which becomes the comment of a column that schema evolution adds.
    """
    from pyspark.sql import functions as F

    ingest = {"ingest_ts": now, "date": now.strftime("%Y-%m-%d"), "hour": now.hour}
    fields = json.loads(reader_schema_str)["fields"]
    contract = [
        F.col(f"event.{f['name']}").alias(f["name"], metadata={"comment": f.get("doc", "")})
        for f in fields
    ]
    bronze = BRONZE_TABLE.project(settled.where(F.col("reason").isNull()), contract, ingest)
    quarantine = QUARANTINE_TABLE.project(settled.where(F.col("reason").isNotNull()), (), ingest)
    return bronze, quarantine
