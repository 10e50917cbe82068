"""The alert detectors, declared beside the alerts' schemas in
``contracts/bank_txn_alerts-value/detectors.yaml``.

A detector is an ``id`` (a symbol of the alert contract's ``Detector`` enum, so an alert names
its detector in the contract's own vocabulary), a ``severity`` (a symbol of its ``Severity``
enum), ``params`` (exactly the typed parameters that detector takes: :data:`PARAMS`) and a
``doc``. The file has a ``version`` that every alert records (``detectors_version``). The
package ships a copy (``txn_contract/alerts/schemas/detectors.yaml``) under the same drift gate
as the schemas (``txn-contract generate --check``); ``txn-contract check`` validates the file and
reports each problem in the violation-line style of the quality rules (``file: where: what``).

Semantics the parameters do not carry (docs/contract.md, "The detectors file"): within a customer,
"consecutive", "earlier" and "within any N seconds" follow event time, then ``transaction_id``.
The windowed detectors (``velocity``, ``card_testing``) have a cooldown equal to their window
(:attr:`DetectorSpec.cooldown_seconds`); the others fire once per triggering transaction. An
alert's id is :func:`alert_id`.

Example::

    from txn_contract.detectors import alert_id, packaged_detectors
    detectors = packaged_detectors()
    detectors.velocity.params.min_transactions     # 5
    detectors.velocity.cooldown_seconds            # 600, its window
    alert_id("velocity", "C0000042", "0b0e1f2a-...")  # 64 hex characters, stable
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from .detector_params import (
    PARAMS,
    AmountOutlierParams,
    CardTestingParams,
    ImpossibleTravelParams,
    VelocityParams,
    build_params,
    param_problems,
)
from .errors import TxnError
from .rules import (
    ContractFile,
    RuleProblem,
    check_report,
    entry_problems,
    read_rules_file,
    refuse_problems,
)

__all__ = [
    "DETECTORS_FILE",
    "PARAMS",
    "AmountOutlierParams",
    "CardTestingParams",
    "DetectorProblem",
    "DetectorSet",
    "DetectorSpec",
    "ImpossibleTravelParams",
    "VelocityParams",
    "Vocabulary",
    "alert_id",
    "check_detectors_of",
    "load_detectors",
    "packaged_detectors",
    "validate_detectors",
    "vocabulary",
]

DETECTORS_FILE = "detectors.yaml"

# A problem of the detectors file: the same shape and line style as the quality rules'.
DetectorProblem = RuleProblem

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TOP_KEYS = {"version", "detectors"}
_KEYS = ("id", "severity", "params", "doc")


def alert_id(detector: str, customer_id: str, transaction_id: str) -> str:
    """An alert's stable id, as the contract's ``alert_id`` doc defines it: the lowercase hex
    SHA-256 of ``detector|customer_id|transaction_id`` in UTF-8 (Spark:
    ``sha2(concat_ws('|', detector, customer_id, transaction_id), 256)``)."""
    text = f"{detector}|{customer_id}|{transaction_id}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_P = TypeVar("_P")


@dataclass(frozen=True)
class DetectorSpec(Generic[_P]):
    """One validated detector: its id, severity, typed ``params`` and doc."""

    id: str
    severity: str
    params: _P
    doc: str

    @property
    def cooldown_seconds(self) -> int | None:
        """A windowed detector's cooldown, its window: no second alert of it for the same
        customer until this many seconds of event time after the first one's trigger. None for
        the detectors that fire once per triggering transaction."""
        return getattr(self.params, "window_seconds", None)


@dataclass(frozen=True)
class Vocabulary:
    """The contracts' symbols a detectors file may use: the alert contract's ``Detector`` and
    ``Severity`` enums and the transaction stream's ``Channel`` enum (their defaults, which
    only stand for symbols a reader does not know, excluded). ``channels`` None: unchecked (no
    transaction contract, or its channel is not an enum)."""

    subject: str
    detectors: tuple[str, ...]
    severities: tuple[str, ...]
    channels: tuple[str, ...] | None


@dataclass(frozen=True)
class DetectorSet(ContractFile):
    """The detectors of a file, in file order, with the facts alerts and tables record."""

    detectors: tuple[DetectorSpec, ...] = ()

    def by_id(self, detector_id: str) -> DetectorSpec:
        """The detector ``detector_id``; :class:`TxnError` naming the declared ones otherwise."""
        for d in self.detectors:
            if d.id == detector_id:
                return d
        known = ", ".join(d.id for d in self.detectors)
        raise TxnError(f"No detector {detector_id!r} in {self.path}; declared: {known}.")

    # Each detector by name, its params typed.
    velocity = property(lambda self: self.by_id("velocity"))
    """The ``velocity`` detector (:class:`VelocityParams`)."""
    card_testing = property(lambda self: self.by_id("card_testing"))
    """The ``card_testing`` detector (:class:`CardTestingParams`)."""
    impossible_travel = property(lambda self: self.by_id("impossible_travel"))
    """The ``impossible_travel`` detector (:class:`ImpossibleTravelParams`)."""
    amount_outlier = property(lambda self: self.by_id("amount_outlier"))
    """The ``amount_outlier`` detector (:class:`AmountOutlierParams`)."""

    def properties(self) -> dict[str, str]:
        """Table properties naming the detectors' version (``txn.detectors.*``)."""
        return {
            "txn.detectors.version": str(self.version),
            "txn.detectors.sha256": self.digest,
            "txn.detectors.ids": ",".join(d.id for d in self.detectors),
        }


