"""Reading the contract's own files (schemas, policy, quality rules) for the tools that load them."""

from __future__ import annotations

from pathlib import Path

from .errors import SchemaFileError

__all__ = ["read_text"]


def read_text(path: Path) -> str:
    """The text of ``path``; :class:`SchemaFileError` (exit 2) naming it if it cannot be read."""
    try:
        return path.read_text()
    except OSError as exc:
        raise SchemaFileError(str(path), f"cannot be read ({exc.strerror})") from exc
