"""The dirty stream: poison, rule violators and conflicts (and re-sends and late events) at their
rates, each doing what it claims: poison fails decoding with the reason it is counted under, a
violator breaks the rule it is counted under (the rule's own SQL, evaluated by sqlglot's Python
executor), a conflict re-sends an earlier event's id with other content."""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract import packaged_contract, wire
from txn_contract.errors import DecodeError
from txn_contract.rules import load_rules, packaged_rules
from txn_producer.dirt import Dirt
from txn_producer.encoding import EventEncoder
from txn_producer.faults import POISON_REASONS, UNREGISTERED_SCHEMA_ID, Faults
from txn_producer.generator import EventGenerator
from txn_producer.population import build_population
from txn_producer.rule_eval import Unsupported, compile_rule, passes
from txn_producer.violations import derive

SCHEMA_ID = 42
START_MS = 1_769_850_000_000  # 2026-01-31T09:00Z
# What the violators take the Kafka timestamp to be: an hour after the simulated start.
KAFKA_MS = START_MS + 3_600_000
CONTRACT = packaged_contract()


@cache
def _population():
    return build_population(200, 3)


@cache
def _encoder(version: int) -> EventEncoder:
    return EventEncoder(_population(), CONTRACT.version(version), SCHEMA_ID)


def _parts(version: int) -> tuple[EventGenerator, EventEncoder]:
    """A generator at the start of its stream, and the encoder of ``version``."""
    return EventGenerator(_population(), 3), _encoder(version)


def _stream(n: int, seed: int, version: int = CONTRACT.latest.version, **rates: float):
    """``n`` slots of a dirty stream on the simulated clock (1 event per ms): the messages, the
    Dirt that made them, and the clean stream's timestamps."""
    gen, enc = _parts(version)
    cv = CONTRACT.version(version)
    faults = Faults(cv, SCHEMA_ID, seed, clock=lambda: KAFKA_MS)
    dirt = Dirt(
        rates.pop("duplicate_rate", 0.0), rates.pop("late_rate", 0.0), seed, faults=faults, **rates
    )
    out, stamps = [], []
    for first in range(0, n, 1_000):
        times = [START_MS + first + k for k in range(min(1_000, n - first))]
        draws = gen.draws(len(times), times)
        out += dirt.apply(times, lambda ts, d=draws: enc.messages(d, ts))
        stamps += times
    return out, dirt, stamps


def _classify(messages, version: int) -> dict[str, list]:
    """Every message by what it is, judged from its bytes alone: poison (by decode reason, an
    unregistered id counted as UNKNOWN_SCHEMA_ID), a first occurrence, an exact copy of an
    earlier message, or a conflict (an earlier id, other bytes)."""
    parsed = CONTRACT.version(version).parsed
    out: dict[str, list] = {"poison": [], "first": [], "copy": [], "conflict": []}
    first: dict[str, tuple[bytes, bytes, dict]] = {}
    for key, value in messages:
        try:
            record = wire.decode(value, parsed)
        except DecodeError as err:
            out["poison"].append(err.reason)
            continue
        if wire.split_header(value)[0] != SCHEMA_ID:
            out["poison"].append(wire.UNKNOWN_SCHEMA_ID)
            continue
        tid = record["transaction_id"]
        if tid not in first:
            first[tid] = (key, value, record)
            out["first"].append(record)
        elif first[tid][:2] == (key, value):
            out["copy"].append(record)
        else:
            out["conflict"].append((first[tid], key, record))
    return out


