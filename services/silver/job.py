"""The silver streaming job: bronze Delta (as a stream) -> rules, dedup, event time -> silver,
silver_rejects and silver_audit, each exactly once per batch id."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from txn_contract.errors import TxnError
from txn_contract.rules import RuleSet
from txn_lake import Lake
from txn_lake.delta_source import SchemaRestarts, delta_stream
from txn_lake.event_time import EventTime, event_time_aggregates
from txn_lake.tables import (
    BRONZE_TABLE,
    SILVER_AUDIT_TABLE,
    SILVER_REFINE,
    SILVER_REJECTS_TABLE,
    SILVER_TABLE,
)
from txn_runtime.metrics import BatchFigures
from txn_runtime.streaming import StreamingJob

from .config import SilverSettings
from .dedup import (
    CONFLICT,
    DUPLICATE,
    INSERT,
    OUTCOME,
    REJECTED,
    classify,
    content_hash,
    with_batch_details,
    with_history_details,
)
from .lineage import BronzeVersions
from .outputs import Rows, SilverOutputs
from .quality import VIOLATED, WARNED, CompiledRules

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SilverJob"]

log = logging.getLogger(__name__)
Emit = Callable[[str], None]
_BRONZE_META = set(BRONZE_TABLE.column_names)
# The columns _evaluate adds to bronze's.
EVALUATED = (VIOLATED, WARNED, "content_hash", "is_late", "event_date", "event_hour")


@dataclass(frozen=True)
class _Batch:
    """A classified batch on its way to the outputs."""

    batch_id: int
    bronze_cols: list[str]
    contract_cols: list[str]
    rows: DataFrame
    """Every bronze row of the batch with its outcome (cached)."""
    stats: dict[str, Any]
    versions: list[int]
    refined_ts: datetime


class SilverJob(StreamingJob):
    """One streaming query over the bronze table whose ``foreachBatch`` classifies each bronze
    row once and commits rejects, the audit and silver, in that order."""

    def __init__(self, config: SilverSettings, spark: SparkSession, rules: RuleSet) -> None:
        totals = ("read", "inserted", "duplicates", "rejected")
        super().__init__(SILVER_REFINE.name, "silver", totals=totals)
        self.cfg = config
        self.spark = spark
        self.rules = CompiledRules(rules)
        self.outputs = SilverOutputs(spark, Lake(config.lake), rules)
        self.lineage = BronzeVersions(config.bronze_path, BRONZE_TABLE.app_id)
        self._restarts = SchemaRestarts("silver")

    def prepare(self, emit: Emit) -> None:
        """Compile the rules against bronze's schema and create the tables if missing."""
        bronze = self.spark.read.format("delta").load(str(self.cfg.bronze_path))
        self.rules.check_against(bronze)
        self.outputs.ensure(bronze.schema, _contract_columns(bronze.columns), emit)

    # ------------------------------------------------------------------ one batch

    def _evaluate(self, df: DataFrame) -> DataFrame:
        """``df`` (bronze's rows) plus the rules' verdicts, the content hash, the late flag and
        the event date and hour (:data:`EVALUATED`).

        Applied to the stream, not to each batch: Spark analyses it once, when the query starts
        (the rules' 5,000-code list made every plan built on a batch cost a second of analysis),
        and ``foreachBatch`` then hands each batch over already evaluated, as a plain scan."""
        from pyspark.sql import functions as F

        late_us = int(self.cfg.lateness_seconds * 1_000_000)
        return self.rules.evaluate(df).withColumns(
            {
                "content_hash": content_hash(_contract_columns(df.columns)),
                "is_late": (F.unix_micros("ingest_ts") - F.unix_micros("timestamp")) > late_us,
                "event_date": F.to_date("timestamp"),
                "event_hour": F.hour("timestamp"),
            }
        )

    def _silver(self) -> DataFrame:
        """Silver as Spark reads it now (before the batch's commit: as of the batch's start);
        read only when Spark needs it (a large batch, conflicts with history)."""
        return self.spark.read.format("delta").load(str(self.cfg.silver_path))

    def _stats(self, classified: DataFrame) -> dict[str, Any]:
        """Counts per outcome, late inserts, rejects and warnings per rule, offset spans and the
        inserts' event time: one aggregation, one Spark job."""
        from collections import Counter

        from pyspark.sql import functions as F

        counts = {INSERT: 0, DUPLICATE: 0, CONFLICT: 0, REJECTED: 0}
        late = history_conflicts = 0
        by_rule: Counter[str] = Counter()
        warned: Counter[str] = Counter()
        ranges: dict[tuple[str, int], tuple[int, int]] = {}
        tolerated = [r.id for r in self.rules.rules.by_action("warn")]
        tolerated += [r.id for r in self.rules.rules.by_action("fail")]
        groups = classified.groupBy(
            OUTCOME, "_conflict_in_silver", "kafka_topic", "kafka_partition"
        ).agg(
            F.count("*").alias("n"),
            F.sum(F.when(F.col("is_late"), 1).otherwise(0)).alias("late"),
            F.min("kafka_offset").alias("lo"),
            F.max("kafka_offset").alias("hi"),
            # Only rejects have rules: collecting every insert's empty array cost a list per row.
            F.flatten(F.collect_list(F.when(F.size("rules") > 0, F.col("rules")))).alias("rules"),
            # Each id is in a row's list at most once: a count of the rows that hold it.
            *[F.count_if(F.array_contains(WARNED, rid)).alias(f"_w{i}") for i, rid in enumerate(tolerated)],
            *event_time_aggregates(F.when(F.col(OUTCOME) == INSERT, F.col("timestamp"))),
        )  # fmt: skip
        rows = groups.collect()
        for r in rows:
            counts[r[OUTCOME]] += r["n"]
            late += r["late"] if r[OUTCOME] == INSERT else 0
            history_conflicts += r["n"] if r["_conflict_in_silver"] else 0
            by_rule.update(r["rules"])
            warned.update({rid: r[f"_w{i}"] for i, rid in enumerate(tolerated)})
            key = (r["kafka_topic"], r["kafka_partition"])
            lo, hi = ranges.get(key, (r["lo"], r["hi"]))
            ranges[key] = (min(lo, r["lo"]), max(hi, r["hi"]))
        return {
            "counts": counts,
            "late": late,
            "history_conflicts": history_conflicts,
            "rejected_by_rule": dict(sorted(by_rule.items())),
            "warned_by_rule": {k: v for k, v in sorted(warned.items()) if v},
            "ranges": ranges,
            "event_time": EventTime.of_groups(rows),
        }

    def process_batch(self, df: DataFrame, batch_id: int) -> None:
        """Classify one micro-batch (bronze's rows with the columns :meth:`_evaluate` adds) and
        commit it; a batch silver already committed is a no-op."""
        started = time.monotonic()
        if self.outputs.check_batch(batch_id):
            self.emit(f"batch {batch_id}: already committed to silver (a re-run); skipped")
            return
        self._process(df, batch_id, started)

    def _process(self, df: DataFrame, batch_id: int, started: float) -> None:
        refined_ts = datetime.now(UTC)
        bronze_cols = [c for c in df.columns if c not in EVALUATED]
        contract_cols = _contract_columns(bronze_cols)
        keys = lambda: self._silver().select("transaction_id", "content_hash")  # noqa: E731
        batch = classify(df, keys, self.outputs.silver_hits)
        try:
            stats = self._stats(batch.rows)
            counts = stats["counts"]
            rejected = counts[REJECTED] + counts[CONFLICT]
            rows_read = batch.rows_read
            if rows_read != counts[INSERT] + rejected + counts[DUPLICATE]:
                raise TxnError(
                    f"Batch {batch_id} does not reconcile: {rows_read} bronze rows read, but "
                    f"{counts[INSERT]} inserted + {rejected} rejected + {counts[DUPLICATE]} "
                    "duplicates; nothing of the batch was written."
                )
            self.rules.check_fail_ratios(stats["warned_by_rule"], rows_read, batch_id)
            versions = self.lineage.versions(stats["ranges"])
            stats["seconds"] = time.monotonic() - started
            self._write(
                _Batch(
                    batch_id, bronze_cols, contract_cols, batch.rows, stats, versions,
                    refined_ts,
                )
            )  # fmt: skip
        finally:
            batch.release()
        seconds = time.monotonic() - started
        self._report(batch_id, rows_read, stats, versions, seconds)

    def _write(self, batch: _Batch) -> None:
        from pyspark.sql import functions as F

        counts, classified, stats = batch.stats["counts"], batch.rows, batch.stats
        per_batch = {"batch_id": batch.batch_id, "refined_ts": batch.refined_ts}
        rejects = None
        if rejected := counts[REJECTED] + counts[CONFLICT]:
            frame = classified.where(F.col(OUTCOME).isin(REJECTED, CONFLICT))
            if counts[CONFLICT] > stats["history_conflicts"]:
                frame = with_batch_details(frame, classified, batch.contract_cols)
            if stats["history_conflicts"]:
                frame = with_history_details(frame, self._silver(), batch.contract_cols)
            bronze_row = [f"`{c}`" for c in batch.bronze_cols]
            rejects = Rows(SILVER_REJECTS_TABLE.project(frame, bronze_row, per_batch), rejected)
        inserted = SILVER_TABLE.project(
            classified.where(F.col(OUTCOME) == INSERT).withColumn("rule_warnings", F.col(WARNED)),
            [f"`{c}`" for c in batch.contract_cols],
            per_batch,
        )
        audit = self._audit_row(batch)
        rules = self.rules.rules
        meta = {
            "rules_version": rules.version,
            "rules_sha256": rules.digest,
            "bronze_versions": batch.versions,
            "counts": {k: audit[k] for k in ("rows_read", "inserted", "duplicates_dropped")}
            | {"conflicts": counts[CONFLICT], "rejected": audit["rejected"]},
            "event_time": stats["event_time"].to_json(),
        }
        silver = Rows(inserted, counts[INSERT])
        self.outputs.write(batch.batch_id, rejects, audit, silver, meta, self.emit)

    def _audit_row(self, batch: _Batch) -> dict[str, Any]:
        counts, stats, rules = batch.stats["counts"], batch.stats, self.rules.rules
        return SILVER_AUDIT_TABLE.row(
            {
                "batch_id": batch.batch_id,
                "refined_ts": batch.refined_ts,
                "rows_read": sum(counts.values()),
                "inserted": counts[INSERT],
                "duplicates_dropped": counts[DUPLICATE],
                "conflicts": counts[CONFLICT],
                "rejected": counts[REJECTED] + counts[CONFLICT],
                "rejected_by_rule": stats["rejected_by_rule"],
                "warned_by_rule": stats["warned_by_rule"],
                "late": stats["late"],
                "bronze_versions": batch.versions,
                "reconciled": True,
                "rules_version": f"{rules.version} (sha256 {rules.digest})",
                "seconds": round(stats["seconds"], 3),
            }
        )

    def _report(self, batch_id, rows_read, stats, versions, seconds) -> None:
        c = stats["counts"]
        rejected = c[REJECTED] + c[CONFLICT]
        self.totals["batches"] += 1
        self.totals["read"] += rows_read
        self.totals["inserted"] += c[INSERT]
        self.totals["duplicates"] += c[DUPLICATE]
        self.totals["rejected"] += rejected
        rules = ", ".join(f"{k}={v}" for k, v in stats["rejected_by_rule"].items()) or "none"
        span = f"{versions[0]}..{versions[-1]}" if versions else "none"
        now_ms = time.time_ns() // 1_000_000
        p50 = stats["event_time"].p50_ms
        # Silver and the audit commit every batch (silver's commit marks it done).
        committed = [SILVER_AUDIT_TABLE.name, SILVER_TABLE.name]
        self.record(
            BatchFigures(
                "silver",
                rows_in=rows_read,
                rows_out={SILVER_TABLE.name: c[INSERT], SILVER_REJECTS_TABLE.name: rejected},
                seconds=seconds,
                rejected=stats["rejected_by_rule"],
                duplicates=c[DUPLICATE],
                latency_seconds={} if p50 is None else {"silver": (now_ms - p50) / 1000},
                committed=(*committed, *([SILVER_REJECTS_TABLE.name] if rejected else [])),
            )
        )
        self.emit(
            f"batch {batch_id}: {rows_read} rows in {seconds:.1f} s (bronze versions {span}); "
            f"silver +{c[INSERT]} ({stats['late']} late), duplicates dropped {c[DUPLICATE]}, "
            f"rejected {rejected} ({rules}); reconciled: {rows_read} = {c[INSERT]} + "
            f"{rejected} + {c[DUPLICATE]}; event age at commit "
            f"{stats['event_time'].ages(time.time_ns() // 1_000_000)}"
        )

    # ------------------------------------------------------------------ running

    def _start(self):
        cfg = self.cfg
        frame = delta_stream(self.spark, cfg.bronze_path, cfg.max_files_per_trigger)
        return self.start(self._evaluate(frame), cfg.checkpoint_path, cfg)

    def begin(self, emit: Emit):
        """Create the tables (the first time), then start the query."""
        cfg = self.cfg
        self.prepare_once(emit)
        query = self._start()
        emit(
            f"started: {cfg.bronze_path} -> {cfg.silver_path} (rejects {cfg.rejects_path}, "
            f"audit {cfg.audit_path}), checkpoint {cfg.checkpoint_path}, "
            + ("available-now" if cfg.available_now else f"trigger every {cfg.trigger}")
        )
        return query

    def restart_after(self, error: BaseException, emit: Emit) -> bool:
        """True when bronze gained columns: the Delta source stops, and a new query reads the
        new schema (the tables are prepared for it here)."""
        if not self._restarts.after(error):
            return False
        emit("bronze's schema changed: restarting the query with the new columns")
        self.prepare(emit)
        return True


def _contract_columns(columns: list[str]) -> list[str]:
    """Bronze's contract columns (every column that is not bronze metadata), in order."""
    return [c for c in columns if c not in _BRONZE_META and not c.startswith("_")]
