"""Reading an ``.avsc`` file for the checker, with a sentence naming the file for every problem."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import avro.errors
import avro.schema

from ..errors import SchemaFileError
from .schema import Node, Parser, SchemaError, describe, is_int

__all__ = ["load_schema_file"]


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
        root = Parser().parse(data, None)
    except SchemaError as exc:
        raise SchemaFileError(where, f"is not a valid Avro schema ({exc})") from exc
    problem = _bad_default(root)
    if problem:
        raise SchemaFileError(where, problem)
    return data


# Default values are checked here only: compatibility needs only their presence.

_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _valid_default(node: Node, value: Any) -> bool:
    kind = node.kind
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in _INT_RANGE:
        low, high = _INT_RANGE[kind]
        return is_int(value) and low <= value <= high
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


def _bad_default(root: Node) -> str | None:
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
                    f"not a valid {describe(f.type)} value"
                )
            stack.append(f.type)
        stack.extend(node.branches)
        if node.element is not None:
            stack.append(node.element)
    return None
