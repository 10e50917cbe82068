"""Render ``model.py``: the typed class of a subject's latest version, generated from ``contracts/``.

Part of ``txn-contract generate``: :func:`txn_contract.generate.render` lists the file (for the
transaction stream ``txn_contract/model.py``, for a subject with a ``module``
``txn_contract/<module>/model.py``), so ``generate --check`` gates it. A small template of ours:
the contracts use records, primitives, enums with defaults, nullable unions, arrays and maps, and
the decimal and timestamp logical types, and the output carries the contract's docs. The module
holds the subject's constants (``SUBJECT``, ``TOPIC``, ``COMPATIBILITY``, ``NAMESPACE``,
``LATEST_VERSION``, ``FIELDS_BY_VERSION``), its enums as ``StrEnum`` and a frozen dataclass with
``to_avro(version)`` and ``from_avro(record)``.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .contract import Contract, ContractVersion
from .errors import SchemaFileError

__all__ = ["MODEL_FILE", "model_exports", "render_model"]

MODEL_FILE = "model.py"


def _py_type(avro_type: Any, enums: dict[str, list[str]], where: str) -> str:
    """The annotation of ``avro_type``; each enum met is recorded in ``enums``."""
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        if len(branches) != 1:
            raise SchemaFileError(
                where, "unions other than [null, T] are not supported by the generator"
            )
        inner = _py_type(branches[0], enums, where)
        return f"{inner} | None"
    if isinstance(avro_type, dict):
        return _py_type_of_object(avro_type, enums, where)
    if avro_type in _PRIMITIVES:
        return _PRIMITIVES[avro_type]
    if avro_type in enums:
        return avro_type
    raise SchemaFileError(where, f"type {avro_type!r} is not supported by the generator")


def _py_type_of_object(avro_type: dict[str, Any], enums: dict[str, list[str]], where: str) -> str:
    """The annotation of a type written as a JSON object: logical, enum, array, map, primitive."""
    logical = avro_type.get("logicalType")
    if logical == "decimal":
        return "Decimal"
    if logical in ("timestamp-millis", "timestamp-micros"):
        return "datetime"
    if avro_type["type"] == "enum":
        enums[avro_type["name"]] = list(avro_type["symbols"])
        return avro_type["name"]
    if avro_type["type"] == "array":
        return f"list[{_py_type(avro_type['items'], enums, where)}]"
    if avro_type["type"] == "map":
        return f"dict[str, {_py_type(avro_type['values'], enums, where)}]"
    if avro_type["type"] in _PRIMITIVES:
        return _PRIMITIVES[avro_type["type"]]
    raise SchemaFileError(where, f"type {avro_type['type']!r} is not supported by the generator")


_PRIMITIVES = {
    "string": "str",
    "int": "int",
    "long": "int",
    "boolean": "bool",
    "float": "float",
    "double": "float",
    "bytes": "bytes",
    "null": "None",
}


def _wrap(text: str, indent: str, rest: str | None = None, width: int = 96) -> str:
    """``text`` wrapped at ``width``, its first line indented by ``indent``, the others by
    ``rest`` (default: ``indent``)."""
    rest = indent if rest is None else rest
    return "\n".join(
        textwrap.wrap(text, width - len(rest), initial_indent=indent, subsequent_indent=rest)
    )


def _isort_order(names: list[str]) -> list[str]:
    """Constants first, then classes, as ruff's RUF022 sorts ``__all__``."""
    return sorted(names, key=lambda n: (not n.isupper(), n))


@dataclass(frozen=True)
class _ModelField:
    name: str
    py: str  # the Python annotation
    doc: str
    default: str | None  # the Python expression of the Avro default, None without one


@dataclass(frozen=True)
class _Model:
    """What the ``model.py`` template needs, derived from the latest version's schema."""

    contract: Contract
    fields: list[_ModelField]
    enums: dict[str, list[str]]  # enum name -> symbols
    enum_docs: dict[str, str]
    in_every_version: set[str]  # fields every released version has

    def enum_of(self, f: _ModelField) -> str | None:
        base = f.py.removesuffix(" | None")
        return base if base in self.enums else None


