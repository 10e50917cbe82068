"""The canonical Avro binary length of a decoded record, as a Spark SQL expression.

Why: ``from_avro`` does not say how many bytes a record used, so trailing bytes after a valid
record go unnoticed. Re-encoding every record with ``to_avro`` and comparing bytes answers it,
but costs an Avro serialisation per row. This computes the length the canonical (shortest)
encoding of the decoded values takes, with plain arithmetic that Spark compiles into the stage:

- a decoder never reads fewer bytes than the canonical encoding of what it decoded (varints and
  decimal bytes are at least minimal), and never more than the body holds;
- so when the canonical length equals the body's length, the record used every byte.

Any other outcome (shorter: trailing bytes, or a valid non-canonical encoding such as fastavro's
redundant sign byte on some negative decimals; longer: cannot happen for a good decode) is
settled row by row with fastavro in :func:`bronze_ingest.decode.finish`. A schema with a type
this module does not cover returns ``None``, and the caller re-encodes with ``to_avro`` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column

__all__ = ["encoded_length"]

# Longest decimal whose unscaled value fits a Spark LongType (and so plain arithmetic).
_MAX_LONG_PRECISION = 18


def _varint_len(n: Column) -> Column:
    """Bytes of the zig-zag varint of the long ``n``: k bytes hold -2^(7k-1) <= n < 2^(7k-1)."""
    from pyspark.sql import functions as F

    expr = None
    for k in range(1, 10):
        bound = 1 << (7 * k - 1)
        cond = (n >= F.lit(-bound)) & (n < F.lit(bound))
        expr = (F.when if expr is None else expr.when)(cond, F.lit(k))
    return expr.otherwise(F.lit(10))


def _twos_complement_len(u: Column) -> Column:
    """Bytes of the minimal big-endian two's complement of the long ``u`` (Java's
    ``BigInteger.toByteArray``, which Avro decimals use): n bytes hold -2^(8n-1) <= u < 2^(8n-1)."""
    from pyspark.sql import functions as F

    expr = None
    for n in range(1, 8):
        bound = 1 << (8 * n - 1)
        cond = (u >= F.lit(-bound)) & (u < F.lit(bound))
        expr = (F.when if expr is None else expr.when)(cond, F.lit(n))
    return expr.otherwise(F.lit(8))


def _sized(length: Column) -> Column:
    """A length-prefixed value (string, bytes): the varint of the length, then the bytes."""
    return _varint_len(length) + length


def _logical(col: Column, avro: dict[str, Any]) -> Column | None:
    from pyspark.sql import functions as F

    logical = avro.get("logicalType")
    base = avro["type"]
    if logical == "decimal" and base == "bytes":
        precision, scale = int(avro["precision"]), int(avro.get("scale", 0))
        if precision > _MAX_LONG_PRECISION:
            return None
        unscaled = (col * F.lit(10**scale)).cast("long")
        return _sized(_twos_complement_len(unscaled).cast("long"))
    if logical == "timestamp-millis" and base == "long":
        return _varint_len(F.unix_millis(col))
    if logical == "timestamp-micros" and base == "long":
        return _varint_len(F.unix_micros(col))
    if logical == "date" and base == "int":
        return _varint_len(F.unix_date(col).cast("long"))
    if logical is None or logical == "uuid":
        return _plain(col, base)
    return None


def _plain(col: Column, avro: Any) -> Column | None:
    """Length of ``col`` written as the Avro type ``avro`` (None: not covered here)."""
    from pyspark.sql import functions as F

    if isinstance(avro, list):
        return _union(col, avro)
    if isinstance(avro, dict):
        kind = avro["type"]
        if "logicalType" in avro:
            return _logical(col, avro)
        if kind == "record":
            return _record(col, avro)
        if kind == "enum":
            symbols = avro["symbols"]
            index = F.array_position(F.array(*[F.lit(s) for s in symbols]), col) - 1
            return _varint_len(index.cast("long"))
        if kind == "fixed":
            return F.lit(int(avro["size"]))
        return _plain(col, kind)
    lengths = {
        "null": lambda: F.lit(0),
        "boolean": lambda: F.lit(1),
        "float": lambda: F.lit(4),
        "double": lambda: F.lit(8),
        "int": lambda: _varint_len(col.cast("long")),
        "long": lambda: _varint_len(col.cast("long")),
        "string": lambda: _sized(F.octet_length(col).cast("long")),
        "bytes": lambda: _sized(F.octet_length(col).cast("long")),
    }
    return lengths[avro]() if avro in lengths else None


def _union(col: Column, branches: list[Any]) -> Column | None:
    """Only ``[null, X]`` / ``[X, null]``: Spark reads those as a nullable X. Wider unions
    become structs of members, which is not worth covering here."""
    from pyspark.sql import functions as F

    non_null = [b for b in branches if b != "null"]
    if len(branches) != 2 or len(non_null) != 1:
        return None
    inner = _plain(col, non_null[0])
    if inner is None:
        return None
    # The branch index is a varint of 0 or 1: one byte either way.
    return F.when(col.isNull(), F.lit(1)).otherwise(F.lit(1) + inner)


def _record(col: Column, record: dict[str, Any]) -> Column | None:
    total: Column | None = None
    for field in record["fields"]:
        part = _plain(col.getField(field["name"]), field["type"])
        if part is None:
            return None
        total = part if total is None else total + part
    from pyspark.sql import functions as F

    return total if total is not None else F.lit(0)


def encoded_length(record_col: Column, schema: dict[str, Any]) -> Column | None:
    """The canonical encoded length of ``record_col`` (decoded with the record ``schema``), or
    ``None`` when ``schema`` uses a type this module does not cover."""
    return _record(record_col, schema)
