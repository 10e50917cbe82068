"""Schemas as the checker sees them: parsed JSON resolved into a graph of :class:`Node`.

Named references become shared nodes, so recursive types are cycles. The parser validates what
resolution relies on (names, namespaces, aliases, unions, enum symbols, fixed sizes) and derives
each type's *effective* logical type: an unknown logical type or an invalid annotation is
ignored, as the Avro specification says, and the type is judged as its underlying type.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "NAMED",
    "PRIMITIVES",
    "PROMOTIONS",
    "TIMES",
    "TIMESTAMP_FAMILIES",
    "Field",
    "Logical",
    "Node",
    "Parser",
    "SchemaError",
    "describe",
    "is_int",
    "resolve",
]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "enum", "fixed"})

# writer type -> reader types it may be promoted to (Avro specification, "Schema Resolution")
PROMOTIONS: dict[str, frozenset[str]] = {
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
TIMESTAMP_FAMILIES = (
    frozenset({"timestamp-millis", "timestamp-micros", "timestamp-nanos"}),
    frozenset({"local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos"}),
)
TIMES = frozenset({"time-millis", "time-micros"})


class SchemaError(ValueError):
    """The JSON is not a schema this checker can resolve; the message says why."""


@dataclass(frozen=True)
class Logical:
    name: str
    precision: int | None = None
    scale: int | None = None


@dataclass(eq=False)
class Field:
    name: str
    type: Node
    has_default: bool
    default: Any
    aliases: tuple[str, ...]


@dataclass(eq=False)
class Node:
    kind: str  # a primitive name, "record", "enum", "fixed", "array", "map" or "union"
    name: str = ""  # unqualified name (named types)
    fullname: str = ""
    aliases: frozenset[str] = frozenset()  # fully qualified
    fields: list[Field] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    enum_default: str | None = None
    size: int = 0
    element: Node | None = None  # array items or map values
    branches: list[Node] = field(default_factory=list)
    logical: Logical | None = None


def is_int(value: object) -> bool:
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


def _logical_of(data: dict[str, Any], kind: str, size: int = 0) -> Logical | None:
    """The effective logical type of a schema object; ``None`` when absent, unknown or invalid
    (the specification says to fall back to the underlying type then)."""
    name = data.get("logicalType")
    if not isinstance(name, str):
        return None
    if name == "decimal":
        if kind not in ("bytes", "fixed"):
            return None
        precision, scale = data.get("precision"), data.get("scale", 0)
        if not is_int(precision) or precision <= 0:
            return None
        if not is_int(scale) or scale < 0 or scale > precision:
            return None
        if kind == "fixed" and not _fixed_holds_precision(size, precision):
            return None
        return Logical("decimal", precision, scale)
    if kind == "fixed":
        valid = (name == "uuid" and size == 16) or (name == "duration" and size == 12)
        return Logical(name) if valid else None
    return Logical(name) if kind in _LOGICAL_ON_PRIMITIVE.get(name, ()) else None


class Parser:
    """Resolves one schema's JSON into :class:`Node` objects (one name table per schema)."""

    def __init__(self) -> None:
        self.named: dict[str, Node] = {}

    def parse(self, data: object, space: str | None) -> Node:
        if isinstance(data, str):
            return self._reference(data, space)
        if isinstance(data, list):
            return self._union(data, space)
        if isinstance(data, dict):
            return self._object(data, space)
        raise SchemaError(
            f"{json.dumps(data)} is not a schema (expected a type name, an object or a union array)"
        )

    def _reference(self, name: str, space: str | None) -> Node:
        if name in PRIMITIVES:
            return Node(name)
        # qualified as written if dotted; else the enclosing namespace, then the null namespace
        candidates = [name] if "." in name or not space else [f"{space}.{name}", name]
        for candidate in candidates:
            if candidate in self.named:
                return self.named[candidate]
        raise SchemaError(f"type {name!r} is not defined before it is used")

    def _union(self, data: list[Any], space: str | None) -> Node:
        branches, seen = [], set()
        for item in data:
            branch = self.parse(item, space)
            if branch.kind == "union":
                raise SchemaError("a union may not immediately contain another union")
            key = branch.fullname if branch.kind in NAMED else branch.kind
            if key in seen:
                raise SchemaError(f"union contains {key!r} more than once")
            seen.add(key)
            branches.append(branch)
        return Node("union", branches=branches)

    def _object(self, data: dict[str, Any], space: str | None) -> Node:
        kind = data.get("type")
        if not isinstance(kind, str):
            raise SchemaError(f"schema object without a string 'type': {json.dumps(data)[:80]}")
        if kind in PRIMITIVES:
            return Node(kind, logical=_logical_of(data, kind))
        if kind in ("record", "error"):
            return self._record(data, space)
        if kind == "enum":
            return self._enum(data, space)
        if kind == "fixed":
            return self._fixed(data, space)
        if kind in ("array", "map"):
            attr = "items" if kind == "array" else "values"
            if attr not in data:
                raise SchemaError(f"{kind} schema without {attr!r}")
            return Node(kind, element=self.parse(data[attr], space))
        # {"type": "com.example.Money"}: an object whose type names a defined type (Java accepts it)
        return self._reference(kind, space)

    def _define(
        self, data: dict[str, Any], kind: str, space: str | None
    ) -> tuple[Node, str | None]:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError(f"{kind} without a name")
        if "." in name:
            namespace, simple = name.rsplit(".", 1)
        else:
            declared = data.get("namespace")
            if declared is not None and not isinstance(declared, str):
                raise SchemaError(f"{kind} {name!r} has a non-string namespace")
            namespace, simple = (space if declared is None else declared) or None, name
        fullname = f"{namespace}.{simple}" if namespace else simple
        if fullname in PRIMITIVES:
            raise SchemaError(f"{fullname!r} is a primitive type and cannot be redefined")
        if fullname in self.named:
            raise SchemaError(f"type {fullname!r} is defined twice")
        aliases = data.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise SchemaError(f"aliases of {fullname!r} must be a list of strings")
        qualified = frozenset(
            a if "." in a or not namespace else f"{namespace}.{a}" for a in aliases
        )
        node = Node(kind, name=simple, fullname=fullname, aliases=qualified)
        # registered before its fields are parsed, so a record may refer to itself
        self.named[fullname] = node
        return node, namespace

    def _record(self, data: dict[str, Any], space: str | None) -> Node:
        node, namespace = self._define(data, "record", space)
        fields = data.get("fields")
        if not isinstance(fields, list):
            raise SchemaError(f"record {node.fullname!r} needs a 'fields' list")
        names: set[str] = set()
        for spec in fields:
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise SchemaError(f"record {node.fullname!r} has a field without a name")
            fname = spec["name"]
            if fname in names:
                raise SchemaError(f"record {node.fullname!r} has two fields named {fname!r}")
            names.add(fname)
            if "type" not in spec:
                raise SchemaError(f"field {fname!r} of {node.fullname!r} has no type")
            aliases = spec.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise SchemaError(f"aliases of field {fname!r} must be a list of strings")
            node.fields.append(
                Field(
                    name=fname,
                    type=self.parse(spec["type"], namespace),
                    has_default="default" in spec,
                    default=spec.get("default"),
                    aliases=tuple(aliases),
                )
            )
        return node

    def _enum(self, data: dict[str, Any], space: str | None) -> Node:
        node, _ = self._define(data, "enum", space)
        symbols = data.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise SchemaError(f"enum {node.fullname!r} needs a list of string symbols")
        if len(set(symbols)) != len(symbols):
            raise SchemaError(f"enum {node.fullname!r} has duplicate symbols")
        default = data.get("default")
        if default is not None and default not in symbols:
            raise SchemaError(
                f"enum {node.fullname!r} default {default!r} is not one of its symbols"
            )
        node.symbols, node.enum_default = tuple(symbols), default
        return node

    def _fixed(self, data: dict[str, Any], space: str | None) -> Node:
        node, _ = self._define(data, "fixed", space)
        size = data.get("size")
        if not is_int(size) or size < 0:
            raise SchemaError(f"fixed {node.fullname!r} needs a non-negative integer size")
        node.size = size
        node.logical = _logical_of(data, "fixed", size)
        return node


