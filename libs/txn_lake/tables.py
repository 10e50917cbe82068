"""Every lake table declared once: its columns, partitioning, properties and the job that writes it.

A :class:`TableSpec` is the table as a unit (as Delta's ``DeltaTable`` is): the pipeline's
columns with their comments and sources, what comes before them (the contract's fields, or the
whole bronze row), the partition columns, the static properties, the description, and the
:class:`Job` that writes it, whose name is the Delta ``txnAppId`` stem exactly-once rests on.
The jobs build their output frames with :meth:`TableSpec.project` and :meth:`TableSpec.row`, so
adding a column is a change here and nowhere else.

Example::

    from txn_lake.tables import BRONZE_TABLE
    BRONZE_TABLE.app_id                  # "txn-pipeline.bronze_ingest.bronze"
    BRONZE_TABLE.path(Lake(Path("lake")))  # lake/bronze
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from txn_contract import wire

from .columns import Column, struct_of
from .layout import BRONZE, QUARANTINE, SILVER, SILVER_AUDIT, SILVER_REJECTS, Lake

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

__all__ = [
    "BRONZE_INGEST",
    "BRONZE_TABLE",
    "PROP_CONTRACT_VERSIONS",
    "PROP_HASH",
    "PROP_LAYER",
    "PROP_SUBJECT",
    "QUARANTINE_TABLE",
    "SILVER_AUDIT_TABLE",
    "SILVER_REFINE",
    "SILVER_REJECTS_TABLE",
    "SILVER_TABLE",
    "TABLES",
    "Job",
    "TableSpec",
    "table_comment",
]

# Table properties every lake table carries (``txn-lake describe`` shows them).
PROP_LAYER = "txn.layer"
PROP_SUBJECT = "txn.contract.subject"
PROP_CONTRACT_VERSIONS = "txn.contract.versions"
# The content hash's definition; a change would make old rows' hashes incomparable, so it is
# recorded in silver's properties and only ever extended under a new name.
PROP_HASH = "txn.silver.content_hash"


@dataclass(frozen=True)
class Job:
    """A streaming job that writes lake tables.

    ``name`` is what existing lakes hold: the stem of each output's Delta ``txnAppId``, the
    streaming query's name and the default checkpoint folder. It never changes. ``command`` is
    the CLI that runs the job (for people).
    """

    name: str
    command: str

    def app_id(self, table: str) -> str:
        """Delta ``txnAppId`` of this job's output ``table``: stable whatever the checkpoint."""
        return f"txn-pipeline.{self.name}.{table}"

    def checkpoint(self, lake: Lake) -> Path:
        """The job's default streaming checkpoint under ``lake``."""
        return lake.checkpoint(self.name)


BRONZE_INGEST = Job("bronze_ingest", "bronze-ingest")
SILVER_REFINE = Job("silver_refine", "silver-refine")


