"""Creating the lake's tables and appending to them exactly once, with Delta's public API.

Exactly once from ``foreachBatch``: each output appends with Delta's idempotent-write options,
``txnAppId`` (a stable id per output) and ``txnVersion`` (the batch id). Delta records both in
the same commit as the data and skips a write whose version is not above the one recorded, so
a batch re-run after a crash lands once. ``userMetadata`` records what the commit holds.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["DEFAULT_TABLE_PROPERTIES", "append_batch", "ensure_table", "set_properties"]

# Every lake table: readable by delta-rs, DuckDB (through delta-rs) and polars, so no table
# feature that raises the reader protocol (deletion vectors, column mapping) is enabled.
DEFAULT_TABLE_PROPERTIES = {
    "delta.checkpointInterval": "10",
    # No auto-compaction: measured, it runs a synchronous OPTIMIZE inside the streaming batch
    # (22.6 s after a 500k-row first batch, 5.3 s after 10k rows; docs/performance.md). Closed
    # partitions are compacted by `txn-lake compact` instead, outside the jobs' batches.
    "delta.autoOptimize.autoCompact": "false",
}


def ensure_table(
    spark: SparkSession,
    path: Path,
    schema: StructType,
    partition_by: tuple[str, ...],
    properties: dict[str, str],
    comment: str,
) -> bool:
    """Create the Delta table at ``path`` unless it exists; True if it was created.

    Columns keep their ``comment`` metadata as Delta column comments.
    """
    from delta.tables import DeltaTable

    if DeltaTable.isDeltaTable(spark, str(path)):
        return False
    builder = DeltaTable.createIfNotExists(spark).location(str(path)).comment(comment)
    for field in schema.fields:
        builder = builder.addColumn(
            field.name, field.dataType, nullable=True, comment=field.metadata.get("comment")
        )
    builder = builder.partitionedBy(*partition_by)
    for key, value in {**DEFAULT_TABLE_PROPERTIES, **properties}.items():
        builder = builder.property(key, value)
    builder.execute()
    return True


def append_batch(
    df: DataFrame,
    path: Path,
    *,
    app_id: str,
    batch_id: int,
    user_metadata: dict[str, Any],
    merge_schema: bool = False,
) -> None:
    """Append ``df`` as batch ``batch_id`` of ``app_id``; a batch already committed is skipped.

    ``merge_schema`` lets the commit add columns that ``df`` has and the table lacks (schema
    evolution); their comments come from ``df``'s column metadata.
    """
    writer = (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", str(batch_id))
        .option("userMetadata", json.dumps(user_metadata, separators=(",", ":"), sort_keys=True))
    )
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    writer.save(str(path))


def set_properties(spark: SparkSession, path: Path, properties: dict[str, str]) -> None:
    """Set table properties (a metadata-only commit)."""
    if not properties:
        return
    pairs = ", ".join(f"'{_sql(k)}' = '{_sql(v)}'" for k, v in sorted(properties.items()))
    spark.sql(f"ALTER TABLE delta.`{_ident(path)}` SET TBLPROPERTIES ({pairs})")


def _sql(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _ident(path: Path) -> str:
    return str(path).replace("`", "``")
