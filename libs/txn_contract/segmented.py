"""Framed Avro values joined from pre-encoded segments: a producer's fast path, for any version.

An Avro record body is its fields' encodings in schema order with nothing between them. A
producer whose events are mostly about entities that repeat (customers, merchants, devices)
can encode each entity's fields once and, per event, only the fields that change, then join
the bytes. :class:`SegmentLayout` does that for one version's generated encoder
(:mod:`txn_contract.encoders`) from a declaration: which fields each entity supplies (and how
to read each off an entity), and in which form each per-event field is handed over (the forms
are in :mod:`txn_contract.segment_forms`, re-exported here). The version's schema decides the
order; a field nobody supplies takes its Avro default, and one without a default is refused
when the layout is built.

Example::

    from operator import attrgetter
    from txn_contract.encoders import ENCODERS
    from txn_contract.segmented import MILLIS, VALUE, SegmentLayout

    layout = SegmentLayout(
        ENCODERS[2],
        entities={"customer": {"customer_id": attrgetter("customer_id")}, ...},
        per_event={"transaction_id": VALUE, "timestamp": MILLIS, ...},
    )
    join = layout.compile(schema_id, {"customer": customers, ...})
    value = join(customer_index, ..., transaction_id, timestamp_ms, ...)
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import wire
from .errors import TxnError
from .segment_forms import ENCODED, MILLIS, UUID_BITS, VALUE, VALUE_ERRORS, Form, OneOf, Unscaled
from .segments import AvroField, RecordEncoder

__all__ = [
    "ENCODED",
    "MILLIS",
    "UUID_BITS",
    "VALUE",
    "Form",
    "OneOf",
    "SegmentLayout",
    "SegmentLayoutError",
    "Unscaled",
]

_EVENT, _DEFAULT = "per event", "default"


class SegmentLayoutError(TxnError, ValueError):
    """A segment declaration does not fit a contract version, or an entity's value does not
    encode; carries the version and the field."""

    def __init__(self, message: str, *, version: int, field: str | None = None) -> None:
        self.version = version
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class _Table:
    """An entity's run of consecutive fields, pre-encoded per entity row."""

    entity: str
    rows: tuple[bytes, ...]

    def around(self, prefix: bytes = b"", suffix: bytes = b"") -> _Table:
        return _Table(self.entity, tuple(prefix + r + suffix for r in self.rows))


def _merge_constants(pieces: list[str | bytes | _Table]) -> list[str | bytes | _Table]:
    """Constants joined to their neighbours: to the constant or entity run before them, else
    to the entity run after them; only one between two per-event pieces stays on its own."""
    out: list[str | bytes | _Table] = []
    for p in pieces:
        last = out[-1] if out else None
        if isinstance(p, bytes) and not p:
            continue
        if isinstance(p, bytes) and isinstance(last, bytes):
            out[-1] = last + p
        elif isinstance(p, bytes) and isinstance(last, _Table):
            out[-1] = last.around(suffix=p)
        elif isinstance(p, _Table) and isinstance(last, bytes):
            out[-1] = p.around(prefix=last)
        else:
            out.append(p)
    return out


