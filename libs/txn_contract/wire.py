"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body.

Encoding and decoding use fastavro directly with pre-parsed schemas; confluent-kafka's
``AvroSerializer`` does the same work plus a registry round trip and per-call dict handling,
and measured slower (see ``bench/bench_codec.py`` and docs/performance.md).
"""

from __future__ import annotations

import io
import struct
from typing import Any

from .errors import DecodeError

__all__ = [
    "HEADER_SIZE",
    "MAGIC_BYTE",
    "decode",
    "encode",
    "frame",
    "split_header",
]

MAGIC_BYTE = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">bI")


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header for ``schema_id``."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def encode(record: dict[str, Any], parsed_schema: Any, schema_id: int) -> bytes:
    """Avro-encode ``record`` with ``parsed_schema`` (fastavro-parsed) and frame it."""
    from fastavro import schemaless_writer

    buf = io.BytesIO()
    buf.write(_HEADER.pack(MAGIC_BYTE, schema_id))
    schemaless_writer(buf, parsed_schema, record)
    return buf.getvalue()


def split_header(value: bytes | None) -> tuple[int, memoryview]:
    """Return ``(schema_id, body)`` or raise :class:`DecodeError` with a stable reason code."""
    if value is None or len(value) == 0:
        raise DecodeError("EMPTY_VALUE", "the message has no value (null or zero bytes)")
    if len(value) < HEADER_SIZE:
        raise DecodeError(
            "SHORT_HEADER", f"the value has {len(value)} bytes, fewer than the 5-byte header"
        )
    magic, schema_id = _HEADER.unpack_from(value)
    if magic != MAGIC_BYTE:
        raise DecodeError("BAD_MAGIC_BYTE", f"the first byte is {magic & 0xFF}, not 0")
    return schema_id, memoryview(value)[HEADER_SIZE:]


def decode(value: bytes, writer_schema: Any, reader_schema: Any | None = None) -> dict[str, Any]:
    """Decode one framed message written with ``writer_schema``, projected onto
    ``reader_schema`` (default: the writer's). Every byte must be consumed."""
    from fastavro import schemaless_reader

    schema_id, body = split_header(value)
    buf = io.BytesIO(body)
    try:
        record = schemaless_reader(buf, writer_schema, reader_schema)
    except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError... on bad input
        raise DecodeError(
            "CORRUPT_PAYLOAD", f"the Avro body does not decode: {exc}", schema_id=schema_id
        ) from exc
    if buf.tell() != len(body):
        raise DecodeError(
            "TRAILING_BYTES",
            f"{len(body) - buf.tell()} bytes remain after the record",
            schema_id=schema_id,
        )
    return record
