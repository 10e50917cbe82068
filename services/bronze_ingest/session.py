"""The SparkSession of the bronze job, local or under ``spark-submit``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["build_session", "quiet_spark_logs", "under_spark_submit"]


def under_spark_submit() -> bool:
    """True when ``spark-submit`` launched this Python process (it then owns master and jars)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_session(
    app_name: str = "bronze-ingest", master: str | None = "local[*]", driver_memory: str = "1g"
) -> SparkSession:
    """A session with Spark's Kafka and Avro connectors, UTC time and no UI.

    Locally the connector jars come from the cache that ``txn-platform fetch`` fills (resolved
    from Maven Central at the pinned pyspark version). Under ``spark-submit`` pass them with
    ``--packages org.apache.spark:spark-sql-kafka-0-10_2.13:V,org.apache.spark:spark-avro_2.13:V``.
    """
    from pyspark.sql import SparkSession

    # Python workers (the job's rare-row UDF) must run in this interpreter, which has the
    # project installed; PySpark otherwise starts whatever `python3` is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "snappy")
        # Plain INT64 microsecond timestamps, which DuckDB, pyarrow and Trino read natively.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.shuffle.partitions", "4")
        # The job's Python UDF (rare non-canonical encodings) must run in this interpreter.
        .config("spark.pyspark.python", sys.executable)
    )
    if not under_spark_submit():
        from local_platform.artifacts import ensure_spark_connectors

        jars = ",".join(str(p) for p in ensure_spark_connectors())
        builder = (
            builder.master(master or "local[*]")
            .config("spark.jars", jars)
            .config("spark.driver.memory", driver_memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    quiet_spark_logs(spark)
    return spark


def quiet_spark_logs(spark: SparkSession) -> None:
    """Silence the per-task warning that spark-avro logs when ``to_avro`` gets nullable columns
    for non-null Avro fields: we only re-encode records that decoded, so no field is null."""
    jvm = spark._jvm
    level = jvm.org.apache.logging.log4j.Level.ERROR
    jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.avro.AvroSerializer", level
    )
