"""Creating the lake's tables and appending to them exactly once, with Delta's public API.

Exactly once from ``foreachBatch``: each output appends with Delta's idempotent-write options,
``txnAppId`` (a stable id per output) and ``txnVersion`` (the batch id). Delta records both in
the same commit as the data and skips a write whose version is not above the one recorded, so
a batch re-run after a crash lands once. ``userMetadata`` records what the commit holds.

A small batch can be appended from the driver instead (:func:`append_arrow`): its rows as
Arrow, committed by delta-rs with the same ``txn`` action and ``userMetadata``, and skipped the
same way. Spark's writer checks the transaction version by reconstructing the table's state in
three Spark jobs before every commit, which dominated a small batch's append.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "DEFAULT_TABLE_PROPERTIES",
    "append_arrow",
    "append_batch",
    "ensure_table",
    "set_properties",
]

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
    options: dict[str, str] | None = None,
) -> None:
    """Append ``df`` as batch ``batch_id`` of ``app_id``; a batch already committed is skipped.

    ``merge_schema`` lets the commit add columns that ``df`` has and the table lacks (schema
    evolution); their comments come from ``df``'s column metadata. ``options`` are further
    Delta writer options (``optimizeWrite``, say).
    """
    writer = (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", str(batch_id))
        .option("userMetadata", _user_metadata(user_metadata))
    )
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    for key, value in (options or {}).items():
        writer = writer.option(key, value)
    writer.save(str(path))


def append_arrow(
    table: Any, data: Any, *, app_id: str, batch_id: int, user_metadata: dict[str, Any]
) -> bool:
    """Append Arrow ``data`` to ``table`` (a delta-rs ``DeltaTable``, up to date) as batch
    ``batch_id`` of ``app_id``: the commit :func:`append_batch` makes (the rows, a ``txn``
    action, ``userMetadata``), from the driver, without a Spark job. False, and nothing
    written, when the table holds that batch already (a re-run), as Delta skips it."""
    from deltalake import CommitProperties, Transaction, write_deltalake

    done = table.transaction_version(app_id)
    if done is not None and done >= batch_id:
        return False
    commit = CommitProperties(
        custom_metadata={"userMetadata": _user_metadata(user_metadata)},
        app_transactions=[Transaction(app_id, batch_id, int(time.time() * 1000))],
    )
    write_deltalake(table, data, mode="append", commit_properties=commit)
    return True


def _user_metadata(meta: dict[str, Any]) -> str:
    return json.dumps(meta, separators=(",", ":"), sort_keys=True)


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
