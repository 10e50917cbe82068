"""A lake table read as a Spark stream, and the restarts its schema changes need.

Delta's streaming source stops its query when the table it reads gains columns
(``DELTA_SCHEMA_CHANGED``); a new query reads the new schema. silver-refine (over bronze) and
gold-signals (over silver) both start such a query and restart it, a bounded number of times.

Example::

    frame = delta_stream(spark, bronze_path, max_files_per_trigger=None)
    restarts = SchemaRestarts("silver")
    if restarts.after(error):   # in StreamingJob.restart_after
        ...                     # prepare the outputs for the new columns
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from txn_contract.errors import TxnError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["MAX_SCHEMA_RESTARTS", "SCHEMA_CHANGED", "SchemaRestarts", "delta_stream"]

SCHEMA_CHANGED = "DELTA_SCHEMA_CHANGED"
"""The error class Delta's source stops with when the table's schema changed."""
# More than this many in one process is a table whose schema keeps changing: a sentence.
MAX_SCHEMA_RESTARTS = 20


def delta_stream(
    spark: SparkSession, path: Path, max_files_per_trigger: int | None = None
) -> DataFrame:
    """The Delta table at ``path`` as a stream (``maxFilesPerTrigger`` when given)."""
    reader = spark.readStream.format("delta")
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(max_files_per_trigger))
    return reader.load(str(path))


class SchemaRestarts:
    """Counts the restarts of ``label``'s query on its source's schema changes."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0

    def after(self, error: BaseException) -> bool:
        """True when ``error`` is a schema change (the query is to start again); a
        :class:`TxnError` after :data:`MAX_SCHEMA_RESTARTS` of them."""
        if SCHEMA_CHANGED not in str(error):
            return False
        self.count += 1
        if self.count > MAX_SCHEMA_RESTARTS:
            raise TxnError(
                f"The {self.label} query restarted {MAX_SCHEMA_RESTARTS} times on schema changes."
            )
        return True