def _within(count: int, n: int, p: float) -> bool:
    """``count`` of ``n`` draws is within 5 standard deviations (+2) of a share ``p``."""
    return abs(count - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 2


# --------------------------------------------------------------------------- rates


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    duplicate=st.sampled_from([0.0, 0.01, 0.2]),
    conflict=st.sampled_from([0.0, 0.02, 0.2]),
    poison=st.sampled_from([0.0, 0.01, 0.3]),
    violation=st.sampled_from([0.0, 0.03, 0.2]),
    late=st.sampled_from([0.0, 0.05]),
)
def test_each_kind_takes_its_share_of_the_slots(seed, duplicate, conflict, poison, violation, late):
    n = 1_500
    messages, dirt, _ = _stream(
        n,
        seed,
        duplicate_rate=duplicate,
        conflict_rate=conflict,
        poison_rate=poison,
        violation_rate=violation,
        late_rate=late,
    )
    assert len(messages) == n  # every kind takes a slot: --count still counts messages
    made = dirt.resent + dirt.conflicts + sum(dirt.poison.values()) + dirt.violators
    assert _within(dirt.resent, n, duplicate)
    assert _within(dirt.conflicts, n, conflict)
    assert _within(sum(dirt.poison.values()), n, poison)
    assert _within(dirt.violators, n, violation)
    assert _within(dirt.made_late, n - made, late)  # a share of the clean events
    judged = _classify(messages, CONTRACT.latest.version)
    assert Counter(judged["poison"]) == dirt.poison
    assert len(judged["copy"]) == dirt.resent
    assert len(judged["conflict"]) == dirt.conflicts


def test_the_same_seed_gives_the_same_dirty_stream_and_zero_rates_a_clean_one():
    rates = {"conflict_rate": 0.05, "poison_rate": 0.05, "violation_rate": 0.05}
    assert _stream(2_000, 9, **rates)[0] == _stream(2_000, 9, **rates)[0]
    assert _stream(2_000, 9, **rates)[0] != _stream(2_000, 10, **rates)[0]
    clean, dirt, _stamps = _stream(1_000, 9)
    assert not dirt.active and len(_classify(clean, CONTRACT.latest.version)["first"]) == 1_000


def test_faults_need_a_maker():
    with pytest.raises(ValueError, match="need faults"):
        Dirt(0.0, 0.0, 1, poison_rate=0.1)


# --------------------------------------------------------------------------- poison


def test_poison_fails_decoding_with_every_reason_it_is_counted_under():
    messages, dirt, _ = _stream(3_000, 5, poison_rate=0.2)
    judged = _classify(messages, CONTRACT.latest.version)
    assert set(dirt.poison) == set(POISON_REASONS)  # a mix: every reason of the module
    assert Counter(judged["poison"]) == dirt.poison
    assert {wire.BAD_MAGIC_BYTE, wire.CORRUPT_PAYLOAD, wire.UNKNOWN_SCHEMA_ID} <= set(wire.REASONS)
    for _key, value in messages:
        if value[:1] == b"{":  # the JSON text of a real event, not random bytes
            assert value.decode().startswith('{"transaction_id":')
        elif len(value) >= wire.HEADER_SIZE and wire.split_header(value)[0] != SCHEMA_ID:
            assert wire.split_header(value)[0] == UNREGISTERED_SCHEMA_ID


# --------------------------------------------------------------------------- violators


def _spark_functions(monkeypatch) -> None:
    """The two Spark functions the rules use that sqlglot's Python executor lacks."""
    from sqlglot.executor.env import ENV

    def rlike(text, pattern, *_flags):
        return None if text is None or pattern is None else re.search(pattern, text) is not None

    def substring_index(text, delimiter, count):
        if text is None:
            return None
        parts = text.split(delimiter)
        return delimiter.join(parts[:count] if count > 0 else parts[count:])

    monkeypatch.setitem(ENV, "REGEXPLIKE", rlike)
    monkeypatch.setitem(ENV, "SUBSTRINGINDEX", substring_index)


def _broken(rules, rows: list[dict]) -> list[set[str]]:
    """Per row, the ids of the rules whose SQL is not TRUE for it (sqlglot's executor)."""
    import sqlglot
    from sqlglot.executor import execute

    out: list[set[str]] = [set() for _ in rows]
    for rule in rules.rules:
        query = sqlglot.parse_one(f"SELECT ({rule.sql}) AS ok FROM t", read="spark")
        for i, (ok,) in enumerate(execute(query, tables={"t": rows}).rows):
            if ok is not True:
                out[i].add(rule.id)
    return out


