"""The generated encoders (``txn_contract.encoders``) and the segment joins built on them
(``txn_contract.segmented``) write exactly fastavro's bytes, for every released version.

Pure tests: hypothesis events of every version against fastavro's ``schemaless_writer`` and
``schemaless_reader``; every way of splitting a version's fields between entities, per-event
fields and defaults; the fast per-event forms; the sentences of the refusals; and the
generator on the types a later version may bring (and one it refuses).
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from types import ModuleType
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract import ENCODERS, load_contract, packaged_contract, wire
from txn_contract.errors import SchemaFileError
from txn_contract.generate import write_generated
from txn_contract.generate_encoders import render_encoders
from txn_contract.segmented import (
    ENCODED,
    MILLIS,
    UUID_BITS,
    VALUE,
    OneOf,
    SegmentLayout,
    SegmentLayoutError,
    Unscaled,
)
from txn_contract.segments import (
    AvroField,
    FieldEncoder,
    RecordEncoder,
    encode_decimal,
    encode_decimal_unscaled,
    millis,
    unscaled,
)
from txn_contract.strategies import avro_records, events

CONTRACT = packaged_contract()
VERSIONS = [cv.version for cv in CONTRACT.versions]
ROOT = Path(__file__).resolve().parents[2]


# A version-2 record (version 1's are its first eleven fields).
_RECORD = {
    "transaction_id": "0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
    "timestamp": datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
    "customer_id": "C0000001",
    "merchant_id": "M000001",
    "amount": Decimal("-12.30"),
    "currency": "CAD",
    "channel": "POS",
    "city": "Montréal",
    "country": "CA",
    "device_id": "D0000001",
    "status": "DECLINED",
    "merchant_category_code": "5411",
    "province": "CA-QC",
}


def _fastavro(schema: Any, record: Any) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return buf.getvalue()


def _read(body: bytes, parsed: Any) -> Any:
    buf = io.BytesIO(body)
    record = fastavro.schemaless_reader(buf, parsed, parsed)
    assert buf.tell() == len(body)
    return record


# ---------------------------------------------------------------------------------------------
# The generated module
# ---------------------------------------------------------------------------------------------


def test_there_is_one_generated_encoder_per_released_version() -> None:
    assert sorted(ENCODERS) == VERSIONS
    for cv in CONTRACT.versions:
        enc = ENCODERS[cv.version]
        assert (enc.subject, enc.version) == (CONTRACT.subject, cv.version)
        assert enc.field_names == cv.field_names
        assert enc.describes(cv.schema)
        assert enc.describes({**cv.schema, "doc": "Docs do not change the encoding."})
        assert not enc.describes({**cv.schema, "name": "Transfer"})


def test_each_field_carries_its_avro_default_encoded() -> None:
    for cv in CONTRACT.versions:
        fields = FieldEncoder(cv.schema)
        for f in cv.schema["fields"]:
            generated = ENCODERS[cv.version].field(f["name"])
            expected = fields.encode(f["name"], f["default"]) if "default" in f else None
            assert generated.default == expected


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=200, deadline=None)
@given(data=st.data(), schema_id=st.integers(0, 2**31 - 1))
def test_generated_encoder_writes_fastavro_bytes_for_every_event(version, data, schema_id):
    cv, enc = CONTRACT.version(version), ENCODERS[version]
    record = data.draw(
        st.one_of(avro_records(version), events(version).map(lambda e: e.to_avro(version)))
    )
    body = enc.encode(record)
    assert body == _fastavro(cv.schema, record)
    assert _read(body, cv.parsed) == record
    assert enc.frame(record, schema_id) == wire.encode(record, cv.parsed, schema_id)
    fields = FieldEncoder(cv.schema)
    for f in enc.fields:
        assert f.encode(record[f.name]) == fields.encode(f.name, record[f.name])


def test_the_encoders_and_the_joins_run_without_fastavro() -> None:
    """fastavro is for generation time and for tests: encoding imports none of it."""
    code = f"""
import datetime
import sys
from decimal import Decimal
from txn_contract import ENCODERS
from txn_contract.segmented import VALUE, SegmentLayout
record = {_RECORD!r}
ENCODERS[2].frame(record, 1)
layout = SegmentLayout(ENCODERS[2], {{}}, {{name: VALUE for name in record}})
layout.compile(1, {{}})(*record.values())
assert "fastavro" not in sys.modules, "fastavro was imported"
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_a_missing_field_takes_its_default_as_in_fastavro() -> None:
    record = dict(_RECORD)
    del record["province"], record["merchant_category_code"]
    assert ENCODERS[2].encode(record) == _fastavro(CONTRACT.version(2).schema, record)


_DECIMAL = {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}


