"""The SparkSession of the bronze job, local or under ``spark-submit``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["build_session", "under_spark_submit"]


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

    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "snappy")
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
    return spark
