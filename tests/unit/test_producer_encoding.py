"""The producer's segment-assembled values are exactly fastavro's framed encoding, and a new
contract version needs ``txn-contract generate`` alone for the producer to write it."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract import load_contract, packaged_contract, wire
from txn_contract.compatibility import check_level
from txn_contract.generate import check_generated, write_generated
from txn_producer.encoding import EventEncoder, UnsupportedContractError
from txn_producer.generator import EventGenerator
from txn_producer.population import build_population

CONTRACT = packaged_contract()
ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _population(seed: int):
    return build_population(150, seed)


@pytest.mark.parametrize("version", [cv.version for cv in CONTRACT.versions])
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 50),
    schema_id=st.integers(1, 2**31 - 1),
    timestamps=st.lists(st.integers(0, 4_102_444_800_000), min_size=1, max_size=40),
)
def test_values_equal_fastavro_encoding_and_decode_back(version, seed, schema_id, timestamps):
    cv = CONTRACT.version(version)
    pop = _population(seed)
    gen = EventGenerator(pop, seed)
    enc = EventEncoder(pop, cv, schema_id)
    draws = gen.draws(len(timestamps))
    messages = enc.messages(draws, timestamps)
    for draw, ts, (key, value) in zip(draws, timestamps, messages, strict=True):
        record = gen.transaction(draw, ts).to_avro(version)
        assert value == wire.encode(record, cv.parsed, schema_id)
        assert key == record["customer_id"].encode("utf-8")
        assert wire.split_header(value)[0] == schema_id
        assert wire.decode(value, cv.parsed) == record


def test_wall_clock_timestamps_are_now():
    import time

    cv = CONTRACT.latest
    pop = _population(1)
    gen, enc = EventGenerator(pop, 1), EventEncoder(pop, cv, 7)
    before = time.time_ns() // 1_000_000
    (_key, value), *_ = enc.messages(gen.draws(3))
    after = time.time_ns() // 1_000_000
    ts = wire.decode(value, cv.parsed)["timestamp"].timestamp() * 1000
    assert before <= round(ts) <= after


def test_a_schema_the_encoders_were_not_generated_from_is_refused():
    cv = CONTRACT.latest
    schema = dict(cv.schema)
    schema["fields"] = list(reversed(schema["fields"]))
    shuffled = dataclasses.replace(cv, schema=schema)
    with pytest.raises(UnsupportedContractError, match="run `txn-contract generate`"):
        EventEncoder(_population(1), shuffled, 1)


# ---------------------------------------------------------------------------------------------
# A version 3: `txn-contract generate` alone makes the producer write it
# ---------------------------------------------------------------------------------------------

# What version 3 adds to version 2: a field in the middle with a non-null default, an enum with
# a default, a nullable string, and a new Channel symbol (a new enum definition to generate).
_V3_FIELDS_AFTER_AMOUNT = [
    {"name": "installments", "type": "int", "default": 1, "doc": "Payments the amount is split in."}
]
_V3_FIELDS_AT_THE_END = [
    {
        "name": "card_type",
        "type": {
            "type": "enum",
            "name": "CardType",
            "symbols": ["UNKNOWN", "DEBIT", "CREDIT"],
            "default": "UNKNOWN",
        },
        "default": "UNKNOWN",
        "doc": "Kind of card, UNKNOWN when not known.",
    },
    {"name": "terminal_id", "type": ["null", "string"], "default": None, "doc": "POS terminal."},
]
_V3_DEFAULTS = {"installments": 1, "card_type": "UNKNOWN", "terminal_id": None}


def _version_3(v2: dict) -> dict:
    v3 = json.loads(json.dumps(v2))
    names = [f["name"] for f in v3["fields"]]
    after_amount = names.index("amount") + 1
    v3["fields"][after_amount:after_amount] = _V3_FIELDS_AFTER_AMOUNT
    v3["fields"] += _V3_FIELDS_AT_THE_END
    channel = v3["fields"][names.index("channel") + 1]["type"]
    channel["symbols"] = [*channel["symbols"], "P2P"]
    v3["doc"] = "Released version 3 (a test's)."
    return v3


def _import_file(path: Path) -> ModuleType:
    name = f"_generated_encoders_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def test_generate_alone_makes_the_producer_write_a_new_version(tmp_path: Path) -> None:
    """The issue-18 promise: add v3 to a copy of contracts/, run the generator, and the producer
    (unchanged) writes valid v3 values; the fields it does not know take their Avro defaults."""
    contracts, package = tmp_path / "contracts", tmp_path / "libs" / "txn_contract"
    shutil.copytree(ROOT / "contracts", contracts)
    shutil.copytree(
        ROOT / "libs" / "txn_contract", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    subject = contracts / CONTRACT.subject
    v3 = _version_3(json.loads((subject / "v2.avsc").read_text()))
    (subject / "v3.avsc").write_text(json.dumps(v3, indent=2) + "\n")
    contract = load_contract(contracts)
    assert check_level(v3, [cv.schema for cv in CONTRACT.versions], contract.compatibility) == []
    cv3 = contract.version(3)
    pop = _population(3)
    with pytest.raises(UnsupportedContractError):  # before generating: no v3 encoder
        EventEncoder(pop, cv3, 33)

    assert "encoders.py" in write_generated(contract, contracts, package)
    assert check_generated(contract, contracts, package) == []
    generated = _import_file(package / "encoders.py")
    gen = EventGenerator(pop, 3)
    enc = EventEncoder(pop, cv3, 33, encoders=generated.ENCODERS)

    draws = gen.draws(300)
    stamps = [1_767_225_600_000 + i // 7 for i in range(len(draws))]
    parsed = fastavro.parse_schema(v3)
    for draw, ts, (key, value) in zip(draws, stamps, enc.messages(draws, stamps), strict=True):
        decoded = wire.decode(value, parsed)
        assert decoded == {**gen.transaction(draw, ts).to_avro(2), **_V3_DEFAULTS}
        assert list(decoded) == [f["name"] for f in v3["fields"]]
        assert value == wire.encode(decoded, parsed, 33)
        assert key == decoded["customer_id"].encode("utf-8")