@given(st.decimals(min_value=-(10**7), max_value=10**7, allow_nan=False, allow_infinity=False))
def test_decimals_are_written_or_refused_as_fastavro_does(value: Decimal) -> None:
    try:
        expected = _fastavro(_DECIMAL, value)
    except ValueError:
        with pytest.raises(ValueError):
            encode_decimal(value, 6, 2)
    else:
        assert encode_decimal(value, 6, 2) == expected


@given(st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.none() | st.just(UTC)))
def test_timestamps_are_the_milliseconds_fastavro_writes(ts: datetime) -> None:
    millis_type = {"type": "long", "logicalType": "timestamp-millis"}
    assert ENCODERS[1].field("timestamp").encode(ts) == _fastavro(millis_type, ts)


# ---------------------------------------------------------------------------------------------
# Segment joins
# ---------------------------------------------------------------------------------------------


def _default_of(cv, name: str) -> Any:
    return next(f["default"] for f in cv.schema["fields"] if f["name"] == name)


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=150, deadline=None)
@given(data=st.data(), schema_id=st.integers(0, 2**31 - 1))
def test_any_split_of_the_fields_joins_to_fastavro_bytes(version, data, schema_id):
    """Each field to entity a or b, per event (as its value or its bytes), or to its default."""
    cv, enc = CONTRACT.version(version), ENCODERS[version]
    records = data.draw(st.lists(avro_records(version), min_size=1, max_size=4))
    owners = {
        f.name: data.draw(
            st.sampled_from(["a", "b", VALUE, ENCODED] + ["default"] * (f.default is not None))
        )
        for f in enc.fields
    }
    entities = {e: {n: itemgetter(n) for n, o in owners.items() if o == e} for e in ("a", "b")}
    per_event = {n: o for n, o in owners.items() if o in (VALUE, ENCODED)}
    rows = {"a": records, "b": records[::-1]}  # each entity indexed on its own
    join = SegmentLayout(enc, entities, per_event).compile(schema_id, rows)
    for i, r in enumerate(records):
        args = [
            r[n] if form is VALUE else enc.field(n).encode(r[n]) for n, form in per_event.items()
        ]
        value = join(i, len(records) - 1 - i, *args)
        expected = {n: _default_of(cv, n) if o == "default" else r[n] for n, o in owners.items()}
        assert value == wire.encode(expected, cv.parsed, schema_id)
        assert wire.decode(value, cv.parsed) == expected


_STATUS = ("UNKNOWN", "APPROVED", "DECLINED")
_FAST = {
    "transaction_id": UUID_BITS,
    "timestamp": MILLIS,
    "amount": Unscaled(2),
    "status": OneOf(_STATUS),
}


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_fast_forms_write_fastavro_bytes(version, data):
    """UUID bits, cached milliseconds (each event twice), unscaled amounts of either sign, a
    status by index; every other field from one entity."""
    cv, enc = CONTRACT.version(version), ENCODERS[version]
    records = data.draw(st.lists(avro_records(version), min_size=1, max_size=30))
    rest = {n: itemgetter(n) for n in cv.field_names if n not in _FAST}
    join = SegmentLayout(enc, {"row": rest}, _FAST).compile(9, {"row": records})
    for i, r in enumerate(records):
        args = (
            uuid.UUID(r["transaction_id"]).int,
            millis(r["timestamp"]),
            unscaled(r["amount"], 2),
            _STATUS.index(r["status"]),
        )
        for _twice in range(2):
            assert join(i, *args) == wire.encode(r, cv.parsed, 9)


@given(st.integers(-(2**600), 2**600))
def test_unscaled_amounts_of_any_width_and_sign(n: int) -> None:
    amount = AvroField("amount", "decimal(600,2)", lambda v: b"", scale=2)
    enc = RecordEncoder("s", 1, "", (amount,), lambda r: b"")
    join = SegmentLayout(enc, {}, {"amount": Unscaled(2)}).compile(1, {})
    assert join(n) == wire.frame(1, encode_decimal_unscaled(n))


# ---------------------------------------------------------------------------------------------
# Refusals: one sentence naming the field and the version
# ---------------------------------------------------------------------------------------------


def test_a_field_without_a_default_that_nobody_supplies_is_refused() -> None:
    with pytest.raises(SegmentLayoutError) as refused:
        SegmentLayout(ENCODERS[1], {"customer": {"customer_id": str}}, {"amount": Unscaled(2)})
    assert str(refused.value) == (
        f"Field 'transaction_id' of {CONTRACT.subject} version 1: it has no default and nothing "
        "supplies it; declare it as an entity's field or a per-event field."
    )
    assert (refused.value.field, refused.value.version) == ("transaction_id", 1)


_EVERY = {n: VALUE for n in ENCODERS[2].field_names}


