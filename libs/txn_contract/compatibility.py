"""Offline Avro schema compatibility checker: the CI gate in front of the schema registry.

It judges a new schema against earlier ones at a registry compatibility level (Confluent's
``BACKWARD`` … ``FULL_TRANSITIVE``), applying every rule of the Avro 1.12 specification's
"Schema Resolution" section, the way Java's ``SchemaCompatibility`` (and its Python port
``avro.compatibility``) does, and, unlike a registry, also the logical-type rules: a decimal's
precision and scale and a timestamp's unit are part of the contract even though the bytes on the
wire would still decode.

Unlike the reference checkers it reports *every* violation, each with the dotted path of the
field it concerns and one readable sentence, instead of stopping at the first one.

Paths
    ``amount`` (a field of the top-level record), ``customer.address.zip`` (nested records),
    ``items[].price`` (array items), ``tags{}.x`` (map values), ``payment<union:1>.card`` (branch 1
    of a union: the *writer's* branch index when the writer's schema is a union there, else the
    index of the reader's branch that was judged the intended match), ``""`` for the root.

Rule codes (``Violation.rule``)
    ``TYPE_MISMATCH``
        The writer's type can neither be read as the reader's type nor promoted to it (the only
        promotions are int→long/float/double, long→float/double, float→double, string↔bytes);
        also a decimal stored as bytes on one side and as fixed on the other.
    ``NAME_MISMATCH``
        Two records, enums or fixed types are matched but the reader's unqualified name differs
        from the writer's and the reader does not list the writer's full name among its aliases.
    ``FIXED_SIZE_MISMATCH``
        Two fixed types have different sizes.
    ``MISSING_ENUM_SYMBOLS``
        The writer's enum has symbols the reader's lacks, and the reader's enum declares no
        ``default`` symbol to read them as (Avro 1.9+ enum defaults).
    ``READER_FIELD_MISSING_DEFAULT``
        A reader field matches no writer field (by name or by the reader field's aliases) and
        has no ``default``.
    ``FIELD_ALIAS_AMBIGUOUS``
        A reader field matches several writer fields through its name and aliases; Java's
        resolver refuses such a schema pair (the Python reference silently takes the first).
    ``MISSING_UNION_BRANCH``
        Data the writer may write (a non-union type, or one branch of the writer's union)
        matches no branch of the reader's union, and no branch is a near miss worth descending
        into (a near miss is reported with the deeper rule at ``…<union:N>`` instead).
    ``DECIMAL_PRECISION_CHANGED`` / ``DECIMAL_SCALE_CHANGED``
        Both sides are valid decimals whose precision / scale differ; the specification resolves
        decimals only when both match.
    ``LOGICAL_TYPE_CHANGED``
        A logical type was added, removed or replaced by another (``date`` → plain ``int``,
        ``uuid`` added to a ``string``, ``decimal`` → ``big-decimal``, ``timestamp-millis`` →
        ``local-timestamp-millis``, ``date`` → ``timestamp-millis`` …).
    ``TIMESTAMP_UNIT_CHANGED``
        ``timestamp-millis``/``-micros``/``-nanos`` changed unit, or the same within the
        ``local-timestamp-*`` family: the same long would denote a different instant.
    ``TIME_UNIT_CHANGED``
        ``time-millis`` (int) ↔ ``time-micros`` (long): legal as an int→long promotion, but the
        value would denote a different time of day.

The last five are checked only when ``logical_types=True`` (the default); registries and the
reference checkers ignore logical types, which ``logical_types=False`` reproduces.

Choices and deviations, on purpose
    * Logical types are those of Avro 1.12: decimal (bytes, fixed), big-decimal (bytes), uuid
      (string, fixed 16), date, time-millis (int), time-micros, timestamp-millis/-micros/-nanos,
      local-timestamp-millis/-micros/-nanos (long), duration (fixed 12). As the specification
      requires, an unknown logical type or an invalid annotation (wrong underlying type, a
      decimal whose precision is not a positive integer, whose scale is negative or larger than
      the precision, or whose precision exceeds what its fixed size can hold) is ignored and the
      type is judged as its underlying type: changing ``{"type": "bytes", "logicalType":
      "decimal", "precision": 2, "scale": 5}`` to plain ``bytes`` is no violation, while
      changing it to a valid ``decimal(5,2)`` is ``LOGICAL_TYPE_CHANGED`` (a decimal was added).
    * Type aliases are resolved as the specification and Java do: an unqualified alias is
      relative to the namespace of the type that declares it. The Python reference compares the
      raw alias text with the writer's full name instead, so with namespaces the two disagree.
    * Recursive types are judged co-inductively, like the references (a pair of records being
      compared is assumed compatible while it is being compared), but a provisional verdict that
      depended on such an assumption is only memoised once the assumption was confirmed. The
      references memoise it at once, so when the assumed pair then fails inside a reader-union
      trial, a later trial can reuse the stale "compatible" and accept an incompatible pair.
    * A reader union is compatible with a writer type when *any* reader branch is, as in the
      reference checkers (``SchemaCompatibility`` rather than the resolver's first-match rule).
    * A named reference that is not qualified is looked up in the enclosing namespace, then in
      the null namespace (as Java does); ``{"type": "SomeNamedType"}`` is accepted as a reference.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import avro.errors
import avro.schema

from .errors import SchemaFileError
from .levels import LEVELS

__all__ = ["LEVELS", "Violation", "check_level", "load_schema_file", "reader_writer_violations"]


TYPE_MISMATCH = "TYPE_MISMATCH"
NAME_MISMATCH = "NAME_MISMATCH"
FIXED_SIZE_MISMATCH = "FIXED_SIZE_MISMATCH"
MISSING_ENUM_SYMBOLS = "MISSING_ENUM_SYMBOLS"
READER_FIELD_MISSING_DEFAULT = "READER_FIELD_MISSING_DEFAULT"
FIELD_ALIAS_AMBIGUOUS = "FIELD_ALIAS_AMBIGUOUS"
MISSING_UNION_BRANCH = "MISSING_UNION_BRANCH"
DECIMAL_PRECISION_CHANGED = "DECIMAL_PRECISION_CHANGED"
DECIMAL_SCALE_CHANGED = "DECIMAL_SCALE_CHANGED"
LOGICAL_TYPE_CHANGED = "LOGICAL_TYPE_CHANGED"
TIMESTAMP_UNIT_CHANGED = "TIMESTAMP_UNIT_CHANGED"
TIME_UNIT_CHANGED = "TIME_UNIT_CHANGED"

# A schema as accepted by the public functions: parsed JSON (dict, list or type-name string),
# or JSON text.
AvroSchemaJson = dict[str, Any] | list[Any] | str


@dataclass(frozen=True)
class Violation:
    """One reason why a reader schema cannot read what a writer schema writes."""

    path: str
    rule: str
    message: str
    direction: str = ""
    against: str = ""

    def line(self, file: str) -> str:
        """``file: path: message``, the path shown as ``<root>`` when empty."""
        return f"{file}: {self.path or '<root>'}: {self.message}"


# ---------------------------------------------------------------------------------------------
# Schema model: parsed JSON resolved into a graph (named references become shared nodes, so
# recursive types are cycles).
# ---------------------------------------------------------------------------------------------

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "enum", "fixed"})

# writer type -> reader types it may be promoted to (Avro specification, "Schema Resolution")
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}

# logical type -> underlying primitive types it may annotate (decimal, uuid-on-fixed and
# duration are handled separately because they depend on attributes)
_LOGICAL_ON_PRIMITIVE: dict[str, frozenset[str]] = {
    "big-decimal": frozenset({"bytes"}),
    "uuid": frozenset({"string"}),
    "date": frozenset({"int"}),
    "time-millis": frozenset({"int"}),
    "time-micros": frozenset({"long"}),
    "timestamp-millis": frozenset({"long"}),
    "timestamp-micros": frozenset({"long"}),
    "timestamp-nanos": frozenset({"long"}),
    "local-timestamp-millis": frozenset({"long"}),
    "local-timestamp-micros": frozenset({"long"}),
    "local-timestamp-nanos": frozenset({"long"}),
}
_TIMESTAMP_FAMILIES = (
    frozenset({"timestamp-millis", "timestamp-micros", "timestamp-nanos"}),
    frozenset({"local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos"}),
)
_TIMES = frozenset({"time-millis", "time-micros"})


class _SchemaError(ValueError):
    """The JSON is not a schema this checker can resolve; the message says why."""


@dataclass(frozen=True)
class _Logical:
    name: str
    precision: int | None = None
    scale: int | None = None


@dataclass(eq=False)
class _Field:
    name: str
    type: _Node
    has_default: bool
    default: Any
    aliases: tuple[str, ...]


@dataclass(eq=False)
class _Node:
    kind: str  # a primitive name, "record", "enum", "fixed", "array", "map" or "union"
    name: str = ""  # unqualified name (named types)
    fullname: str = ""
    aliases: frozenset[str] = frozenset()  # fully qualified
    fields: list[_Field] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    enum_default: str | None = None
    size: int = 0
    element: _Node | None = None  # array items or map values
    branches: list[_Node] = field(default_factory=list)
    logical: _Logical | None = None


def _is_int(value: object) -> bool:
    # JSON true/false arrive as bool, which Python also counts as int
    return isinstance(value, int) and not isinstance(value, bool)


def _fixed_holds_precision(size: int, precision: int) -> bool:
    """Whether ``precision`` <= floor(log10(2^(8*size-1) - 1)), computed exactly."""
    if size < 1:
        return False
    bits = 8 * size - 1
    estimate = bits * math.log10(2)
    if precision > estimate + 1:
        return False
    if precision < estimate - 1:
        return True
    return 10**precision <= 2**bits - 1


def _logical_of(data: dict[str, Any], kind: str, size: int = 0) -> _Logical | None:
    """The effective logical type of a schema object; ``None`` when absent, unknown or invalid
    (the specification says to fall back to the underlying type then)."""
    name = data.get("logicalType")
    if not isinstance(name, str):
        return None
    if name == "decimal":
        if kind not in ("bytes", "fixed"):
            return None
        precision, scale = data.get("precision"), data.get("scale", 0)
        if not _is_int(precision) or precision <= 0:
            return None
        if not _is_int(scale) or scale < 0 or scale > precision:
            return None
        if kind == "fixed" and not _fixed_holds_precision(size, precision):
            return None
        return _Logical("decimal", precision, scale)
    if kind == "fixed":
        valid = (name == "uuid" and size == 16) or (name == "duration" and size == 12)
        return _Logical(name) if valid else None
    return _Logical(name) if kind in _LOGICAL_ON_PRIMITIVE.get(name, ()) else None


class _Parser:
    """Resolves one schema's JSON into :class:`_Node` objects (one name table per schema)."""

    def __init__(self) -> None:
        self.named: dict[str, _Node] = {}

    def parse(self, data: object, space: str | None) -> _Node:
        if isinstance(data, str):
            return self._reference(data, space)
        if isinstance(data, list):
            return self._union(data, space)
        if isinstance(data, dict):
            return self._object(data, space)
        raise _SchemaError(
            f"{json.dumps(data)} is not a schema (expected a type name, an object or a union array)"
        )

    def _reference(self, name: str, space: str | None) -> _Node:
        if name in _PRIMITIVES:
            return _Node(name)
        # qualified as written if dotted; else the enclosing namespace, then the null namespace
        candidates = [name] if "." in name or not space else [f"{space}.{name}", name]
        for candidate in candidates:
            if candidate in self.named:
                return self.named[candidate]
        raise _SchemaError(f"type {name!r} is not defined before it is used")

    def _union(self, data: list[Any], space: str | None) -> _Node:
        branches, seen = [], set()
        for item in data:
            branch = self.parse(item, space)
            if branch.kind == "union":
                raise _SchemaError("a union may not immediately contain another union")
            key = branch.fullname if branch.kind in _NAMED else branch.kind
            if key in seen:
                raise _SchemaError(f"union contains {key!r} more than once")
            seen.add(key)
            branches.append(branch)
        return _Node("union", branches=branches)

    def _object(self, data: dict[str, Any], space: str | None) -> _Node:
        kind = data.get("type")
        if not isinstance(kind, str):
            raise _SchemaError(f"schema object without a string 'type': {json.dumps(data)[:80]}")
        if kind in _PRIMITIVES:
            return _Node(kind, logical=_logical_of(data, kind))
        if kind in ("record", "error"):
            return self._record(data, space)
        if kind == "enum":
            return self._enum(data, space)
        if kind == "fixed":
            return self._fixed(data, space)
        if kind in ("array", "map"):
            attr = "items" if kind == "array" else "values"
            if attr not in data:
                raise _SchemaError(f"{kind} schema without {attr!r}")
            return _Node(kind, element=self.parse(data[attr], space))
        # {"type": "com.example.Money"}: an object whose type names a defined type (Java accepts it)
        return self._reference(kind, space)

    def _define(
        self, data: dict[str, Any], kind: str, space: str | None
    ) -> tuple[_Node, str | None]:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise _SchemaError(f"{kind} without a name")
        if "." in name:
            namespace, simple = name.rsplit(".", 1)
        else:
            declared = data.get("namespace")
            if declared is not None and not isinstance(declared, str):
                raise _SchemaError(f"{kind} {name!r} has a non-string namespace")
            namespace, simple = (space if declared is None else declared) or None, name
        fullname = f"{namespace}.{simple}" if namespace else simple
        if fullname in _PRIMITIVES:
            raise _SchemaError(f"{fullname!r} is a primitive type and cannot be redefined")
        if fullname in self.named:
            raise _SchemaError(f"type {fullname!r} is defined twice")
        aliases = data.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise _SchemaError(f"aliases of {fullname!r} must be a list of strings")
        qualified = frozenset(
            a if "." in a or not namespace else f"{namespace}.{a}" for a in aliases
        )
        node = _Node(kind, name=simple, fullname=fullname, aliases=qualified)
        # registered before its fields are parsed, so a record may refer to itself
        self.named[fullname] = node
        return node, namespace

    def _record(self, data: dict[str, Any], space: str | None) -> _Node:
        node, namespace = self._define(data, "record", space)
        fields = data.get("fields")
        if not isinstance(fields, list):
            raise _SchemaError(f"record {node.fullname!r} needs a 'fields' list")
        names: set[str] = set()
        for spec in fields:
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise _SchemaError(f"record {node.fullname!r} has a field without a name")
            fname = spec["name"]
            if fname in names:
                raise _SchemaError(f"record {node.fullname!r} has two fields named {fname!r}")
            names.add(fname)
            if "type" not in spec:
                raise _SchemaError(f"field {fname!r} of {node.fullname!r} has no type")
            aliases = spec.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise _SchemaError(f"aliases of field {fname!r} must be a list of strings")
            node.fields.append(
                _Field(
                    name=fname,
                    type=self.parse(spec["type"], namespace),
                    has_default="default" in spec,
                    default=spec.get("default"),
                    aliases=tuple(aliases),
                )
            )
        return node

    def _enum(self, data: dict[str, Any], space: str | None) -> _Node:
        node, _ = self._define(data, "enum", space)
        symbols = data.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise _SchemaError(f"enum {node.fullname!r} needs a list of string symbols")
        if len(set(symbols)) != len(symbols):
            raise _SchemaError(f"enum {node.fullname!r} has duplicate symbols")
        default = data.get("default")
        if default is not None and default not in symbols:
            raise _SchemaError(
                f"enum {node.fullname!r} default {default!r} is not one of its symbols"
            )
        node.symbols, node.enum_default = tuple(symbols), default
        return node

    def _fixed(self, data: dict[str, Any], space: str | None) -> _Node:
        node, _ = self._define(data, "fixed", space)
        size = data.get("size")
        if not _is_int(size) or size < 0:
            raise _SchemaError(f"fixed {node.fullname!r} needs a non-negative integer size")
        node.size = size
        node.logical = _logical_of(data, "fixed", size)
        return node