@dataclass(frozen=True)
class TableSpec:
    """One lake table: name, writer, the pipeline's columns and how the table is laid out.

    ``leading`` says which columns precede :attr:`columns` (the contract's fields, bronze's whole
    row, or none); they depend on the contract version and are passed in where needed.
    """

    name: str
    writer: Job
    columns: tuple[Column, ...]
    description: str
    leading: str = ""
    partition_by: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def app_id(self) -> str:
        """The Delta ``txnAppId`` of the writer's commits to this table."""
        return self.writer.app_id(self.name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def path(self, lake: Lake) -> Path:
        return lake.table_path(self.name)

    def comment(self, subject: str) -> str:
        """The Delta table comment (description) for contract subject ``subject``."""
        return self.description.format(subject=subject)

    def table_properties(self, **runtime: str) -> dict[str, str]:
        """The static properties (with the layer) plus those known only at run time."""
        return {PROP_LAYER: self.name, **self.properties, **runtime}

    def schema(
        self, leading: StructType | None = None, comments: Mapping[str, str] | None = None
    ) -> StructType:
        """``leading``'s fields, then this table's columns (``comments`` overrides some)."""
        from pyspark.sql.types import StructType

        own = struct_of(self.columns, comments)
        return StructType([*(leading.fields if leading is not None else []), *own.fields])

    def project(
        self,
        df: DataFrame,
        leading: Sequence[str | SparkColumn] = (),
        values: Mapping[str, Any] | None = None,
    ) -> DataFrame:
        """``df`` as this table's rows: ``leading``, then every column from its source, or from
        ``values`` (one value per batch), cast to its declared type."""
        from pyspark.sql import functions as F

        fixed = values or {}
        unknown = set(fixed) - set(self.column_names)
        if unknown:
            raise KeyError(f"{self.name} has no column(s) {sorted(unknown)}")
        own = [
            (F.lit(fixed[c.name]) if c.name in fixed else F.expr(c.source or f"`{c.name}`"))
            .cast(c.ddl_type)
            .alias(c.name)
            for c in self.columns
        ]
        return df.select(*leading, *own)

    def row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """One row of this table from ``values``, which must name every column and no other."""
        if set(values) != set(self.column_names):
            missing = sorted(set(self.column_names) - set(values))
            extra = sorted(set(values) - set(self.column_names))
            raise KeyError(f"{self.name} row: missing {missing}, unknown {extra}")
        return {c: values[c] for c in self.column_names}


# ------------------------------------------------------------------------------------ bronze

_KAFKA = (
    Column("kafka_topic", "STRING", "Kafka topic the event was read from.", "topic"),
    Column("kafka_partition", "INT", "Kafka partition the event was read from.", "partition"),
    Column("kafka_offset", "BIGINT", "Offset of the event in its Kafka partition.", "offset"),
    Column(
        "kafka_timestamp",
        "TIMESTAMP",
        "Kafka record timestamp (producer create time), UTC.",
        "timestamp",
    ),
)
# One value per batch, fixed on the driver (bronze-ingest passes them).
_INGEST = (
    Column(
        "ingest_ts", "TIMESTAMP", "When bronze-ingest committed the batch (UTC, one per batch)."
    ),
    Column("date", "STRING", "UTC date of ingest_ts (yyyy-MM-dd); partition column."),
    Column("hour", "INT", "UTC hour of ingest_ts (0-23); partition column."),
)
_INGEST_PARTITIONS = ("date", "hour")

BRONZE_TABLE = TableSpec(
    name=BRONZE,
    writer=BRONZE_INGEST,
    leading="the contract's fields as of the newest registered version",
    columns=(
        *_KAFKA,
        Column("kafka_key", "STRING", "Kafka message key as UTF-8 (the customer_id).", "key"),
        Column(
            "schema_id",
            "INT",
            "Registry id of the writer schema in the message's Confluent header.",
        ),
        *_INGEST,
    ),
    partition_by=_INGEST_PARTITIONS,
    properties={
        # Per-file statistics only on what readers filter on: event time, the Kafka coordinates
        # (lineage, latency), the writer's id and the ingest time. Not on the strings (random
        # ids span every file, so their min/max skip nothing, and they are the dearest to
        # compute); every file still records its row count.
        "delta.dataSkippingStatsColumns": "timestamp,kafka_partition,kafka_offset,schema_id,"
        "ingest_ts",
    },
    description="Contract events of subject {subject}, one row per Kafka message that decoded, "
    "as of the newest registered contract version; partitioned by ingest date/hour.",
)

QUARANTINE_TABLE = TableSpec(
    name=QUARANTINE,
    writer=BRONZE_INGEST,
    columns=(
        Column("value", "BINARY", "The message value exactly as it was in Kafka (null if none)."),
        Column("kafka_key", "BINARY", "The message key exactly as it was in Kafka.", "key"),
        *_KAFKA,
        Column(
            "schema_id",
            "INT",
            "Schema id from the Confluent header, when the header was well formed.",
        ),
        Column(
            "reason",
            "STRING",
            "Why the message is not a contract event: "
            f"{', '.join(wire.REASONS[:-1])} or {wire.REASONS[-1]}.",
        ),
        Column("detail", "STRING", "One sentence with the facts behind the reason."),
        *_INGEST,
    ),
    partition_by=_INGEST_PARTITIONS,
    properties={
        # Statistics on what readers filter on, never on the raw bytes (value, kafka_key).
        "delta.dataSkippingStatsColumns": "reason,schema_id,kafka_partition,kafka_offset,"
        "kafka_timestamp,ingest_ts",
    },
    description="Kafka messages of subject {subject} that are not contract events: raw bytes, "
    "coordinates and the reason; partitioned by ingest date/hour.",
)

# ------------------------------------------------------------------------------------ silver

_EVENT_DATE = Column("event_date", "DATE", "UTC date of timestamp (event time); partition column.")
_BATCH = Column("batch_id", "BIGINT", "silver-refine batch that inserted the row.")
_REFINED = Column(
    "refined_ts", "TIMESTAMP", "When silver-refine wrote the batch (UTC, one per batch)."
)

SILVER_TABLE = TableSpec(
    name=SILVER,
    writer=SILVER_REFINE,
    leading="the contract's fields as bronze holds them",
    columns=(
        _EVENT_DATE,
        Column("event_hour", "INT", "UTC hour of timestamp (0-23)."),
        Column(
            "is_late",
            "BOOLEAN",
            "True when timestamp is older than ingest_ts by more than the job's allowed "
            "lateness (--allowed-lateness); late rows are kept.",
        ),
        Column(
            "rule_warnings",
            "ARRAY<STRING>",
            "Ids of the warn (and tolerated fail) rules the row violates; empty when none.",
        ),
        Column("kafka_partition", "INT", "Kafka partition of the bronze row that was kept."),
        Column("kafka_offset", "BIGINT", "Kafka offset of the bronze row that was kept."),
        Column("kafka_timestamp", "TIMESTAMP", "Kafka record timestamp of that row, UTC."),
        Column("schema_id", "INT", "Registry id of the writer schema of that row."),
        Column("ingest_ts", "TIMESTAMP", "When bronze-ingest committed that row (UTC)."),
        Column(
            "content_hash",
            "BINARY",
            "SHA-256 of the contract fields as JSON (nulls omitted, so columns added later keep "
            "old hashes); exact duplicates have the same hash.",
        ),
        _BATCH,
        _REFINED,
    ),
    partition_by=("event_date",),
    properties={
        PROP_HASH: "sha256(to_json(contract fields, nulls omitted, timestamps in microseconds))",
        # Measured (bench_silver.py --write-modes, docs/performance.md): optimized writes give
        # one file per event_date per batch (2 files for 1.2M rows against 7 without, and
        # auto-compaction's in-batch OPTIMIZE made its batches the slowest). For other Spark
        # writers: silver-refine lays its files out itself (one per event_date per batch).
        "delta.autoOptimize.optimizeWrite": "true",
        # Per-file statistics on what readers filter on (event time, lineage, the batch), not
        # on the strings: random ids span every file, so their min/max skip nothing.
        "delta.dataSkippingStatsColumns": "timestamp,kafka_partition,kafka_offset,ingest_ts,"
        "batch_id",
        # A commit per micro-batch (every second or so): a checkpoint, the whole file list,
        # every 100 commits rather than every 10; a reader replays at most 99 small JSONs.
        "delta.checkpointInterval": "100",
    },
    description="Contract events of subject {subject} that pass the contract's quality rules, "
    "one row per transaction_id (the first seen in bronze order), with bronze lineage; "
    "partitioned by event date (UTC).",
)

SILVER_REJECTS_TABLE = TableSpec(
    name=SILVER_REJECTS,
    writer=SILVER_REFINE,
    leading="bronze's whole row",
    columns=(
        # The comment lists every rule with its doc (silver-refine passes it).
        Column("rules", "ARRAY<STRING>", "Ids of the rules the row violates."),
        Column("detail", "STRING", "One sentence: which rules, or which fields differ."),
        Column("batch_id", "BIGINT", "silver-refine batch that rejected the row."),
        _EVENT_DATE,
        Column("refined_ts", "TIMESTAMP", "When silver-refine wrote the batch (UTC)."),
    ),
    partition_by=("event_date",),
    properties={
        # As silver's: event time, lineage and the batch, not the strings.
        "delta.dataSkippingStatsColumns": "timestamp,kafka_partition,kafka_offset,ingest_ts,"
        "batch_id",
        "delta.checkpointInterval": "100",
    },
    description="Bronze rows of subject {subject} that silver did not keep: rule violations "
    "and conflicting re-sends (duplicate_conflict), each with its rule ids and a detail "
    "sentence; partitioned by event date (UTC).",
)

SILVER_AUDIT_TABLE = TableSpec(
    name=SILVER_AUDIT,
    writer=SILVER_REFINE,
    columns=(
        Column("batch_id", "BIGINT", "silver-refine batch id (one row per batch)."),
        Column("refined_ts", "TIMESTAMP", "When the batch was written (UTC)."),
        Column("rows_read", "BIGINT", "Bronze rows the batch read."),
        Column("inserted", "BIGINT", "Rows inserted into silver."),
        Column(
            "duplicates_dropped",
            "BIGINT",
            "Exact duplicates dropped: transaction_id already in silver or earlier in the "
            "batch with every contract field equal.",
        ),
        Column(
            "conflicts",
            "BIGINT",
            "Rows whose transaction_id was seen first with other content (to silver_rejects "
            "as duplicate_conflict).",
        ),
        Column(
            "rejected", "BIGINT", "Rows written to silver_rejects (rule violations + conflicts)."
        ),
        Column("rejected_by_rule", "MAP<STRING,BIGINT>", "Rejected rows per rule id."),
        Column("warned_by_rule", "MAP<STRING,BIGINT>", "Rows kept with a warning, per rule id."),
        Column("late", "BIGINT", "Rows inserted with is_late = true."),
        Column("bronze_versions", "ARRAY<BIGINT>", "Versions of the bronze table the batch read."),
        Column(
            "reconciled",
            "BOOLEAN",
            "rows_read = inserted + rejected + duplicates_dropped (always true: the job "
            "refuses to commit a batch that does not reconcile).",
        ),
        Column("rules_version", "STRING", "Version and sha256 of the quality rules applied."),
        Column("seconds", "DOUBLE", "Time the batch took until its silver commit."),
    ),
    properties={
        # One row, one file and one commit per batch: statistics on the batch id and the
        # time, a checkpoint every 100 commits.
        "delta.dataSkippingStatsColumns": "batch_id,refined_ts",
        "delta.checkpointInterval": "100",
    },
    description="One row per silver-refine batch: rows read from bronze, inserted, exact "
    "duplicates dropped, conflicts, rejected per rule, late rows, bronze versions read and the "
    "reconciliation.",
)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        BRONZE_TABLE,
        QUARANTINE_TABLE,
        SILVER_TABLE,
        SILVER_REJECTS_TABLE,
        SILVER_AUDIT_TABLE,
    )
}


def table_comment(table: str, subject: str) -> str:
    """The Delta table comment (description) of lake table ``table``."""
    return TABLES[table].comment(subject)


# gold-signals' tables are declared in their own module, which adds them to TABLES (it imports
# Job and TableSpec from this one, so it comes last).
from . import gold_tables  # noqa: E402, F401
