"""Load the released contracts: every version's Avro schema plus each subject's policy.

The source of truth is ``contracts/<subject>/v<N>.avsc`` and ``policy.json`` in the repository,
one folder per subject. The package ships generated copies so installed services need no
checkout: the transaction stream's under ``txn_contract/schemas/``, and a subject whose policy
names a ``module`` (the alerts: ``"module": "alerts"``) under ``txn_contract/<module>/schemas/``,
next to its generated code.

Example::

    from txn_contract.contract import packaged_contract, packaged_contracts
    packaged_contract().subject                          # 'bank_txn_stream-value'
    packaged_contract("bank_txn_alerts-value").module    # 'alerts'
    [c.subject for c in packaged_contracts()]            # every packaged subject
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import SchemaFileError, TxnError
from .files import read_text

__all__ = [
    "POLICY_FILE",
    "Contract",
    "ContractVersion",
    "find_contracts_dir",
    "load_contract",
    "load_contracts",
    "packaged_contract",
    "packaged_contracts",
]

POLICY_FILE = "policy.json"
_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")
# A generated sub-package of txn_contract: a lowercase Python identifier.
_MODULE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


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
    """The subject, its compatibility level and its released versions, oldest first.

    ``root`` is the subject's folder; ``module`` the sub-package of ``txn_contract`` generated
    from it (None: the transaction stream, generated into ``txn_contract`` itself).
    """

    subject: str
    topic: str
    compatibility: str
    versions: tuple[ContractVersion, ...]
    root: str = field(default="")
    module: str | None = None

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


def load_contracts(contracts_dir: Path) -> tuple[Contract, ...]:
    """Every subject of ``contracts_dir`` (each folder with a ``policy.json``), by folder name.

    :class:`SchemaFileError` (exit 2) when there is none, when two folders name the same subject
    or the same ``module``, or when more than one has no ``module`` (only the transaction
    stream is generated into ``txn_contract`` itself).
    """
    subjects = sorted(p.parent for p in contracts_dir.glob(f"*/{POLICY_FILE}"))
    if not subjects:
        raise SchemaFileError(
            str(contracts_dir), f"holds no subject directory with a {POLICY_FILE}"
        )
    contracts = tuple(_load_subject_dir(d) for d in subjects)
    for what, values in (
        ("subject", [c.subject for c in contracts]),
        ("module", [c.module for c in contracts if c.module]),
    ):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise SchemaFileError(
                str(contracts_dir), f"two subject directories share the {what} {twice[0]!r}"
            )
    roots = [Path(c.root).name for c in contracts if c.module is None]
    if len(roots) > 1:
        raise SchemaFileError(
            str(contracts_dir),
            f"only one subject may be generated into txn_contract itself, but {' and '.join(roots)} "
            f"name no 'module' in their {POLICY_FILE}",
        )
    return contracts


def load_contract(contracts_dir: Path, subject: str | None = None) -> Contract:
    """One subject of ``contracts_dir``: ``subject``, or by default the one generated into
    ``txn_contract`` itself (the transaction stream: its policy names no ``module``)."""
    contracts = load_contracts(contracts_dir)
    for c in contracts:
        if (c.subject == subject) if subject else (c.module is None):
            return c
    if subject:
        known = ", ".join(c.subject for c in contracts)
        raise SchemaFileError(str(contracts_dir), f"holds no subject {subject!r}; found {known}")
    raise SchemaFileError(
        str(contracts_dir),
        f"holds no subject directory whose {POLICY_FILE} has no 'module' key "
        "(the transaction stream's)",
    )


def _load_subject_dir(subject_dir: Path) -> Contract:
    import fastavro

    policy = _read_policy(subject_dir / POLICY_FILE)
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
        module=policy.get("module"),
    )


def _read_policy(path: Path) -> dict[str, Any]:
    """The policy file's keys; :class:`SchemaFileError` naming what is missing or malformed."""
    policy = _read_json(path)
    if not isinstance(policy, dict):
        raise SchemaFileError(str(path), "must be a JSON object")
    for key in ("subject", "topic", "compatibility"):
        if key not in policy:
            raise SchemaFileError(str(path), f"has no {key!r} key")
    module = policy.get("module")
    if module is not None and (
        not isinstance(module, str) or not _MODULE.match(module) or keyword.iskeyword(module)
    ):
        raise SchemaFileError(
            str(path),
            f"'module' must be a lowercase Python name ({_MODULE.pattern}), got {module!r}",
        )
    return policy


def _version_of(path: Path) -> int:
    m = _VERSION_FILE.match(path.name)
    if not m:
        raise SchemaFileError(str(path), "is not named v<N>.avsc")
    return int(m.group(1))


def packaged_contracts() -> tuple[Contract, ...]:
    """Every contract compiled into this installed package (generated copies): the transaction
    stream's first, then each generated sub-package's, by module name."""
    package = Path(str(resources.files("txn_contract")))
    modules = sorted(p.parent.parent for p in package.glob(f"*/schemas/{POLICY_FILE}"))
    return (packaged_contract(), *(_load_subject_dir(m / "schemas") for m in modules))


def packaged_contract(subject: str | None = None) -> Contract:
    """The contract of ``subject`` compiled into this installed package (generated copies); by
    default the transaction stream's. :class:`TxnError` naming the packaged subjects otherwise."""
    root = _load_subject_dir(Path(str(resources.files("txn_contract") / "schemas")))
    if subject is None or subject == root.subject:
        return root
    contracts = packaged_contracts()
    for c in contracts:
        if c.subject == subject:
            return c
    known = ", ".join(c.subject for c in contracts)
    raise TxnError(f"Subject {subject} is not compiled into txn_contract; packaged: {known}.")
