"""The contract package agrees with ``contracts/``: codec, generated class, drift gate, policy.

Pure tests (no broker, no registry): hypothesis round trips of every generated event of every
released version through the Confluent wire format, the generated ``Transaction`` class against
the latest schema, schema resolution between versions (writer v1 read with reader v2 gives the
defaults), the stable reason codes of ``wire.decode``, ``txn-contract generate --check`` on a
copy of the repository in a temporary directory (the real files are never modified), and the
subject's compatibility policy between every pair of released versions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import re
import shutil
import sys
import typing
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any

import fastavro
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract import Channel, Status, Transaction, load_contract, packaged_contract, wire
from txn_contract import model as generated
from txn_contract.compatibility import LEVELS, check_level
from txn_contract.errors import DecodeError, SchemaFileError, TxnError
from txn_contract.generate import check_generated, render, write_generated
from txn_contract.strategies import avro_records, events
from txn_runtime.contract_cli import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
PACKAGE_DIR = REPO_ROOT / "libs" / "txn_contract"
CONTRACT = packaged_contract()
VERSIONS = [cv.version for cv in CONTRACT.versions]
V1, V2 = CONTRACT.version(1), CONTRACT.version(2)
LATEST = CONTRACT.latest
NEXT = LATEST.version + 1  # the version tests add to copies of contracts/


# ---------------------------------------------------------------------------------------------
# Encode/decode round trips
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_every_generated_event_round_trips_through_the_wire_format(version: int, data) -> None:
    cv = CONTRACT.version(version)
    event = data.draw(events(version))
    schema_id = data.draw(st.integers(0, 2**32 - 1))
    framed = wire.encode(event.to_avro(version), cv.parsed, schema_id)

    assert framed[0] == wire.MAGIC_BYTE
    assert int.from_bytes(framed[1:5], "big") == schema_id
    assert wire.decode(framed, cv.parsed) == event.to_avro(version)
    # bronze's path: decoded with its writer schema, projected onto the latest version
    latest = wire.decode(framed, cv.parsed, CONTRACT.latest.parsed)
    assert Transaction.from_avro(latest) == event


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_every_generated_record_round_trips(version: int, data) -> None:
    cv = CONTRACT.version(version)
    record = data.draw(avro_records(version))
    framed = wire.encode(record, cv.parsed, 7)
    assert wire.split_header(framed)[0] == 7
    assert wire.frame(7, bytes(wire.split_header(framed)[1])) == framed
    assert wire.decode(framed, cv.parsed) == record


@settings(max_examples=100, deadline=None)
@given(avro_records(1))
def test_writer_v1_read_with_reader_v2_gives_the_v2_defaults(record: dict[str, Any]) -> None:
    added = [f for f in V2.schema["fields"] if f["name"] not in V1.field_names]
    assert [f["name"] for f in added] == ["merchant_category_code", "province"]

    got = wire.decode(wire.encode(record, V1.parsed, 1), V1.parsed, V2.parsed)

    assert got == {**record, **{f["name"]: f["default"] for f in added}}
    assert got["merchant_category_code"] is None
    assert got["province"] is None


@settings(max_examples=100, deadline=None)
@given(avro_records(2))
def test_writer_v2_read_with_reader_v1_drops_the_v2_fields(record: dict[str, Any]) -> None:
    # FULL compatibility's other half: consumers still on v1 keep reading v2 events
    got = wire.decode(wire.encode(record, V2.parsed, 2), V2.parsed, V1.parsed)
    assert got == {name: record[name] for name in V1.field_names}


def test_to_avro_of_an_older_version_leaves_later_fields_out() -> None:
    event = Transaction(
        transaction_id="0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        timestamp=datetime(2026, 11, 28, 15, 40, 0, 123000, tzinfo=UTC),
        customer_id="C0000001",
        merchant_id="M000042",
        amount=Decimal("12.34"),
        currency="CAD",
        channel=Channel.POS,
        city="Toronto",
        country="CA",
        device_id="D0000007",
        status=Status.APPROVED,
        merchant_category_code="5411",
        province="CA-ON",
    )
    assert tuple(event.to_avro(1)) == V1.field_names
    assert tuple(event.to_avro(2)) == V2.field_names
    assert tuple(event.to_avro()) == LATEST.field_names
    assert event.to_avro(1)["channel"] == "POS"
    assert type(event.to_avro(1)["channel"]) is str  # fastavro is given plain symbols


# ---------------------------------------------------------------------------------------------
# wire.decode reason codes
# ---------------------------------------------------------------------------------------------


def _valid_frame() -> bytes:
    record = {
        "transaction_id": "0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "timestamp": datetime(2026, 11, 28, tzinfo=UTC),
        "customer_id": "C1",
        "merchant_id": "M1",
        "amount": Decimal("1.00"),
        "currency": "CAD",
        "channel": "ATM",
        "city": "Ottawa",
        "country": "CA",
        "device_id": "D1",
        "status": "DECLINED",
        "merchant_category_code": None,
        "province": "CA-ON",
    }
    return wire.encode(record, V2.parsed, 42)


@pytest.mark.parametrize(
    ("value", "reason", "schema_id"),
    [
        pytest.param(None, "EMPTY_VALUE", None, id="null"),
        pytest.param(b"", "EMPTY_VALUE", None, id="zero-bytes"),
        pytest.param(b"\x00\x00\x00", "SHORT_HEADER", None, id="short-header"),
        pytest.param(b"\x00\x00\x00\x00", "SHORT_HEADER", None, id="four-bytes"),
        pytest.param(b"\x01" + _valid_frame()[1:], "BAD_MAGIC_BYTE", None, id="bad-magic"),
        pytest.param(b"{" + _valid_frame()[1:], "BAD_MAGIC_BYTE", None, id="json-not-avro"),
        pytest.param(_valid_frame()[:5], "CORRUPT_PAYLOAD", 42, id="header-only"),
        pytest.param(_valid_frame()[:-1], "CORRUPT_PAYLOAD", 42, id="truncated-by-one"),
        pytest.param(_valid_frame()[:20], "CORRUPT_PAYLOAD", 42, id="truncated-mid-field"),
        pytest.param(_valid_frame() + b"\x00", "TRAILING_BYTES", 42, id="trailing-byte"),
        pytest.param(_valid_frame() + _valid_frame(), "TRAILING_BYTES", 42, id="two-records"),
    ],
)
def test_decode_reason_codes(value: bytes | None, reason: str, schema_id: int | None) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode(value, V2.parsed)  # type: ignore[arg-type]
    assert info.value.reason == reason
    assert info.value.schema_id == schema_id
    assert str(info.value).startswith(f"{reason}: ")
    assert isinstance(info.value, TxnError)


def test_decode_of_a_valid_frame_succeeds() -> None:
    assert wire.decode(_valid_frame(), V2.parsed)["province"] == "CA-ON"


def test_bad_magic_byte_is_reported_unsigned() -> None:
    with pytest.raises(DecodeError, match="the first byte is 0xff, not the Confluent magic byte"):
        wire.split_header(b"\xff\x00\x00\x00\x01body")


def test_every_reason_is_documented_in_the_bronze_quarantine_table() -> None:
    # docs/bronze.md's table of quarantine reasons, one `| `CODE` | ... |` row each
    table = (Path(__file__).resolve().parents[2] / "docs" / "bronze.md").read_text()
    documented = re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE)
    assert documented == list(wire.REASONS)


# ---------------------------------------------------------------------------------------------
# The generated class agrees with the schema
# ---------------------------------------------------------------------------------------------


def _expected_python_type(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        (inner,) = [b for b in avro_type if b != "null"]
        return _expected_python_type(inner) | None
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "decimal":
            return Decimal
        if logical == "timestamp-millis":
            return datetime
        if avro_type["type"] == "enum":
            return getattr(generated, avro_type["name"])
        return _expected_python_type(avro_type["type"])
    return {"string": str, "long": int, "int": int, "boolean": bool, "double": float}[avro_type]


def test_generated_class_fields_are_the_latest_schema_fields_in_order() -> None:
    schema_fields = CONTRACT.latest.schema["fields"]
    fields = dataclasses.fields(Transaction)
    assert [f.name for f in fields] == [f["name"] for f in schema_fields]
    hints = typing.get_type_hints(Transaction)
    for f, spec in zip(fields, schema_fields, strict=True):
        assert hints[f.name] == _expected_python_type(spec["type"]), f.name
        if "default" in spec:
            assert f.default == spec["default"], f.name
        else:
            assert f.default is dataclasses.MISSING, f"{f.name} must be required"
            assert f.default_factory is dataclasses.MISSING, f.name


def test_generated_enums_have_the_schema_symbols_in_order() -> None:
    enums = {
        f["type"]["name"]: f["type"]
        for f in CONTRACT.latest.schema["fields"]
        if isinstance(f["type"], dict) and f["type"]["type"] == "enum"
    }
    assert set(enums) >= {"Channel", "Status"}
    for name, spec in enums.items():
        cls = getattr(generated, name)
        assert issubclass(cls, StrEnum)
        assert [m.value for m in cls] == spec["symbols"]
        # the default symbol is what readers see for a symbol they do not know
        assert spec["default"] == "UNKNOWN" == cls.UNKNOWN


def test_generated_constants_match_the_contract() -> None:
    assert {v.version: v.field_names for v in CONTRACT.versions} == generated.FIELDS_BY_VERSION
    assert generated.LATEST_VERSION == CONTRACT.latest.version == max(VERSIONS)
    assert generated.SUBJECT == CONTRACT.subject == "bank_txn_stream-value"
    assert generated.TOPIC == CONTRACT.topic == "bank_txn_stream"
    assert CONTRACT.compatibility == generated.COMPATIBILITY
    assert CONTRACT.latest.schema["namespace"] == generated.NAMESPACE


def test_generated_module_header_names_its_source_and_digest() -> None:
    head = (PACKAGE_DIR / "model.py").read_text().splitlines()[:3]
    digest = hashlib.sha256(CONTRACT.latest.schema_str.encode()).hexdigest()[:16]
    assert head[0] == (
        "# GENERATED by `txn-contract generate` from "
        f"contracts/bank_txn_stream-value/v{CONTRACT.latest.version}.avsc (sha256 {digest})."
    )
    assert "DO NOT EDIT" in head[1]


def test_packaged_copies_equal_the_contracts_directory() -> None:
    source = load_contract(CONTRACTS_DIR)
    assert [(v.version, v.schema) for v in source.versions] == [
        (v.version, v.schema) for v in CONTRACT.versions
    ]
    assert (source.subject, source.compatibility) == (CONTRACT.subject, CONTRACT.compatibility)
    # read-only: compares what `generate` would write with the repository's files
    assert check_generated(source, CONTRACTS_DIR, PACKAGE_DIR) == []


# ---------------------------------------------------------------------------------------------
# `txn-contract generate [--check]` on a copy of the repository
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def repo_copy(tmp_path: Path) -> tuple[Path, Path]:
    """``(contracts_dir, package_dir)``: copies laid out as in the repository, so the CLI finds
    the package next to ``contracts/`` and the generated header names the same source."""
    contracts = tmp_path / "contracts"
    package = tmp_path / "libs" / "txn_contract"
    shutil.copytree(CONTRACTS_DIR, contracts)
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    return contracts, package


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2) + "\n")


def test_check_generated_passes_on_an_unchanged_copy(repo_copy: tuple[Path, Path]) -> None:
    contracts, package = repo_copy
    assert check_generated(load_contract(contracts), contracts, package) == []


def test_a_contract_edit_is_drift_until_regenerated(repo_copy: tuple[Path, Path]) -> None:
    contracts, package = repo_copy
    latest = contracts / "bank_txn_stream-value" / f"v{LATEST.version}.avsc"
    _edit_json(latest, lambda s: s["fields"][-1].update(doc="Changed."))
    copy = f"schemas/v{LATEST.version}.avsc"

    drift = check_generated(load_contract(contracts), contracts, package)
    assert drift == [f"{package / copy} (differs)", f"{package / 'model.py'} (differs)"]

    changed = write_generated(load_contract(contracts), contracts, package)
    assert changed == [copy, "model.py"]
    last_field = LATEST.schema["fields"][-1]["name"]
    assert f"{last_field}: Changed." in (package / "model.py").read_text()
    assert check_generated(load_contract(contracts), contracts, package) == []
    assert write_generated(load_contract(contracts), contracts, package) == []


def test_a_new_version_and_a_stale_copy_are_drift(repo_copy: tuple[Path, Path]) -> None:
    contracts, package = repo_copy
    subject_dir = contracts / "bank_txn_stream-value"
    shutil.copy(subject_dir / f"v{LATEST.version}.avsc", subject_dir / f"v{NEXT}.avsc")
    shutil.copy(package / "schemas" / "v1.avsc", package / "schemas" / "v9.avsc")

    drift = check_generated(load_contract(contracts), contracts, package)

    assert drift == [
        f"{package / 'schemas' / 'v9.avsc'} (no such version in contracts/)",
        f"{package / f'schemas/v{NEXT}.avsc'} (missing)",
        f"{package / 'model.py'} (differs)",  # LATEST_VERSION and FIELDS_BY_VERSION changed
        f"{package / 'encoders.py'} (differs)",  # an encoder for the new version
    ]
    write_generated(load_contract(contracts), contracts, package)
    assert not (package / "schemas" / "v9.avsc").exists()
    assert f"LATEST_VERSION = {NEXT}" in (package / "model.py").read_text()
    assert f"    {NEXT}: V{NEXT}," in (package / "encoders.py").read_text()


def test_a_hand_edited_model_is_drift(repo_copy: tuple[Path, Path]) -> None:
    contracts, package = repo_copy
    model = package / "model.py"
    model.write_text(model.read_text().replace('ECOM = "ECOM"', 'ECOM = "ECOM"\n    P2P = "P2P"'))
    assert check_generated(load_contract(contracts), contracts, package) == [f"{model} (differs)"]


def test_a_hand_edited_encoder_is_drift(repo_copy: tuple[Path, Path]) -> None:
    """The generated encoders are under the same gate: an edited symbol table is drift."""
    contracts, package = repo_copy
    encoders = package / "encoders.py"
    edited = encoders.read_text().replace('"ECOM": b"\\x06"', '"ECOM": b"\\x08"', 1)
    assert edited != encoders.read_text()
    encoders.write_text(edited)
    drift = check_generated(load_contract(contracts), contracts, package)
    assert drift == [f"{encoders} (differs)"]
    assert write_generated(load_contract(contracts), contracts, package) == ["encoders.py"]
    assert check_generated(load_contract(contracts), contracts, package) == []


def test_cli_generate_check_exits_1_naming_the_file(repo_copy: tuple[Path, Path]) -> None:
    contracts, package = repo_copy
    runner = CliRunner()
    ok = runner.invoke(cli, ["generate", "--check", "--contracts", str(contracts)])
    assert ok.exit_code == 0, ok.output
    assert "generated code matches" in ok.stderr

    _edit_json(
        contracts / "bank_txn_stream-value" / "v1.avsc",
        lambda s: s.update(doc="Edited by hand."),
    )
    drift = runner.invoke(cli, ["generate", "--check", "--contracts", str(contracts)])
    assert drift.exit_code == 1
    assert drift.stdout == f"drift: {package / 'schemas' / 'v1.avsc'} (differs)\n"
    assert "run `txn-contract generate`" in drift.stderr

    fixed = runner.invoke(cli, ["generate", "--contracts", str(contracts)])
    assert fixed.exit_code == 0, fixed.output
    assert f"wrote {package / 'schemas' / 'v1.avsc'}" in fixed.stderr
    again = runner.invoke(cli, ["generate", "--check", "--contracts", str(contracts)])
    assert again.exit_code == 0, again.output


def test_render_is_deterministic() -> None:
    contract = load_contract(CONTRACTS_DIR)
    assert render(contract, CONTRACTS_DIR) == render(contract, CONTRACTS_DIR)


# ---------------------------------------------------------------------------------------------
# The generator on the next version (regression: enum fields with defaults or nullable)
# ---------------------------------------------------------------------------------------------

_NEXT_FIELDS = [
    {
        "name": "card_type",
        "type": {
            "type": "enum",
            "name": "CardType",
            "symbols": ["UNKNOWN", "DEBIT", "CREDIT"],
            "default": "UNKNOWN",
        },
        "default": "UNKNOWN",
        "doc": "Kind of card, UNKNOWN when not a card transaction.",
    },
    {
        "name": "wallet",
        "type": ["null", {"type": "enum", "name": "Wallet", "symbols": ["UNKNOWN", "APPLE"]}],
        "default": None,
        "doc": "Mobile wallet used, if any.",
    },
    {"name": "tags", "type": {"type": "array", "items": "string"}, "default": [], "doc": "Tags."},
]


def _import_generated(path: Path) -> ModuleType:
    name = f"_generated_model_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def test_generated_model_of_a_next_version_with_enum_defaults_and_nullable_enums_works(
    repo_copy: tuple[Path, Path],
) -> None:
    """Regression: the generator wrote an enum field's default as a plain string (so
    ``to_avro`` failed on ``'UNKNOWN'.value``), called ``.value`` on a nullable enum holding
    None, converted enum fields that older versions lack, and gave a list default to a
    dataclass (which refuses mutable defaults)."""
    contracts, package = repo_copy
    subject_dir = contracts / "bank_txn_stream-value"
    nxt = json.loads((subject_dir / f"v{LATEST.version}.avsc").read_text())
    nxt["fields"] += _NEXT_FIELDS
    (subject_dir / f"v{NEXT}.avsc").write_text(json.dumps(nxt, indent=2))
    contract = load_contract(contracts)
    previous = [cv.schema for cv in CONTRACT.versions]
    assert check_level(nxt, previous, contract.compatibility) == []
    write_generated(contract, contracts, package)

    model = _import_generated(package / "model.py")
    event = model.Transaction.from_avro(_record_v1())  # an old record: later fields defaulted
    assert event.card_type is model.CardType.UNKNOWN
    assert event.wallet is None
    assert event.tags == []
    for cv in contract.versions:
        record = event.to_avro(cv.version)
        assert tuple(record) == cv.field_names
        parsed = fastavro.parse_schema(cv.schema)
        assert wire.decode(wire.encode(record, parsed, 1), parsed) == record
    with_wallet = dataclasses.replace(event, wallet=model.Wallet.APPLE, tags=["a"])
    decoded = wire.decode(
        wire.encode(with_wallet.to_avro(NEXT), fastavro.parse_schema(nxt), NEXT),
        fastavro.parse_schema(nxt),
    )
    assert model.Transaction.from_avro(decoded) == with_wallet


def test_generator_refuses_a_non_null_default_on_a_logical_type(
    repo_copy: tuple[Path, Path],
) -> None:
    contracts, _package = repo_copy
    subject_dir = contracts / "bank_txn_stream-value"
    nxt = json.loads((subject_dir / f"v{LATEST.version}.avsc").read_text())
    nxt["fields"].append(
        {
            "name": "fee",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
            "default": "\u0000",
        }
    )
    (subject_dir / f"v{NEXT}.avsc").write_text(json.dumps(nxt))
    with pytest.raises(SchemaFileError, match="field 'fee': a non-null default on a decimal"):
        render(load_contract(contracts), contracts)


def _record_v1() -> dict[str, Any]:
    return {
        "transaction_id": "0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "customer_id": "C1",
        "merchant_id": "M1",
        "amount": Decimal("9.99"),
        "currency": "CAD",
        "channel": "ECOM",
        "city": "Montreal",
        "country": "CA",
        "device_id": "D1",
        "status": "APPROVED",
    }


# ---------------------------------------------------------------------------------------------
# Released versions and the policy
# ---------------------------------------------------------------------------------------------


def test_unknown_version_error_names_the_released_versions() -> None:
    with pytest.raises(TxnError) as info:
        CONTRACT.version(99)
    message = str(info.value)
    assert "Contract version 99 of subject bank_txn_stream-value does not exist" in message
    assert message.endswith(f"released versions: {', '.join(map(str, VERSIONS))}.")


def test_policy_names_a_known_level() -> None:
    policy = json.loads((CONTRACTS_DIR / "bank_txn_stream-value" / "policy.json").read_text())
    assert policy["compatibility"] in LEVELS
    assert policy["compatibility"] == CONTRACT.compatibility == "FULL_TRANSITIVE"


@pytest.mark.parametrize(
    ("old", "new"),
    [(a, b) for a in VERSIONS for b in VERSIONS if a < b],
    ids=lambda v: f"v{v}",
)
def test_every_released_version_pair_satisfies_the_policy(old: int, new: int) -> None:
    # with one previous schema, a transitive level is the same as its plain level: every pair
    # holding means the whole history holds at FULL_TRANSITIVE
    violations = check_level(
        CONTRACT.version(new).schema, [CONTRACT.version(old).schema], CONTRACT.compatibility
    )
    assert violations == [], [v.line(f"v{new}") for v in violations]
