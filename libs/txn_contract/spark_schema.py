"""The Spark ``StructType`` of the contract, as Spark's ``from_avro`` produces it.

pyspark is imported inside the function so that producers never pay for it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["spark_struct_type"]


def spark_struct_type(schema: dict[str, Any] | None = None):
    """StructType of ``schema`` (default: the latest contract version).

    Mapping as spark-avro does it: decimal -> DecimalType(p, s), timestamp-millis/micros ->
    TimestampType, enum and string -> StringType, ``[null, T]`` -> nullable T, long -> LongType.
    """
    from pyspark.sql import types as T

    if schema is None:
        from .contract import packaged_contract

        schema = packaged_contract().latest.schema

    def convert(avro: Any) -> tuple[Any, bool]:
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            if len(branches) != 1:
                raise ValueError(f"unsupported union {avro}")
            dtype, _ = convert(branches[0])
            return dtype, "null" in avro
        if isinstance(avro, dict):
            logical = avro.get("logicalType")
            if logical == "decimal":
                return T.DecimalType(avro["precision"], avro.get("scale", 0)), False
            if logical in ("timestamp-millis", "timestamp-micros"):
                return T.TimestampType(), False
            if logical == "date":
                return T.DateType(), False
            kind = avro["type"]
            if kind == "enum":
                return T.StringType(), False
            if kind == "record":
                return record(avro), False
            if kind == "array":
                inner, nullable = convert(avro["items"])
                return T.ArrayType(inner, nullable), False
            if kind == "map":
                inner, nullable = convert(avro["values"])
                return T.MapType(T.StringType(), inner, nullable), False
            return convert(kind)
        primitives = {
            "string": T.StringType(),
            "int": T.IntegerType(),
            "long": T.LongType(),
            "boolean": T.BooleanType(),
            "float": T.FloatType(),
            "double": T.DoubleType(),
            "bytes": T.BinaryType(),
        }
        if avro not in primitives:
            raise ValueError(f"unsupported Avro type {avro!r}")
        return primitives[avro], False

    def record(avro: dict[str, Any]):
        fields = []
        for f in avro["fields"]:
            dtype, nullable = convert(f["type"])
            fields.append(T.StructField(f["name"], dtype, nullable))
        return T.StructType(fields)

    return record(schema)
