"""Well-formed events that break silver's quality rules, derived from the rules themselves.

``--violation-rate P`` gives a share P of the slots to events that bronze accepts (framed Avro of
the written contract version) but that break one of the quality rules of the contract
(``contracts/bank_txn_stream-value/expectations.yaml``, as packaged in ``txn_contract``). Which
field to corrupt, and how, is read off each rule's Spark SQL with sqlglot (the parser
``txn-contract check`` validates rules with), so the rule ids come from the contract and a new
rule of a known shape is violated with no producer edit:

- ``col > literal`` (and ``>=``, ``<``, ``<=``, ``=``, ``<>``): the boundary value that makes it
  false (``amount > 0``: an amount of 0);
- ``col IN (...)``: a value not in the list: the event's own code in lower case (``cad``), as a
  system that does not normalise codes sends, else another code of the list in lower case;
- ``col RLIKE 're'``: a value the expression does not find (the event's value with a letter);
- ``col IS NULL OR x``: a value that is not null and falsifies ``x``;
- ``x AND y``: the first of them that can be falsified;
- ``col <= kafka_timestamp + INTERVAL n unit``: an event time 1 to 60 minutes past the bound
  from the Kafka timestamp (the wall clock when produced), as a device whose clock runs ahead.

A rule of another shape, of action ``fail`` (a violator would stop silver), or on a field the
written version lacks or types as an enum (no value outside it can be written), is skipped; the
producer says which and why at start-up.

Example::

    found = derive(packaged_rules(), packaged_contract().latest)
    [v.rule for v in found.violations]   # ['amount_positive', 'currency_iso4217', ...]
    value = found.violations[0].value(record, random.Random(7), now_ms=1_767_225_600_000)
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from txn_contract.contract import ContractVersion
from txn_contract.rules import RuleSet

from .rule_eval import COMPARE, UNIT_S, parse

__all__ = ["KAFKA_TIME", "Derived", "Need", "Violation", "derive"]

# The rules' column for the Kafka record timestamp: the wall clock when the producer sends.
KAFKA_TIME = "kafka_timestamp"
# How far past a time bound a violator's event time goes, in minutes.
_AHEAD_MINUTES = (10, 60)
_FLIP = {"GT": "LT", "GTE": "LTE", "LT": "GT", "LTE": "GTE", "EQ": "EQ", "NEQ": "NEQ"}


@dataclass(frozen=True)
class Context:
    """What a proposal may use: the event's current value, a seeded RNG, the wall clock (ms)."""

    current: Any
    rng: random.Random
    now_ms: int


@dataclass(frozen=True)
class Need:
    """One atom of a rule to falsify: ``breaks(value, now_ms)`` is True when ``value`` makes the
    atom not TRUE; ``propose(ctx)`` gives candidate values, best first."""

    breaks: Callable[[Any, int], bool]
    propose: Callable[[Context], list[Any]]


@dataclass(frozen=True)
class Violation:
    """How to break rule ``rule``: give ``field`` a value that breaks every one of ``needs``."""

    rule: str
    field: str
    needs: tuple[Need, ...]

    def value(self, record: dict[str, Any], rng: random.Random, now_ms: int) -> Any:
        """A value of ``field`` that breaks the rule for ``record`` (or None when none was
        found: the event is then sent clean)."""
        return next(self.candidates(record, rng, now_ms), None)

    def candidates(self, record: dict[str, Any], rng: random.Random, now_ms: int) -> Iterator[Any]:
        """Values of ``field`` that break the rule for ``record``, best first."""
        ctx = Context(record.get(self.field), rng, now_ms)
        for need in self.needs:
            for candidate in need.propose(ctx):
                if candidate is not None and self.breaks(candidate, now_ms):
                    yield candidate

    def breaks(self, value: Any, now_ms: int) -> bool:
        """Whether ``value`` of ``field`` breaks the rule (every atom the rule needs false)."""
        return all(need.breaks(value, now_ms) for need in self.needs)


@dataclass(frozen=True)
class Derived:
    """The violations derived from a rule set for one contract version, and the rules skipped
    (rule id -> why)."""

    violations: tuple[Violation, ...]
    skipped: dict[str, str] = field(default_factory=dict)


class _Skip(Exception):
    """A rule (or an atom of it) this module cannot falsify; the message says why."""


def derive(rules: RuleSet, cv: ContractVersion) -> Derived:
    """The violations of ``rules`` that events of contract version ``cv`` can carry."""
    types = {f["name"].lower(): (f["name"], f["type"]) for f in cv.schema["fields"]}
    found: list[Violation] = []
    skipped: dict[str, str] = {}
    for rule in rules.rules:
        if rule.action == "fail":
            skipped[rule.id] = "action fail: its violators would stop silver"
            continue
        try:
            needs = _falsify(parse(rule.sql), types)
            if len(needs) != 1:
                raise _Skip("falsifying it takes more than one field")
            ((name, atoms),) = needs.items()
            found.append(Violation(rule.id, name, tuple(atoms)))
        except _Skip as why:
            skipped[rule.id] = str(why)
    return Derived(tuple(found), skipped)


def _falsify(node, types: dict[str, tuple[str, Any]]) -> dict[str, list[Need]]:
    """Field -> the atoms its value must break so that ``node`` is not TRUE."""
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return _falsify(node.this, types)
    if isinstance(node, exp.Or):  # both sides must fail
        out = _falsify(node.this, types)
        for name, needs in _falsify(node.expression, types).items():
            out.setdefault(name, []).extend(needs)
        return out
    if isinstance(node, exp.And):  # one side failing is enough
        try:
            return _falsify(node.this, types)
        except _Skip:
            return _falsify(node.expression, types)
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        name, _t = _column(node.this, types)
        return {name: [Need(lambda v, _n: v is not None, lambda c: [c.current])]}
    if isinstance(node, exp.In):
        return _not_in(node, types)
    if isinstance(node, exp.RegexpLike):
        return _no_match(node, types)
    if type(node).__name__ in _FLIP:
        return _compare(node, types)
    raise _Skip(f"no violation is derived from {type(node).__name__} expressions")


