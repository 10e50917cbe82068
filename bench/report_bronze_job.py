"""The bronze job a user would write from the project report: the baseline of bench_bronze.py.

Kafka (JSON values) -> ``from_json`` with the report's schema (eleven fields, ``timestamp`` a
string, ``amount`` a double) -> Snappy Parquet partitioned by ``date``/``hour`` (of the event
timestamp), with a checkpoint, ``Trigger.AvailableNow``. No contract, no quarantine, no exactly
once beyond what the file sink's own log gives, no Delta: the plainest job that lands the same
events in Parquet. Same Spark as the project (pyspark 4.2.0) and its Kafka connector jar.

It prints the same kind of lines as ``bronze-ingest`` so the bench reads both alike::

    [report-bronze] started: ...
    [report-bronze] batch 0: 500000 rows in 12.3 s
    [report-bronze] stopped after 2 batch(es): 1000000 rows

Example::

    .venv/bin/python bench/report_bronze_job.py --bootstrap-servers 127.0.0.1:19092 \\
        --topic bench-json-1234 --output /tmp/report-lake --master 'local[2]' \\
        --driver-memory 3g --max-offsets-per-trigger 500000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _emit(msg: str) -> None:
    print(f"[report-bronze] {msg}", file=sys.stderr, flush=True)


def _kafka_jars() -> list[str]:
    """The Kafka connector jars the project's own jobs use (the local Maven cache): what
    ``--packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0`` resolves, without paying
    Ivy's resolution on every start."""
    from txn_runtime.jars import spark_connector_jars

    return [str(p) for p in spark_connector_jars()]


def report_events(kafka):
    """The report's transformation of a Kafka source frame: ``from_json`` with the report's
    schema (every field a string except the amount), then date and hour of the event time."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    names = [
        "transaction_id", "timestamp", "customer_id", "merchant_id", "amount", "currency",
        "channel", "city", "country", "device_id", "status",
    ]  # fmt: skip
    schema = StructType(
        [StructField(n, DoubleType() if n == "amount" else StringType()) for n in names]
    )
    return (
        kafka.select(F.from_json(F.col("value").cast("string"), schema).alias("e"))
        .select("e.*")
        .withColumn("event_ts", F.to_timestamp("timestamp"))
        .withColumn("date", F.date_format("event_ts", "yyyy-MM-dd"))
        .withColumn("hour", F.hour("event_ts"))
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap-servers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--output", type=Path, required=True, help="Parquet output directory")
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: OUTPUT/_checkpoint")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="3g")
    ap.add_argument("--max-offsets-per-trigger", type=int, default=None)
    ap.add_argument("--jars", default=None, help="comma-separated jars (default: the project's)")
    args = ap.parse_args()

    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQueryListener

    _emit("starting Spark")
    spark = (
        SparkSession.builder.appName("report-bronze")
        .master(args.master)
        .config("spark.jars", args.jars or ",".join(_kafka_jars()))
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "snappy")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    _emit(f"Spark {spark.version} on {spark.sparkContext.master}")

    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap_servers)
        .option("subscribe", args.topic)
        .option("startingOffsets", "earliest")
    )
    if args.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
    events = report_events(reader.load())

    class Progress(StreamingQueryListener):
        def onQueryStarted(self, event) -> None:
            pass

        def onQueryProgress(self, event) -> None:
            p = event.progress
            if p.numInputRows:
                _emit(f"batch {p.batchId}: {p.numInputRows} rows in {p.batchDuration / 1000:.1f} s")

        def onQueryIdle(self, event) -> None:
            pass

        def onQueryTerminated(self, event) -> None:
            pass

    spark.streams.addListener(Progress())
    checkpoint = args.checkpoint or args.output / "_checkpoint"
    query = (
        events.writeStream.format("parquet")
        .option("path", str(args.output / "bronze"))
        .option("checkpointLocation", str(checkpoint))
        .partitionBy("date", "hour")
        .trigger(availableNow=True)
        .start()
    )
    _emit(f"started: topic {args.topic} -> {args.output / 'bronze'}, available-now")
    query.awaitTermination()
    done = [p for p in query.recentProgress if p.numInputRows]
    _emit(f"stopped after {len(done)} batch(es): {sum(p.numInputRows for p in done)} rows")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