@pytest.mark.parametrize("version", [v.version for v in CONTRACT.versions])
def test_each_violator_breaks_exactly_the_rule_it_is_counted_under(monkeypatch, version):
    _spark_functions(monkeypatch)
    messages, dirt, _ = _stream(800, 11, version, violation_rate=0.35)
    judged = _classify(messages, version)
    kafka = datetime.fromtimestamp(KAFKA_MS / 1000, UTC)
    fields = {f.lower() for f in CONTRACT.latest.field_names}
    rows = [
        {**{f: r.get(f) for f in fields}, "kafka_timestamp": kafka, "ingest_ts": kafka}
        for r in judged["first"]
    ]
    broken = _broken(packaged_rules(), rows)
    violating = [b for b in broken if b]  # clean events break none
    assert len(violating) == dirt.violators > 200
    assert Counter(r for b in broken for r in b) == dirt.violations
    # One rule each, but a lower-case country of an event with a province breaks the
    # province's rule too (its code must be of the country): both are counted.
    assert all(len(b) == 1 or b == {"country_iso3166", "province_iso3166_2"} for b in violating)
    derived = {v.rule for v in derive(packaged_rules(), CONTRACT.version(version)).violations}
    assert set(dirt.violations) == derived and len(derived) >= 4
    # The hand-written reading of the six shipped rules agrees (tests/unit/test_rules.py).
    from tests.unit.test_rules import _evaluate

    for row, b in zip(rows, broken, strict=True):
        for rule in derived:
            assert _evaluate(rule, row) is (rule not in b)


def test_rules_come_from_the_contract_and_unknown_shapes_are_skipped_with_a_reason(tmp_path):
    rules = packaged_rules()
    latest = derive(rules, CONTRACT.latest)
    assert [v.rule for v in latest.violations] == [r.id for r in rules.rules]
    assert latest.skipped == {}
    v1 = derive(rules, CONTRACT.version(1))
    assert "not a field of the written contract version" in v1.skipped["province_iso3166_2"]
    own = _rules_file(
        tmp_path,
        ("small", "amount < 100000"),
        ("at_least_cent", "0.01 <= amount"),
        ("not_too_old", "`timestamp` >= kafka_timestamp - INTERVAL 2 DAYS"),
        ("pos_only", "channel IN ('POS', 'ATM', 'ECOM')"),
        ("same", "currency = country"),
        ("negated", "NOT (amount < 0)"),
        ("stop", "amount > 0", "fail"),
    )
    found = derive(own, CONTRACT.latest)
    assert [v.rule for v in found.violations] == ["small", "at_least_cent", "not_too_old"]
    assert "enum" in found.skipped["pos_only"]
    assert "would stop silver" in found.skipped["stop"]
    assert set(found.skipped) == {"pos_only", "same", "negated", "stop"}


def _rules_file(tmp_path: Path, *rules: tuple[str, ...]):
    path = tmp_path / "expectations.yaml"
    entries = [
        {"id": r[0], "expression": r[1], "action": r[2] if len(r) > 2 else "quarantine"}
        | {"doc": "A rule."}
        | ({"max_ratio": 0.1} if len(r) > 2 and r[2] == "fail" else {})
        for r in rules
    ]
    path.write_text(yaml.safe_dump({"version": 1, "rules": entries}))
    return load_rules(path, CONTRACT.latest.field_names)


@cache
def _records() -> list[dict]:
    gen, enc = _parts(CONTRACT.latest.version)
    times = [START_MS + k for k in range(500)]
    return [
        wire.decode(v, CONTRACT.latest.parsed)
        for _k, v in enc.messages(gen.draws(500, times), times)
    ]


@cache
def _derived():
    return derive(packaged_rules(), CONTRACT.latest)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), index=st.integers(0, 499))
def test_a_derived_value_breaks_its_rule_whatever_the_event(seed, index):
    record = _records()[index]
    rng = random.Random(seed)
    for v in _derived().violations:
        value = v.value(record, rng, KAFKA_MS)
        assert value is not None and v.breaks(value, KAFKA_MS)
        assert not v.breaks(record[v.field], KAFKA_MS)  # the clean value passes
        if v.field == "timestamp":  # past the bound by a minute to an hour, not more
            bound = datetime.fromtimestamp(KAFKA_MS / 1000, UTC) + timedelta(minutes=5)
            assert timedelta(0) < value - bound <= timedelta(minutes=60)


# --------------------------------------------------------------------------- conflicts