@pytest.mark.parametrize(
    ("entities", "per_event", "message"),
    [
        ({"c": {"currency": str}}, _EVERY, "'currency' .* declared twice \\(c and per event\\)"),
        ({}, {**_EVERY, "timestamp": UUID_BITS}, "'timestamp' .*UUID_BITS needs a string"),
        ({}, {**_EVERY, "city": MILLIS}, "'city' .*MILLIS needs a long"),
        ({}, {**_EVERY, "amount": Unscaled(3)}, "'amount' .*scale 3, and it is decimal\\(18,2\\)"),
        ({}, {**_EVERY, "status": OneOf(("DONE",))}, "'status' .*cannot hold 'DONE'"),
        ({"status": {}}, _EVERY, "an entity and a per-event field have the same name"),
    ],
)
def test_declarations_that_do_not_fit_the_version_are_refused(entities, per_event, message):
    with pytest.raises(SegmentLayoutError, match=message):
        SegmentLayout(ENCODERS[2], entities, per_event)


def test_entity_values_that_do_not_encode_are_refused_naming_the_row() -> None:
    per_event = {n: VALUE for n in ENCODERS[2].field_names if n != "channel"}
    layout = SegmentLayout(ENCODERS[2], {"m": {"channel": itemgetter(0)}}, per_event)
    with pytest.raises(
        SegmentLayoutError, match=r"Field 'channel' .*: m 1 \(\('BUS',\)\) does not encode"
    ):
        layout.compile(1, {"m": [("POS",), ("BUS",)]})
    with pytest.raises(SegmentLayoutError, match="no rows were given for the entity 'm'"):
        layout.compile(1, {})


# ---------------------------------------------------------------------------------------------
# The generator on a later version's types
# ---------------------------------------------------------------------------------------------

_LATER_FIELDS = [
    {
        "name": "wallet",
        "type": ["null", {"type": "enum", "name": "Wallet", "symbols": ["UNKNOWN", "APPLE"]}],
        "default": None,
    },
    {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
    {"name": "limits", "type": {"type": "map", "values": "long"}, "default": {"day": 5}},
    {"name": "score", "type": "double", "default": 0.5},
    {"name": "ratio", "type": "float", "default": 1.5},
    {"name": "contactless", "type": "boolean", "default": True},
    {"name": "blob", "type": "bytes", "default": "\u00ff\u0001"},
    {"name": "settled", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
    {"name": "note", "type": ["string", "null"], "default": "none"},
]


def _import_file(path: Path) -> ModuleType:
    name = f"_generated_encoders_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _later_version(tmp_path: Path, extra: list[dict[str, Any]]) -> tuple[Path, Path, dict]:
    contracts, package = tmp_path / "contracts", tmp_path / "libs" / "txn_contract"
    shutil.copytree(ROOT / "contracts", contracts)
    shutil.copytree(
        ROOT / "libs" / "txn_contract", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    subject = contracts / CONTRACT.subject
    nxt = json.loads((subject / f"v{VERSIONS[-1]}.avsc").read_text())
    nxt["fields"] += extra
    (subject / f"v{VERSIONS[-1] + 1}.avsc").write_text(json.dumps(nxt, indent=2))
    return contracts, package, nxt


def test_generated_encoder_of_a_later_version_with_other_types_writes_fastavro_bytes(
    tmp_path: Path,
) -> None:
    contracts, package, nxt = _later_version(tmp_path, _LATER_FIELDS)
    write_generated(load_contract(contracts), contracts, package)
    later = _import_file(package / "encoders.py").ENCODERS[VERSIONS[-1] + 1]
    base = {n: _RECORD[n] for n in CONTRACT.latest.field_names}
    records = [
        # the later fields missing take their defaults; fastavro writes a bytes default as the
        # JSON string it is (a TypeError), so that one is given
        {**base, "blob": b"\xff\x01"},
        {**base, "wallet": "APPLE", "tags": ["a", "b"], "limits": {"x": -3, "y": 2**40}}
        | {"score": -1e300, "ratio": 3, "contactless": False, "blob": b"\x00\xff"}
        | {"settled": datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC), "note": None},
    ]
    for record in records:
        assert later.encode(record) == _fastavro(nxt, record)
    fields = FieldEncoder(nxt)
    blob = later.field("blob")
    assert blob.default == fields.encode("blob", b"\xff\x01") == b"\x04\xff\x01"
    assert later.field("limits").default == fields.encode("limits", {"day": 5})


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            "logical type 'date' on 'int'",
        ),
        ({"name": "id", "type": {"type": "fixed", "name": "Id", "size": 4}}, 'type "fixed"'),
        ({"name": "either", "type": ["string", "long"]}, 'the union \\["string", "long"\\]'),
    ],
)
def test_the_generator_refuses_a_type_it_cannot_encode_naming_the_field(
    tmp_path: Path, field: dict[str, Any], message: str
) -> None:
    contracts, _package, _nxt = _later_version(tmp_path, [field])
    with pytest.raises(
        SchemaFileError, match=f"field '{field['name']}': {message} is not supported"
    ):
        render_encoders(load_contract(contracts), contracts)
