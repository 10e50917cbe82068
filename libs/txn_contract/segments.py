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
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FieldEncoder",
    "encode_decimal_unscaled",
    "encode_long",
    "encode_string",
    "unscaled",
]


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
    from decimal import Decimal

    scaled = Decimal(value).scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {scale} decimal places")
    return int(scaled)


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
