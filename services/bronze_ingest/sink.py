"""Exactly-once Parquet output for ``foreachBatch``, using Spark's own file sink.

``foreachBatch`` alone is at-least-once: a batch that was running when the process died is run
again on restart with the same id and the same offsets. Spark's file sink
(``FileStreamSink``) makes that safe: it writes the batch's files, then records them in
``<path>/_spark_metadata/<batchId>``, and skips a batch id it has already recorded. Readers
that use Spark (``spark.read.parquet(path)``) see only recorded files, so files of a killed
attempt are never read. We drive one such sink per output (bronze, quarantine) from a single
``foreachBatch``, which is what lets one query decode each message once and still give both
outputs exactly-once semantics.

The sink class is Spark-internal (``org.apache.spark.sql.execution.streaming.sinks``); its
constructor is pinned by the pyspark version in pyproject.toml and covered by the
integration tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["ExactlyOnceParquetSink"]


class ExactlyOnceParquetSink:
    """Snappy Parquet at ``path``, partitioned by ``partition_by``, committed per batch id."""

    def __init__(
        self,
        spark: SparkSession,
        path: str,
        partition_by: list[str],
        options: dict[str, str] | None = None,
    ) -> None:
        jvm = spark._jvm
        scala_seq = jvm.scala.jdk.javaapi.CollectionConverters.asScala(list(partition_by)).toList()
        scala_map = getattr(jvm.scala.collection.immutable, "Map$").__getattr__("MODULE$").empty()
        for key, value in {"compression": "snappy", **(options or {})}.items():
            scala_map = scala_map.updated(key, value)
        self.path = path
        self._sink = jvm.org.apache.spark.sql.execution.streaming.sinks.FileStreamSink(
            spark._jsparkSession,
            path,
            jvm.org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat(),
            scala_seq,
            scala_map,
        )

    def add_batch(self, batch_id: int, df: DataFrame) -> None:
        """Write ``df`` as batch ``batch_id`` unless that batch id is already committed."""
        self._sink.addBatch(batch_id, df._jdf)
