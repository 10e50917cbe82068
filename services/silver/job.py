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
from txn_lake.event_time import EventTime, event_time_aggregates
from txn_lake.tables import (
    BRONZE_TABLE,
    SILVER_AUDIT_TABLE,
    SILVER_REFINE,
    SILVER_REJECTS_TABLE,
    SILVER_TABLE,
)
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
    with_history_details,
)
from .lineage import BronzeVersions
from .outputs import SilverOutputs
from .quality import WARNED, CompiledRules

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SilverJob"]

log = logging.getLogger(__name__)
Emit = Callable[[str], None]
_BRONZE_META = set(BRONZE_TABLE.column_names)
_SCHEMA_CHANGED = "DELTA_SCHEMA_CHANGED"
_MAX_RESTARTS = 20


@dataclass(frozen=True)
class _Batch:
    """A classified batch on its way to the outputs."""

    batch_id: int
    bronze_cols: list[str]
    contract_cols: list[str]
    rows: DataFrame
    """Every bronze row of the batch with its outcome (cached)."""
    silver: DataFrame
    """Silver as of the batch's start (for conflicts with history)."""
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
        self.emit: Emit = print
        self._prepared = False
        self._restarts = 0

    def prepare(self, emit: Emit) -> None:
        """Compile the rules against bronze's schema and create the tables if missing."""
        bronze = self.spark.read.format("delta").load(str(self.cfg.bronze_path))
        self.rules.check_against(bronze)
        self.outputs.ensure(bronze.schema, _contract_columns(bronze.columns), emit)

    # ------------------------------------------------------------------ one batch

    def _evaluate(self, df: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        late_us = int(self.cfg.lateness_seconds * 1_000_000)
        ev = self.rules.evaluate(df).withColumns(
            {
                "content_hash": content_hash(_contract_columns(df.columns)),
                "is_late": (F.unix_micros("ingest_ts") - F.unix_micros("timestamp")) > late_us,
                "event_date": F.to_date("timestamp"),
                "event_hour": F.hour("timestamp"),
            }
        )
        # Not persisted here: `classify` evaluates every row once and caches the result.
        return ev

    def _stats(self, classified: DataFrame) -> dict[str, Any]:
        """Counts per outcome, late inserts, rejects per rule, offset spans: one Spark job
        (plus one for the warn rules' counts when there are any)."""
        from collections import Counter

        from pyspark.sql import functions as F

        counts = {INSERT: 0, DUPLICATE: 0, CONFLICT: 0, REJECTED: 0}
        late = history_conflicts = 0
        by_rule: Counter[str] = Counter()
        ranges: dict[tuple[str, int], tuple[int, int]] = {}
        groups = classified.groupBy(
            OUTCOME, "_conflict_in_silver", "kafka_topic", "kafka_partition"
        ).agg(
            F.count("*").alias("n"),
            F.sum(F.when(F.col("is_late"), 1).otherwise(0)).alias("late"),
            F.min("kafka_offset").alias("lo"),
            F.max("kafka_offset").alias("hi"),
            # Only rejects have rules: collecting every insert's empty array cost a list per row.
            F.flatten(F.collect_list(F.when(F.size("rules") > 0, F.col("rules")))).alias("rules"),
            *event_time_aggregates(F.when(F.col(OUTCOME) == INSERT, F.col("timestamp"))),
        )
        rows = groups.collect()
        for r in rows:
            counts[r[OUTCOME]] += r["n"]
            late += r["late"] if r[OUTCOME] == INSERT else 0
            history_conflicts += r["n"] if r["_conflict_in_silver"] else 0
            by_rule.update(r["rules"])
            key = (r["kafka_topic"], r["kafka_partition"])
            lo, hi = ranges.get(key, (r["lo"], r["hi"]))
            ranges[key] = (min(lo, r["lo"]), max(hi, r["hi"]))
        warned = {}
        if self.rules.rules.by_action("warn") or self.rules.rules.by_action("fail"):
            exploded = classified.select(F.explode(WARNED).alias("rule")).groupBy("rule").count()
            warned = {r["rule"]: r["count"] for r in exploded.collect()}
        return {
            "counts": counts,
            "late": late,
            "history_conflicts": history_conflicts,
            "rejected_by_rule": dict(sorted(by_rule.items())),
            "warned_by_rule": dict(sorted(warned.items())),
            "ranges": ranges,
            "event_time": EventTime.of_groups(rows),
        }

    def process_batch(self, df: DataFrame, batch_id: int) -> None:
        """Classify one micro-batch and commit it; a batch silver already committed is a no-op."""
        started = time.monotonic()
        if self.outputs.check_batch(batch_id):
            self.emit(f"batch {batch_id}: already committed to silver (a re-run); skipped")
            return
        self._process(df, batch_id, started)

    def _process(self, df: DataFrame, batch_id: int, started: float) -> None:
        refined_ts = datetime.now(UTC)
        contract_cols = _contract_columns(df.columns)
        silver = self.spark.read.format("delta").load(str(self.cfg.silver_path))
        batch = classify(
            self._evaluate(df), silver.select("transaction_id", "content_hash"), contract_cols
        )
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
                    batch_id, df.columns, contract_cols, batch.rows, silver, stats, versions,
                    refined_ts,
                )
            )  # fmt: skip
        finally:
            batch.release()
        seconds = time.monotonic() - started
        self._report(batch_id, rows_read, stats, versions, seconds)

    def _write(self, batch: _Batch) -> None:
        from pyspark.sql import functions as F

        counts, classified = batch.stats["counts"], batch.rows
        per_batch = {"batch_id": batch.batch_id, "refined_ts": batch.refined_ts}
        rejects = None
        if counts[REJECTED] + counts[CONFLICT]:
            rejects = classified.where(F.col(OUTCOME).isin(REJECTED, CONFLICT))
            if batch.stats["history_conflicts"]:
                rejects = with_history_details(rejects, batch.silver, batch.contract_cols)
            bronze_row = [f"`{c}`" for c in batch.bronze_cols]
            rejects = SILVER_REJECTS_TABLE.project(rejects, bronze_row, per_batch)
        inserted = SILVER_TABLE.project(
            classified.where(F.col(OUTCOME) == INSERT).withColumn("rule_warnings", F.col(WARNED)),
            [f"`{c}`" for c in batch.contract_cols],
            per_batch,
        )
        audit_row = self._audit_row(batch)
        # One partition: a one-row frame of local[2] has an empty partition too, whose empty
        # Parquet file Delta leaves out of the log (an orphan that `describe` reports).
        audit = self.spark.createDataFrame([audit_row], SILVER_AUDIT_TABLE.schema()).coalesce(1)
        rules = self.rules.rules
        meta = {
            "rules_version": rules.version,
            "rules_sha256": rules.digest,
            "bronze_versions": batch.versions,
            "counts": {k: audit_row[k] for k in ("rows_read", "inserted", "duplicates_dropped")}
            | {"conflicts": counts[CONFLICT], "rejected": audit_row["rejected"]},
            "event_time": batch.stats["event_time"].to_json(),
        }
        self.outputs.write(batch.batch_id, rejects, audit, inserted, meta, self.emit)

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
        reader = self.spark.readStream.format("delta")
        if cfg.max_files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", str(cfg.max_files_per_trigger))
        return self.start(reader.load(str(cfg.bronze_path)), cfg.checkpoint_path, cfg)

    def begin(self, emit: Emit):
        """Create the tables (the first time), then start the query."""
        cfg = self.cfg
        if not self._prepared:
            self.emit = emit
            self.prepare(emit)
            self._prepared = True
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
        if _SCHEMA_CHANGED not in str(error):
            return False
        self._restarts += 1
        if self._restarts > _MAX_RESTARTS:
            raise TxnError(f"The silver query restarted {_MAX_RESTARTS} times on schema changes.")
        emit("bronze's schema changed: restarting the query with the new columns")
        self.prepare(emit)
        return True


def _contract_columns(columns: list[str]) -> list[str]:
    """Bronze's contract columns (every column that is not bronze metadata), in order."""
    return [c for c in columns if c not in _BRONZE_META and not c.startswith("_")]
