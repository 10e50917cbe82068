"""The SparkSession of the lake's jobs: Delta Lake, Spark's Kafka and Avro connectors, UTC.

Locally the jars come from the Maven cache (:mod:`txn_runtime.jars`). Under ``spark-submit``
the submitter owns master and jars (pass them with ``--jars``, see ``docs/deploy.md``); the
Delta extension and catalog are set here either way, before the session exists.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DELTA_CONF", "build_session", "fair_scheduler_conf", "under_spark_submit"]

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # The log is small and local: replaying it over Spark's default 50 partitions costs more
    # in task start-up than the work (hundreds of ms on every commit and table read).
    "spark.databricks.delta.snapshotPartitions": "2",
    # VACUUM lists the table's files in this many tasks (Spark's default, 10,000, made a vacuum
    # of a 3-row table take 54 s in local[2], 45 s of it in that one stage; 8.5 s at 4 tasks).
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "64",
    # Table facts (rows per file) come from the log's per-file statistics.
    "spark.databricks.delta.stats.collect": "true",
}


def fair_scheduler_conf(pools: list[str], directory: Path) -> dict[str, str]:
    """Spark settings for several streaming queries in one application: the FAIR scheduler with
    one pool per name in ``pools`` (equal weights, a core guaranteed to each, FIFO inside), whose
    allocation file is written to ``directory``."""
    entries = "".join(
        f'  <pool name="{name}"><schedulingMode>FIFO</schedulingMode>'
        "<weight>1</weight><minShare>1</minShare></pool>\n"
        for name in pools
    )
    path = directory / "fairscheduler.xml"
    path.write_text(f'<?xml version="1.0"?>\n<allocations>\n{entries}</allocations>\n')
    return {"spark.scheduler.mode": "FAIR", "spark.scheduler.allocation.file": f"file:{path}"}


def under_spark_submit() -> bool:
    """True when ``spark-submit`` launched this Python process (it then owns master and jars)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_session(
    app_name: str,
    master: str | None = "local[*]",
    driver_memory: str = "2g",
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """A session that reads and writes the lake's Delta tables and reads Kafka and Avro."""
    from pyspark.sql import SparkSession

    # Python workers (the bronze job's rare-row UDF) must run in this interpreter, which has
    # the project installed; PySpark otherwise starts whatever `python3` is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    # Under spark-submit its --name names the application (compose passes --name bronze-ingest).
    if not under_spark_submit():
        builder = builder.appName(app_name)
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "snappy")
        # Plain INT64 microsecond timestamps, which DuckDB, pyarrow and Trino read natively.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.pyspark.python", sys.executable)
    )
    for key, value in {**DELTA_CONF, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    if not under_spark_submit():
        from txn_runtime.jars import spark_jars

        log4j = resources.files("txn_lake") / "conf" / "spark-log4j2.properties"
        builder = (
            builder.master(master or "local[*]")
            .config("spark.jars", ",".join(str(p) for p in spark_jars()))
            .config("spark.driver.memory", driver_memory)
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
