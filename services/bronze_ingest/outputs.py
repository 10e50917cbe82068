"""Bronze's two Delta outputs (bronze, quarantine) and what their history records per batch.

Each batch's plan (the schema-id verdicts and the reader version it was decoded with) is
committed in the ``userMetadata`` of the batch's commits, with its rows. A batch re-run after a
crash is decoded with the plan its first attempt committed, so an id registered in between
cannot send a message to neither output. A batch's files are written by the decoding pass and
committed afterwards, each output exactly once per batch id (:mod:`bronze_ingest.files`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from txn_lake import Lake
from txn_lake.event_time import EventTime
from txn_lake.facts import is_delta_table
from txn_lake.outputs import (
    StreamOutput,
    committed_end_offsets,
    merge_offsets,
    rerun_of_committed,
)
from txn_lake.tables import BRONZE_TABLE, PROP_CONTRACT_VERSIONS, PROP_SUBJECT, QUARANTINE_TABLE
from txn_lake.writes import DEFAULT_TABLE_PROPERTIES

from .files import FileOutput, Staged
from .writer_schemas import IdVerdict, WriterSchemaResolver

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructField, StructType

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
    """One decoded batch, ready to commit: each output's staged files (None when it has no
    row), the plan it was decoded with, the Kafka offsets it read, the contract versions of its
    rows, their event time, and the bronze rows' schema (for schema evolution)."""

    batch_id: int
    plan: BatchPlan
    bronze: Staged | None
    quarantine: Staged | None
    ranges: dict[str, dict[str, list[int]]]
    versions: set[int]
    event_time: EventTime
    bronze_schema: StructType | None = None


class BronzeOutputs:
    """Creates the tables (or brings an existing table's properties up to date), evolves
    bronze's schema, and commits each batch's files exactly once per output, all with delta-rs
    (Spark only writes the files)."""

    def __init__(self, spark: SparkSession, lake: Lake, subject: str) -> None:
        self.spark = spark
        self.subject = subject
        self.bronze, self.quarantine = (
            StreamOutput(lake, spec) for spec in (BRONZE_TABLE, QUARANTINE_TABLE)
        )
        self.files = {out.table: FileOutput(out) for out in (self.bronze, self.quarantine)}
        self.end_offsets: dict[str, dict[str, int]] = {}
        self._columns: set[str] = set()
        self._versions: set[int] = set()

    # ------------------------------------------------------------------ start-up

    def ensure(
        self, reader_schema_str: str, reader_version: int, emit: Callable[[str], None]
    ) -> None:
        """Create both tables with their schemas if missing, else set the properties whose
        values changed (a lake written by an earlier version of the job gets the new ones),
        then load what the tables hold."""
        from txn_lake.columns import contract_columns

        subject = {PROP_SUBJECT: self.subject}
        versions = {PROP_CONTRACT_VERSIONS: str(reader_version)}
        for out, runtime in ((self.bronze, {**subject, **versions}), (self.quarantine, subject)):
            if is_delta_table(out.path):
                self._update_properties(out, emit)
                continue
            leading = (
                contract_columns(self.spark, reader_schema_str) if out is self.bronze else None
            )
            properties = {**DEFAULT_TABLE_PROPERTIES, **out.spec.table_properties(**runtime)}
            schema = out.spec.schema(leading)
            if self.files[out.table].create(schema, properties, out.spec.comment(self.subject)):
                version = f" (contract version {reader_version})" if out is self.bronze else ""
                emit(f"created Delta table {out.path}{version}")
        # From the log with delta-rs: the facts' file listing would walk the whole table.
        bronze = self.files[BRONZE_TABLE.name].table()
        self._columns = {f.name for f in bronze.schema().fields}
        seen = bronze.metadata().configuration.get(PROP_CONTRACT_VERSIONS) or ""
        self._versions = {int(v) for v in seen.split(",") if v.strip()}
        _, offsets = committed_end_offsets([self.bronze, self.quarantine])
        self.end_offsets = offsets or {}

    def _update_properties(self, out: StreamOutput, emit: Callable[[str], None]) -> None:
        """Set the static properties (the lake's defaults and the table's own) that the table
        lacks or holds with another value; the run-time ones (subject, versions) are kept."""
        current = self.files[out.table].table().metadata().configuration
        wanted = {**DEFAULT_TABLE_PROPERTIES, **out.spec.table_properties()}
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        if changed:
            self.files[out.table].set_properties(changed)
            emit(f"{out.path}: set table properties {', '.join(sorted(changed))}")

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

    def committed(self, batch_id: int) -> set[str]:
        """The outputs (table names) that have committed ``batch_id`` (a re-run's)."""
        out = set()
        for name, files in self.files.items():
            done = files.committed_batch()
            if done is not None and done >= batch_id:
                out.add(name)
        return out

    def stage(self, table: str, batch_id: int, partition: dict[str, str]) -> Staged:
        """A new directory for this attempt's files of ``batch_id`` in output ``table``."""
        return self.files[table].stage_dir(batch_id, partition)

    def new_columns(self, bronze_schema: StructType) -> list[StructField]:
        """Fields of ``bronze_schema`` that the bronze table does not have yet."""
        return [f for f in bronze_schema.fields if f.name not in self._columns]

    def write(self, batch: BronzeBatch) -> None:
        """Commit the batch's staged files to each output that has any (quarantine first);
        record the plan, offsets and event time with them."""
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
            self.files[QUARANTINE_TABLE.name].commit(batch.quarantine, batch.batch_id, meta)
        if batch.bronze is not None:
            if batch.bronze_schema is not None:
                self._add_columns(self.new_columns(batch.bronze_schema))
            self.files[BRONZE_TABLE.name].commit(batch.bronze, batch.batch_id, meta)
        self.end_offsets = end
        if not batch.versions <= self._versions:
            self._versions |= batch.versions
            versions = ",".join(str(v) for v in sorted(self._versions))
            self.files[BRONZE_TABLE.name].set_properties({PROP_CONTRACT_VERSIONS: versions})

    def _add_columns(self, fields: list[StructField]) -> None:
        """Schema evolution: add ``fields`` (nullable, each with its comment) to bronze, in a
        commit of its own before the batch's, which then holds their values."""
        self.files[BRONZE_TABLE.name].add_columns(fields)
        self._columns.update(f.name for f in fields)
