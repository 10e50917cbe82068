"""Load the released contract: every version's Avro schema plus the subject's policy.

The source of truth is ``contracts/<subject>/v<N>.avsc`` and ``policy.json`` in the repository;
the package ships generated copies under ``txn_contract/schemas/`` so installed producers need
no checkout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import SchemaFileError, TxnError
from .files import read_text

__all__ = [
    "Contract",
    "ContractVersion",
    "find_contracts_dir",
    "load_contract",
    "packaged_contract",
]

_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


@dataclass(frozen=True)
class ContractVersion:
    """One released version: its number, file and schema (parsed JSON)."""

    version: int
    path: str
    schema: dict[str, Any]

    @cached_property
    def schema_str(self) -> str:
        """Compact JSON text of the schema: what is sent to the registry."""
        return json.dumps(self.schema, separators=(",", ":"))

    @cached_property
    def parsed(self):
        """The fastavro-parsed schema (for encoding and decoding)."""
        import fastavro

        return fastavro.parse_schema(self.schema)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f["name"] for f in self.schema["fields"])


@dataclass(frozen=True)
class Contract:
    """The subject, its compatibility level and its released versions, oldest first."""

    subject: str
    topic: str
    compatibility: str
    versions: tuple[ContractVersion, ...]
    root: str = field(default="")

    @property
    def latest(self) -> ContractVersion:
        return self.versions[-1]

    def version(self, number: int) -> ContractVersion:
        """The released version ``number``; :class:`TxnError` naming the choices otherwise."""
        for v in self.versions:
            if v.version == number:
                return v
        known = ", ".join(str(v.version) for v in self.versions)
        raise TxnError(
            f"Contract version {number} of subject {self.subject} does not exist; released versions: {known}."
        )


def find_contracts_dir(start: Path | None = None) -> Path | None:
    """The nearest ``contracts/`` directory at or above ``start`` (default: the cwd)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "contracts").is_dir():
            return d / "contracts"
    return None


def _read_json(path: Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaFileError(
            str(path), f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc


def load_contract(contracts_dir: Path) -> Contract:
    """Read ``contracts_dir/<subject>/`` (exactly one subject directory with a policy.json)."""
    subjects = sorted(p.parent for p in contracts_dir.glob("*/policy.json"))
    if len(subjects) != 1:
        raise SchemaFileError(
            str(contracts_dir),
            f"must hold exactly one subject directory with a policy.json, found {len(subjects)}",
        )
    return _load_subject_dir(subjects[0])


def _load_subject_dir(subject_dir: Path) -> Contract:
    import fastavro

    policy = _read_json(subject_dir / "policy.json")
    for key in ("subject", "topic", "compatibility"):
        if key not in policy:
            raise SchemaFileError(str(subject_dir / "policy.json"), f"has no {key!r} key")
    versions = []
    for path in sorted(subject_dir.glob("v*.avsc"), key=lambda p: _version_of(p)):
        schema = _read_json(path)
        try:
            fastavro.parse_schema(schema, _write_hint=False)
        except Exception as exc:  # fastavro raises several types for invalid schemas
            raise SchemaFileError(str(path), f"is not a valid Avro schema: {exc}") from exc
        versions.append(ContractVersion(_version_of(path), str(path), schema))
    if not versions:
        raise SchemaFileError(str(subject_dir), "holds no v<N>.avsc version files")
    numbers = [v.version for v in versions]
    if numbers != list(range(1, len(numbers) + 1)):
        raise SchemaFileError(
            str(subject_dir), f"version files must be v1..vN without gaps, found {numbers}"
        )
    return Contract(
        subject=policy["subject"],
        topic=policy["topic"],
        compatibility=policy["compatibility"],
        versions=tuple(versions),
        root=str(subject_dir),
    )


def _version_of(path: Path) -> int:
    m = _VERSION_FILE.match(path.name)
    if not m:
        raise SchemaFileError(str(path), "is not named v<N>.avsc")
    return int(m.group(1))


def packaged_contract() -> Contract:
    """The contract compiled into this installed package (generated copies)."""
    return _load_subject_dir(Path(str(resources.files("txn_contract") / "schemas")))
