"""The bronze streaming job: Kafka -> per-message ``from_avro`` -> bronze + quarantine Delta."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from txn_contract.errors import TxnError
from txn_lake import Lake
from txn_lake.tables import BRONZE_INGEST, BRONZE_TABLE, QUARANTINE_TABLE
from txn_runtime.metrics import BatchFigures
from txn_runtime.refusals import reading, refusal
from txn_runtime.streaming import StreamingJob

from .config import BronzeSettings
from .decode import Tally
from .files import Staged
from .outputs import BatchPlan, BronzeBatch, BronzeOutputs
from .passes import PlanColumns, merge_rare, rare_pass, write_pass
from .writer_schemas import WriterSchemaResolver

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["BronzeJob"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Decoded:
    """A decoded batch whose files are written: the plan it was decoded with, its figures (every
    reason final), each output's staged files (None: nothing to commit), bronze's row schema."""

    plan: BatchPlan
    counted: Tally
    bronze: Staged | None
    quarantine: Staged | None
    bronze_schema: StructType


class BronzeJob(StreamingJob):
    """One streaming query whose ``foreachBatch`` decodes each message once, writes the batch's
    files in that pass, and commits them to two Delta tables (bronze and quarantine), each
    exactly once per batch id.

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
        self.partitions = 1
        """The topic's partition count (each has its offsets observed)."""
        self._columns: dict[str, PlanColumns] = {}
        self._first_batch = True
        self._replayed: int | None = None
        self._announced: set[int] = set()

    def prepare(self, emit: Callable[[str], None]) -> None:
        """Create the tables (with the newest registered version's schema) before the query,
        and read the topic's partition count."""
        from confluent_kafka.admin import AdminClient

        from txn_runtime.preflight import check_topic

        verdicts = self.resolver.subject_verdicts()
        version, reader_id = self.resolver.newest()
        self._announced.add(reader_id)
        self.outputs.ensure(verdicts[reader_id].schema_str, version, emit)
        admin = AdminClient(self.cfg.kafka_config())
        self.partitions = check_topic(admin, self.cfg.topic, self.cfg.bootstrap_servers)

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
        """The batch's verdicts and reader: those its first attempt committed, else fresh.

        A fresh plan covers every id registered under the subject now. The batch's offsets were
        fixed before this call, and a producer registers (or looks up) its schema before it
        writes with its id, so an id outside the plan is not the subject's: it goes to
        quarantine, judged by the registry, and the batch's good rows need no second look.
        """
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

    def _decode(self, raw: DataFrame, plan: BatchPlan, batch_id: int, now: datetime) -> _Decoded:
        """The write pass, the rare-row pass when the batch has rows that are not plainly good
        (:mod:`bronze_ingest.passes`); ids outside the plan are judged before anything is
        committed, and the batch decoded again if one was registered under the subject since."""
        done = self.outputs.committed(batch_id)  # a re-run: outputs that committed it already
        partition = {"date": now.strftime("%Y-%m-%d"), "hour": str(now.hour)}
        bronze, quarantine = (
            None if t in done else self.outputs.stage(t, batch_id, partition)
            for t in (BRONZE_TABLE.name, QUARANTINE_TABLE.name)
        )
        limit = self.cfg.max_records_per_file
        source = (self.cfg.topic, self.partitions)
        first = write_pass(raw, self._plan_columns(plan), now, bronze, source, limit)
        self.partitions = first.partitions_read
        if first.counted.unresolved_ids:
            judged = self.resolver.resolve(first.counted.unresolved_ids)
            if any(v.schema_str for v in judged.values()):
                if bronze is not None:
                    bronze.discard()
                    bronze = self.outputs.stage(BRONZE_TABLE.name, batch_id, partition)
                plan = BatchPlan(self.resolver.subject_verdicts(), self.resolver.newest()[1])
                first = write_pass(raw, self._plan_columns(plan), now, bronze, source, limit)
                judged = self.resolver.resolve(first.counted.unresolved_ids)
            plan = BatchPlan({**plan.verdicts, **judged}, plan.reader_id)
        counted = first.counted
        if set(counted.counts) - {None}:
            rare = rare_pass(raw, self._plan_columns(plan), now, bronze, quarantine, limit)
            counted = merge_rare(counted, rare)
        return _Decoded(plan, counted, bronze, quarantine, first.bronze_schema)

    def _plan_columns(self, plan: BatchPlan) -> PlanColumns:
        """The plan's expressions, built once per plan (a plan changes when the subject gains a
        version or a batch meets an id outside it)."""
        key = json.dumps(plan.to_json(), sort_keys=True)
        if key not in self._columns:
            if len(self._columns) >= 4:
                self._columns.pop(next(iter(self._columns)))
            self._columns[key] = PlanColumns(plan)
        return self._columns[key]

    def process_batch(self, df: DataFrame, batch_id: int) -> None:
        """Decode one micro-batch and commit it to both outputs; a committed batch id is a no-op."""
        started = time.monotonic()
        raw = df.select("key", "value", "topic", "partition", "offset", "timestamp")
        # One ingest time per batch, in milliseconds (what Delta's statistics keep).
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)

        decoded = self._decode(raw, self._plan(batch_id), batch_id, now)
        plan, counted = decoded.plan, decoded.counted
        counts = {(k or "BRONZE"): v for k, v in counted.counts.items()}
        bronze_rows = counts.pop("BRONZE", 0)
        self._announce_evolution(plan, decoded.bronze_schema)
        versions = {self.resolver.version_of(i) for i in (*counted.good_by_id, plan.reader_id)}
        for staged, rows in ((decoded.bronze, bronze_rows), (decoded.quarantine, counts)):
            if staged is not None and not rows:
                staged.discard()  # no row: no commit (a write of no rows may leave a file)
        self.outputs.write(
            BronzeBatch(
                batch_id,
                plan,
                decoded.bronze if bronze_rows else None,
                decoded.quarantine if counts else None,
                counted.ranges,
                {v for v in versions if v is not None},
                counted.event_time,
                decoded.bronze_schema,
            )
        )
        written_ms = time.time_ns() // 1_000_000
        quarantined = sum(counts.values())
        self.totals["batches"] += 1
        self.totals["bronze"] += bronze_rows
        self.totals["quarantine"] += quarantined
        seconds = time.monotonic() - started
        self.batch_stats[batch_id] = {
            "bronze": bronze_rows,
            "quarantine": dict(sorted(counts.items())),
            "seconds": seconds,
            "replayed": batch_id == self._replayed,
            "event_age": counted.event_time.ages(written_ms),
        }
        p50 = counted.event_time.p50_ms
        # What this attempt committed: an output that had committed the batch (a re-run) was
        # given no staged files and wrote nothing now.
        tables = {
            BRONZE_TABLE.name: bronze_rows if decoded.bronze is not None else 0,
            QUARANTINE_TABLE.name: quarantined if decoded.quarantine is not None else 0,
        }
        self.record(
            BatchFigures(
                "bronze",
                rows_in=bronze_rows + quarantined,
                rows_out=tables,
                seconds=seconds,
                quarantined=counts if decoded.quarantine is not None else {},
                latency_seconds={} if p50 is None else {"bronze": (written_ms - p50) / 1000},
                committed=tuple(t for t, n in tables.items() if n),
            )
        )

    def _announce_evolution(self, plan: BatchPlan, bronze_schema: StructType) -> None:
        """Log once per reader version the columns it adds to bronze."""
        if plan.reader_id in self._announced:
            return
        self._announced.add(plan.reader_id)
        added = [f.name for f in self.outputs.new_columns(bronze_schema)]
        if added:
            log.info(
                "contract version %s (schema id %s) is now the newest under %s: bronze gains "
                "column(s) %s in this batch; earlier rows read them as null",
                self.resolver.version_of(plan.reader_id),
                plan.reader_id,
                self.cfg.subject,
                ", ".join(added),
            )

    # ------------------------------------------------------------------ running

    def failed(self, error: BaseException) -> TxnError:
        """The sentence a failed query becomes; Kafka refusing the principal the topic (its
        ACL changed after the preflight checked it) is named as the preflight names it."""
        text = str(error)
        if "TopicAuthorizationException" in text or "Not authorized to access topics" in text:
            cfg = self.cfg
            sentence = refusal(
                "TOPIC_AUTHORIZATION_FAILED", cfg.kafka_sasl_username, reading(cfg.topic)
            )
            return TxnError(
                f"{sentence} The checkpoint is intact: once it may, start the job again to resume."
            )
        return super().failed(error)

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
            per_partition = (
                _lag(p.sources[0].endOffset, p.sources[0].latestOffset) if p.sources else None
            )
            lag = (
                None
                if per_partition is None
                else sum(sum(t.values()) for t in per_partition.values())
            )
            if per_partition is not None and job.metrics is not None:
                job.metrics.set_lag(per_partition)
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


def _lag(end: str | None, latest: str | None) -> dict[str, dict[str, int]] | None:
    """Offsets still to read per topic and partition: the latest offset minus the processed end
    offset (from the query's progress: no request to the broker)."""
    if not end or not latest:
        return None
    try:
        end_d, latest_d = json.loads(end), json.loads(latest)
    except (TypeError, ValueError):
        return None
    return {
        topic: {
            part: max(0, off - end_d.get(topic, {}).get(part, 0)) for part, off in parts.items()
        }
        for topic, parts in latest_d.items()
    }