def _as_json(schema: object, what: str) -> object:
    """Parsed JSON of ``schema``, which may be JSON text, parsed JSON or an avro Schema."""
    if isinstance(schema, str):
        text = schema.strip()
        if text in PRIMITIVES:  # a bare primitive name ("null" would otherwise load as None)
            return text
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{what} is neither valid JSON text nor a primitive type name: {exc}"
            ) from exc
    to_json = getattr(schema, "to_json", None)
    return to_json() if callable(to_json) else schema


def resolve(schema: object, what: str) -> Node:
    """The graph of ``schema`` (JSON text, parsed JSON or an avro Schema); a ``ValueError`` that
    names ``what`` ("the new schema", ...) when it cannot be resolved."""
    try:
        return Parser().parse(_as_json(schema, what), None)
    except SchemaError as exc:
        raise ValueError(f"{what} is not a valid Avro schema: {exc}") from exc


# How a type is named in messages: ``long``, ``decimal(10,2)``, ``record com.example.Money`` ...


def _describe_logical(lg: Logical) -> str:
    return f"decimal({lg.precision},{lg.scale})" if lg.name == "decimal" else lg.name


def describe(node: Node) -> str:
    kind = node.kind
    if kind in PRIMITIVES:
        if node.logical is None:
            return kind
        if node.logical.name == "decimal":
            return _describe_logical(node.logical)  # decimals on bytes are the common case
        return f"{node.logical.name} ({kind})"
    if kind == "fixed":
        base = f"fixed {node.fullname}({node.size})"
        return f"{_describe_logical(node.logical)} on {base}" if node.logical else base
    if kind in NAMED:
        return f"{kind} {node.fullname}"
    if kind in ("array", "map"):
        assert node.element is not None
        return f"{kind}<{describe(node.element)}>"
    return "union [" + ", ".join(describe(b) for b in node.branches) + "]"