def _model(contract: Contract) -> _Model:
    latest = contract.latest
    enums: dict[str, list[str]] = {}
    enum_docs: dict[str, str] = {}
    fields = []
    for f in latest.schema["fields"]:
        name = f["name"]
        if keyword.iskeyword(name):
            raise SchemaFileError(latest.path, f"field {name!r} is a Python keyword")
        py = _py_type(f["type"], enums, latest.path)
        for enum in _enum_definitions(f["type"]):
            # an empty docstring would fail the lint the generated module is held to
            enum_docs[enum["name"]] = enum.get("doc") or f"Symbols of {enum['name']}."
        default = (
            _default_literal(name, f["type"], f["default"], enums, latest.path)
            if "default" in f
            else None
        )
        fields.append(_ModelField(name, py, f.get("doc", ""), default))
    # Fields every released version has; the others are absent from older versions' records.
    in_every_version = set.intersection(*(set(v.field_names) for v in contract.versions))
    return _Model(contract, fields, enums, enum_docs, in_every_version)


def _exported(model: _Model) -> list[str]:
    """The names the module exports, in ``__all__``'s order."""
    exported = [*model.enums, model.contract.latest.schema["name"], "FIELDS_BY_VERSION"]
    exported += ["LATEST_VERSION", "NAMESPACE", "SUBJECT", "TOPIC", "COMPATIBILITY"]
    return _isort_order(exported)


def model_exports(contract: Contract) -> list[str]:
    """The names the generated ``model.py`` of ``contract`` exports (its ``__all__``)."""
    return _exported(_model(contract))


def _header_lines(model: _Model, contracts_dir: Path) -> list[str]:
    """The banner, docstring, imports, ``__all__`` and the module constants."""
    contract, latest = model.contract, model.contract.latest
    schema = latest.schema
    needs_factory = any((f.default or "").startswith("field(") for f in model.fields)
    digest = hashlib.sha256(latest.schema_str.encode()).hexdigest()[:16]
    try:
        source = Path(latest.path).resolve().relative_to(contracts_dir.resolve().parent)
    except ValueError:
        source = Path(latest.path)
    return [
        f"# GENERATED by `txn-contract generate` from {source} (sha256 {digest}).",
        "# DO NOT EDIT: change contracts/ and regenerate; CI fails on drift",
        "# (`txn-contract generate --check`).",
        f'"""Typed event class of contract {contract.subject}, version {latest.version} (the latest).',
        "",
        _wrap(schema.get("doc", ""), ""),
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass, field"
        if needs_factory
        else "from dataclasses import dataclass",
        "from datetime import datetime",
        "from decimal import Decimal",
        "from enum import StrEnum",
        "from typing import Any",
        "",
        "__all__ = [",
        *[f'    "{n}",' for n in _exported(model)],
        "]",
        "",
        f'SUBJECT = "{contract.subject}"',
        f'TOPIC = "{contract.topic}"',
        f'COMPATIBILITY = "{contract.compatibility}"',
        f'NAMESPACE = "{schema.get("namespace", "")}"',
        f"LATEST_VERSION = {latest.version}",
        *_fields_by_version_lines(contract.versions),
        "",
    ]


def _enum_lines(model: _Model) -> list[str]:
    lines: list[str] = []
    for enum_name, symbols in model.enums.items():
        doc = model.enum_docs[enum_name]
        lines += [
            "",
            f"class {enum_name}(StrEnum):",
            f'    """{doc}"""' if len(doc) < 80 else '    """\n' + _wrap(doc, "    ") + '\n    """',
            "",
            *[f'    {s} = "{s}"' for s in symbols],
            "",
        ]
    return lines


def _class_lines(model: _Model) -> list[str]:
    """The frozen dataclass: docstring with every field's doc, then the annotated fields."""
    schema = model.contract.latest.schema
    lines = [
        "",
        "@dataclass(frozen=True, slots=True)",
        f"class {schema['name']}:",
        '    """',
        _wrap(schema.get("doc", ""), "    "),
        "",
        "    Attributes:",
    ]
    for f in model.fields:
        lines.append(_wrap(f"{f.name}: {f.doc}", "        ", "            "))
    lines += ['    """', ""]
    for f in model.fields:
        lines.append(f"    {f.name}: {f.py}" + ("" if f.default is None else f" = {f.default}"))
    return lines