# --------------------------------------------------------------------------- the vocabulary


def _enum_of(contract, field_name: str) -> dict[str, Any] | None:
    """The enum type of ``field_name`` in ``contract``'s latest version (also inside a
    nullable union), or None."""
    for f in contract.latest.schema["fields"]:
        if f["name"] == field_name:
            branches = f["type"] if isinstance(f["type"], list) else [f["type"]]
            for t in branches:
                if isinstance(t, dict) and t.get("type") == "enum":
                    return t
    return None


def _symbols(enum: dict[str, Any] | None) -> tuple[str, ...]:
    if enum is None:
        return ()
    return tuple(s for s in enum["symbols"] if s != enum.get("default"))


def vocabulary(alerts, events=None) -> Vocabulary:
    """The symbols of the alert contract ``alerts`` (fields ``detector`` and ``severity``) and,
    when given, of the transaction contract ``events`` (field ``channel``; unchecked when its
    latest version has no such enum)."""
    channel = _enum_of(events, "channel") if events is not None else None
    channels = _symbols(channel) if channel is not None else None
    return Vocabulary(
        alerts.subject,
        _symbols(_enum_of(alerts, "detector")),
        _symbols(_enum_of(alerts, "severity")),
        channels,
    )


# --------------------------------------------------------------------------- validation


def _id_problems(detector_id: Any, vocab: Vocabulary) -> list[str]:
    """Why ``detector_id`` names no detector of the contract that this package implements."""
    if not isinstance(detector_id, str) or not _ID.match(detector_id):
        return [f"id {detector_id!r} must match {_ID.pattern}"]
    if detector_id not in vocab.detectors:
        return [
            f"unknown detector {detector_id!r}: not a symbol of enum Detector of {vocab.subject} "
            f"(detectors: {', '.join(vocab.detectors) or 'none'})"
        ]
    if detector_id not in PARAMS:
        return [
            f"detector {detector_id!r} is a symbol of enum Detector of {vocab.subject}, but this "
            f"txn_contract implements only {', '.join(PARAMS)}"
        ]
    return []


