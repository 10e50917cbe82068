"""The output frames of a decoded batch: bronze rows and quarantine rows, with ingest time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from txn_lake.tables import BRONZE_TABLE, QUARANTINE_TABLE

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["bronze_frame", "ingest_values", "output_frames", "quarantine_frame"]


def ingest_values(now: datetime) -> dict[str, Any]:
    """The per-batch columns for ingest time ``now`` (tz-aware, UTC): ``ingest_ts``, and the
    ``date``/``hour`` partition it falls in. One ingest time per batch, fixed on the driver:
    bronze and quarantine rows of a batch agree on it, and so do their partitions. PySpark reads
    a naive datetime as local time, hence tz-aware."""
    return {"ingest_ts": now, "date": now.strftime("%Y-%m-%d"), "hour": now.hour}


def bronze_frame(good: DataFrame, reader_schema_str: str, now: datetime) -> DataFrame:
    """Bronze rows of ``good`` (classified rows whose reason is null), stamped with ``now``.

    Columns, their order, types and sources are the table's spec (:mod:`txn_lake.tables`).
    Contract columns carry their field's doc as column metadata, which becomes the comment of a
    column that schema evolution adds.
    """
    from pyspark.sql import functions as F

    fields = json.loads(reader_schema_str)["fields"]
    contract = [
        F.col(f"event.{f['name']}").alias(f["name"], metadata={"comment": f.get("doc", "")})
        for f in fields
    ]
    return BRONZE_TABLE.project(good, contract, ingest_values(now))


def quarantine_frame(bad: DataFrame, now: datetime) -> DataFrame:
    """Quarantine rows of ``bad`` (classified rows with a final reason), stamped with ``now``."""
    return QUARANTINE_TABLE.project(bad, (), ingest_values(now))


def output_frames(
    settled: DataFrame, reader_schema_str: str, now: datetime
) -> tuple[DataFrame, DataFrame]:
    """``(bronze, quarantine)`` frames of a settled batch (every reason final), both stamped with
    ``now`` (see :func:`bronze_frame`, :func:`quarantine_frame`)."""
    from pyspark.sql import functions as F

    reason = F.col("reason")
    return (
        bronze_frame(settled.where(reason.isNull()), reader_schema_str, now),
        quarantine_frame(settled.where(reason.isNotNull()), now),
    )
