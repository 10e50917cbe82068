"""Render ``encoders.py``: every released version's Avro encoder, generated from ``contracts/``.

Part of ``txn-contract generate``: :func:`txn_contract.generate.render` lists the file, so
``generate --check`` gates it like ``model.py``. The module holds one function per Avro type the
contract uses, writing fastavro's bytes without fastavro (an enum through a constant table of
encoded indexes, a nullable union as its branch then the value, a decimal at its precision and
scale), and per version a :class:`~txn_contract.segments.RecordEncoder`: the fields in schema
order, each with its encoder and its Avro default pre-encoded (by fastavro, here, at generation
time), and the record body unrolled. A type outside that set is refused here, naming the field,
rather than written wrong at run time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .contract import Contract, ContractVersion
from .errors import SchemaFileError
from .segments import FieldEncoder, encode_long, schema_fingerprint

__all__ = ["ENCODERS_FILE", "render_encoders"]

ENCODERS_FILE = "encoders.py"
_WIDTH = 100  # ruff's line length: the output must be what `ruff format` leaves unchanged

# Types that txn_contract.segments writes as they are: (type, logicalType) -> its function.
_RUNTIME = {
    ("null", None): "encode_null",
    ("boolean", None): "encode_boolean",
    ("int", None): "encode_long",
    ("long", None): "encode_long",
    ("float", None): "encode_float",
    ("double", None): "encode_double",
    ("bytes", None): "encode_bytes",
    ("string", None): "encode_string",
    ("long", "timestamp-millis"): "encode_timestamp_millis",
    ("long", "timestamp-micros"): "encode_timestamp_micros",
}


def _bytes_literal(data: bytes) -> str:
    """``data`` as a double-quoted bytes literal (the quotes ruff format keeps)."""
    chars = (chr(c) if 0x20 <= c < 0x7F and c not in b'"\\' else f"\\x{c:02x}" for c in data)
    return 'b"' + "".join(chars) + '"'


def _literal(value: Any) -> str:
    """A JSON-like value as a Python literal with double-quoted strings."""
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, bytes):
        return _bytes_literal(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_literal, value)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)}: {_literal(v)}" for k, v in value.items()) + "}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class _Encoders:
    """The encoder functions of a contract, one per distinct Avro type, in order of first use;
    a name already taken by another type (an enum that gained a symbol) gets ``_v<N>``."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # canonical JSON of a type -> its function's name
        self.definitions: dict[str, list[str]] = {}  # function name -> its source lines
        self.runtime: set[str] = set()  # txn_contract.segments functions the module imports
        self.cv: ContractVersion | None = None
        self.named: dict[str, tuple[str, str]] = {}  # this version's enums by (full) name

    def start(self, cv: ContractVersion) -> None:
        self.cv, self.named = cv, {}

    def of(self, t: Any, field: str) -> tuple[str, str]:
        """``(function name, type in words)`` of the Avro type ``t`` of ``field``."""
        if isinstance(t, list):
            return self._union(t, field)
        kind, logical = (t.get("type"), t.get("logicalType")) if isinstance(t, dict) else (t, None)
        if not isinstance(kind, str):
            raise self._unsupported(field, f"the type {json.dumps(t)}")
        if (kind, logical) in _RUNTIME:
            name = _RUNTIME[(kind, logical)]
            self.runtime.add(name)
            return name, logical or kind
        if (kind, logical) == ("bytes", "decimal"):
            return self._decimal(t, field)
        if logical is not None:
            raise self._unsupported(field, f"logical type {logical!r} on {kind!r}")
        if kind == "enum":
            return self._enum(t)
        if kind in ("array", "map"):
            return self._container(t, kind, field)
        if isinstance(t, str) and t in self.named:
            return self.named[t]
        raise self._unsupported(field, f"type {json.dumps(kind)}")

    def _unsupported(self, field: str, what: str, hint: str = "") -> SchemaFileError:
        assert self.cv is not None
        return SchemaFileError(
            self.cv.path,
            f"field {field!r}: {what} is not supported by the encoder generator "
            f"(txn_contract/generate_encoders.py){hint}",
        )

    def _define(self, key: list[Any], slug: str, lines: Callable[[str], list[str]]) -> str:
        canonical = json.dumps(key)
        if canonical not in self.names:
            name = f"_{slug}"
            if name in self.definitions:
                assert self.cv is not None
                name = f"{name}_v{self.cv.version}"
            self.names[canonical] = name
            self.definitions[name] = lines(name)
        return self.names[canonical]

    def _enum(self, t: dict[str, Any]) -> tuple[str, str]:
        assert self.cv is not None
        name, symbols = t["name"], list(t["symbols"])
        namespace = t.get("namespace", self.cv.schema.get("namespace", ""))
        full = name if "." in name or not namespace else f"{namespace}.{name}"
        short = full.rsplit(".", 1)[-1]

        def lines(fn: str) -> list[str]:
            table = fn.upper()
            return [
                f"# Enum {full}: each symbol's index, encoded.",
                f"{table} = {{",
                *[
                    f"    {json.dumps(s)}: {_bytes_literal(encode_long(i))},"
                    for i, s in enumerate(symbols)
                ],
                "}",
                "",
                "",
                f"def {fn}(value: str) -> bytes:",
                f'    """Avro enum {short}: the index of the symbol ``value``."""',
                f"    return {table}[value]",
            ]

        found = (
            self._define(["enum", full, symbols], f"enum_{_snake(short)}", lines),
            f"enum {short}",
        )
        self.named[name] = self.named[full] = found
        return found

    def _decimal(self, t: dict[str, Any], field: str) -> tuple[str, str]:
        precision, scale = t.get("precision"), t.get("scale", 0)
        if not isinstance(precision, int) or not isinstance(scale, int):
            raise self._unsupported(field, "a decimal without integer precision and scale")
        self.runtime.add("encode_decimal")

        def lines(fn: str) -> list[str]:
            return [
                f"def {fn}(value: Any) -> bytes:",
                f'    """Avro bytes, decimal({precision},{scale}): a Decimal of at most {precision} '
                f'digits, {scale} after the point."""',
                f"    return encode_decimal(value, {precision}, {scale})",
            ]

        name = self._define(["decimal", precision, scale], f"decimal_{precision}_{scale}", lines)
        return name, f"decimal({precision},{scale})"

    def _union(self, t: list[Any], field: str) -> tuple[str, str]:
        if len(t) != 2 or "null" not in t or t[0] == t[1]:
            raise self._unsupported(field, f"the union {json.dumps(t)}", "; a union is [null, T]")
        null = t.index("null")
        inner, words = self.of(t[1 - null], field)
        words = f"[null, {words}]" if null == 0 else f"[{words}, null]"
        null_b, value_b = _bytes_literal(encode_long(null)), _bytes_literal(encode_long(1 - null))

        def lines(fn: str) -> list[str]:
            return [
                f"def {fn}(value: Any) -> bytes:",
                f'    """Avro union {words}: the branch, then the value unless it is null."""',
                f"    return {null_b} if value is None else {value_b} + {inner}(value)",
            ]

        slug = "optional_" + inner.lstrip("_").removeprefix("encode_")
        return self._define(["union", null, inner], slug, lines), words

    def _container(self, t: dict[str, Any], kind: str, field: str) -> tuple[str, str]:
        inner, words = self.of(t["items" if kind == "array" else "values"], field)
        words = f"{kind}<{words}>"
        self.runtime.add(f"encode_{kind}")

        def lines(fn: str) -> list[str]:
            return [
                f"def {fn}(value: Any) -> bytes:",
                f'    """Avro {words}."""',
                f"    return encode_{kind}(value, {inner})",
            ]

        slug = f"{kind}_of_" + inner.lstrip("_").removeprefix("encode_")
        return self._define([kind, inner], slug, lines), words


