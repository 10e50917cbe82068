"""Each lake table's schema, partitioning, comments and properties, generated from the contract.

Contract columns take Spark's own Avro-to-SQL conversion of the schema (``from_avro``'s output
type), so they are exactly what the jobs write, and carry each field's ``doc`` as their column
comment. The columns the pipeline adds carry comments defined here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "BRONZE_METADATA",
    "PROP_CONTRACT_VERSIONS",
    "PROP_LAYER",
    "PROP_SUBJECT",
    "QUARANTINE_COLUMNS",
    "Column",
    "bronze_schema",
    "contract_columns",
    "quarantine_schema",
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
        "Why the message is not a contract event: EMPTY_VALUE, SHORT_HEADER, BAD_MAGIC_BYTE, "
        "UNKNOWN_SCHEMA_ID, FOREIGN_SCHEMA_ID, CORRUPT_PAYLOAD or TRAILING_BYTES.",
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
    from pyspark.sql import types as T

    types = {
        "STRING": T.StringType(),
        "BINARY": T.BinaryType(),
        "INT": T.IntegerType(),
        "BIGINT": T.LongType(),
        "TIMESTAMP": T.TimestampType(),
        "BOOLEAN": T.BooleanType(),
        "DATE": T.DateType(),
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