def _detector_problems(raw: Any, where: str, vocab: Vocabulary) -> list[DetectorProblem]:
    """Problems of one detector entry (``where`` names it in each line)."""
    if not isinstance(raw, dict):
        return [DetectorProblem(where, f"a detector must be a mapping with {', '.join(_KEYS)}")]
    out = [DetectorProblem(where, f"unknown key {k!r}") for k in sorted(set(raw) - set(_KEYS))]
    out += [DetectorProblem(where, f"missing key {k!r}") for k in _KEYS if k not in raw]
    id_problems = _id_problems(raw["id"], vocab) if "id" in raw else None
    out += [DetectorProblem(where, m) for m in id_problems or []]
    severity = raw.get("severity")
    if "severity" in raw and severity not in vocab.severities:
        out.append(
            DetectorProblem(
                where,
                f"unknown severity {severity!r}; choose from {', '.join(vocab.severities)} "
                f"(symbols of enum Severity of {vocab.subject})",
            )
        )
    if "params" in raw and id_problems == []:  # params are judged for a known detector only
        out += [
            DetectorProblem(where, m)
            for m in param_problems(raw["id"], raw["params"], vocab.channels)
        ]
    if "doc" in raw and (not isinstance(raw["doc"], str) or not raw["doc"].strip()):
        out.append(DetectorProblem(where, "doc must be a non-empty sentence"))
    return out


def validate_detectors(raw: Any, vocab: Vocabulary) -> list[DetectorProblem]:
    """Every problem of a parsed detectors file against the contracts' ``vocab``."""
    root = "<root>"
    if not isinstance(raw, dict):
        return [DetectorProblem(root, "the file must be a mapping with version and detectors")]
    out = [DetectorProblem(root, f"unknown key {k!r}") for k in sorted(set(raw) - _TOP_KEYS)]
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        out.append(DetectorProblem(root, f"version must be a positive integer, got {version!r}"))
    if not vocab.detectors or not vocab.severities:
        out.append(
            DetectorProblem(
                root, f"{vocab.subject} has no enum fields detector and severity to name detectors"
            )
        )
    entries = raw.get("detectors")
    if not isinstance(entries, list) or not entries:
        return [*out, DetectorProblem(root, "detectors must be a non-empty list")]
    problems, seen = entry_problems(
        entries, "detectors", lambda entry, where: _detector_problems(entry, where, vocab)
    )
    out += problems
    out += [
        DetectorProblem(
            root, f"missing detector {d!r}: every symbol of enum Detector needs an entry"
        )
        for d in vocab.detectors
        if d in PARAMS and d not in seen
    ]
    return out


# --------------------------------------------------------------------------- loading


def _digest(version: int, detectors: tuple[DetectorSpec, ...]) -> str:
    canon = json.dumps(
        [version, [[d.id, d.severity, dataclasses.asdict(d.params)] for d in detectors]],
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def load_detectors(path: Path, vocab: Vocabulary) -> DetectorSet:
    """The validated detectors of ``path``; :class:`TxnError` naming the first problem
    otherwise (:class:`~txn_contract.errors.SchemaFileError` when it is not YAML)."""
    raw = read_rules_file(path)
    refuse_problems("Detectors", validate_detectors(raw, vocab), path)
    detectors = tuple(
        DetectorSpec(d["id"], d["severity"], build_params(d["id"], d["params"]), d["doc"].strip())
        for d in raw["detectors"]
    )
    digest = _digest(raw["version"], detectors)
    return DetectorSet(raw["version"], str(path), digest, detectors=detectors)


def packaged_detectors() -> DetectorSet:
    """The detectors compiled into this installed package, checked against its contracts."""
    from .alerts import SUBJECT
    from .contract import packaged_contract

    alerts = packaged_contract(SUBJECT)
    vocab = vocabulary(alerts, packaged_contract())
    return load_detectors(Path(alerts.root) / DETECTORS_FILE, vocab)


def check_detectors_of(contract, events=None) -> dict[str, Any] | None:
    """``txn-contract check``'s verdict on the detectors beside ``contract``'s schemas, or None
    when the subject has no detectors file: the file, the number of detectors, the problems (as
    dicts and as violation lines). ``events`` is the transaction stream's contract, whose
    Channel symbols the parameters may use."""
    path = Path(contract.root) / DETECTORS_FILE
    if not path.exists():
        return None
    raw = read_rules_file(path)
    problems = validate_detectors(raw, vocabulary(contract, events))
    return check_report(path, raw, "detectors", "detector", problems)
