"""Walking Avro schemas given as parsed JSON: shared by the compatibility tests' generators."""

from __future__ import annotations

from typing import Any

__all__ = ["definitions", "positions"]


def definitions(schema: Any) -> list[dict[str, Any]]:
    """Every record, enum and fixed definition in ``schema``, outermost first."""
    out: list[dict[str, Any]] = []

    def walk(t: Any) -> None:
        if isinstance(t, list):
            for b in t:
                walk(b)
        elif isinstance(t, dict):
            if t["type"] in ("record", "enum", "fixed"):
                out.append(t)
            for f in t.get("fields", []):
                walk(f["type"])
            walk(t.get("items"))
            walk(t.get("values"))

    walk(schema)
    return out


def positions(schema: Any) -> list[tuple[Any, Any]]:
    """``(container, key)`` of every type position below the root."""
    out: list[tuple[Any, Any]] = []

    def walk(t: Any) -> None:
        if isinstance(t, list):
            for i, b in enumerate(t):
                out.append((t, i))
                walk(b)
        elif isinstance(t, dict):
            for f in t.get("fields", []):
                out.append((f, "type"))
                walk(f["type"])
            for key in ("items", "values"):
                if key in t:
                    out.append((t, key))
                    walk(t[key])

    walk(schema)
    return out
