"""Random Avro record schemas and evolutions of them, for the compatibility tests' hypothesis
generators: one mutator serves the differential test against Avro's Python reference checker
(``tests/unit/test_compatibility.py``) and the one against the live registry
(``tests/integration/test_registry_differential.py``).

A mutation is one change of the kinds a team makes when it evolves a contract: a field added or
removed (with or without a default), a default added or dropped, a field or named type renamed
(with or without an alias naming its old name), a type promoted, narrowed, made nullable,
unwrapped or replaced, union branches added, removed or reordered, an array turned into a map and
back, enum symbols or default changed, a fixed size changed, the namespace changed. Every field
default is kept valid under the strict (pre-1.12) rule that a union's default matches its first
branch, which every registry accepts: the default's presence is what matters to compatibility.

What each test may draw differs only in the vocabulary, by :class:`SchemaGen`'s switches:
``logical`` (logical-type annotations; registries ignore them), ``references`` (named references,
hence recursion) and ``unqualified_aliases`` (the Python reference compares an alias's raw text
with the writer's full name, so against it an alias is always written qualified when the writer
has a namespace).
"""

from __future__ import annotations

import copy
import json
import warnings
from typing import Any

from hypothesis import strategies as st

from tests.avro_schema_walk import definitions, positions

__all__ = ["LOGICAL_SAMPLES", "NO_DEFAULT", "PRIMS", "SchemaGen", "is_valid"]

PRIMS = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
# Where a primitive may be moved: the legal promotions and their reverses, plus unrelated types.
RETYPE = {
    "int": ["long", "float", "double", "string"],
    "long": ["int", "float", "double"],
    "float": ["double", "long", "int"],
    "double": ["float", "long"],
    "string": ["bytes", "int"],
    "bytes": ["string", "double"],
    "null": ["boolean", "string"],
    "boolean": ["null", "int"],
}
LOGICAL_SAMPLES = [
    {"type": "long", "logicalType": "timestamp-millis"},
    {"type": "long", "logicalType": "timestamp-micros"},
    {"type": "int", "logicalType": "date"},
    {"type": "string", "logicalType": "uuid"},
    {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
    {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 4},
]
NO_DEFAULT = object()  # "this type gets no default" (records: kept simple)
_PRIM_DEFAULTS = {"null": None, "boolean": False, "int": 0, "long": 0, "float": 0.0, "double": 0.0}


def is_valid(schema: Any) -> bool:
    """Whether Avro's own parser accepts ``schema`` (a mutation may repeat a union branch or,
    with references, leave one dangling)."""
    import avro.errors
    import avro.schema

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
            avro.schema.parse(json.dumps(schema))
    except Exception:  # noqa: BLE001 - the avro parser raises many types for "invalid"
        return False
    return True


def _kind_key(t: Any) -> str:
    """The key by which a union may hold a type at most once."""
    if isinstance(t, str):
        return t
    if t["type"] in ("record", "enum", "fixed"):
        return t["name"]
    return t["type"]


def _named(schema: Any) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in definitions(schema)}


def default_for(t: Any, named: dict[str, dict[str, Any]]) -> Any:
    """A valid default for ``t`` (a union's is its first branch's), or :data:`NO_DEFAULT`;
    ``named`` resolves references."""
    if isinstance(t, list):
        return default_for(t[0], named)
    if isinstance(t, str):
        if t in named:
            return default_for(named[t], named)
        return _PRIM_DEFAULTS.get(t, "")  # bytes and string: ""
    kind = t["type"]
    if kind == "enum":
        return t["symbols"][0]
    if kind == "fixed":
        return "\u0000" * t["size"]
    if kind == "array":
        return []
    if kind == "map":
        return {}
    if kind == "record":
        return NO_DEFAULT
    return default_for(kind, named)  # a logical type: its underlying type's


def valid_default(t: Any, value: Any, named: dict[str, dict[str, Any]]) -> bool:
    """Whether ``value`` is a valid default for ``t`` under the strict first-branch rule."""
    if isinstance(t, list):
        return valid_default(t[0], value, named)
    if isinstance(t, str) and t in named:
        t = named[t]
    kind = t if isinstance(t, str) else t["type"]
    checks = {
        "null": lambda: value is None,
        "boolean": lambda: isinstance(value, bool),
        "int": lambda: isinstance(value, int) and not isinstance(value, bool),
        "float": lambda: isinstance(value, int | float) and not isinstance(value, bool),
        "bytes": lambda: isinstance(value, str),
        "fixed": lambda: isinstance(value, str) and len(value) == t["size"],
        "enum": lambda: value in t["symbols"],
        "array": lambda: (
            isinstance(value, list) and all(valid_default(t["items"], v, named) for v in value)
        ),
        "map": lambda: (
            isinstance(value, dict)
            and all(valid_default(t["values"], v, named) for v in value.values())
        ),
    }
    checks |= {"long": checks["int"], "double": checks["float"], "string": checks["bytes"]}
    return kind in checks and checks[kind]()


