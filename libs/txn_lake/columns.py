"""Columns of the lake's tables: the pipeline's own (:class:`Column`) and the contract's.

Contract columns take Spark's own Avro-to-SQL conversion of the schema (``from_avro``'s output
type), so they are exactly what the jobs write, and carry each field's ``doc`` as their column
comment. The columns the pipeline adds are declared once, in :mod:`txn_lake.tables`, as
:class:`Column` values with their comments and where their values come from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType, StructType

__all__ = ["Column", "contract_columns", "spark_type", "struct_of", "with_comments"]


@dataclass(frozen=True)
class Column:
    """A column the pipeline adds: name, Spark SQL type, comment, and its source.

    ``source`` is a Spark SQL expression over the writing job's working frame that gives the
    value (for example ``CAST(key AS STRING)``); None means a column of the same name, or a
    value fixed per batch that the job passes when it builds the frame.
    """

    name: str
    ddl_type: str
    comment: str
    source: str | None = None


def spark_type(ddl_type: str) -> DataType:
    """The Spark type of one of the DDL type names :class:`Column` uses."""
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
        "DECIMAL(38,2)": T.DecimalType(38, 2),
        "ARRAY<STRING>": T.ArrayType(T.StringType(), True),
        "ARRAY<BIGINT>": T.ArrayType(T.LongType(), True),
        "MAP<STRING,BIGINT>": T.MapType(T.StringType(), T.LongType(), True),
    }
    return types[ddl_type]


def struct_of(columns: Iterable[Column], comments: Mapping[str, str] | None = None) -> StructType:
    """The nullable struct of ``columns``, each with its comment (``comments`` overrides some)."""
    from pyspark.sql import types as T

    overrides = comments or {}
    struct = T.StructType()
    for c in columns:
        comment = overrides.get(c.name, c.comment)
        struct.add(c.name, spark_type(c.ddl_type), True, {"comment": comment})
    return struct


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


def with_comments(struct: StructType, comments: Mapping[str, str]) -> StructType:
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
