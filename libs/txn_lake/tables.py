"""Each lake table's schema, partitioning, comments and properties, generated from the contract.

Contract columns take Spark's own Avro-to-SQL conversion of the schema (``from_avro``'s output
type), so they are exactly what the jobs write, and carry each field's ``doc`` as their column
comment. The columns the pipeline adds carry comments defined here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from txn_contract import wire

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "BRONZE_METADATA",
    "PROP_CONTRACT_VERSIONS",
    "PROP_HASH",
    "PROP_LAYER",
    "PROP_SUBJECT",
    "QUARANTINE_COLUMNS",
    "SILVER_AUDIT_COLUMNS",
    "SILVER_PARTITION_BY",
    "Column",
    "bronze_schema",
    "contract_columns",
    "quarantine_schema",
    "silver_audit_schema",
    "silver_rejects_schema",
    "silver_schema",
    "table_comment",
    "with_comments",
]

# Table properties every lake table carries (``txn-lake describe`` shows them).
PROP_LAYER = "txn.layer"
PROP_SUBJECT = "txn.contract.subject"
PROP_CONTRACT_VERSIONS = "txn.contract.versions"


@dataclass(frozen=True)
class Column:
    """A column the pipeline adds: name, Spark SQL type and its comment."""

    name: str
    ddl_type: str
    comment: str


_KAFKA = (
    Column("kafka_topic", "STRING", "Kafka topic the event was read from."),
    Column("kafka_partition", "INT", "Kafka partition the event was read from."),
    Column("kafka_offset", "BIGINT", "Offset of the event in its Kafka partition."),
    Column("kafka_timestamp", "TIMESTAMP", "Kafka record timestamp (producer create time), UTC."),
)
_INGEST = (
    Column(
        "ingest_ts", "TIMESTAMP", "When bronze-ingest committed the batch (UTC, one per batch)."
    ),
    Column("date", "STRING", "UTC date of ingest_ts (yyyy-MM-dd); partition column."),
    Column("hour", "INT", "UTC hour of ingest_ts (0-23); partition column."),
)

BRONZE_METADATA = (
    *_KAFKA,
    Column("kafka_key", "STRING", "Kafka message key as UTF-8 (the customer_id)."),
    Column(
        "schema_id",
        "INT",
        "Registry id of the writer schema in the message's Confluent header.",
    ),
    *_INGEST,
)

QUARANTINE_COLUMNS = (
    Column("value", "BINARY", "The message value exactly as it was in Kafka (null if none)."),
    Column("kafka_key", "BINARY", "The message key exactly as it was in Kafka."),
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
)

PARTITION_BY = ("date", "hour")

_TABLE_COMMENTS = {
    "bronze": "Contract events of subject {subject}, one row per Kafka message that decoded, as "
    "of the newest registered contract version; partitioned by ingest date/hour.",
    "quarantine": "Kafka messages of subject {subject} that are not contract events: raw bytes, "
    "coordinates and the reason; partitioned by ingest date/hour.",
    "silver": "Contract events of subject {subject} that pass the contract's quality rules, one row "
    "per transaction_id (the first seen in bronze order), with bronze lineage; partitioned by "
    "event date (UTC).",
    "silver_rejects": "Bronze rows of subject {subject} that silver did not keep: rule violations "
    "and conflicting re-sends (duplicate_conflict), each with its rule ids and a detail sentence; "
    "partitioned by event date (UTC).",
    "silver_audit": "One row per silver-refine batch: rows read from bronze, inserted, exact "
    "duplicates dropped, conflicts, rejected per rule, late rows, bronze versions read and the "
    "reconciliation.",
}


def table_comment(table: str, subject: str) -> str:
    """The Delta table comment (description) of lake table ``table``."""
    return _TABLE_COMMENTS[table].format(subject=subject)


def contract_columns(spark: SparkSession, avro_schema_str: str) -> StructType:
    """The contract fields as Spark reads them with ``from_avro``, each with its doc as comment."""
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro

    probe = spark.range(0).select(
        from_avro(F.lit(None).cast("binary"), avro_schema_str).alias("event")
    )
    struct = probe.schema["event"].dataType
    docs = {f["name"]: f.get("doc", "") for f in json.loads(avro_schema_str)["fields"]}
    return with_comments(struct, docs)


def with_comments(struct: StructType, comments: dict[str, str]) -> StructType:
    """``struct`` with every field nullable and commented (``comments`` by field name)."""
    from pyspark.sql.types import StructField, StructType

    return StructType(
        [
            StructField(f.name, f.dataType, True, {**f.metadata, "comment": comments[f.name]})
            if comments.get(f.name)
            else StructField(f.name, f.dataType, True, f.metadata)
            for f in struct.fields
        ]
    )


def _struct(columns: tuple[Column, ...]) -> StructType:
    """The nullable struct of ``columns``, each with its comment (every table's added columns)."""
    from pyspark.sql import types as T

    types = {
        "STRING": T.StringType(),
        "BINARY": T.BinaryType(),
        "INT": T.IntegerType(),
        "BIGINT": T.LongType(),
        "DOUBLE": T.DoubleType(),
        "TIMESTAMP": T.TimestampType(),
        "BOOLEAN": T.BooleanType(),
        "DATE": T.DateType(),
        "ARRAY<STRING>": T.ArrayType(T.StringType(), True),
        "ARRAY<BIGINT>": T.ArrayType(T.LongType(), True),
        "MAP<STRING,BIGINT>": T.MapType(T.StringType(), T.LongType(), True),
    }
    struct = T.StructType()
    for c in columns:
        struct.add(c.name, types[c.ddl_type], True, {"comment": c.comment})
    return struct


def bronze_schema(spark: SparkSession, avro_schema_str: str) -> StructType:
    """Bronze: every field of ``avro_schema_str`` (the reader version), then the metadata."""
    from pyspark.sql.types import StructType

    return StructType(
        contract_columns(spark, avro_schema_str).fields + _struct(BRONZE_METADATA).fields
    )


def quarantine_schema() -> StructType:
    """Quarantine: the raw message, its coordinates, the reason and the ingest partition."""
    return _struct(QUARANTINE_COLUMNS)


# --------------------------------------------------------------------------------------- silver

# The content hash's definition; a change would make old rows' hashes incomparable, so it is
# recorded in the table's properties and only ever extended under a new name.
PROP_HASH = "txn.silver.content_hash"
SILVER_PARTITION_BY = ("event_date",)

_SILVER_LINEAGE = (
    Column("event_date", "DATE", "UTC date of timestamp (event time); partition column."),
    Column("event_hour", "INT", "UTC hour of timestamp (0-23)."),
    Column(
        "is_late",
        "BOOLEAN",
        "True when timestamp is older than ingest_ts by more than the job's allowed lateness "
        "(--allowed-lateness); late rows are kept.",
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
        "SHA-256 of the contract fields as JSON (nulls omitted, so columns added later keep old "
        "hashes); exact duplicates have the same hash.",
    ),
    Column("batch_id", "BIGINT", "silver-refine batch that inserted the row."),
    Column("refined_ts", "TIMESTAMP", "When silver-refine wrote the batch (UTC, one per batch)."),
)

SILVER_AUDIT_COLUMNS = (
    Column("batch_id", "BIGINT", "silver-refine batch id (one row per batch)."),
    Column("refined_ts", "TIMESTAMP", "When the batch was written (UTC)."),
    Column("rows_read", "BIGINT", "Bronze rows the batch read."),
    Column("inserted", "BIGINT", "Rows inserted into silver."),
    Column(
        "duplicates_dropped",
        "BIGINT",
        "Exact duplicates dropped: transaction_id already in silver or earlier in the batch "
        "with every contract field equal.",
    ),
    Column(
        "conflicts",
        "BIGINT",
        "Rows whose transaction_id was seen first with other content (to silver_rejects as "
        "duplicate_conflict).",
    ),
    Column("rejected", "BIGINT", "Rows written to silver_rejects (rule violations + conflicts)."),
    Column("rejected_by_rule", "MAP<STRING,BIGINT>", "Rejected rows per rule id."),
    Column("warned_by_rule", "MAP<STRING,BIGINT>", "Rows kept with a warning, per rule id."),
    Column("late", "BIGINT", "Rows inserted with is_late = true."),
    Column("bronze_versions", "ARRAY<BIGINT>", "Versions of the bronze table the batch read."),
    Column(
        "reconciled",
        "BOOLEAN",
        "rows_read = inserted + rejected + duplicates_dropped (always true: the job refuses to "
        "commit a batch that does not reconcile).",
    ),
    Column("rules_version", "STRING", "Version and sha256 of the quality rules applied."),
    Column("seconds", "DOUBLE", "Time the batch took until its silver commit."),
)


def _rules_comment(prefix: str, rules: dict[str, str]) -> str:
    return prefix + " " + "; ".join(f"{rid}: {doc}" for rid, doc in rules.items())


def silver_schema(contract: StructType) -> StructType:
    """Silver: the contract columns as bronze holds them (with their docs), then lineage.

    ``contract`` is bronze's schema restricted to the contract fields, so fields bronze gained
    through schema evolution are in silver too.
    """
    from pyspark.sql.types import StructType

    return StructType(list(contract.fields) + _struct(_SILVER_LINEAGE).fields)


def silver_rejects_schema(bronze: StructType, rules: dict[str, str]) -> StructType:
    """Rejects: the bronze row, then ``rules`` (commented with every rule's doc), ``detail``,
    ``batch_id``, ``event_date`` and ``refined_ts``."""
    from pyspark.sql.types import StructType

    extra = (
        Column(
            "rules",
            "ARRAY<STRING>",
            _rules_comment("Ids of the rules the row violates.", rules),
        ),
        Column("detail", "STRING", "One sentence: which rules, or which fields differ."),
        Column("batch_id", "BIGINT", "silver-refine batch that rejected the row."),
        Column("event_date", "DATE", "UTC date of timestamp (event time); partition column."),
        Column("refined_ts", "TIMESTAMP", "When silver-refine wrote the batch (UTC)."),
    )
    return StructType(list(bronze.fields) + _struct(extra).fields)


def silver_audit_schema() -> StructType:
    """The per-batch audit of silver-refine (not partitioned: one small row per batch)."""
    return _struct(SILVER_AUDIT_COLUMNS)