def _method_lines(model: _Model) -> list[str]:
    """``to_avro`` and ``from_avro``, converting the enum fields to and from their symbols."""
    cls = model.contract.latest.schema["name"]
    enum_fields = [(f.name, model.enum_of(f)) for f in model.fields if model.enum_of(f)]
    nullable = {f.name for f in model.fields if f.py.endswith(" | None")}

    def guards(n: str, container: str, value: str) -> list[str]:
        # older released versions lack a later field; a nullable one may hold None
        return [f"{json.dumps(n)} in {container}"] * (n not in model.in_every_version) + [
            f"{value} is not None"
        ] * (n in nullable)

    return [
        "",
        "    def to_avro(self, version: int = LATEST_VERSION) -> dict[str, Any]:",
        '        """The record as fastavro writes it for released ``version`` (later fields dropped)."""',
        "        names = FIELDS_BY_VERSION[version]",
        "        out = {name: getattr(self, name) for name in names}",
        *[
            line
            for n, _enum in enum_fields
            for line in _guarded(
                guards(n, "names", f"self.{n}"), f"out[{json.dumps(n)}] = self.{n}.value"
            )
        ],
        "        return out",
        "",
        "    @classmethod",
        f"    def from_avro(cls, record: dict[str, Any]) -> {cls}:",
        '        """Build from a record decoded with the latest schema as reader."""',
        "        values = dict(record)",
        *[
            line
            for n, enum in enum_fields
            for line in _guarded(
                guards(n, "values", f"values[{json.dumps(n)}]"),
                f"values[{json.dumps(n)}] = {enum}(values[{json.dumps(n)}])",
            )
        ],
        "        return cls(**values)",
        "",
    ]


def render_model(contract: Contract, contracts_dir: Path) -> str:
    """The text of the typed class module (``model.py``) of ``contract``'s latest version."""
    model = _model(contract)
    lines = _header_lines(model, contracts_dir) + _enum_lines(model)
    return "\n".join(lines + _class_lines(model) + _method_lines(model))


def _guarded(conditions: list[str], statement: str) -> list[str]:
    """``statement`` as a line of a method body, under ``if`` the conditions when there are any."""
    if not conditions:
        return [f"        {statement}"]
    return [f"        if {' and '.join(conditions)}:", f"            {statement}"]


def _enum_definitions(avro_type: Any) -> list[dict[str, Any]]:
    """Enum definitions inside a field's type (directly, or in a union, array or map)."""
    if isinstance(avro_type, list):
        return [e for branch in avro_type for e in _enum_definitions(branch)]
    if not isinstance(avro_type, dict):
        return []
    if avro_type.get("type") == "enum":
        return [avro_type]
    if avro_type.get("type") in ("array", "map"):
        return _enum_definitions(avro_type.get("items", avro_type.get("values")))
    return []


def _default_literal(
    name: str, avro_type: Any, default: Any, enums: dict[str, list[str]], where: str
) -> str:
    """The Python expression of a field's Avro default, typed as the generated class types it.

    Avro writes a default in the JSON of the type (of the first union branch): an enum symbol
    as a string, bytes as a string of code points 0-255. The class holds an enum member, bytes,
    and (dataclasses refusing mutable defaults) a fresh list or dict per instance.
    """
    if default is None:
        return "None"
    branch = avro_type[0] if isinstance(avro_type, list) else avro_type
    if isinstance(branch, dict) and branch.get("logicalType"):
        raise SchemaFileError(
            where,
            f"field {name!r}: a non-null default on a {branch['logicalType']} field is not "
            "supported by the generator; make the field nullable with default null",
        )
    kind = branch.get("type") if isinstance(branch, dict) else branch
    enum_name = (
        branch.get("name")
        if kind == "enum"
        else (branch if isinstance(branch, str) and branch in enums else None)
    )
    if enum_name:
        return f"{enum_name}.{default}"
    if kind == "bytes":
        return repr(default.encode("latin-1"))
    if isinstance(default, list | dict):
        return f"field(default_factory=lambda: {default!r})"
    return repr(default)


def _fields_by_version_lines(versions: tuple[ContractVersion, ...]) -> list[str]:
    """``FIELDS_BY_VERSION``, one assignment a version. A version that appends fields to the one
    before it (the usual compatible change) is written as that one plus what it appends, so a
    reader sees what each version added and every name is written once."""
    lines = [
        "# Field names of every released version, in schema order.",
        "FIELDS_BY_VERSION: dict[int, tuple[str, ...]] = {}",
    ]
    previous: ContractVersion | None = None
    for v in versions:
        items = [json.dumps(n) for n in v.field_names]
        if previous and v.field_names[: len(previous.field_names)] == previous.field_names:
            items[: len(previous.field_names)] = [f"*FIELDS_BY_VERSION[{previous.version}]"]
        lines += [f"FIELDS_BY_VERSION[{v.version}] = (", *[f"    {x}," for x in items], ")"]
        previous = v
    return lines
