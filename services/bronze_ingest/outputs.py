"""Bronze's two Delta outputs (bronze, quarantine) and what their history records per batch.

Each batch's plan (the schema-id verdicts and the reader version it was decoded with) is
committed in the ``userMetadata`` of the batch's commits, with its rows. A batch re-run after a
crash is decoded with the plan its first attempt committed, so an id registered in between
cannot send a message to neither output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from txn_lake import Lake
from txn_lake.event_time import EventTime
from txn_lake.facts import table_facts
from txn_lake.outputs import (
    StreamOutput,
    committed_end_offsets,
    merge_offsets,
    rerun_of_committed,
)
from txn_lake.tables import BRONZE_TABLE, PROP_CONTRACT_VERSIONS, PROP_SUBJECT, QUARANTINE_TABLE
from txn_lake.writes import set_properties

from .writer_schemas import IdVerdict, WriterSchemaResolver

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["BatchPlan", "BronzeBatch", "BronzeOutputs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchPlan:
    """How a batch is decoded: the verdict per schema id and the reader (newest) version."""

    verdicts: dict[int, IdVerdict]
    reader_id: int

    def to_json(self) -> dict[str, Any]:
        return {
            "reader_schema_id": self.reader_id,
            "verdicts": {
                str(i): None if v.schema_str else [v.reason, v.detail]
                for i, v in sorted(self.verdicts.items())
            },
        }


@dataclass(frozen=True)
class BronzeBatch:
    """One decoded batch, ready to commit: its frames (None when it has no such row), the plan
    it was decoded with, the Kafka offsets it read and the contract versions of its rows."""

    batch_id: int
    plan: BatchPlan
    bronze: DataFrame | None
    quarantine: DataFrame | None
    ranges: dict[str, dict[str, list[int]]]
    versions: set[int]
    event_time: EventTime


class BronzeOutputs:
    """Creates the tables, evolves bronze's schema, and appends each batch exactly once."""

    def __init__(self, spark: SparkSession, lake: Lake, subject: str) -> None:
        self.spark = spark
        self.subject = subject
        self.bronze, self.quarantine = (
            StreamOutput(lake, spec) for spec in (BRONZE_TABLE, QUARANTINE_TABLE)
        )
        self.end_offsets: dict[str, dict[str, int]] = {}
        self._columns: set[str] = set()
        self._versions: set[int] = set()

    # ------------------------------------------------------------------ start-up

    def ensure(
        self, reader_schema_str: str, reader_version: int, emit: Callable[[str], None]
    ) -> None:
        """Create both tables with their schemas if missing, then load what they hold."""
        from txn_lake.columns import contract_columns

        subject = {PROP_SUBJECT: self.subject}
        schema = BRONZE_TABLE.schema(contract_columns(self.spark, reader_schema_str))
        versions = {PROP_CONTRACT_VERSIONS: str(reader_version)}
        if self.bronze.ensure(self.spark, schema, self.subject, {**subject, **versions}):
            emit(f"created Delta table {self.bronze.path} (contract version {reader_version})")
        if self.quarantine.ensure(self.spark, QUARANTINE_TABLE.schema(), self.subject, subject):
            emit(f"created Delta table {self.quarantine.path}")
        facts = table_facts(BRONZE_TABLE.name, self.bronze.path, history=0)
        self._columns = {name for name, _, _ in facts.columns}
        seen = facts.properties.get(PROP_CONTRACT_VERSIONS, "")
        self._versions = {int(v) for v in seen.split(",") if v.strip()}
        _, offsets = committed_end_offsets([self.bronze, self.quarantine])
        self.end_offsets = offsets or {}

    def replayed_plan(self, batch_id: int, resolver: WriterSchemaResolver) -> BatchPlan | None:
        """The plan a batch committed on its first attempt, or None for a new batch.

        Refuses a checkpoint that is behind the tables: Delta would skip every batch id up to
        the last committed one, advancing offsets while writing nothing.
        """
        if not rerun_of_committed((self.bronze, self.quarantine), batch_id):
            return None
        for out in (self.bronze, self.quarantine):
            info = out.batch_commit(batch_id) if out.committed_batch() == batch_id else None
            if info is not None and info.user_metadata and "verdicts" in info.user_metadata:
                meta = info.user_metadata
                ok = [int(i) for i, v in meta["verdicts"].items() if v is None]
                verdicts = dict(resolver.resolve(ok)) if ok else {}
                for i, v in meta["verdicts"].items():
                    if v is not None:
                        verdicts[int(i)] = IdVerdict(int(i), None, v[0], v[1])
                log.info(
                    "batch %s: re-run after a restart, with the verdicts it committed", batch_id
                )
                return BatchPlan(verdicts, int(meta["reader_schema_id"]))
        return None

    # ------------------------------------------------------------------ per batch

    def new_columns(self, bronze_df: DataFrame) -> list[str]:
        """Columns of ``bronze_df`` that the bronze table does not have yet."""
        return [c for c in bronze_df.columns if c not in self._columns]

    def write(self, batch: BronzeBatch) -> None:
        """Append the batch's rows to each output that has any; record the plan and offsets."""
        end = merge_offsets(
            self.end_offsets,
            {t: {p: r[1] for p, r in parts.items()} for t, parts in batch.ranges.items()},
        )
        meta = {
            **batch.plan.to_json(),
            "offsets": batch.ranges,
            "end_offsets": end,
            "event_time": batch.event_time.to_json(),
        }
        if batch.quarantine is not None:
            self.quarantine.append(batch.quarantine, batch.batch_id, meta)
        if batch.bronze is not None:
            evolve = self.new_columns(batch.bronze)
            self.bronze.append(batch.bronze, batch.batch_id, meta, merge_schema=bool(evolve))
            self._columns.update(evolve)
        self.end_offsets = end
        if not batch.versions <= self._versions:
            self._versions |= batch.versions
            versions = ",".join(str(v) for v in sorted(self._versions))
            set_properties(self.spark, self.bronze.path, {PROP_CONTRACT_VERSIONS: versions})
