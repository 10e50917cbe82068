"""The public judgements: findings worded as :class:`Violation` sentences for a direction.

:func:`reader_writer_violations` judges one reader/writer pair; :func:`check_level` judges a new
schema against earlier ones at a registry compatibility level, naming which schema fails to read
which ("the new schema cannot read data written with v2").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..levels import LEVELS
from .rules import (
    FIELD_ALIAS_AMBIGUOUS,
    MISSING_ENUM_SYMBOLS,
    MISSING_UNION_BRANCH,
    READER_FIELD_MISSING_DEFAULT,
    Finding,
    findings,
)
from .schema import resolve

__all__ = ["AvroSchemaJson", "Violation", "check_level", "reader_writer_violations"]

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


def _subject(path: str) -> str:
    if not path:
        return "the root schema"
    if path[0] in "[{<":  # inside a root that is an array, map or union
        return f"the root schema at '{path}'"
    return f"field '{path}'"


def _roles(direction: str, against: str) -> tuple[str, str]:
    """How the reader and the writer are named: by their part in the change when it is known."""
    if direction == "backward":
        return "the new schema", against or "the previous schema"
    if direction == "forward":
        return against or "the previous schema", "the new schema"
    return "the reader", "the writer"


def _missing_default(f: Finding, subject: str, direction: str, roles: tuple[str, str]) -> str:
    reader_role, writer_role = roles
    reason = f.reason_for(*roles)
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


def _changed(f: Finding, subject: str, direction: str, against: str) -> str:
    """A type that changed; both directions of FULL may report it, so say which reading fails."""
    reader_role, writer_role = roles = _roles(direction, against)
    reason = f.reason_for(*roles)
    old = f" in {against}" if against else ""
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


def render(f: Finding, direction: str, against: str) -> str:
    """One sentence for a finding; worded with old/new when the direction is known."""
    subject = _subject(f.path)
    roles = reader_role, writer_role = _roles(direction, against)
    reason = f.reason_for(*roles)
    if f.rule == READER_FIELD_MISSING_DEFAULT:
        return _missing_default(f, subject, direction, roles)
    if f.rule == FIELD_ALIAS_AMBIGUOUS:
        return f"{subject} ({f.reader}) of {reader_role} is ambiguous: {reason}"
    if f.rule == MISSING_UNION_BRANCH:
        return (
            f"{subject}: data written with {writer_role} as {f.writer} matches no branch of "
            f"{reader_role}'s {f.reader}: {reason}"
        )
    if f.rule == MISSING_ENUM_SYMBOLS:
        return f"{subject} ({f.reader}): {reason}"
    return _changed(f, subject, direction, against)


def reader_writer_violations(
    reader: AvroSchemaJson, writer: AvroSchemaJson, *, logical_types: bool = True
) -> list[Violation]:
    """Every reason why ``reader`` cannot read data written with ``writer`` ([] if it can).

    Both schemas are parsed JSON (dict, list or type-name string) or JSON text. The violations'
    ``direction`` and ``against`` are left empty for the caller to fill in (``dataclasses.replace``).
    Raises ``ValueError`` when a schema cannot be resolved (e.g. an undefined type name).
    """
    r, w = resolve(reader, "the reader schema"), resolve(writer, "the writer schema")
    return [Violation(f.path, f.rule, render(f, "", "")) for f in findings(r, w, logical_types)]


def _normalized_level(level: str) -> str:
    normalized = level.strip().upper() if isinstance(level, str) else ""
    if normalized not in LEVELS:
        raise ValueError(
            f"unknown compatibility level {level!r}; expected one of {', '.join(LEVELS)}"
        )
    return normalized


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

    Example::

        check_level(new_schema, [v1, v2], "FULL_TRANSITIVE")  # [] when compatible
    """
    normalized = _normalized_level(level)
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
    new_node = resolve(new, "the new schema")
    out: list[Violation] = []
    for label, old in pairs:
        old_node = resolve(old, f"previous schema {label}")
        for direction in directions:
            reader, writer = (
                (new_node, old_node) if direction == "backward" else (old_node, new_node)
            )
            for f in findings(reader, writer, logical_types):
                out.append(Violation(f.path, f.rule, render(f, direction, label), direction, label))
    return out