def test_a_conflict_re_sends_an_earlier_id_and_key_with_another_amount(monkeypatch):
    _spark_functions(monkeypatch)
    messages, dirt, _ = _stream(3_000, 13, conflict_rate=0.1, late_rate=0.05)
    conflicts = _classify(messages, CONTRACT.latest.version)["conflict"]
    assert len(conflicts) == dirt.conflicts > 200
    for (first_key, _value, first), key, record in conflicts:
        assert key == first_key and record["transaction_id"] == first["transaction_id"]
        changed = {f for f in record if record[f] != first[f]}
        assert changed == {"amount"} and record["amount"] > first["amount"]
        # The original was on time (silver keeps it), and the re-send breaks no rule: silver
        # rejects it as a conflict, nothing else.
        assert first["timestamp"] >= datetime.fromtimestamp(START_MS / 1000, UTC)
    kafka = datetime.fromtimestamp(KAFKA_MS / 1000, UTC)
    rows = [{**r, "kafka_timestamp": kafka} for _f, _k, r in conflicts]
    assert all(not b for b in _broken(packaged_rules(), rows))


# --------------------------------------------------------------------------- rule_eval


def test_the_python_reading_of_the_rules_agrees_with_sqlglots_executor(monkeypatch):
    """Every combination of values around the rules' edges, read both ways."""
    _spark_functions(monkeypatch)
    kafka = datetime.fromtimestamp(KAFKA_MS / 1000, UTC)
    rows = [
        {
            "amount": amount,
            "currency": currency,
            "country": country,
            "merchant_category_code": mcc,
            "province": province,
            "timestamp": kafka + timedelta(minutes=minutes),
            "kafka_timestamp": kafka,
        }
        for amount, currency, country, mcc, province, minutes in itertools.product(
            [None, Decimal("0.00"), Decimal("12.34")],
            [None, "CAD", "cad"],
            [None, "CA", "US", "ca"],
            [None, "5411", "54111", "54a1"],
            [None, "CA-ON", "US-NY", "ca-on", "FR-75C"],
            [4, 5, 6],
        )
    ]
    expected = _broken(_rules(), rows)
    checks = {r.id: compile_rule(r.sql) for r in _rules().rules}
    for row, broken in zip(rows, expected, strict=True):
        assert {rule for rule, check in checks.items() if not passes(check, row)} == broken, row
    for rule in checks:  # each rule both passes and fails among the rows
        assert any(rule in b for b in expected) and any(rule not in b for b in expected)


@cache
def _rules():
    return packaged_rules()


def test_the_python_reading_keeps_sparks_null_logic_and_refuses_what_it_does_not_know():
    row = {"a": None, "b": Decimal(1), "s": "x"}
    assert compile_rule("a > 0 OR b > 0")(row) is True
    assert compile_rule("a > 0 OR b < 0")(row) is None  # NULL: not a pass
    assert compile_rule("a > 0 AND b < 0")(row) is False
    assert compile_rule("a IS NOT NULL")(row) is False and compile_rule("NOT (b = 1)")(row) is False
    assert compile_rule("a IN ('x')")(row) is None and compile_rule("s IN ('x', 'y')")(row)
    with pytest.raises(Unsupported):
        compile_rule("length(s) > 0")
    with pytest.raises(Unsupported, match="ingest_ts"):
        compile_rule("ingest_ts > b")(row)


def test_a_violator_never_breaks_a_fail_rule_on_the_way(tmp_path):
    rules = _rules_file(
        tmp_path,
        ("codes", "currency IN ('CAD', 'USD', 'EUR', 'GBP', 'MXN')"),
        ("no_lower_cad", "currency NOT IN ('cad')", "fail"),
    )
    faults = Faults(CONTRACT.latest, SCHEMA_ID, 3, rules=rules, clock=lambda: KAFKA_MS)
    assert faults.rules == ("codes",)
    for record in _records()[:200]:
        value = wire.encode(record, CONTRACT.latest.parsed, SCHEMA_ID)
        bad, broken = faults.violate(value)
        currency = wire.decode(bad, CONTRACT.latest.parsed)["currency"]
        assert broken == ("codes",) and currency != "cad"
        assert currency not in {"CAD", "USD", "EUR", "GBP", "MXN"}
