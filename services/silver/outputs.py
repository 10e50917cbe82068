"""silver-refine's three Delta outputs and the order in which a batch commits to them.

Rejects and the audit are appended first, silver last, each with Delta's idempotent writes
(``txnAppId`` per output, ``txnVersion`` = the batch id). Silver's commit is the batch's
completion mark: it is made for every batch, even one with no new row, so "silver committed
batch N" means batch N is done. Until then silver is unchanged, so a re-run classifies the batch
against the same silver and writes exactly what the killed attempt would have.

A batch's rows for an output go through the driver when they are few (the audit's one row,
a small batch's silver rows and rejects): collected as Arrow and committed by delta-rs with the
``txn`` action and ``userMetadata`` a Spark append records, skipped the same way when the batch
is committed already (``StreamOutput.append(on_driver=True)``). Through Spark each cost a write
job and, for Delta's idempotency check, a reconstruction of the table's state in three more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from txn_contract import SUBJECT
from txn_contract.rules import CONFLICT_RULE, RuleSet
from txn_lake.facts import query_table, table_facts
from txn_lake.layout import Lake
from txn_lake.outputs import StreamOutput, rerun_of_committed
from txn_lake.tables import (
    BRONZE_TABLE,
    PROP_CONTRACT_VERSIONS,
    PROP_SUBJECT,
    SILVER_AUDIT_TABLE,
    SILVER_REJECTS_TABLE,
    SILVER_TABLE,
)
from txn_lake.writes import set_properties

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["DRIVER_WRITE_ROWS", "ROWS_PER_FILE", "Rows", "SilverOutputs"]

# Up to this many rows an output's batch goes through the driver: collected as Arrow and
# appended with delta-rs (a Spark append cost a write job plus, for its idempotency check, a
# reconstruction of the table's state in three more, every batch).
DRIVER_WRITE_ROWS = 100_000
# Rows per file of a larger batch, written by Spark (about 40 MB of Parquet in silver).
ROWS_PER_FILE = 500_000


class Rows(NamedTuple):
    """An output's rows for a batch: the frame and how many rows it holds."""

    frame: DataFrame
    count: int


_CONFLICT_DOC = (
    "the transaction_id was seen first with other content (the first-seen row stays in silver)."
)


def _rules_comment(prefix: str, rules: dict[str, str]) -> str:
    return prefix + " " + "; ".join(f"{rid}: {doc}" for rid, doc in rules.items())


