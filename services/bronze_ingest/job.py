"""The bronze streaming job: Kafka -> per-message ``from_avro`` -> bronze + quarantine Delta."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from txn_lake import Lake
from txn_lake.event_time import EventTime
from txn_lake.tables import BRONZE_INGEST
from txn_runtime.streaming import StreamingJob

from .config import BronzeSettings
from .decode import INTERNAL_REASONS, classify, finish, tally
from .frames import output_frames
from .outputs import BatchPlan, BronzeBatch, BronzeOutputs
from .writer_schemas import WriterSchemaResolver

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["BronzeJob"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Decoded:
    """A classified batch: the plan it was decoded with, the cached classification, the rows
    with their final reasons (the same frame unless some needed settling), the rows per reason,
    good rows per writer schema id, and the Kafka offsets read."""

    plan: BatchPlan
    classified: DataFrame
    settled: DataFrame
    counts: dict[str | None, int]
    good_by_id: dict[int, int]
    ranges: dict[str, dict[str, list[int]]]
    event_time: EventTime


class BronzeJob(StreamingJob):
    """One streaming query whose ``foreachBatch`` decodes each message once and appends to two
    Delta tables (bronze and quarantine), each exactly once per batch id.

    ``registry`` is the job's ``SchemaRegistryClient``, built once with the registry's
    credentials and handed in (the CLI's preflight uses the same one); by default the
    settings build it.
    """

    def __init__(
        self, config: BronzeSettings, spark: SparkSession, registry: Any | None = None
    ) -> None:
        super().__init__(BRONZE_INGEST.name, "bronze", totals=("bronze", "quarantine"))
        self.cfg = config
        self.spark = spark
        if registry is None:
            # No retries inside the client: the resolver retries transport failures itself.
            registry = config.registry_client(timeout_s=10.0, retries=0)
        self.resolver = WriterSchemaResolver(
            registry, config.registry_display_url, config.subject, config.registry_timeout
        )
        self.outputs = BronzeOutputs(spark, Lake(config.lake), config.subject)
        self.batch_stats: dict[int, dict[str, Any]] = {}
        self._first_batch = True
        self._replayed: int | None = None
        self._announced: set[int] = set()

    def prepare(self, emit: Callable[[str], None]) -> None:
        """Create the tables (with the newest registered version's schema) before the query."""
        verdicts = self.resolver.subject_verdicts()
        version, reader_id = self.resolver.newest()
        self._announced.add(reader_id)
        self.outputs.ensure(verdicts[reader_id].schema_str, version, emit)

    # ------------------------------------------------------------------ the stream

    def source(self) -> DataFrame:
        cfg = self.cfg
        reader = (
            self.spark.readStream.format("kafka")
            # Brokers and their SASL/TLS settings (txn_runtime.settings.KafkaSettings).
            .options(**cfg.spark_kafka_options())
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

    def _plan(self, batch_id: int) -> BatchPlan:
        """The batch's verdicts and reader: those its first attempt committed, else fresh."""
        plan = None
        if self._first_batch:
            # Only the first batch of a process can be a re-run of a committed one.
            plan = self.outputs.replayed_plan(batch_id, self.resolver)
            self._first_batch = False
            self._replayed = batch_id if plan is not None else None
        if plan is None:
            verdicts = self.resolver.subject_verdicts()
            plan = BatchPlan(verdicts, self.resolver.newest()[1])
        else:
            self.resolver.subject_verdicts()  # the subject's versions, to name them in logs
        return plan

    def _decode(self, raw: DataFrame, plan: BatchPlan) -> _Decoded:
        """Classify the batch; ids outside the plan are judged now and the batch re-decoded if
        one was registered under the subject since the plan was made."""
        classified = self._classified(raw, plan)
        counted = tally(classified)
        if counted.unresolved_ids:
            judged = self.resolver.resolve(counted.unresolved_ids)
            if any(v.schema_str for v in judged.values()):
                classified.unpersist()
                plan = BatchPlan(self.resolver.subject_verdicts(), self.resolver.newest()[1])
                classified = self._classified(raw, plan)
                counted = tally(classified)
                judged = self.resolver.resolve(counted.unresolved_ids)
            plan = BatchPlan({**plan.verdicts, **judged}, plan.reader_id)
        counts, good, ranges = counted.counts, counted.good_by_id, counted.ranges
        settled = classified
        if counts.keys() & INTERNAL_REASONS:
            # Rare: the final reasons are only known after `finish`; count them again. (In the
            # common batch every row has its final reason, and `finish` would only add a second
            # read of the cache, its union, to the write.)
            settled = finish(classified, plan.verdicts)
            counts = {r["reason"]: r["count"] for r in settled.groupBy("reason").count().collect()}
        return _Decoded(plan, classified, settled, counts, good, ranges, counted.event_time)

    def process_batch(self, df: DataFrame, batch_id: int) -> None:
        """Decode one micro-batch and append it to both outputs; a committed batch id is a no-op."""
        started = time.monotonic()
        raw = df.select("key", "value", "topic", "partition", "offset", "timestamp")
        decoded = self._decode(raw, self._plan(batch_id))
        plan = decoded.plan
        counts = {(k or "BRONZE"): v for k, v in decoded.counts.items()}
        bronze_rows = counts.pop("BRONZE", 0)
        bronze_df, quarantine_df = output_frames(
            decoded.settled, plan.verdicts[plan.reader_id].schema_str, datetime.now(UTC)
        )
        self._announce_evolution(plan, bronze_df)
        versions = {self.resolver.version_of(i) for i in (*decoded.good_by_id, plan.reader_id)}
        self.outputs.write(
            BronzeBatch(
                batch_id,
                plan,
                bronze_df if bronze_rows else None,
                quarantine_df if counts else None,
                decoded.ranges,
                {v for v in versions if v is not None},
                decoded.event_time,
            )
        )
        written_ms = time.time_ns() // 1_000_000
        decoded.classified.unpersist()
        quarantined = sum(counts.values())
        self.totals["batches"] += 1
        self.totals["bronze"] += bronze_rows
        self.totals["quarantine"] += quarantined
        self.batch_stats[batch_id] = {
            "bronze": bronze_rows,
            "quarantine": dict(sorted(counts.items())),
            "seconds": time.monotonic() - started,
            "replayed": batch_id == self._replayed,
            "event_age": decoded.event_time.ages(written_ms),
        }

    def _announce_evolution(self, plan: BatchPlan, bronze_df: DataFrame) -> None:
        """Log once per reader version the columns it adds to bronze."""
        if plan.reader_id in self._announced:
            return
        self._announced.add(plan.reader_id)
        added = self.outputs.new_columns(bronze_df)
        if added:
            log.info(
                "contract version %s (schema id %s) is now the newest under %s: bronze gains "
                "column(s) %s in this batch; earlier rows read them as null",
                self.resolver.version_of(plan.reader_id),
                plan.reader_id,
                self.cfg.subject,
                ", ".join(added),
            )

    def _classified(self, raw: DataFrame, plan: BatchPlan) -> DataFrame:
        from pyspark import StorageLevel

        reader_str = plan.verdicts[plan.reader_id].schema_str
        # Persisted: the counts and both writes read it; without it each would decode again.
        return (
            classify(raw, plan.verdicts, reader_str)
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

    def begin(self, emit: Callable[[str], None]):
        """Create the tables, then start the query (see :meth:`StreamingJob.run`)."""
        cfg = self.cfg
        self.prepare(emit)
        self.spark.streams.addListener(_progress_listener(self, emit))
        query = self.start(self.source(), cfg.checkpoint_path, cfg)
        emit(
            f"started: topic {cfg.topic} -> {cfg.bronze_path} (quarantine {cfg.quarantine_path}), "
            f"checkpoint {cfg.checkpoint_path}, "
            + ("available-now" if cfg.available_now else f"trigger every {cfg.trigger}")
        )
        return query


def _progress_listener(job: BronzeJob, emit: Callable[[str], None]):
    """A listener printing one line per batch: rows to bronze and quarantine, duration, rate,
    lag (pyspark is imported here, so the class is defined on first use)."""
    from pyspark.sql.streaming import StreamingQueryListener

    class Listener(StreamingQueryListener):
        def onQueryStarted(self, event) -> None:
            pass

        def onQueryProgress(self, event) -> None:
            p = event.progress
            if p.name != job.query_name:
                return  # another query of the application (txn-pipeline run)
            stats = job.batch_stats.pop(p.batchId, None)
            if stats is None:
                return  # a no-data trigger
            lag = _lag(p.sources[0].endOffset, p.sources[0].latestOffset) if p.sources else None
            quarantine = ", ".join(f"{k}={v}" for k, v in stats["quarantine"].items()) or "none"
            if stats["replayed"]:
                emit(
                    f"batch {p.batchId}: a re-run after a restart; outputs that had committed "
                    "it skipped it, so its counts below were written at most once"
                )
            emit(
                f"batch {p.batchId}: {p.numInputRows} rows in {p.batchDuration / 1000:.1f} s; "
                f"bronze {stats['bronze']}, quarantine {sum(stats['quarantine'].values())} "
                f"({quarantine}); input {p.inputRowsPerSecond:.0f} rows/s, "
                f"processed {p.processedRowsPerSecond:.0f} rows/s; lag {lag}; "
                f"event age at commit {stats['event_age']}"
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