def _python_default(t: Any, default: Any) -> Any:
    """The Python value fastavro writes for an Avro default given in JSON: a union's default
    is its first branch's; bytes are a string of code points 0-255."""
    if isinstance(t, list):
        return _python_default(t[0], default)
    kind = t.get("type") if isinstance(t, dict) else t
    if kind == "bytes":
        return default.encode("latin-1")
    if kind == "array":
        return [_python_default(t["items"], x) for x in default]
    if kind == "map":
        return {k: _python_default(t["values"], v) for k, v in default.items()}
    return default


def _call(indent: str, head: str, args: list[str]) -> list[str]:
    """``head(args),`` laid out as ruff format lays out a call: on one line if it fits, else
    the arguments on one line of their own, else one argument a line."""
    one = f"{indent}{head}({', '.join(args)}),"
    if len(one) <= _WIDTH:
        return [one]
    inner = f"{indent}    {', '.join(args)}"
    if len(inner) <= _WIDTH:
        return [f"{indent}{head}(", inner, f"{indent}),"]
    return [f"{indent}{head}(", *[f"{indent}    {a}," for a in args], f"{indent}),"]


def _version_lines(cv: ContractVersion, encoders: _Encoders) -> list[str]:
    """Version ``cv``'s body function and its ``V<N>`` record encoder."""
    encoders.start(cv)
    fields = FieldEncoder(cv.schema)  # fastavro, at generation time only: the defaults' bytes
    entries, body = [], []
    for f in cv.schema["fields"]:
        name, t = f["name"], f["type"]
        fn, words = encoders.of(t, name)
        args = [json.dumps(name), json.dumps(words), fn]
        if "default" in f:
            default = _python_default(t, f["default"])
            args.append(f"default={_bytes_literal(fields.encode(name, default))}")
            fallback = "" if default is None else f", {_literal(default)}"
            got = f"record.get({json.dumps(name)}{fallback})"
        elif isinstance(t, list) and "null" in t:  # fastavro writes null for a missing value
            got = f"record.get({json.dumps(name)})"
        else:
            got = f"record[{json.dumps(name)}]"
        if isinstance(t, dict) and t.get("logicalType") == "decimal":
            args.append(f"scale={t.get('scale', 0)}")
        entries += _call("        ", "AvroField", args)
        body.append(f"            {fn}({got}),")
    v = cv.version
    return [
        "",
        "",
        f"def _encode_v{v}(record: Mapping[str, Any]) -> bytes:",
        f'    """The Avro body of ``record`` written with version {v}; a missing field takes its'
        ' default."""',
        '    return b"".join(',
        "        (",
        *body,
        "        )",
        "    )",
        "",
        "",
        f"V{v} = RecordEncoder(",
        "    subject=SUBJECT,",
        f"    version={v},",
        f'    fingerprint="{schema_fingerprint(cv.schema)}",',
        "    fields=(",
        *entries,
        "    ),",
        f"    encode=_encode_v{v},",
        ")",
    ]