def _column(node, types: dict[str, tuple[str, Any]]) -> tuple[str, Any]:
    """The contract field ``node`` names, and its Avro type (without null); _Skip otherwise."""
    from sqlglot import exp

    if not isinstance(node, exp.Column):
        raise _Skip(f"{node.sql('spark')[:60]} is not a column")
    name = node.name.lower()
    if name not in types:
        raise _Skip(f"{node.name} is not a field of the written contract version")
    real, avro = types[name]
    if isinstance(avro, list):
        avro = next(t for t in avro if t != "null")
    if isinstance(avro, dict) and avro.get("type") == "enum":
        raise _Skip(f"{real} is an enum: no value outside it can be written")
    return real, avro


def _not_in(node, types) -> dict[str, list[Need]]:
    """``col IN (literals)``: a string outside the list."""
    from sqlglot import exp

    name, avro = _column(node.this, types)
    if avro != "string" or not all(isinstance(e, exp.Literal) for e in node.expressions):
        raise _Skip("IN is falsified only for a string field and a list of literals")
    listed = frozenset(e.this for e in node.expressions)
    members = sorted(listed)

    def propose(c: Context) -> list[Any]:
        other = members[c.rng.randrange(len(members))] if members else "x"
        own = [c.current.lower(), c.current.swapcase()] if isinstance(c.current, str) else []
        return [*own, other.lower(), other + "?"]

    return {name: [Need(lambda v, _n: isinstance(v, str) and v not in listed, propose)]}


def _no_match(node, types) -> dict[str, list[Need]]:
    """``col RLIKE 'pattern'``: a string the pattern does not find (Spark's RLIKE searches)."""
    from sqlglot import exp

    name, avro = _column(node.this, types)
    if avro != "string" or not isinstance(node.expression, exp.Literal):
        raise _Skip("RLIKE is falsified only for a string field and a literal pattern")
    pattern = re.compile(node.expression.this)

    def propose(c: Context) -> list[Any]:
        own = c.current if isinstance(c.current, str) else ""
        return [own + "X", "X" + own, "N/A", "", own[:1]]

    return {name: [Need(lambda v, _n: isinstance(v, str) and not pattern.search(v), propose)]}


def _compare(node, types) -> dict[str, list[Need]]:
    """``col <op> literal`` (or reversed), or ``time_col <op> kafka_timestamp [+- interval]``."""
    from sqlglot import exp

    op, left, right = type(node).__name__, node.this, node.expression
    if not isinstance(left, exp.Column) or left.name.lower() == KAFKA_TIME:
        op, left, right = _FLIP[op], right, left
    name, avro = _column(left, types)
    holds = COMPARE[op]
    if isinstance(right, exp.Literal) and not right.is_string:
        return {name: [_number_need(avro, holds, op, Decimal(right.this))]}
    offset_ms = _kafka_offset_ms(right)
    if not (isinstance(avro, dict) and avro.get("logicalType") == "timestamp-millis"):
        raise _Skip(f"{name} is compared with {KAFKA_TIME} but is not a timestamp")

    def bound(now_ms: int) -> datetime:
        return datetime.fromtimestamp((now_ms + offset_ms) / 1000, UTC)

    def propose(c: Context) -> list[Any]:
        ahead = timedelta(minutes=c.rng.randint(*_AHEAD_MINUTES))
        later = op in ("LT", "LTE", "EQ")  # the bound is an upper one: go past it
        return [bound(c.now_ms) + ahead if later else bound(c.now_ms) - ahead]

    def breaks(v: Any, now_ms: int) -> bool:
        return isinstance(v, datetime) and not holds(v, bound(now_ms))

    return {name: [Need(breaks, propose)]}


def _number_need(avro: Any, holds: Callable[[Any, Any], bool], op: str, bound: Decimal) -> Need:
    """The boundary value that makes ``col <op> bound`` false, for a numeric field."""
    decimal = isinstance(avro, dict) and avro.get("logicalType") == "decimal"
    if not decimal and avro not in ("int", "long"):
        raise _Skip("a comparison with a number is falsified only for int, long and decimal")
    unit = Decimal(1).scaleb(-int(avro.get("scale", 0))) if decimal else Decimal(1)
    past = {"GT": bound, "GTE": bound - unit, "LT": bound, "LTE": bound + unit}
    value = past.get(op, bound + unit if op == "EQ" else bound)
    typed = value.quantize(unit) if decimal else int(value)
    return Need(lambda v, _n: v is not None and not holds(Decimal(v), bound), lambda _c: [typed])


def _kafka_offset_ms(node) -> int:
    """``kafka_timestamp``, ``+`` or ``-`` an ``INTERVAL n unit``: the offset in ms."""
    from sqlglot import exp

    if isinstance(node, exp.Column) and node.name.lower() == KAFKA_TIME:
        return 0
    if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
        base = _kafka_offset_ms(node.this)
        interval = node.expression
        unit = str(interval.unit.name if interval.unit else "").upper().rstrip("S")
        if unit not in UNIT_S:
            raise _Skip(f"interval unit {unit or '?'} is not one of {', '.join(UNIT_S)}")
        ms = int(Decimal(interval.this.name) * UNIT_S[unit] * 1000)
        return base + (ms if isinstance(node, exp.Add) else -ms)
    raise _Skip(f"{node.sql('spark')[:60]} is not {KAFKA_TIME} or an interval from it")
