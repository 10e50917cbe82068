"""Avro binary encoding by segments: pre-encode what repeats, encode only what changes.

Avro's binary encoding of a record is nothing but the concatenation of its fields' encodings in
schema order: no field tags, no lengths around the record. So a producer that sends millions of
events about a few thousand customers and merchants can encode each entity's fields once (with
fastavro, through :class:`FieldEncoder`) and, per event, encode only the few fields that change
(an id string, a timestamp, an amount) with the small functions here, then join the bytes. The
result is byte-for-byte what fastavro writes for the whole record; the property tests in
``tests/unit/test_segments.py`` hold this module to that for every released contract version.

Example::

    from txn_contract import packaged_contract
    from txn_contract.segments import FieldEncoder, encode_long, encode_string

    fields = FieldEncoder(packaged_contract().version(2).schema)
    customer = fields.encode("customer_id", "C0000001")          # once per customer
    body = b"".join([encode_string(txn_id), encode_long(ms), customer, ...])

The value encoders here (``encode_*``) are also the runtime of the generated
:mod:`txn_contract.encoders`: :class:`RecordEncoder` and :class:`AvroField` are what it builds for
each released version, without fastavro.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from . import wire

__all__ = [
    "AvroField",
    "FieldEncoder",
    "RecordEncoder",
    "encode_array",
    "encode_boolean",
    "encode_bytes",
    "encode_decimal",
    "encode_decimal_unscaled",
    "encode_double",
    "encode_float",
    "encode_long",
    "encode_map",
    "encode_null",
    "encode_string",
    "encode_timestamp_micros",
    "encode_timestamp_millis",
    "millis",
    "schema_fingerprint",
    "unscaled",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")


def encode_long(n: int) -> bytes:
    """Avro ``int``/``long`` (and ``timestamp-millis``, enum index, union branch): the zig-zag
    varint of ``n``, which must fit in a signed 64-bit integer."""
    # Zig-zag maps small magnitudes of either sign to small unsigned numbers.
    z = (n << 1) ^ (n >> 63)
    if z < 0x80:
        return bytes((z,))
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def encode_string(s: str) -> bytes:
    """Avro ``string``: the byte length as a long, then the UTF-8 bytes."""
    data = s.encode("utf-8")
    return encode_long(len(data)) + data


def encode_decimal_unscaled(unscaled_value: int) -> bytes:
    """Avro bytes-backed ``decimal`` of the given unscaled integer (cents for scale 2): the
    length, then the two's-complement big-endian bytes.

    The width follows fastavro (``(abs(n).bit_length() + 8) // 8`` bytes), which is one byte
    wider than the minimum for negative powers of two such as -128; both decode to the same
    number, but matching fastavro keeps the output byte-identical.
    """
    width = (abs(unscaled_value).bit_length() + 8) // 8
    data = unscaled_value.to_bytes(width, "big", signed=True)
    return encode_long(width) + data


def unscaled(value: Any, scale: int) -> int:
    """The unscaled integer of a ``Decimal`` (or int) at ``scale``; refuses lost digits."""
    scaled = Decimal(value).scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {scale} decimal places")
    return int(scaled)


# The value encoders below write what fastavro 1.13's ``schemaless_writer`` writes for the same
# value, including its conversions (a naive datetime is local time, a Decimal's exponent must
# not exceed the scale); tests/unit/test_encoders.py holds them to fastavro's bytes.


def encode_null(value: None) -> bytes:
    """Avro ``null``: no bytes."""
    return b""


def encode_boolean(value: bool) -> bytes:
    """Avro ``boolean``: one byte, 1 or 0."""
    return b"\x01" if value else b"\x00"


def encode_float(value: float) -> bytes:
    """Avro ``float``: 4 bytes, IEEE 754 little-endian."""
    return _FLOAT.pack(float(value))


def encode_double(value: float) -> bytes:
    """Avro ``double``: 8 bytes, IEEE 754 little-endian."""
    return _DOUBLE.pack(float(value))


def encode_bytes(value: bytes) -> bytes:
    """Avro ``bytes``: the length as a long, then the bytes."""
    return encode_long(len(value)) + bytes(value)


def millis(value: datetime | int) -> int:
    """Milliseconds since the epoch of a datetime (naive: local time, as fastavro reads it);
    an int is taken as milliseconds already."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is not None:
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return int(time.mktime(value.timetuple())) * 1000 + value.microsecond // 1000


def _micros(value: datetime | int) -> int:
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is not None:
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(time.mktime(value.timetuple())) * 1_000_000 + value.microsecond


def encode_timestamp_millis(value: datetime | int) -> bytes:
    """Avro ``long`` with logical type ``timestamp-millis``: a datetime or milliseconds."""
    return encode_long(millis(value))


def encode_timestamp_micros(value: datetime | int) -> bytes:
    """Avro ``long`` with logical type ``timestamp-micros``: a datetime or microseconds."""
    return encode_long(_micros(value))


def encode_decimal(value: Decimal | bytes, precision: int, scale: int) -> bytes:
    """Avro ``bytes`` with logical type ``decimal(precision, scale)``.

    As fastavro: a Decimal with more digits than ``precision`` or more decimal places than
    ``scale`` is refused (``Decimal("1.10")`` at scale 1 too), and anything else is written as
    the raw bytes it already is.
    """
    if not isinstance(value, Decimal):
        return encode_bytes(value)
    sign, digits, exponent = value.as_tuple()
    if len(digits) > precision:
        raise ValueError(f"{value} has more digits than the precision {precision}")
    if not isinstance(exponent, int) or exponent + scale < 0:
        raise ValueError(f"{value} has more decimal places than the scale {scale}")
    magnitude = int("".join(map(str, digits))) * 10 ** (exponent + scale)
    return encode_decimal_unscaled(-magnitude if sign else magnitude)


def encode_array(items: Sequence[Any], encode_item: Callable[[Any], bytes]) -> bytes:
    """Avro ``array``: one block (the count, the items) then the zero count that ends it; an
    empty array is the zero count alone."""
    if not items:
        return b"\x00"
    return b"".join((encode_long(len(items)), *map(encode_item, items), b"\x00"))


def encode_map(items: Mapping[str, Any], encode_value: Callable[[Any], bytes]) -> bytes:
    """Avro ``map``: one block (the count, then each key as a string and its value), then the
    zero count that ends it."""
    if not items:
        return b"\x00"
    pairs = (encode_string(k) + encode_value(v) for k, v in items.items())
    return b"".join((encode_long(len(items)), *pairs, b"\x00"))


def schema_fingerprint(schema: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a record schema's JSON without its ``doc`` strings: what a generated
    :class:`RecordEncoder` records of the schema it was generated from. Docs do not change a
    byte of the encoding; everything else (names, order, types, defaults) does or may."""

    def without_docs(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: without_docs(v) for k, v in node.items() if k != "doc"}
        if isinstance(node, list):
            return [without_docs(v) for v in node]
        return node

    text = json.dumps(without_docs(schema), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AvroField:
    """One field of a generated :class:`RecordEncoder`.

    ``avro_type`` names the type in words (``string``, ``timestamp-millis``, ``decimal(18,2)``,
    ``enum Channel``, ``[null, string]``, ``array<string>``); ``encode`` writes a value of it;
    ``default`` is the Avro default already encoded (None: the field has no default); ``scale``
    is a decimal's scale (None for other types).
    """

    name: str
    avro_type: str
    encode: Callable[[Any], bytes]
    default: bytes | None = None
    scale: int | None = None


@dataclass(frozen=True)
class RecordEncoder:
    """The Avro encoder of one released contract version, as ``txn-contract generate`` writes
    it into :mod:`txn_contract.encoders`: its fields in schema order, and ``encode``, the record
    body unrolled field by field (a field missing from the record takes its default).

    Example::

        from txn_contract.encoders import ENCODERS

        value = ENCODERS[2].frame(event.to_avro(2), schema_id)  # == wire.encode(...)
    """

    subject: str
    version: int
    fingerprint: str  # schema_fingerprint() of the version's schema
    fields: tuple[AvroField, ...]
    encode: Callable[[Mapping[str, Any]], bytes]

    @property
    def field_names(self) -> tuple[str, ...]:
        """The field names in schema order."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> AvroField:
        """The field called ``name``; KeyError naming the version otherwise."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"version {self.version} of {self.subject} has no field {name!r}")

    def frame(self, record: Mapping[str, Any], schema_id: int) -> bytes:
        """The Confluent-framed value of ``record``: :func:`txn_contract.wire.frame` of the body."""
        return wire.frame(schema_id, self.encode(record))

    def describes(self, schema: Mapping[str, Any]) -> bool:
        """Whether this encoder was generated from ``schema`` (docs aside)."""
        return schema_fingerprint(schema) == self.fingerprint


class FieldEncoder:
    """Encodes single fields of one record schema exactly as fastavro encodes them inside the
    record, so pre-encoded fields can be joined into a full record body.

    Each field's type is parsed on its own from the fully expanded record schema (named types
    such as enums inlined with their full names), so a field that refers to a type declared by
    an earlier field encodes the same as it does in the record.
    """

    def __init__(self, record_schema: Mapping[str, Any]) -> None:
        import fastavro

        expanded = fastavro.parse_schema(dict(record_schema), expand=True)
        if expanded.get("type") != "record":
            raise ValueError("FieldEncoder needs a record schema")
        self._types: dict[str, Any] = {}
        for f in expanded["fields"]:
            self._types[f["name"]] = fastavro.parse_schema(f["type"], named_schemas={})
        self.field_names: tuple[str, ...] = tuple(self._types)

    def encode(self, name: str, value: Any) -> bytes:
        """The Avro bytes of field ``name`` holding ``value`` (fastavro's encoding)."""
        from fastavro import schemaless_writer

        try:
            field_type = self._types[name]
        except KeyError:
            raise KeyError(f"the schema has no field {name!r}") from None
        buf = io.BytesIO()
        schemaless_writer(buf, field_type, value)
        return buf.getvalue()

    def assemble(self, parts: Mapping[str, bytes]) -> bytes:
        """Join pre-encoded ``parts`` (one per field, any order) in schema order; every field
        must be present and no other."""
        missing = [n for n in self.field_names if n not in parts]
        extra = [n for n in parts if n not in self._types]
        if missing or extra:
            raise KeyError(f"segments do not match the schema: missing {missing}, unknown {extra}")
        return b"".join(parts[n] for n in self.field_names)

    def encode_record(self, record: Mapping[str, Any]) -> bytes:
        """The record body assembled field by field (equal to fastavro's whole-record bytes)."""
        return self.assemble({n: self.encode(n, record[n]) for n in self.field_names})

    def encode_fields(self, record: Mapping[str, Any], names: Iterable[str]) -> bytes:
        """The joined encodings of the consecutive fields ``names`` taken from ``record``.

        ``names`` must be a run of consecutive fields in schema order, since the bytes are only
        meaningful at that place in the body.
        """
        names = tuple(names)
        if names:
            start = self.field_names.index(names[0])
            if self.field_names[start : start + len(names)] != names:
                raise ValueError(f"{names} are not consecutive fields in schema order")
        return b"".join(self.encode(n, record[n]) for n in names)
