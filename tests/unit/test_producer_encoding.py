"""The producer's segment-assembled values are exactly fastavro's framed encoding."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract import packaged_contract, wire
from txn_producer.encoding import EventEncoder, UnsupportedContractError
from txn_producer.generator import EventGenerator
from txn_producer.population import build_population

CONTRACT = packaged_contract()


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


def test_a_version_with_an_unknown_layout_is_refused():
    cv = CONTRACT.latest
    schema = dict(cv.schema)
    schema["fields"] = list(reversed(schema["fields"]))
    shuffled = dataclasses.replace(cv, schema=schema)
    with pytest.raises(UnsupportedContractError, match="cannot assemble"):
        EventEncoder(_population(1), shuffled, 1)
