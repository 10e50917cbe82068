"""A Python reading of the quality rules' Spark SQL, for the subset of it the rules use.

The producer checks every violator it makes against every rule of the contract, so it knows
which rules the event breaks: a lower-case ``country`` breaks ``country_iso3166`` and, when the
event has a province, ``province_iso3166_2`` too (the province must be of the country). Silver
evaluates the same SQL in Spark; the tests hold this reading to sqlglot's own executor.

Spark's three-valued logic is kept: a comparison with NULL is NULL, ``AND``/``OR`` short-circuit
on FALSE/TRUE, and a row passes a rule only when it is TRUE. Understood: ``AND``, ``OR``,
``NOT``, parentheses, ``IS [NOT] NULL``, ``IN`` (literals), ``RLIKE``, ``=``, ``<>``, ``<``,
``<=``, ``>``, ``>=``, ``+``/``-`` an ``INTERVAL``, ``substring_index``, columns, string and
number literals, ``NULL``, ``TRUE``, ``FALSE``. Anything else raises :class:`Unsupported`, when
the rule is compiled or (a column the row lacks, such as ``ingest_ts``) when it is evaluated.

Example::

    passes = compile_rule("amount > 0")
    passes({"amount": Decimal("0.00")})   # False
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any

__all__ = ["COMPARE", "UNIT_S", "Check", "Unsupported", "compile_rule", "parse", "passes"]

Check = Callable[[Mapping[str, Any]], Any]
"""A compiled expression: its value for a row (lower-case column names)."""

# sqlglot's comparison node names, as Python operators.
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
    "EQ": operator.eq,
    "NEQ": operator.ne,
}
# Seconds per interval unit.
UNIT_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400, "WEEK": 604_800}


class Unsupported(Exception):
    """An expression (or a column) this reading does not know."""


@cache
def parse(sql: str) -> Any:
    """``sql`` parsed by sqlglot's Spark dialect, once per process (an expanded ISO list takes
    a tenth of a second); the tree must not be modified."""
    import sqlglot

    return sqlglot.parse_one(sql, read="spark")


def compile_rule(sql: str) -> Check:
    """The Spark SQL boolean ``sql`` as a Python function of a row."""
    return _compile(parse(sql))


def passes(check: Check, row: Mapping[str, Any]) -> bool:
    """Whether ``row`` passes (the expression is TRUE; NULL does not pass); :class:`Unsupported`
    when this reading cannot evaluate it on ``row`` (Spark would cast: a string compared with a
    number, an empty delimiter)."""
    try:
        return check(row) is True
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise Unsupported(f"cannot evaluate on this row: {exc}") from exc


def _compile(node) -> Check:
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return _compile(node.this)
    if isinstance(node, exp.And | exp.Or):
        return _connective(node)
    if isinstance(node, exp.Not):
        inner = _compile(node.this)
        return lambda row: _not(inner(row))
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        value = _compile(node.this)
        return lambda row: value(row) is None
    if isinstance(node, exp.In):
        return _in(node)
    if isinstance(node, exp.RegexpLike):
        return _rlike(node)
    if type(node).__name__ in COMPARE:
        return _comparison(node)
    return _value(node)


def _not(value: Any) -> Any:
    return None if value is None else not value


def _connective(node) -> Check:
    """``AND`` / ``OR`` in three-valued logic, short-circuiting like Spark."""
    from sqlglot import exp

    left, right = _compile(node.this), _compile(node.expression)
    decisive = not isinstance(node, exp.And)  # FALSE decides an AND, TRUE an OR

    def both(row: Mapping[str, Any]) -> Any:
        a = left(row)
        if a is decisive:
            return decisive
        b = right(row)
        if b is decisive:
            return decisive
        return None if a is None or b is None else not decisive

    return both


def _in(node) -> Check:
    from sqlglot import exp

    if not all(isinstance(e, exp.Literal) for e in node.expressions):
        raise Unsupported("IN with something other than literals")
    listed = frozenset(_literal(e) for e in node.expressions)
    value = _compile(node.this)

    def check(row: Mapping[str, Any]) -> Any:
        v = value(row)
        return None if v is None else v in listed

    return check


def _rlike(node) -> Check:
    from sqlglot import exp

    if not isinstance(node.expression, exp.Literal):
        raise Unsupported("RLIKE with a pattern that is not a literal")
    pattern = re.compile(node.expression.this)
    value = _compile(node.this)

    def check(row: Mapping[str, Any]) -> Any:
        v = value(row)
        return None if v is None else pattern.search(str(v)) is not None

    return check


def _comparison(node) -> Check:
    compare = COMPARE[type(node).__name__]
    left, right = _compile(node.this), _compile(node.expression)

    def check(row: Mapping[str, Any]) -> Any:
        a, b = left(row), right(row)
        if a is None or b is None:
            return None
        if isinstance(a, int | float) and not isinstance(a, bool):
            a = Decimal(str(a))
        if isinstance(b, int | float) and not isinstance(b, bool):
            b = Decimal(str(b))
        return compare(a, b)

    return check


def _value(node) -> Check:
    """A column, a literal, NULL, a boolean, an interval sum or ``substring_index``."""
    from sqlglot import exp

    if isinstance(node, exp.Column):
        name = node.name.lower()

        def column(row: Mapping[str, Any]) -> Any:
            if name not in row:
                raise Unsupported(f"column {name} is not known before silver reads the row")
            return row[name]

        return column
    if isinstance(node, exp.Literal):
        constant = _literal(node)
        return lambda _row: constant
    if isinstance(node, exp.Null):
        return lambda _row: None
    if isinstance(node, exp.Boolean):
        flag = bool(node.this)
        return lambda _row: flag
    if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
        return _shifted(node)
    if isinstance(node, exp.SubstringIndex):
        return _substring_index(node)
    raise Unsupported(f"{type(node).__name__} expressions")


def _literal(node) -> Any:
    return node.this if node.is_string else Decimal(node.this)


def _shifted(node) -> Check:
    """``x + INTERVAL n unit`` or ``x - INTERVAL n unit``."""
    from sqlglot import exp

    interval = node.expression
    unit = str(interval.unit.name if interval.unit else "").upper().rstrip("S")
    if unit not in UNIT_S:
        raise Unsupported(f"interval unit {unit or '?'}")
    delta = timedelta(seconds=float(Decimal(interval.this.name) * UNIT_S[unit]))
    sign = 1 if isinstance(node, exp.Add) else -1
    base = _compile(node.this)

    def check(row: Mapping[str, Any]) -> Any:
        v = base(row)
        return None if v is None else v + sign * delta

    return check


def _substring_index(node) -> Check:
    """Spark's ``substring_index(s, delimiter, count)``."""
    text, delimiter, count = (
        _compile(node.this),
        _compile(node.args["delimiter"]),
        _compile(node.args["count"]),
    )

    def check(row: Mapping[str, Any]) -> Any:
        s, d, n = text(row), delimiter(row), count(row)
        if s is None or d is None or n is None:
            return None
        parts, n = str(s).split(d), int(n)
        return d.join(parts[:n] if n > 0 else parts[n:]) if n else ""

    return check
