"""The bronze streaming job: Kafka -> per-message ``from_avro`` -> bronze + quarantine Parquet."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from txn_contract.errors import TxnError

from .config import BronzeConfig
from .decode import INTERNAL_REASONS, classify, finish, lean_schema, tally
from .writer_schemas import IdVerdict, WriterSchemaResolver

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["BronzeJob", "install_signal_handlers"]

log = logging.getLogger("bronze_ingest")


class BronzeJob:
    """One streaming query whose ``foreachBatch`` decodes each message once and feeds two
    exactly-once Parquet sinks (bronze and quarantine)."""

    def __init__(self, config: BronzeConfig, spark: SparkSession, reader_schema_str: str) -> None:
        from .sink import ExactlyOnceParquetSink

        self.cfg = config
        self.spark = spark
        self.reader_schema_str = reader_schema_str
        self.resolver = WriterSchemaResolver(
            config.registry_url, config.subject, timeout_s=config.registry_timeout_s
        )
        opts = {}
        if config.max_records_per_file:
            opts["maxRecordsPerFile"] = str(config.max_records_per_file)
        self.bronze = ExactlyOnceParquetSink(spark, str(config.bronze_path), ["date", "hour"], opts)
        self.quarantine = ExactlyOnceParquetSink(
            spark, str(config.quarantine_path), ["date", "hour"], opts
        )
        self.batch_stats: dict[int, dict[str, Any]] = {}
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self.totals = {"batches": 0, "bronze": 0, "quarantine": 0, "newer_writer": 0}
        from txn_contract import packaged_contract

        self._compiled = [
            json.loads(lean_schema(v.schema_str)) for v in packaged_contract().versions
        ]

    # ------------------------------------------------------------------ the stream

    def source(self) -> DataFrame:
        cfg = self.cfg
        reader = (
            self.spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", cfg.bootstrap_servers)
            .option("subscribe", cfg.topic)
            .option("startingOffsets", cfg.starting_offsets)
            .option("failOnDataLoss", "true")
        )
        if cfg.max_offsets_per_trigger:
            reader = reader.option("maxOffsetsPerTrigger", str(cfg.max_offsets_per_trigger))
        if cfg.min_offsets_per_trigger:
            reader = reader.option("minOffsetsPerTrigger", str(cfg.min_offsets_per_trigger))
        if cfg.max_trigger_delay:
            reader = reader.option("maxTriggerDelay", cfg.max_trigger_delay)
        return reader.load()

    def process_batch(self, df: DataFrame, batch_id: int) -> None:
        """Decode one micro-batch and write both outputs; re-running a batch id is a no-op."""
        from pyspark.sql import functions as F

        started = time.monotonic()
        try:
            raw = df.select("key", "value", "topic", "partition", "offset", "timestamp")
            # A batch re-run after a crash must be judged as its first attempt was: one output
            # may already hold it, and a verdict that changed since (an id registered in
            # between) would send rows to neither output.
            stored = self._stored_verdicts(batch_id)
            verdicts = stored if stored is not None else self.resolver.subject_verdicts()
            classified = self._classified(raw, verdicts)
            counts, extra, good_by_id = tally(classified)
            if extra:
                judged = self.resolver.resolve(extra)
                if any(v.schema_str for v in judged.values()):
                    # Registered under the subject between our listing and now: decode again.
                    classified.unpersist()
                    verdicts = self.resolver.subject_verdicts()
                    classified = self._classified(raw, verdicts)
                    counts, extra, good_by_id = tally(classified)
                    judged = self.resolver.resolve(extra)
                verdicts = {**verdicts, **judged}
            settled = finish(classified, verdicts)
            if counts.keys() & INTERNAL_REASONS:
                # Rare: the final reasons are only known after `finish`; count them again.
                counts = {
                    r["reason"]: r["count"] for r in settled.groupBy("reason").count().collect()
                }
            counts = {(k or "BRONZE"): v for k, v in counts.items()}
            # One ingest time per batch, fixed on the driver: bronze and quarantine rows of a
            # batch agree on it, and so do the date/hour partitions derived from it (UTC).
            # Tz-aware: PySpark reads a naive datetime as local time, which would shift
            # ingest_ts by the host's UTC offset away from date/hour.
            now = datetime.now(UTC)
            ingest = {
                "ingest_ts": F.lit(now).cast("timestamp"),
                "date": F.lit(now.strftime("%Y-%m-%d")),
                "hour": F.lit(now.hour),
            }
            bronze_df = settled.where(F.col("reason").isNull()).select(
                "event.*",
                F.col("topic").alias("kafka_topic"),
                F.col("partition").alias("kafka_partition"),
                F.col("offset").alias("kafka_offset"),
                F.col("timestamp").alias("kafka_timestamp"),
                F.col("key").cast("string").alias("kafka_key"),
                F.col("schema_id").cast("int").alias("schema_id"),
                *[v.alias(k) for k, v in ingest.items()],
            )
            quarantine_df = settled.where(F.col("reason").isNotNull()).select(
                "value",
                F.col("key").alias("kafka_key"),
                F.col("topic").alias("kafka_topic"),
                F.col("partition").alias("kafka_partition"),
                F.col("offset").alias("kafka_offset"),
                F.col("timestamp").alias("kafka_timestamp"),
                F.col("schema_id").cast("int").alias("schema_id"),
                "reason",
                "detail",
                *[v.alias(k) for k, v in ingest.items()],
            )
            if stored is None:
                self._store_verdicts(batch_id, verdicts)
            self.bronze.add_batch(batch_id, bronze_df)
            self.quarantine.add_batch(batch_id, quarantine_df)
            classified.unpersist()
        except TxnError as exc:
            self.failure = exc
            raise
        bronze_rows = counts.pop("BRONZE", 0)
        quarantined = sum(counts.values())
        # Rows whose writer is not a version compiled into this job (a newer one, registered
        # since it was deployed): they decode, but fields that version added are not in bronze.
        unknown_writers = {
            i: n for i, n in good_by_id.items() if not self._is_compiled(verdicts[i].schema_str)
        }
        self.totals["batches"] += 1
        self.totals["bronze"] += bronze_rows
        self.totals["quarantine"] += quarantined
        self.totals["newer_writer"] += sum(unknown_writers.values())
        self.batch_stats[batch_id] = {
            "newer_writer": unknown_writers,
            "bronze": bronze_rows,
            "quarantine": dict(sorted(counts.items())),
            "seconds": time.monotonic() - started,
        }

    def _is_compiled(self, schema_str: str | None) -> bool:
        return schema_str is None or json.loads(lean_schema(schema_str)) in self._compiled

    def _verdicts_file(self, batch_id: int) -> Path:
        return self.cfg.checkpoint_path / "verdicts" / str(batch_id)

    def _stored_verdicts(self, batch_id: int) -> dict[int, IdVerdict] | None:
        path = self._verdicts_file(batch_id)
        if not path.exists():
            return None
        return {int(k): IdVerdict(**v) for k, v in json.loads(path.read_text()).items()}

    def _store_verdicts(self, batch_id: int, verdicts: dict[int, IdVerdict]) -> None:
        """Written before either output commits the batch (temp file, then an atomic rename)."""
        path = self._verdicts_file(batch_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({str(k): asdict(v) for k, v in verdicts.items()}))
        tmp.replace(path)
        # Spark keeps ~100 batches of its own logs; older verdicts can never be needed again.
        for old in path.parent.glob("[0-9]*"):
            if old.name.isdigit() and int(old.name) < batch_id - 100:
                old.unlink(missing_ok=True)

    def _classified(self, raw: DataFrame, verdicts) -> DataFrame:
        from pyspark import StorageLevel

        # Persisted: the counts and both writes read it; without it each would decode again.
        return (
            classify(raw, verdicts, self.reader_schema_str)
            .select(
                "key",
                "value",
                "topic",
                "partition",
                "offset",
                "timestamp",
                "schema_id",
                "reason",
                "detail",
                "event",
            )
            .persist(StorageLevel.MEMORY_AND_DISK)
        )

    # ------------------------------------------------------------------ running

    def request_stop(self) -> None:
        """Ask the job to stop after the batch in progress (SIGTERM/SIGINT handler)."""
        self._stop.set()

    def run(self, emit: Callable[[str], None]) -> dict[str, int]:
        """Run until stopped (processing-time) or drained (available-now)."""
        cfg = self.cfg
        self.spark.streams.addListener(_progress_listener(self, emit))
        writer = (
            self.source()
            .writeStream.queryName("bronze_ingest")
            .foreachBatch(self.process_batch)
            .option("checkpointLocation", str(cfg.checkpoint_path))
        )
        if cfg.available_now:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=f"{cfg.trigger_seconds} seconds")
        query = writer.start()
        emit(
            f"started: topic {cfg.topic} -> {cfg.bronze_path} (quarantine {cfg.quarantine_path}), "
            f"checkpoint {cfg.checkpoint_path}, "
            + ("available-now" if cfg.available_now else f"trigger every {cfg.trigger}")
        )
        try:
            while query.isActive:
                if self._stop.is_set() and not query.status["isTriggerActive"]:
                    emit("stop requested: stopping after the current batch")
                    query.stop()
                    break
                query.awaitTermination(0.5)
        except Exception as exc:
            if self.failure is not None:
                raise self.failure from exc
            from pyspark.errors import StreamingQueryException

            if isinstance(exc, StreamingQueryException):
                raise TxnError(
                    f"The bronze query failed: {_first_line(str(exc))} The checkpoint is intact: "
                    "fix the cause and start the job again to resume."
                ) from exc
            raise
        if query.exception() is not None:
            if self.failure is not None:
                raise self.failure
            raise TxnError(f"The bronze query failed: {_first_line(str(query.exception()))}")
        return dict(self.totals)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no detail"


def _progress_listener(job: BronzeJob, emit: Callable[[str], None]):
    """A listener printing one line per batch: rows to bronze and quarantine, duration, rate,
    lag (pyspark is imported here, so the class is defined on first use)."""
    from pyspark.sql.streaming import StreamingQueryListener

    class Listener(StreamingQueryListener):
        def onQueryStarted(self, event) -> None:
            pass

        def onQueryProgress(self, event) -> None:
            p = event.progress
            stats = job.batch_stats.pop(p.batchId, None)
            if stats is None:
                return  # a no-data trigger
            lag = _lag(p.sources[0].endOffset, p.sources[0].latestOffset) if p.sources else None
            quarantine = ", ".join(f"{k}={v}" for k, v in stats["quarantine"].items()) or "none"
            newer = stats["newer_writer"]
            if newer:
                emit(
                    f"batch {p.batchId}: {sum(newer.values())} rows were written with schema "
                    f"id(s) {sorted(newer)}, a version this job's contract does not include: "
                    "fields it added are not in bronze until the job is redeployed with the "
                    "new txn_contract"
                )
            emit(
                f"batch {p.batchId}: {p.numInputRows} rows in {p.batchDuration / 1000:.1f} s; "
                f"bronze {stats['bronze']}, quarantine {sum(stats['quarantine'].values())} "
                f"({quarantine}); input {p.inputRowsPerSecond:.0f} rows/s, "
                f"processed {p.processedRowsPerSecond:.0f} rows/s; lag {lag}"
            )

        def onQueryIdle(self, event) -> None:
            pass

        def onQueryTerminated(self, event) -> None:
            pass

    return Listener()


def _lag(end: str | None, latest: str | None) -> int | None:
    """Offsets still to read: sum over partitions of latest minus processed end offsets."""
    if not end or not latest:
        return None
    try:
        end_d, latest_d = json.loads(end), json.loads(latest)
    except (TypeError, ValueError):
        return None
    total = 0
    for topic, parts in latest_d.items():
        for part, off in parts.items():
            total += max(0, off - end_d.get(topic, {}).get(part, 0))
    return total


def install_signal_handlers(job: BronzeJob, emit: Callable[[str], None]) -> None:
    """SIGTERM and SIGINT stop the job after the current batch; a second signal is immediate."""

    def handler(signum, _frame):
        if job._stop.is_set():
            # Second signal: leave now. The batch in flight is not committed; the checkpoint
            # and the outputs' commit logs make it safe to run again on the next start.
            emit("second signal: stopping immediately; the current batch is redone on restart")
            os._exit(130)
        emit(f"received {signal.Signals(signum).name}; finishing the current batch")
        job.request_stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
