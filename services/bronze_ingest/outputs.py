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

from txn_contract.errors import ConfigError
from txn_lake import BRONZE, QUARANTINE, Lake
from txn_lake import tables as lake_tables
from txn_lake.facts import table_facts
from txn_lake.outputs import StreamOutput, committed_end_offsets, merge_offsets
from txn_lake.writes import ensure_table, set_properties

from .writer_schemas import IdVerdict

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["JOB", "BatchPlan", "BronzeOutputs"]

JOB = "bronze_ingest"
log = logging.getLogger("bronze_ingest")


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


class BronzeOutputs:
    """Creates the tables, evolves bronze's schema, and appends each batch exactly once."""

    def __init__(self, spark: SparkSession, lake: Lake, subject: str) -> None:
        self.spark = spark
        self.subject = subject
        self.bronze = StreamOutput(lake, JOB, BRONZE)
        self.quarantine = StreamOutput(lake, JOB, QUARANTINE)
        self.end_offsets: dict[str, dict[str, int]] = {}
        self._columns: set[str] = set()
        self._versions: set[int] = set()

    # ------------------------------------------------------------------ start-up

    def ensure(
        self, reader_schema_str: str, reader_version: int, emit: Callable[[str], None]
    ) -> None:
        """Create both tables with their schemas if missing, then load what they hold."""
        props = {lake_tables.PROP_SUBJECT: self.subject}
        created = ensure_table(
            self.spark,
            self.bronze.path,
            lake_tables.bronze_schema(self.spark, reader_schema_str),
            lake_tables.PARTITION_BY,
            {
                **props,
                lake_tables.PROP_LAYER: BRONZE,
                lake_tables.PROP_CONTRACT_VERSIONS: str(reader_version),
            },
            lake_tables.table_comment(BRONZE, self.subject),
        )
        if created:
            emit(f"created Delta table {self.bronze.path} (contract version {reader_version})")
        if ensure_table(
            self.spark,
            self.quarantine.path,
            lake_tables.quarantine_schema(),
            lake_tables.PARTITION_BY,
            {**props, lake_tables.PROP_LAYER: QUARANTINE},
            lake_tables.table_comment(QUARANTINE, self.subject),
        ):
            emit(f"created Delta table {self.quarantine.path}")
        facts = table_facts(BRONZE, self.bronze.path, history=0)
        self._columns = {name for name, _, _ in facts.columns}
        seen = facts.properties.get(lake_tables.PROP_CONTRACT_VERSIONS, "")
        self._versions = {int(v) for v in seen.split(",") if v.strip()}
        _, offsets = committed_end_offsets([self.bronze, self.quarantine])
        self.end_offsets = offsets or {}

    def replayed_plan(self, batch_id: int, resolver) -> BatchPlan | None:
        """The plan a batch committed on its first attempt, or None for a new batch.

        Refuses a checkpoint that is behind the tables: Delta would skip every batch id up to
        the last committed one, advancing offsets while writing nothing.
        """
        committed = {out.table: out.committed_batch() for out in (self.bronze, self.quarantine)}
        last = max((v for v in committed.values() if v is not None), default=None)
        if last is None or batch_id > last:
            return None
        if batch_id < last:
            raise ConfigError(
                "--checkpoint",
                f"the lake already holds batches up to {last} of {JOB}, but the checkpoint "
                f"starts again at batch {batch_id}; those batch ids would be skipped. Use the "
                "checkpoint that wrote this lake, or a new --lake",
            )
        for out in (self.bronze, self.quarantine):
            info = out.batch_commit(batch_id) if committed[out.table] == batch_id else None
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

    def write(
        self,
        batch_id: int,
        plan: BatchPlan,
        bronze_df: DataFrame | None,
        quarantine_df: DataFrame | None,
        ranges: dict[str, dict[str, list[int]]],
        versions: set[int],
    ) -> None:
        """Append the batch's rows to each output that has any; record the plan and offsets."""
        end = merge_offsets(
            self.end_offsets,
            {t: {p: r[1] for p, r in parts.items()} for t, parts in ranges.items()},
        )
        meta = {**plan.to_json(), "offsets": ranges, "end_offsets": end}
        if quarantine_df is not None:
            self.quarantine.append(quarantine_df, batch_id, meta)
        if bronze_df is not None:
            evolve = self.new_columns(bronze_df)
            self.bronze.append(bronze_df, batch_id, meta, merge_schema=bool(evolve))
            self._columns.update(evolve)
        self.end_offsets = end
        if not versions <= self._versions:
            self._versions |= versions
            set_properties(
                self.spark,
                self.bronze.path,
                {
                    lake_tables.PROP_CONTRACT_VERSIONS: ",".join(
                        str(v) for v in sorted(self._versions)
                    )
                },
            )