class SegmentLayout:
    """One version's fields split, in schema order, into runs: consecutive fields one entity
    supplies (pre-encoded per entity), per-event fields (encoded per event by their
    :class:`Form`) and fields nobody supplies (their default, pre-encoded).

    ``entities`` maps each entity to its fields and, for each, a function that reads the
    field's Avro value off an entity object; ``per_event`` maps each per-event field to its
    form. Declared fields the version lacks are ignored (a producer may know more than an older
    version carries). :attr:`parameters` are the join function's: the entities, then the
    per-event fields, in declaration order.
    """

    def __init__(
        self,
        record: RecordEncoder,
        entities: Mapping[str, Mapping[str, Callable[[Any], Any]]],
        per_event: Mapping[str, Form],
    ) -> None:
        self.record = record
        self.entities = {name: dict(getters) for name, getters in entities.items()}
        self.per_event = dict(per_event)
        self.parameters: tuple[str, ...] = (*self.entities, *self.per_event)
        if len(set(self.parameters)) != len(self.parameters):
            raise self._error("an entity and a per-event field have the same name")
        owners = [self._owner(f) for f in record.fields]
        runs: list[tuple[str, list[AvroField]]] = []
        for f, owner in zip(record.fields, owners, strict=True):
            if runs and runs[-1][0] == owner:
                runs[-1][1].append(f)
            else:
                runs.append((owner, [f]))
        self._runs = [(owner, tuple(fields)) for owner, fields in runs]

    @property
    def runs(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(owner, field names)`` in schema order; the owner is an entity, ``"per event"`` or
        ``"default"``."""
        return tuple((owner, tuple(f.name for f in fs)) for owner, fs in self._runs)

    def describe(self) -> str:
        """The layout in one line, e.g. ``customer[customer_id] | amount | default[...]``."""
        parts = [
            " | ".join(names) if owner == _EVENT else f"{owner}[{', '.join(names)}]"
            for owner, names in self.runs
        ]
        return " | ".join(parts)

    def _error(self, message: str, name: str | None = None) -> SegmentLayoutError:
        r = self.record
        where = f"field {name!r} of {r.subject} version {r.version}" if name else None
        text = f"{where[0].upper()}{where[1:]}: {message}." if where else f"{message}."
        return SegmentLayoutError(text, version=r.version, field=name)

    def _owner(self, f: AvroField) -> str:
        owners = [e for e, getters in self.entities.items() if f.name in getters]
        owners += [_EVENT] * (f.name in self.per_event)
        if len(owners) > 1:
            raise self._error(f"it is declared twice ({' and '.join(owners)})", f.name)
        if owners == [_EVENT]:
            reason = self.per_event[f.name].refusal(f)
            if reason:
                raise self._error(reason, f.name)
        if owners:
            return owners[0]
        if f.default is None:
            raise self._error(
                "it has no default and nothing supplies it; declare it as an entity's field or "
                "a per-event field",
                f.name,
            )
        return _DEFAULT

    def _table(self, entity: str, fields: tuple[AvroField, ...], rows: Sequence[Any]) -> _Table:
        getters = self.entities[entity]
        encoded = []
        for i, row in enumerate(rows):
            parts = []
            for f in fields:
                try:
                    parts.append(f.encode(getters[f.name](row)))
                except VALUE_ERRORS as exc:
                    problem = f"{entity} {i} ({row!r}) does not encode: {type(exc).__name__}: {exc}"
                    raise self._error(problem, f.name) from exc
            encoded.append(b"".join(parts))
        return _Table(entity, tuple(encoded))

    def compile(self, schema_id: int, rows: Mapping[str, Sequence[Any]]) -> Callable[..., bytes]:
        """The join function under ``schema_id``: called with one argument per
        :attr:`parameters` (an entity's index into its ``rows``, then each per-event field in
        its form), it returns the Confluent-framed value.

        The function is built from source, as :mod:`dataclasses` builds ``__init__``: one
        ``b"".join`` of a tuple in schema order, the entity segments read from lists by index,
        the per-event code of the forms inline. Why, measured on 200,000 of the producer's
        events (one core, medians of interleaved rounds; docs/performance.md, "Producer"): the
        same join fed a tuple in the caller's own order and put into schema order by
        ``operator.itemgetter`` (entity segments spliced in with ``*``) did 419,615 events/CPU-s
        against 545,727 for this one, 23% fewer; and calling this function from the producer's
        loop is within the noise of the hand-written loop it replaced
        (bench/bench_encoder_ab.py).
        """
        pieces: list[str | bytes | _Table] = [wire.frame(schema_id, b"")]
        names: dict[str, Any] = {"_join": b"".join}
        statements: list[str] = []
        state: list[str] = []
        arg = dict(zip(self.parameters, _arguments(self.parameters), strict=True))
        position = {f.name: n for n, f in enumerate(self.record.fields)}
        for owner, fields in self._runs:
            if owner == _DEFAULT:
                pieces.append(b"".join(f.default or b"" for f in fields))
            elif owner != _EVENT:
                try:
                    pieces.append(self._table(owner, fields, rows[owner]))
                except KeyError:
                    raise self._error(f"no rows were given for the entity {owner!r}") from None
            else:
                for f in fields:
                    code = self.per_event[f.name].code(arg[f.name], f, position[f.name])
                    statements += code.statements
                    pieces += code.pieces
                    names.update(code.names)
                    state += code.state
        source = _source(self.parameters, arg, statements, state, _merge_constants(pieces), names)
        scope: dict[str, Any] = {}
        exec(compile(source, f"<segmented join, version {self.record.version}>", "exec"), scope)
        join = scope["_factory"](names)
        join.__doc__ = (
            f"Framed value of {self.record.subject} version {self.record.version} under schema "
            f"id {schema_id}: {self.describe()}."
        )
        return join


def _arguments(parameters: tuple[str, ...]) -> list[str]:
    """The join function's argument names: the declared ones where they are plain identifiers
    (the function's own names all start with ``_``), else positional stand-ins."""
    return [
        p if p.isidentifier() and not keyword.iskeyword(p) and not p.startswith("_") else f"_arg{i}"
        for i, p in enumerate(parameters)
    ]


def _source(
    parameters: tuple[str, ...],
    arg: dict[str, str],
    statements: list[str],
    state: list[str],
    pieces: list[str | bytes | _Table],
    names: dict[str, Any],
) -> str:
    """The source of ``_factory(names)``, which binds every name locally and returns the join
    function. Its names are closure cells: measured as fast as module globals, and 9% faster
    than keyword-only defaults, which the call fills in every time."""
    expressions = []
    for i, p in enumerate(pieces):
        if isinstance(p, bytes):
            names[f"_constant{i}"] = p
            expressions.append(f"_constant{i}")
        elif isinstance(p, _Table):
            names[f"_table{i}"] = p.rows
            expressions.append(f"_table{i}[{arg[p.entity]}]")
        else:
            expressions.append(p)
    body = [f"    nonlocal {', '.join(state)}"] * bool(state)
    body += [f"    {s}" for s in statements]
    body.append(f"    return _join(({', '.join(expressions)},))")
    return "\n".join(
        [
            "def _factory(_names):",
            *[f"    {name} = _names[{name!r}]" for name in names],
            f"    def join({', '.join(arg[p] for p in parameters)}):",
            *[f"    {line}" for line in body],
            "    return join",
        ]
    )
