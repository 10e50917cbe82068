"""Segment-assembled Avro bytes are fastavro's bytes, for every released contract version."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract import packaged_contract
from txn_contract.segments import (
    FieldEncoder,
    encode_decimal_unscaled,
    encode_long,
    encode_string,
    unscaled,
)
from txn_contract.strategies import avro_records

CONTRACT = packaged_contract()
VERSIONS = [cv.version for cv in CONTRACT.versions]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _fastavro(schema, value) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), value)
    return buf.getvalue()


def _millis(ts: datetime) -> int:
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _segmented(fields: FieldEncoder, record: dict) -> bytes:
    """The producer's recipe: the dynamic fields by the small functions, the rest pre-encoded
    field by field with fastavro."""
    parts = {name: fields.encode(name, record[name]) for name in fields.field_names}
    parts["transaction_id"] = encode_string(record["transaction_id"])
    parts["timestamp"] = encode_long(_millis(record["timestamp"]))
    parts["amount"] = encode_decimal_unscaled(unscaled(record["amount"], 2))
    return fields.assemble(parts)


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_segments_equal_fastavro_whole_record_and_decode_back(version, data):
    cv = CONTRACT.version(version)
    record = data.draw(avro_records(version))
    fields = FieldEncoder(cv.schema)
    whole = _fastavro(cv.schema, record)
    assert fields.encode_record(record) == whole
    assert _segmented(fields, record) == whole
    back = fastavro.schemaless_reader(io.BytesIO(whole), cv.parsed, cv.parsed)
    assert back == record


@given(st.integers(-(2**63), 2**63 - 1))
def test_encode_long_is_avro_long(n):
    assert encode_long(n) == _fastavro("long", n)


@given(st.text(max_size=60))
def test_encode_string_is_avro_string(s):
    assert encode_string(s) == _fastavro("string", s)


_DECIMAL = {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}


@given(st.integers(-(10**18) + 1, 10**18 - 1))
def test_encode_decimal_matches_fastavro_widths(cents):
    assert encode_decimal_unscaled(cents) == _fastavro(_DECIMAL, Decimal(cents).scaleb(-2))


@pytest.mark.parametrize("cents", [0, 1, -1, 127, 128, -128, -129, 255, 32767, -32768])
def test_encode_decimal_edges(cents):
    # -128 is where fastavro's width is one byte wider than the minimum; we must follow it.
    assert encode_decimal_unscaled(cents) == _fastavro(_DECIMAL, Decimal(cents).scaleb(-2))


def test_unscaled_refuses_lost_digits():
    assert unscaled(Decimal("12.3"), 2) == 1230
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        unscaled(Decimal("0.001"), 2)


def test_enum_declared_by_one_field_and_referenced_by_another():
    schema = {
        "type": "record",
        "name": "R",
        "namespace": "t",
        "fields": [
            {"name": "a", "type": {"type": "enum", "name": "E", "symbols": ["X", "Y"]}},
            {"name": "b", "type": "E"},
            {"name": "c", "type": ["null", "E"]},
        ],
    }
    fields = FieldEncoder(schema)
    record = {"a": "Y", "b": "X", "c": "Y"}
    assert fields.encode_record(record) == _fastavro(schema, record)


def test_assemble_refuses_missing_or_unknown_segments():
    fields = FieldEncoder(CONTRACT.version(1).schema)
    with pytest.raises(KeyError, match="missing"):
        fields.assemble({"transaction_id": b""})
    with pytest.raises(KeyError, match="nope"):
        fields.assemble({n: b"" for n in (*fields.field_names, "nope")})
    with pytest.raises(ValueError, match="not consecutive"):
        fields.encode_fields({"city": "x", "status": "APPROVED"}, ("city", "status"))
