"""What ``txn-contract check`` judges offline, subject by subject.

For every subject folder of ``contracts/``: each released version against all earlier ones at
the subject's policy level, its quality rules (``expectations.yaml``) and its detectors
(``detectors.yaml``) when it has them. Or, ad hoc, one schema file against earlier files at a
level. The command line (:mod:`txn_runtime.contract_cli`) adds the git and registry checks and
words the verdicts.

Example::

    from txn_contract.checks import check_contracts
    from txn_contract.contract import load_contracts
    for s in check_contracts(load_contracts(Path("contracts"))):
        print(s.subject, s.ok, s.lines)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .compatibility import check_level, load_schema_file
from .contract import Contract
from .detectors import check_detectors_of
from .rules import check_rules_of

__all__ = ["DEFAULT_LEVEL", "Judged", "SubjectCheck", "check_contracts", "check_files"]

DEFAULT_LEVEL = "FULL_TRANSITIVE"


@dataclass(frozen=True)
class Judged:
    """One schema file judged against the earlier ones (``(label, schema)``, oldest first)."""

    file: str
    schema: Any
    previous: tuple[tuple[str, Any], ...]
    level: str

    def as_tuple(self) -> tuple[str, Any, list[tuple[str, Any]], str]:
        """``(file, schema, [(label, earlier schema)], level)``, as the registry check takes it."""
        return self.file, self.schema, list(self.previous), self.level


@dataclass
class SubjectCheck:
    """The offline verdict on one subject (``subject`` None: the ad hoc files).

    ``violations`` are the compatibility violations as JSON-ready dicts and ``lines`` them as
    violation lines; ``rules`` and ``detectors`` the verdicts on the subject's files (None when
    it has none), each with its own ``violations`` and ``lines``.
    """

    subject: str | None
    directory: str | None
    level: str
    judged: tuple[Judged, ...]
    violations: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    rules: dict[str, Any] | None = None
    detectors: dict[str, Any] | None = None

    @property
    def compatible(self) -> bool:
        """No version breaks the level."""
        return not self.violations

    @property
    def ok(self) -> bool:
        """Compatible, and its rules and detectors files (if any) are valid."""
        files = (self.rules, self.detectors)
        return self.compatible and not any(f and f["violations"] for f in files)

    def file_lines(self) -> list[str]:
        """The violation lines of its rules and detectors files."""
        return [line for f in (self.rules, self.detectors) if f for line in f["lines"]]


def _judge(check: SubjectCheck) -> SubjectCheck:
    """``check`` with the offline checker's violations filled in."""
    for j in check.judged:
        labels = [label for label, _ in j.previous]
        found = check_level(j.schema, [s for _, s in j.previous], j.level, labels=labels)
        for v in found:
            check.lines.append(v.line(j.file))
            check.violations.append({"file": j.file, **asdict(v)})
    return check


def check_contracts(contracts: Sequence[Contract], level: str | None = None) -> list[SubjectCheck]:
    """Every subject of ``contracts``, in order: each version against all earlier ones at
    ``level`` (default: the subject's policy), then its rules and detectors. The detectors'
    channel parameters are checked against the transaction stream's contract (the subject
    generated into ``txn_contract`` itself) when it is among ``contracts``."""
    events = next((c for c in contracts if c.module is None), None)
    out = []
    for contract in contracts:
        lvl = (level or contract.compatibility).upper()
        judged = tuple(
            Judged(
                cv.path,
                cv.schema,
                tuple((f"v{p.version}", p.schema) for p in contract.versions[:i]),
                lvl,
            )
            for i, cv in enumerate(contract.versions)
        )
        check = SubjectCheck(
            contract.subject,
            str(Path(contract.root)),
            lvl,
            judged,
            rules=check_rules_of(contract),
            detectors=check_detectors_of(contract, events),
        )
        out.append(_judge(check))
    return out


def check_files(
    schema_file: Path, previous_files: Sequence[Path], level: str | None
) -> SubjectCheck:
    """Ad hoc: ``schema_file`` against ``previous_files`` (oldest first) at ``level`` (default
    ``FULL_TRANSITIVE``)."""
    new = load_schema_file(schema_file)
    previous = tuple((str(p), load_schema_file(p)) for p in previous_files)
    lvl = (level or DEFAULT_LEVEL).upper()
    return _judge(SubjectCheck(None, None, lvl, (Judged(str(schema_file), new, previous, lvl),)))
