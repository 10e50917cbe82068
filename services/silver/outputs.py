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
from txn_contract.rules import CONFLICT_RULE, RuleSet
from txn_lake.facts import table_facts
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

__all__ = ["SilverOutputs"]

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
        commit is the batch's completion mark, so silver alone is checked.
        """
        return rerun_of_committed((self.silver,), batch_id)

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