def _as_json(schema: object, what: str) -> object:
    """Parsed JSON of ``schema``, which may be JSON text, parsed JSON or an avro Schema."""
    if isinstance(schema, str):
        text = schema.strip()
        if text in _PRIMITIVES:  # a bare primitive name ("null" would otherwise load as None)
            return text
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{what} is neither valid JSON text nor a primitive type name: {exc}"
            ) from exc
    to_json = getattr(schema, "to_json", None)
    return to_json() if callable(to_json) else schema


def _resolve(schema: object, what: str) -> _Node:
    try:
        return _Parser().parse(_as_json(schema, what), None)
    except _SchemaError as exc:
        raise ValueError(f"{what} is not a valid Avro schema: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# Descriptions used in messages
# ---------------------------------------------------------------------------------------------


def _describe_logical(lg: _Logical) -> str:
    return f"decimal({lg.precision},{lg.scale})" if lg.name == "decimal" else lg.name


def _describe(node: _Node) -> str:
    kind = node.kind
    if kind in _PRIMITIVES:
        if node.logical is None:
            return kind
        if node.logical.name == "decimal":
            return _describe_logical(node.logical)  # decimals on bytes are the common case
        return f"{node.logical.name} ({kind})"
    if kind == "fixed":
        base = f"fixed {node.fullname}({node.size})"
        return f"{_describe_logical(node.logical)} on {base}" if node.logical else base
    if kind in _NAMED:
        return f"{kind} {node.fullname}"
    if kind in ("array", "map"):
        assert node.element is not None
        return f"{kind}<{_describe(node.element)}>"
    return "union [" + ", ".join(_describe(b) for b in node.branches) + "]"


# ---------------------------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------------------------

# Placeholders in reasons, replaced by role names ("the reader", "the new schema", "v1", ...).
_R, _W = "{reader}", "{writer}"


@dataclass(frozen=True)
class _Finding:
    path: str  # relative to the pair being checked until the caller prefixes it
    rule: str
    reader: str  # description of the reader's type
    writer: str  # description of the writer's type
    reason: str  # why it breaks, may contain _R/_W


def _join(segment: str, rel: str) -> str:
    if not rel:
        return segment
    if not segment:
        return rel
    return segment + rel if rel[0] in "[{<" else f"{segment}.{rel}"


def _under(segment: str, findings: list[_Finding]) -> list[_Finding]:
    return [replace(f, path=_join(segment, f.path)) for f in findings]


def _names_match(reader: _Node, writer: _Node) -> bool:
    # unqualified names, or the writer's full name among the reader's (qualified) aliases
    return reader.name == writer.name or writer.fullname in reader.aliases


_NO_DEPENDENCY = 1 << 62


class _Checker:
    """Checks one reader/writer pair; one instance per top-level pair (it memoises)."""

    def __init__(self, logical_types: bool) -> None:
        self.logical_types = logical_types
        # record pairs (reader full name, writer full name) -> final findings
        self._done: dict[tuple[str, str], list[_Finding]] = {}
        # record pairs being compared -> depth on the comparison stack
        self._active: dict[tuple[str, str], int] = {}
        # record pairs found compatible only under the assumption that an active ancestor pair
        # is compatible -> the shallowest depth they depend on; settled when that pair ends
        self._tentative: dict[tuple[str, str], int] = {}
        # shallowest active depth the current computation has relied on
        self._low = _NO_DEPENDENCY

    def check(self, r: _Node, w: _Node) -> list[_Finding]:
        if w.kind == "union":
            # every branch the writer may have written must be readable
            out: list[_Finding] = []
            for i, wb in enumerate(w.branches):
                if r.kind == "union":
                    siblings = w.branches[:i] + w.branches[i + 1 :]
                    sub = self._into_union(r, wb, mark=False, siblings=siblings)
                else:
                    sub = self.check(r, wb)
                out += _under(f"<union:{i}>", sub)
            return out
        if r.kind == "union":
            return self._into_union(r, w, mark=True)
        if r.kind != w.kind:
            if r.kind in _PROMOTIONS.get(w.kind, ()):
                return self._logical(r, w)
            return [self._type_mismatch(r, w)]
        kind = r.kind
        if kind in _PRIMITIVES:
            return self._logical(r, w)
        if kind in ("array", "map"):
            assert r.element is not None and w.element is not None
            return _under("[]" if kind == "array" else "{}", self.check(r.element, w.element))
        if kind == "record":
            return self._record(r, w)
        out = self._name(r, w)
        if kind == "enum":
            missing = [s for s in w.symbols if s not in r.symbols]
            if missing and r.enum_default is None:
                listed = ", ".join(missing)
                out.append(
                    _Finding(
                        "",
                        MISSING_ENUM_SYMBOLS,
                        _describe(r),
                        _describe(w),
                        f"symbol(s) {listed} may be written by {_W} but are missing from "
                        f"{_R}'s enum, which declares no default symbol to read "
                        "them as",
                    )
                )
            return out
        # fixed
        if r.size != w.size:
            out.append(
                _Finding(
                    "",
                    FIXED_SIZE_MISMATCH,
                    _describe(r),
                    _describe(w),
                    "a fixed type's size must not change, because its values are exactly that "
                    "many bytes",
                )
            )
        return out + self._logical(r, w)

    def _name(self, r: _Node, w: _Node) -> list[_Finding]:
        if _names_match(r, w):
            return []
        reason = (
            f"{_R}'s {r.kind} must have {_W}'s unqualified name '{w.name}' or list "
            f"'{w.fullname}' among its aliases"
        )
        return [_Finding("", NAME_MISMATCH, _describe(r), _describe(w), reason)]

    def _type_mismatch(self, r: _Node, w: _Node) -> _Finding:
        lr, lw = r.logical, w.logical
        if lr and lw and lr.name == lw.name == "decimal":
            reason = (
                "a decimal stored as bytes and one stored as fixed are encoded differently, so "
                "Avro cannot resolve one against the other"
            )
        else:
            reason = (
                f"{_describe(w)} is neither {_describe(r)} nor promotable to it (Avro promotes "
                "only int→long/float/double, long→float/double, float→double and string↔bytes)"
            )
        return _Finding("", TYPE_MISMATCH, _describe(r), _describe(w), reason)

    def _logical(self, r: _Node, w: _Node) -> list[_Finding]:
        """Logical-type rules, for a pair whose underlying types already resolve."""
        lr, lw = r.logical, w.logical
        if not self.logical_types or lr == lw:
            return []
        dr, dw = _describe(r), _describe(w)
        rule = "(Avro resolves decimals only when precision and scale match)"
        if lr and lw and lr.name == lw.name == "decimal":
            out = []
            if lr.precision != lw.precision:
                why = f"a decimal's precision must not change {rule}"
                out.append(_Finding("", DECIMAL_PRECISION_CHANGED, dr, dw, why))
            if lr.scale != lw.scale:
                why = f"a decimal's scale must not change {rule}"
                out.append(_Finding("", DECIMAL_SCALE_CHANGED, dr, dw, why))
            return out
        if lr and lw and any({lr.name, lw.name} <= family for family in _TIMESTAMP_FAMILIES):
            why = (
                "a timestamp's unit must not change, because the same long would then denote a "
                "different point in time"
            )
            return [_Finding("", TIMESTAMP_UNIT_CHANGED, dr, dw, why)]
        if lr and lw and {lr.name, lw.name} <= _TIMES:
            why = (
                "a time of day's unit must not change, because the same number would then "
                "denote a different time"
            )
            return [_Finding("", TIME_UNIT_CHANGED, dr, dw, why)]
        why = (
            "a logical type must not be added, removed or replaced, because readers would "
            "interpret the same encoded value differently"
        )
        return [_Finding("", LOGICAL_TYPE_CHANGED, dr, dw, why)]

    def _into_union(
        self, r: _Node, w: _Node, *, mark: bool, siblings: Sequence[_Node] = ()
    ) -> list[_Finding]:
        """A non-union writer type read with a reader union: some branch must read it.

        ``siblings`` are the writer union's other branches when ``w`` is one of them."""
        trials = []
        for rb in r.branches:
            found = self.check(rb, w)
            if not found:
                return []
            trials.append(found)
        j = _closest_branch(r, w, siblings)
        if j is None:
            reason = "a reader union needs a branch that can read every type the writer may write"
            return [_Finding("", MISSING_UNION_BRANCH, _describe(r), _describe(w), reason)]
        # a near miss (same named type, or same kind): its own violations say more than
        # "missing branch"
        return _under(f"<union:{j}>", trials[j]) if mark else trials[j]

    def _record(self, r: _Node, w: _Node) -> list[_Finding]:
        key = (r.fullname, w.fullname)
        if key in self._done:
            return self._done[key]
        if key in self._active:
            # recursion: assume compatible (co-inductively) and remember what we relied on
            self._low = min(self._low, self._active[key])
            return []
        if key in self._tentative:
            self._low = min(self._low, self._tentative[key])
            return []
        depth = len(self._active)
        self._active[key] = depth
        outer_low, self._low = self._low, depth
        found = self._name(r, w) + self._fields(r, w)
        low = self._low
        del self._active[key]
        if found or low >= depth:
            # incompatible verdicts are final even under assumptions (assumptions only ever
            # hide violations); compatible ones are final when they relied on nothing outside
            self._done[key] = found
            for other, other_low in list(self._tentative.items()):
                if other_low >= depth:
                    del self._tentative[other]
                    if not found:
                        self._done[other] = []
            self._low = outer_low
        else:
            self._tentative[key] = low
            for other, other_low in self._tentative.items():
                if other_low >= depth:
                    self._tentative[other] = low
            self._low = min(outer_low, low)
        return found

    def _fields(self, r: _Node, w: _Node) -> list[_Finding]:
        by_name = {f.name: f for f in w.fields}
        out: list[_Finding] = []
        for rf in r.fields:
            matches = [by_name[rf.name]] if rf.name in by_name else []
            for alias in rf.aliases:
                if alias in by_name and by_name[alias] not in matches:
                    matches.append(by_name[alias])
            if not matches:
                if not rf.has_default:
                    reason = "a reader field the writer lacks needs a default"
                    out.append(
                        _Finding(
                            rf.name, READER_FIELD_MISSING_DEFAULT, _describe(rf.type), "", reason
                        )
                    )
                continue
            if len(matches) > 1:
                names = ", ".join(f"'{m.name}'" for m in matches)
                reason = (
                    f"it matches the writer fields {names} by name and aliases, and Avro "
                    "refuses to guess which one to read"
                )
                out.append(_Finding(rf.name, FIELD_ALIAS_AMBIGUOUS, _describe(rf.type), "", reason))
            out += _under(rf.name, self.check(rf.type, matches[0].type))
        return out


def _closest_branch(r: _Node, w: _Node, siblings: Sequence[_Node]) -> int | None:
    """The reader branch the writer's type was evidently meant to be read as, if any."""
    same_kind = [j for j, rb in enumerate(r.branches) if rb.kind == w.kind]
    if w.kind in _NAMED:
        for j in same_kind:
            if _names_match(r.branches[j], w):
                return j
        # a lone record/enum/fixed of that kind that reads no other writer branch is most
        # likely this one renamed
        unclaimed = [
            j
            for j in same_kind
            if not any(s.kind == w.kind and _names_match(r.branches[j], s) for s in siblings)
        ]
        return unclaimed[0] if len(unclaimed) == 1 else None
    if same_kind:
        return same_kind[0]
    promotable = [j for j, rb in enumerate(r.branches) if rb.kind in _PROMOTIONS.get(w.kind, ())]
    return promotable[0] if promotable else None


def _render(f: _Finding, direction: str, against: str) -> str:
    """One sentence for a finding; worded with old/new when the direction is known."""
    if not f.path:
        subject = "the root schema"
    elif f.path[0] in "[{<":  # inside a root that is an array, map or union
        subject = f"the root schema at '{f.path}'"
    else:
        subject = f"field '{f.path}'"
    if direction == "backward":
        reader_role, writer_role = "the new schema", against or "the previous schema"
    elif direction == "forward":
        reader_role, writer_role = against or "the previous schema", "the new schema"
    else:
        reader_role, writer_role = "the reader", "the writer"
    reason = f.reason.replace(_R, reader_role).replace(_W, writer_role)
    old = f" in {against}" if against else ""
    if f.rule == READER_FIELD_MISSING_DEFAULT:
        if direction == "backward":
            return (
                f"{subject} ({f.reader}) was added (or renamed without an alias) without a "
                f"default, so data written with {writer_role} has no value for it: {reason}"
            )
        if direction == "forward":
            return (
                f"{subject} ({f.reader}) was removed (or renamed without an alias) but "
                f"{reader_role} declares it without a default, so readers using {reader_role} "
                f"have no value for it in new data: {reason}"
            )
        return f"{subject} ({f.reader}) is in the reader but not in the writer and has no default: {reason}"
    if f.rule == FIELD_ALIAS_AMBIGUOUS:
        return f"{subject} ({f.reader}) of {reader_role} is ambiguous: {reason}"
    if f.rule == MISSING_UNION_BRANCH:
        return (
            f"{subject}: data written with {writer_role} as {f.writer} matches no branch of "
            f"{reader_role}'s {f.reader}: {reason}"
        )
    if f.rule == MISSING_ENUM_SYMBOLS:
        return f"{subject} ({f.reader}): {reason}"
    # both directions of FULL may report the same change: say which reading fails
    if direction == "backward":
        return (
            f"{subject} changed from {f.writer}{old} to {f.reader}, so the new schema cannot "
            f"read data written with {writer_role}: {reason}"
        )
    if direction == "forward":
        return (
            f"{subject} changed from {f.reader}{old} to {f.writer}, so {reader_role} cannot "
            f"read data written with the new schema: {reason}"
        )
    return f"{subject} is {f.reader} in the reader but {f.writer} in the writer: {reason}"


def _findings(reader: _Node, writer: _Node, logical_types: bool) -> list[_Finding]:
    seen, out = set(), []
    for f in _Checker(logical_types).check(reader, writer):
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def reader_writer_violations(
    reader: AvroSchemaJson, writer: AvroSchemaJson, *, logical_types: bool = True
) -> list[Violation]:
    """Every reason why ``reader`` cannot read data written with ``writer`` ([] if it can).

    Both schemas are parsed JSON (dict, list or type-name string) or JSON text. The violations'
    ``direction`` and ``against`` are left empty for the caller to fill in (``dataclasses.replace``).
    Raises ``ValueError`` when a schema cannot be resolved (e.g. an undefined type name).
    """
    r, w = _resolve(reader, "the reader schema"), _resolve(writer, "the writer schema")
    return [Violation(f.path, f.rule, _render(f, "", "")) for f in _findings(r, w, logical_types)]


def check_level(
    new: AvroSchemaJson,
    previous: Sequence[AvroSchemaJson],
    level: str,
    *,
    labels: list[str] | None = None,
    logical_types: bool = True,
) -> list[Violation]:
    """Violations of ``new`` against ``previous`` (oldest first) at a registry level.

    ``BACKWARD``: the new schema reads data written with an old one; ``FORWARD``: an old schema
    reads data written with the new one; ``FULL``: both. Without ``_TRANSITIVE`` only the newest
    previous schema is compared (as Confluent does), with it all of them. ``NONE`` checks nothing.
    ``labels`` name the previous schemas in ``Violation.against`` (default ``v1``, ``v2``, ...).
    """
    normalized = level.strip().upper() if isinstance(level, str) else ""
    if normalized not in LEVELS:
        raise ValueError(
            f"unknown compatibility level {level!r}; expected one of {', '.join(LEVELS)}"
        )
    previous = list(previous)
    if labels is None:
        labels = [f"v{i}" for i in range(1, len(previous) + 1)]
    elif len(labels) != len(previous):
        raise ValueError(f"got {len(labels)} label(s) for {len(previous)} previous schema(s)")
    if normalized == "NONE" or not previous:
        return []
    base = normalized.removesuffix("_TRANSITIVE")
    directions = ("backward", "forward") if base == "FULL" else (base.lower(),)
    pairs = list(zip(labels, previous, strict=True))
    if not normalized.endswith("_TRANSITIVE"):
        pairs = pairs[-1:]
    new_node = _resolve(new, "the new schema")
    out: list[Violation] = []
    for label, old in pairs:
        old_node = _resolve(old, f"previous schema {label}")
        for direction in directions:
            reader, writer = (
                (new_node, old_node) if direction == "backward" else (old_node, new_node)
            )
            for f in _findings(reader, writer, logical_types):
                out.append(
                    Violation(f.path, f.rule, _render(f, direction, label), direction, label)
                )
    return out


def load_schema_file(path: str | os.PathLike[str]) -> Any:
    """Read, parse and validate an ``.avsc`` file; return its parsed JSON.

    Validation is the avro library's parser (invalid logical-type annotations are ignored, as the
    specification says) plus field defaults checked against their types, as Java's parser does.
    Any problem raises :class:`~txn_contract.errors.SchemaFileError` naming the file.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SchemaFileError(where, "no such file") from exc
    except UnicodeDecodeError as exc:
        raise SchemaFileError(where, "is not UTF-8 text") from exc
    except OSError as exc:
        raise SchemaFileError(where, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaFileError(
            where, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
            avro.schema.parse(text)
    except Exception as exc:  # the avro parser raises many types; all mean "invalid schema"
        detail = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
        raise SchemaFileError(where, f"is not a valid Avro schema ({detail})") from exc
    try:
        root = _Parser().parse(data, None)
    except _SchemaError as exc:
        raise SchemaFileError(where, f"is not a valid Avro schema ({exc})") from exc
    problem = _bad_default(root)
    if problem:
        raise SchemaFileError(where, problem)
    return data


# ---------------------------------------------------------------------------------------------
# Default values (load_schema_file only: compatibility needs only their presence)
# ---------------------------------------------------------------------------------------------

_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _valid_default(node: _Node, value: Any) -> bool:
    kind = node.kind
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in _INT_RANGE:
        low, high = _INT_RANGE[kind]
        return _is_int(value) and low <= value <= high
    if kind in ("float", "double"):
        # JSON has no NaN/Infinity literals; Java and fastavro accept these strings
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return numeric or value in ("NaN", "Infinity", "-Infinity")
    if kind in ("bytes", "string", "fixed"):
        return isinstance(value, str)
    if kind == "enum":
        return isinstance(value, str) and value in node.symbols
    if kind == "array":
        assert node.element is not None
        return isinstance(value, list) and all(_valid_default(node.element, v) for v in value)
    if kind == "map":
        assert node.element is not None
        return isinstance(value, dict) and all(
            _valid_default(node.element, v) for v in value.values()
        )
    if kind == "union":
        # Avro 1.12: the default may match any branch ("the first schema that matches")
        return any(_valid_default(b, value) for b in node.branches)
    # record: every field given and valid, or absent and defaulted
    return isinstance(value, dict) and all(
        _valid_default(f.type, value[f.name]) if f.name in value else f.has_default
        for f in node.fields
    )


def _bad_default(root: _Node) -> str | None:
    """A sentence about the first field default that does not match its type, if any."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for f in node.fields:
            if f.has_default and not _valid_default(f.type, f.default):
                shown = json.dumps(f.default)
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                return (
                    f"field '{f.name}' of record {node.fullname} has default {shown}, which is "
                    f"not a valid {_describe(f.type)} value"
                )
            stack.append(f.type)
        stack.extend(node.branches)
        if node.element is not None:
            stack.append(node.element)
    return None
