"""The silver streaming job: bronze Delta (as a stream) -> rules, dedup, event time -> silver,
silver_rejects and silver_audit, each exactly once per batch id."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from txn_contract.errors import TxnError
from txn_contract.rules import RuleSet
from txn_lake import BRONZE, Lake
from txn_lake import tables as lake_tables
from txn_lake.outputs import StreamOutput
from txn_runtime.streaming import await_query, start_stream

from .config import JOB, SilverSettings
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

log = logging.getLogger("txn_silver")
Emit = Callable[[str], None]
_BRONZE_META = {c.name for c in lake_tables.BRONZE_METADATA}
_SCHEMA_CHANGED = "DELTA_SCHEMA_CHANGED"
_MAX_RESTARTS = 20


class SilverJob:
    """One streaming query over the bronze table whose ``foreachBatch`` classifies each bronze
    row once and commits rejects, the audit and silver, in that order."""

    def __init__(self, config: SilverSettings, spark: SparkSession, rules: RuleSet) -> None:
        self.cfg = config
        self.spark = spark
        self.rules = CompiledRules(rules)
        lake = Lake(config.lake)
        self.outputs = SilverOutputs(spark, lake, rules)
        bronze_app = StreamOutput(lake, "bronze_ingest", BRONZE).app_id
        self.lineage = BronzeVersions(config.bronze_path, bronze_app)
        self.emit: Emit = print
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self.totals = {"batches": 0, "read": 0, "inserted": 0, "duplicates": 0, "rejected": 0}

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
        )
        for r in groups.collect():
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
        }

    def process_batch(self, df: DataFrame, batch_id: int) -> None:
        """Classify one micro-batch and commit it; a batch silver already committed is a no-op."""
        started = time.monotonic()
        try:
            if self.outputs.check_batch(batch_id):
                self.emit(f"batch {batch_id}: already committed to silver (a re-run); skipped")
                return
            self._process(df, batch_id, started)
        except TxnError as exc:
            self.failure = exc
            raise

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
                batch_id, df.columns, contract_cols, batch.rows, silver, stats, versions, refined_ts
            )
        finally:
            batch.release()
        seconds = time.monotonic() - started
        self._report(batch_id, rows_read, stats, versions, seconds)

    def _write(
        self, batch_id, bronze_cols, contract_cols, classified, silver, stats, versions, ts
    ) -> None:
        from pyspark.sql import functions as F

        counts = stats["counts"]
        extra = {"batch_id": F.lit(batch_id).cast("bigint"), "refined_ts": F.lit(ts)}
        rejects = None
        if counts[REJECTED] + counts[CONFLICT]:
            rejects = classified.where(F.col(OUTCOME).isin(REJECTED, CONFLICT))
            if stats["history_conflicts"]:
                rejects = with_history_details(rejects, silver, contract_cols)
            rejects = rejects.withColumns(extra).select(
                *[f"`{c}`" for c in bronze_cols],
                "rules",
                "detail",
                "batch_id",
                "event_date",
                "refined_ts",
            )
        lineage = [
            "event_date", "event_hour", "is_late", "rule_warnings", "kafka_partition",
            "kafka_offset", "kafka_timestamp", "schema_id", "ingest_ts", "content_hash",
            "batch_id", "refined_ts",
        ]  # fmt: skip
        inserted = (
            classified.where(F.col(OUTCOME) == INSERT)
            .withColumns({**extra, "rule_warnings": F.col(WARNED)})
            .select(*[f"`{c}`" for c in contract_cols], *lineage)
        )
        rules = self.rules.rules
        audit_row = {
            "batch_id": batch_id,
            "refined_ts": ts,
            "rows_read": sum(counts.values()),
            "inserted": counts[INSERT],
            "duplicates_dropped": counts[DUPLICATE],
            "conflicts": counts[CONFLICT],
            "rejected": counts[REJECTED] + counts[CONFLICT],
            "rejected_by_rule": stats["rejected_by_rule"],
            "warned_by_rule": stats["warned_by_rule"],
            "late": stats["late"],
            "bronze_versions": versions,
            "reconciled": True,
            "rules_version": f"{rules.version} (sha256 {rules.digest})",
            "seconds": round(stats["seconds"], 3),
        }
        from txn_lake.tables import silver_audit_schema

        # One partition: a one-row frame of local[2] has an empty partition too, whose empty
        # Parquet file Delta leaves out of the log (an orphan that `describe` reports).
        audit = self.spark.createDataFrame([audit_row], silver_audit_schema()).coalesce(1)
        meta = {
            "rules_version": rules.version,
            "rules_sha256": rules.digest,
            "bronze_versions": versions,
            "counts": {k: audit_row[k] for k in ("rows_read", "inserted", "duplicates_dropped")}
            | {"conflicts": counts[CONFLICT], "rejected": audit_row["rejected"]},
        }
        self.outputs.write(batch_id, rejects, audit, inserted, meta, self.emit)

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
            f"{rejected} + {c[DUPLICATE]}"
        )

    # ------------------------------------------------------------------ running

    def request_stop(self) -> None:
        """Ask the job to stop after the batch in progress (SIGTERM/SIGINT handler)."""
        self._stop.set()

    def _start(self):
        cfg = self.cfg
        reader = self.spark.readStream.format("delta")
        if cfg.max_files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", str(cfg.max_files_per_trigger))
        frame = reader.load(str(cfg.bronze_path))
        return start_stream(frame, JOB, self.process_batch, cfg.checkpoint_path, cfg)

    def run(self, emit: Emit) -> dict[str, int]:
        """Run until stopped (processing-time) or drained (available-now)."""
        self.emit = emit
        self.prepare(emit)
        cfg = self.cfg
        for _ in range(_MAX_RESTARTS):
            query = self._start()
            emit(
                f"started: {cfg.bronze_path} -> {cfg.silver_path} (rejects {cfg.rejects_path}, "
                f"audit {cfg.audit_path}), checkpoint {cfg.checkpoint_path}, "
                + ("available-now" if cfg.available_now else f"trigger every {cfg.trigger}")
            )
            if not self._await(query, emit):
                return dict(self.totals)
            # bronze gained columns: the Delta source stops; a new query reads the new schema
            emit("bronze's schema changed: restarting the query with the new columns")
            self.prepare(emit)
        raise TxnError(f"The silver query restarted {_MAX_RESTARTS} times on schema changes.")

    def _await(self, query, emit: Emit) -> bool:
        """Wait for the query; True when it stopped on a bronze schema change (restart it)."""
        error = await_query(query, self._stop, emit, lambda: self.failure)
        if error is None:
            return False
        if _SCHEMA_CHANGED in str(error):
            return True
        raise TxnError(
            f"The silver query failed: {_first_line(str(error))} The checkpoint is intact: "
            "fix the cause and start the job again to resume."
        ) from error


def _contract_columns(columns: list[str]) -> list[str]:
    """Bronze's contract columns (every column that is not bronze metadata), in order."""
    return [c for c in columns if c not in _BRONZE_META and not c.startswith("_")]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no detail"