class SilverOutputs:
    """Creates silver, silver_rejects and silver_audit, and commits each batch to them once."""

    def __init__(self, spark: SparkSession, lake: Lake, rules: RuleSet) -> None:
        self.spark = spark
        self.rules = rules
        specs = (SILVER_TABLE, SILVER_REJECTS_TABLE, SILVER_AUDIT_TABLE)
        self.silver, self.rejects, self.audit = (StreamOutput(lake, s) for s in specs)
        self.bronze_path = BRONZE_TABLE.path(lake)
        self._columns: dict[str, set[str]] = {}
        self._done: int | None = None  # silver's last committed batch, once this process knows

    def _runtime_properties(self) -> dict[str, str]:
        """The rules applied, and bronze's subject and contract versions."""
        bronze = table_facts(BRONZE_TABLE.name, self.bronze_path, history=0).properties
        props = dict(self.rules.properties())
        for key in (PROP_SUBJECT, PROP_CONTRACT_VERSIONS):
            if key in bronze:
                props[key] = bronze[key]
        return props

    def ensure(self, bronze_schema: StructType, contract_cols: list[str], emit) -> None:
        """Create the tables if missing (schemas from bronze's), and record the rules applied."""
        from pyspark.sql.types import StructType

        runtime = self._runtime_properties()
        subject = runtime.get(PROP_SUBJECT, SUBJECT)
        contract = StructType([bronze_schema[c] for c in contract_cols])
        docs = {r.id: r.doc for r in self.rules.rules} | {CONFLICT_RULE: _CONFLICT_DOC}
        rules = _rules_comment("Ids of the rules the row violates.", docs)
        schemas = (
            (self.silver, SILVER_TABLE.schema(contract)),
            (self.rejects, SILVER_REJECTS_TABLE.schema(bronze_schema, {"rules": rules})),
            (self.audit, SILVER_AUDIT_TABLE.schema()),
        )
        for out, schema in schemas:
            if out.ensure(self.spark, schema, subject, runtime):
                emit(f"created Delta table {out.path}")
            else:
                current = table_facts(out.table, out.path, history=0).properties
                props = out.spec.table_properties(**runtime)
                changed = {k: v for k, v in props.items() if current.get(k) != v}
                set_properties(self.spark, out.path, changed)
            facts = table_facts(out.table, out.path, history=0)
            self._columns[out.table] = {name for name, _, _ in facts.columns}

    def check_batch(self, batch_id: int) -> bool:
        """True when silver already committed ``batch_id`` (a re-run of a finished batch).

        Refuses a checkpoint that is behind silver: Delta would skip those batch ids. Silver's
        commit is the batch's completion mark, so silver alone is checked: in its log, unless
        this process committed a batch below ``batch_id`` itself (only this job writes silver).
        """
        if self._done is not None and batch_id > self._done:
            return False
        rerun = rerun_of_committed((self.silver,), batch_id)
        if rerun:
            self._done = batch_id
        return rerun

    def silver_hits(self, ids: list[str]):
        """Silver's ``transaction_id`` and ``content_hash`` of ``ids`` (an Arrow table), read
        with delta-rs at silver's current version: no Spark job. One scan of the two columns,
        filtered by a hash set of the ids (a SQL IN list cost its parser time per literal:
        1.7 s for 20,000 ids). delta-rs' engine scans (txn_lake.facts.query_table: a pyarrow
        dataset scan aborts the process at exit here)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        schema = pa.schema([("transaction_id", pa.string()), ("content_hash", pa.binary())])
        if not ids:
            return schema.empty_table()
        both = query_table(self.silver.path, "SELECT transaction_id, content_hash FROM t")
        # DataFusion may answer with string and binary views: the plain types for Arrow compute.
        both = both.select(schema.names).cast(schema)
        return both.filter(pc.is_in(both.column("transaction_id"), value_set=pa.array(ids)))

    def write(
        self,
        batch_id: int,
        rejects: Rows | None,
        audit: dict[str, Any],
        silver: Rows,
        meta: dict[str, Any],
        emit: Callable[[str], None],
    ) -> None:
        """Rejects (when any), then the audit (``audit`` is its row), then silver: the order
        exactly-once relies on."""
        if rejects is not None:
            self._append(self.rejects, rejects, batch_id, meta, emit)
        frame = self.spark.createDataFrame([audit], SILVER_AUDIT_TABLE.schema())
        self._append(self.audit, Rows(frame, 1), batch_id, meta, emit)
        self._append(self.silver, silver, batch_id, meta, emit)
        self._done = batch_id

    def _append(self, out: StreamOutput, rows: Rows, batch_id: int, meta, emit) -> None:
        """Up to :data:`DRIVER_WRITE_ROWS` rows through the driver (Arrow, delta-rs); more, or new
        columns (bronze's schema evolved: Spark's ``mergeSchema`` takes their comments), with
        Spark, in as many tasks as :data:`ROWS_PER_FILE` asks for."""
        df, known = rows.frame, self._columns.get(out.table, set())
        added = [c for c in df.columns if c not in known]
        if added and known:
            emit(f"{out.table} gains column(s) {', '.join(added)} (bronze's schema evolved)")
        if rows.count <= DRIVER_WRITE_ROWS and set(df.columns) == known:
            out.append(df, batch_id, meta, on_driver=True)
            return
        # coalesce merges the batch's partitions without a shuffle; a task writes one file per
        # event_date it holds. Delta's optimized write (the table's setting for other writers)
        # shuffled every row to put each date's rows in one task, whatever their number.
        spread = df.coalesce(max(1, -(-rows.count // ROWS_PER_FILE)))
        options = {"optimizeWrite": "false"}
        out.append(spread, batch_id, meta, merge_schema=bool(added), options=options)
        self._columns[out.table] = known | set(df.columns)