def repair_defaults(schema: Any) -> None:
    """Replace every field default a mutation made invalid by a valid one (or drop it)."""
    named = _named(schema)
    for d in definitions(schema):
        for f in d.get("fields", []):
            if "default" in f and not valid_default(f["type"], f["default"], named):
                default = default_for(f["type"], named)
                if default is NO_DEFAULT:
                    del f["default"]
                else:
                    f["default"] = default
        if d["type"] == "enum" and "default" in d and d["default"] not in d["symbols"]:
            del d["default"]


class SchemaGen:
    """Draws random schemas and evolutions; ``draw`` is hypothesis's (``@st.composite``)."""

    def __init__(
        self,
        draw: Any,
        *,
        logical: bool = True,
        references: bool = True,
        unqualified_aliases: bool = True,
    ) -> None:
        self.draw = draw
        self.logical = logical
        self.references = references
        self.unqualified_aliases = unqualified_aliases
        self.counter = 0
        self.named: dict[str, dict[str, Any]] = {}  # name -> definition (for references)
        self.enclosing: list[str] = []

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pick(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    # --- drawing types ------------------------------------------------------------------

    def type_(self, depth: int) -> Any:
        kinds = ["prim", "prim", "prim", "nullable", "enum"] + ["logical"] * self.logical
        if depth < 3:
            kinds += ["record", "fixed", "array", "map", "union"]
        if self.references and self.named:
            kinds.append("ref")
        kind = self.pick(kinds)
        if kind == "prim":
            return self.pick(PRIMS)
        if kind == "logical":
            return copy.deepcopy(self.pick(LOGICAL_SAMPLES))
        if kind == "ref":
            name = self.pick(sorted(self.named))
            # a required field of an enclosing record would make values infinite
            return ["null", name] if name in self.enclosing else name
        if kind == "nullable":
            inner = self.pick([p for p in PRIMS if p != "null"] + ["enum"])
            return ["null", self.enum() if inner == "enum" else inner]
        if kind in ("array", "map"):
            key = "items" if kind == "array" else "values"
            return {"type": kind, key: self.type_(depth + 1)}
        return {"record": self.record, "enum": self.enum, "fixed": self.fixed}.get(
            kind, self.union
        )(depth)

    def fixed(self, _depth: int = 0) -> dict[str, Any]:
        name = self.fresh("F")
        self.named[name] = {"type": "fixed", "name": name, "size": self.pick([2, 4, 16])}
        return self.named[name]

    def enum(self, _depth: int = 0) -> dict[str, Any]:
        name = self.fresh("E")
        symbols = [f"S{i}" for i in range(self.draw(st.integers(1, 4)))]
        out: dict[str, Any] = {"type": "enum", "name": name, "symbols": symbols}
        if self.draw(st.booleans()):
            out["default"] = self.pick(symbols)
        self.named[name] = out
        return out

    def union(self, depth: int) -> list[Any]:
        # distinct kinds first, so that no generated definition is thrown away (a reference
        # to it would then dangle) and no kind appears twice
        kinds = [*PRIMS, "record", "enum", "fixed", "array", "map"]
        kinds += ["logical"] * self.logical + ["ref"] * self.references
        chosen = self.draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3, unique=True))
        branches: list[Any] = []
        for kind in chosen:
            used = {_kind_key(b) for b in branches} | set(chosen)
            if kind in PRIMS:
                branches.append(kind)
            elif kind == "logical":
                free = [t for t in LOGICAL_SAMPLES if t["type"] not in used]
                branches += [copy.deepcopy(self.pick(free))] if free else []
            elif kind == "ref":
                free = sorted(set(self.named) - used)
                branches += [self.pick(free)] if free else []
            elif kind in ("array", "map"):
                key = "items" if kind == "array" else "values"
                branches.append({"type": kind, key: self.type_(depth + 1)})
            else:
                branches.append(
                    {"record": self.record, "enum": self.enum}.get(kind, self.fixed)(depth + 1)
                )
        return branches

    def record(self, depth: int, name: str | None = None) -> dict[str, Any]:
        name = name or self.fresh("R")
        out: dict[str, Any] = {"type": "record", "name": name, "fields": []}
        self.named[name] = out
        self.enclosing.append(name)
        for _ in range(self.draw(st.integers(0 if depth else 1, 4))):
            out["fields"].append(self.field(depth + 1))
        self.enclosing.pop()
        return out

    def field(self, depth: int, named: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        f: dict[str, Any] = {"name": self.fresh("f"), "type": self.type_(depth)}
        default = default_for(f["type"], self.named if named is None else named | self.named)
        if default is not NO_DEFAULT and self.draw(st.booleans()):
            f["default"] = default
        return f

    # --- evolution -----------------------------------------------------------------------

    def mutate(self, schema: dict[str, Any], writer_namespace: str | None) -> None:
        """One mutation of ``schema`` in place; ``writer_namespace`` is the namespace of the
        version it evolves from (aliases name the writer's types by it)."""
        defs = definitions(schema)
        records = [d for d in defs if d["type"] == "record"]
        by_kind = {kind: [d for d in defs if d["type"] == kind] for kind in ("enum", "fixed")}
        ops = ["add_field", "add_field", "rename_type"]
        ops += ["retype"] * 3 * bool(positions(schema))
        if any(r["fields"] for r in records):
            ops += ["remove_field", "rename_field", "toggle_default", "toggle_default"]
        ops += ["enum", "enum"] * bool(by_kind["enum"]) + ["fixed"] * bool(by_kind["fixed"])
        ops += ["namespace"] * bool(writer_namespace)
        op = self.pick(ops)
        if op == "add_field":
            self.pick(records)["fields"].append(self.field(2, _named(schema)))
        elif op in ("remove_field", "rename_field", "toggle_default"):
            self._change_field(op, self.pick([r for r in records if r["fields"]]), schema)
        elif op == "retype":
            container, key = self.pick(positions(schema))
            container[key] = self.retyped(container[key])
        elif op == "enum":
            self._change_enum(self.pick(by_kind["enum"]))
        elif op == "fixed":
            f = self.pick(by_kind["fixed"])
            f["size"] = self.pick([s for s in (1, 2, 4, 8, 16) if s != f["size"]])
        elif op == "namespace":
            # moves every nested named type too: their full names change, their names do not
            schema["namespace"] = self.pick(["ns.two", "other"])
        else:
            self._rename_type(
                self.pick(records + by_kind["enum"] + by_kind["fixed"]), schema, writer_namespace
            )
        repair_defaults(schema)

    def _change_field(self, op: str, rec: dict[str, Any], schema: dict[str, Any]) -> None:
        i = self.draw(st.integers(0, len(rec["fields"]) - 1))
        f = rec["fields"][i]
        if op == "remove_field":
            del rec["fields"][i]
        elif op == "rename_field":
            old, f["name"] = f["name"], self.fresh("g")
            if self.draw(st.booleans()):
                f.setdefault("aliases", []).append(old)
        elif "default" in f:
            del f["default"]
        elif (default := default_for(f["type"], _named(schema))) is not NO_DEFAULT:
            f["default"] = default

    def _change_enum(self, e: dict[str, Any]) -> None:
        change = self.pick(["add", "add", "remove", "default"])
        if change == "add":
            e["symbols"].append(self.fresh("S"))
        elif change == "remove" and len(e["symbols"]) > 1:
            gone = e["symbols"].pop(self.draw(st.integers(0, len(e["symbols"]) - 1)))
            if e.get("default") == gone:
                del e["default"]
        elif "default" in e:
            del e["default"]
        else:
            e["default"] = self.pick(e["symbols"])

    def _rename_type(
        self, d: dict[str, Any], schema: dict[str, Any], writer_namespace: str | None
    ) -> None:
        """Rename a record, enum or fixed, with or without an alias naming the old name."""
        old, d["name"] = d["name"], self.fresh("N")
        if self.draw(st.booleans()):
            # an alias is relative to the namespace of the type declaring it: qualified or not,
            # it names the same type while the namespace is unchanged
            qualify = bool(writer_namespace) and (
                not self.unqualified_aliases or self.draw(st.booleans())
            )
            d.setdefault("aliases", []).append(f"{writer_namespace}.{old}" if qualify else old)
        for container, key in positions(schema):
            if container[key] == old:
                container[key] = d["name"]

    def retyped(self, t: Any) -> Any:
        options = ["new", "nullable"]
        if isinstance(t, str) and t in RETYPE:
            options += ["step", "step", "step"]
        if isinstance(t, list):
            options += ["unwrap", "unwrap", "widen", "narrow", "reorder"]
        if isinstance(t, dict) and t["type"] in ("array", "map"):
            options += ["element", "element", "swap"]
        choice = self.pick(options)
        if choice == "step":
            return self.pick(RETYPE[t])
        if choice == "nullable":
            return t if isinstance(t, list) or t == "null" else ["null", t]
        if choice == "unwrap":
            return self.pick([b for b in t if b != "null"] or t)
        if choice == "widen":
            extra = self.type_(3)
            nested = isinstance(extra, list)  # a union may not hold a union
            if nested or _kind_key(extra) in {_kind_key(b) for b in t}:
                return t
            return [*t, extra]
        if choice in ("narrow", "reorder"):
            return (t[:-1] if len(t) > 1 else t) if choice == "narrow" else list(reversed(t))
        if choice == "element":
            key = "items" if t["type"] == "array" else "values"
            return {**t, key: self.retyped(t[key])}
        if choice == "swap":
            element = t.get("items", t.get("values"))
            if t["type"] == "array":
                return {"type": "map", "values": element}
            return {"type": "array", "items": element}
        return self.type_(2)
