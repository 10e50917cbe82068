"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body.

Encoding and decoding use fastavro directly with pre-parsed schemas; confluent-kafka's
``AvroSerializer`` does the same work plus a registry round trip and per-call dict handling,
and measured slower (see ``bench/bench_codec.py`` and docs/performance.md).

This module is also the one definition of the reasons a message is not a contract event
(:data:`REASONS`) and of the sentences that explain them: :func:`decode` raises them on bytes,
and bronze's Spark SQL decoder (``bronze_ingest.decode``) writes the same codes and sentences into
its quarantine table. The sentences are printf templates so that Python (``%``) and Spark SQL
(``format_string``) fill them alike.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from .errors import DecodeError

__all__ = [
    "BAD_MAGIC_BYTE",
    "BAD_MAGIC_DETAIL",
    "CORRUPT_PAYLOAD",
    "CORRUPT_PAYLOAD_DETAIL",
    "EMPTY_VALUE",
    "EMPTY_VALUE_DETAIL",
    "FOREIGN_SCHEMA_ID",
    "HEADER_SIZE",
    "MAGIC_BYTE",
    "REASONS",
    "SHORT_HEADER",
    "SHORT_HEADER_DETAIL",
    "TRAILING_BYTES",
    "TRAILING_BYTES_DETAIL",
    "UNKNOWN_SCHEMA_ID",
    "decode",
    "encode",
    "frame",
    "split_header",
]

MAGIC_BYTE = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">bI")

# Why a message is not a contract event: stable codes (quarantine.reason, DecodeError.reason).
EMPTY_VALUE = "EMPTY_VALUE"
SHORT_HEADER = "SHORT_HEADER"
BAD_MAGIC_BYTE = "BAD_MAGIC_BYTE"
UNKNOWN_SCHEMA_ID = "UNKNOWN_SCHEMA_ID"  # judged by a consumer that asks the registry
FOREIGN_SCHEMA_ID = "FOREIGN_SCHEMA_ID"  # likewise: registered, but not under the subject
CORRUPT_PAYLOAD = "CORRUPT_PAYLOAD"
TRAILING_BYTES = "TRAILING_BYTES"
REASONS = (
    EMPTY_VALUE,
    SHORT_HEADER,
    BAD_MAGIC_BYTE,
    UNKNOWN_SCHEMA_ID,
    FOREIGN_SCHEMA_ID,
    CORRUPT_PAYLOAD,
    TRAILING_BYTES,
)

# The sentence behind each reason decided from the bytes alone (printf templates, see above).
EMPTY_VALUE_DETAIL = "the message has no value (null or zero bytes)"
SHORT_HEADER_DETAIL = (
    f"the value has %d byte(s), fewer than the {HEADER_SIZE}-byte Confluent header"
)
BAD_MAGIC_DETAIL = "the first byte is 0x%s, not the Confluent magic byte 0x00"  # %s: 2 hex digits
CORRUPT_PAYLOAD_DETAIL = "the Avro body does not decode with writer schema id %d (%s)"
TRAILING_BYTES_DETAIL = "%d byte(s) remain after the record written with schema id %d"


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
        raise DecodeError(EMPTY_VALUE, EMPTY_VALUE_DETAIL)
    if len(value) < HEADER_SIZE:
        raise DecodeError(SHORT_HEADER, SHORT_HEADER_DETAIL % len(value))
    magic, schema_id = _HEADER.unpack_from(value)
    if magic != MAGIC_BYTE:
        raise DecodeError(BAD_MAGIC_BYTE, BAD_MAGIC_DETAIL % f"{magic & 0xFF:02x}")
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
        detail = CORRUPT_PAYLOAD_DETAIL % (schema_id, exc)
        raise DecodeError(CORRUPT_PAYLOAD, detail, schema_id=schema_id) from exc
    if buf.tell() != len(body):
        detail = TRAILING_BYTES_DETAIL % (len(body) - buf.tell(), schema_id)
        raise DecodeError(TRAILING_BYTES, detail, schema_id=schema_id)
    return record