def _source(contract: Contract, contracts_dir: Path) -> str:
    """Where the versions come from, relative to the repository when it can be."""
    subject_dir = Path(contract.versions[0].path).resolve().parent
    try:
        return str(subject_dir.relative_to(contracts_dir.resolve().parent))
    except ValueError:
        return str(subject_dir)


def _package(contract: Contract) -> str:
    """The sub-package the encoders go into, as a dotted prefix (``""`` for the stream's)."""
    return f"{contract.module}." if contract.module else ""


def render_encoders(contract: Contract, contracts_dir: Path) -> str:
    """The text of ``encoders.py`` for every released version of ``contract``."""
    encoders = _Encoders()
    versions: list[str] = []
    for cv in contract.versions:
        versions += _version_lines(cv, encoders)
    imports = ["AvroField", "RecordEncoder", *sorted(encoders.runtime)]
    numbers = [cv.version for cv in contract.versions]
    listed = ", ".join(f"v{n}" for n in numbers)
    definitions = [line for lines in encoders.definitions.values() for line in ["", "", *lines]]
    return "\n".join(
        [
            f"# GENERATED by `txn-contract generate` from {_source(contract, contracts_dir)}/"
            f"v*.avsc ({listed}).",
            "# DO NOT EDIT: change contracts/ and regenerate; CI fails on drift",
            "# (`txn-contract generate --check`).",
            f'"""Avro encoders of contract {contract.subject}, one per released version ({listed}).',
            "",
            "Each writes the bytes fastavro's ``schemaless_writer`` writes for the same record,",
            "without fastavro: a function per Avro type of the contract, and per version a",
            ":class:`~txn_contract.segments.RecordEncoder` with the fields in schema order, each with",
            "its encoder and its Avro default pre-encoded. :mod:`txn_contract.segmented` joins",
            "pre-encoded segments of the same fields in a producer's hot loop.",
            "",
            "Example::",
            "",
            f"    from txn_contract.{_package(contract)}encoders import ENCODERS",
            "",
            f"    value = ENCODERS[{numbers[-1]}].frame(event.to_avro({numbers[-1]}), schema_id)",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from collections.abc import Mapping",
            "from typing import Any",
            "",
            "from txn_contract.segments import (",
            *[f"    {name}," for name in imports],
            ")",
            "",
            "__all__ = [",
            '    "ENCODERS",',
            '    "SUBJECT",',
            *[f'    "V{n}",' for n in numbers],
            "]",
            "",
            f'SUBJECT = "{contract.subject}"',
            *definitions,
            *versions,
            "",
            "# Every released version's encoder, by version number.",
            "ENCODERS: dict[int, RecordEncoder] = {",
            *[f"    {n}: V{n}," for n in numbers],
            "}",
            "",
        ]
    )
