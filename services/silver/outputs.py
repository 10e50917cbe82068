"""silver-refine's three Delta outputs and the order in which a batch commits to them.

Rejects and the audit are appended first, silver last, each with Delta's idempotent writes
(``txnAppId`` per output, ``txnVersion`` = the batch id). Silver's commit is the batch's
completion mark: it is made for every batch, even one with no new row, so "silver committed
batch N" means batch N is done. Until then silver is unchanged, so a re-run classifies the batch
against the same silver and writes exactly what the killed attempt would have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from txn_contract import SUBJECT
from txn_contract.errors import ConfigError
from txn_contract.rules import CONFLICT_RULE, RuleSet
from txn_lake import tables as lake_tables
from txn_lake.facts import table_facts
from txn_lake.layout import BRONZE, SILVER, SILVER_AUDIT, SILVER_REJECTS, Lake
from txn_lake.outputs import StreamOutput
from txn_lake.writes import ensure_table, set_properties

from .config import JOB

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["HASH_DEFINITION", "SilverOutputs"]

HASH_DEFINITION = "sha256(to_json(contract fields, nulls omitted, timestamps in microseconds))"
_CONFLICT_DOC = (
    "the transaction_id was seen first with other content (the first-seen row stays in silver)."
)


OPTIMIZE_WRITE = "delta.autoOptimize.optimizeWrite"


class SilverOutputs:
    """Creates silver, silver_rejects and silver_audit, and commits each batch to them once."""

    def __init__(self, spark: SparkSession, lake: Lake, rules: RuleSet) -> None:
        self.spark = spark
        self.rules = rules
        self.silver = StreamOutput(lake, JOB, SILVER)
        self.rejects = StreamOutput(lake, JOB, SILVER_REJECTS)
        self.audit = StreamOutput(lake, JOB, SILVER_AUDIT)
        self.bronze_path = lake.table_path(BRONZE)
        self._columns: dict[str, set[str]] = {}

    def _properties(self, layer: str) -> dict[str, str]:
        bronze = table_facts(BRONZE, self.bronze_path, history=0).properties
        props = {lake_tables.PROP_LAYER: layer, **self.rules.properties()}
        for key in (lake_tables.PROP_SUBJECT, lake_tables.PROP_CONTRACT_VERSIONS):
            if key in bronze:
                props[key] = bronze[key]
        if layer == SILVER:
            props[lake_tables.PROP_HASH] = HASH_DEFINITION
            # Measured (bench_silver.py --write-modes, docs/performance.md): optimized writes
            # give one file per event_date per batch (2 files for 1.2M rows against 7 without,
            # and auto-compaction's in-batch OPTIMIZE made its batches the slowest).
            props[OPTIMIZE_WRITE] = "true"
        return props

    def ensure(self, bronze_schema: StructType, contract_cols: list[str], emit) -> None:
        """Create the tables if missing (schemas from bronze's), and record the rules applied."""
        from pyspark.sql.types import StructType

        subject = table_facts(BRONZE, self.bronze_path, history=0).properties.get(
            lake_tables.PROP_SUBJECT, SUBJECT
        )
        contract = StructType([bronze_schema[c] for c in contract_cols])
        docs = {r.id: r.doc for r in self.rules.rules} | {CONFLICT_RULE: _CONFLICT_DOC}
        specs = (
            (self.silver, lake_tables.silver_schema(contract), lake_tables.SILVER_PARTITION_BY),
            (
                self.rejects,
                lake_tables.silver_rejects_schema(bronze_schema, docs),
                lake_tables.SILVER_PARTITION_BY,
            ),
            (self.audit, lake_tables.silver_audit_schema(), ()),
        )
        for out, schema, partition_by in specs:
            props = self._properties(out.table)
            if ensure_table(
                self.spark,
                out.path,
                schema,
                partition_by,
                props,
                lake_tables.table_comment(out.table, subject),
            ):
                emit(f"created Delta table {out.path}")
            else:
                current = table_facts(out.table, out.path, history=0).properties
                changed = {k: v for k, v in props.items() if current.get(k) != v}
                set_properties(self.spark, out.path, changed)
            facts = table_facts(out.table, out.path, history=0)
            self._columns[out.table] = {name for name, _, _ in facts.columns}

    def check_batch(self, batch_id: int) -> bool:
        """True when silver already committed ``batch_id`` (a re-run of a finished batch).

        Refuses a checkpoint that is behind silver: Delta would skip those batch ids.
        """
        last = self.silver.committed_batch()
        if last is None or batch_id > last:
            return False
        if batch_id < last:
            raise ConfigError(
                "--checkpoint",
                f"the lake already holds batches up to {last} of {JOB}, but the checkpoint "
                f"starts again at batch {batch_id}; those batch ids would be skipped. Use the "
                "checkpoint that wrote this lake, or a new --lake",
            )
        return True

    def write(
        self,
        batch_id: int,
        rejects: DataFrame | None,
        audit: DataFrame,
        silver: DataFrame,
        meta: dict[str, Any],
        emit: Callable[[str], None],
    ) -> None:
        """Rejects (when any), then the audit, then silver: the order exactly-once relies on."""
        if rejects is not None:
            self._append(self.rejects, rejects, batch_id, meta, emit)
        self._append(self.audit, audit, batch_id, meta, emit)
        self._append(self.silver, silver, batch_id, meta, emit)

    def _append(self, out: StreamOutput, df: DataFrame, batch_id: int, meta, emit) -> None:
        known = self._columns.get(out.table, set())
        added = [c for c in df.columns if c not in known]
        if added and known:
            emit(f"{out.table} gains column(s) {', '.join(added)} (bronze's schema evolved)")
        out.append(df, batch_id, meta, merge_schema=bool(added))
        self._columns[out.table] = known | set(df.columns)
