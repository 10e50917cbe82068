"""Messages made wrong on purpose: poison for bronze, rule violators and conflicts for silver.

Each is made from the clean event of the slot it replaces (or, for a conflict, from an event
sent earlier), so it carries that event's key and looks like the traffic around it:

- **poison** (``--poison-rate``): a value bronze cannot decode, one of the quarantine reasons of
  :mod:`txn_contract.wire` in turn: the event as JSON text (``BAD_MAGIC_BYTE``, a producer that
  forgot its serializer), the first bytes of the header (``SHORT_HEADER``), no bytes at all
  (``EMPTY_VALUE``), the Avro body under a schema id the registry never handed out
  (``UNKNOWN_SCHEMA_ID``), the value cut short (``CORRUPT_PAYLOAD``), or followed by stray bytes
  (``TRAILING_BYTES``);
- **violators** (``--violation-rate``): well-formed events breaking a quality rule of the
  contract, a rule drawn from those :mod:`.violations` derives from the rules file. Each is
  checked against every rule (:mod:`.rule_eval`): a value that breaks only the drawn rule is
  preferred, and the rules a violator breaks are all counted (a lower-case country also breaks
  the province's rule when the event has a province);
- **conflicts** (``--conflict-rate``): an event sent earlier, re-sent with the same
  ``transaction_id`` and key but another amount (a corrected amount sent as a retry), which
  silver rejects as ``duplicate_conflict``.

Example::

    faults = Faults(cv, schema_id=2, seed=7)
    value, reason = faults.poison(clean_value)
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from txn_contract import wire
from txn_contract.contract import ContractVersion
from txn_contract.rules import RuleSet

from .rule_eval import Check, Unsupported, compile_rule, passes
from .violations import KAFKA_TIME, Derived, Violation, derive

__all__ = ["POISON_REASONS", "UNREGISTERED_SCHEMA_ID", "Faults"]

# An id far above any a registry hands out (they count up from 1): bronze asks the registry,
# which answers that it does not exist.
UNREGISTERED_SCHEMA_ID = 999_999_999
_SALT = 0xBAD_F00D


def _versions(cv: ContractVersion) -> tuple[ContractVersion, ...]:
    """The released versions of ``cv``'s contract (the packaged one), or ``cv`` alone."""
    from txn_contract import packaged_contract

    versions = packaged_contract().versions
    return versions if any(v.schema == cv.schema for v in versions) else (cv,)


def _json(record: dict[str, Any], _value: bytes, _rng: random.Random) -> bytes:
    return json.dumps(record, default=str, separators=(",", ":")).encode()


def _short(_record: dict[str, Any], value: bytes, rng: random.Random) -> bytes:
    return value[: rng.randint(1, wire.HEADER_SIZE - 1)]


def _empty(_record: dict[str, Any], _value: bytes, _rng: random.Random) -> bytes:
    return b""


def _unknown_id(_record: dict[str, Any], value: bytes, _rng: random.Random) -> bytes:
    return wire.frame(UNREGISTERED_SCHEMA_ID, value[wire.HEADER_SIZE :])


def _truncated(_record: dict[str, Any], value: bytes, rng: random.Random) -> bytes:
    # At least one body byte kept, at least one dropped: the record no longer decodes.
    return value[: rng.randint(wire.HEADER_SIZE + 1, len(value) - 1)]


def _trailing(_record: dict[str, Any], value: bytes, rng: random.Random) -> bytes:
    return value + rng.randbytes(rng.randint(1, 8))


# Reason (the code bronze writes into quarantine.reason) -> how to make such a value from a
# clean event (its decoded record, its framed value, the RNG).
POISON_REASONS: dict[str, Callable[[dict[str, Any], bytes, random.Random], bytes]] = {
    wire.BAD_MAGIC_BYTE: _json,
    wire.SHORT_HEADER: _short,
    wire.EMPTY_VALUE: _empty,
    wire.UNKNOWN_SCHEMA_ID: _unknown_id,
    wire.CORRUPT_PAYLOAD: _truncated,
    wire.TRAILING_BYTES: _trailing,
}


class Faults:
    """Makes poison, violators and conflicts from framed values of contract version ``cv``
    written under ``schema_id``, with its own RNG seeded from ``seed``. ``rules`` defaults to
    the contract's packaged rules; ``clock`` (ms) is what a rule's ``kafka_timestamp`` is
    taken to be: the wall clock when the message is produced."""

    def __init__(
        self,
        cv: ContractVersion,
        schema_id: int,
        seed: int,
        *,
        rules: RuleSet | None = None,
        clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        from txn_contract.rules import packaged_rules

        self.cv = cv
        self.schema_id = schema_id
        self.rng = random.Random(seed ^ _SALT)
        self.clock = clock
        rules = rules if rules is not None else packaged_rules()
        self.derived: Derived = derive(rules, cv)
        self._reasons = tuple(POISON_REASONS)
        # A violator never breaks a fail rule (one this module can evaluate: every rule of
        # today's contract), even as a side effect: it would stop silver.
        self._fail = {r.id for r in rules.by_action("fail")}
        self._checks: dict[str, Check] = {}
        for rule in rules.rules:
            try:
                self._checks[rule.id] = compile_rule(rule.sql)
            except Unsupported:
                continue  # not counted: a violator is still counted under the rule it targets
        # Silver reads every event in the newest shape: a field this version lacks is null.
        self._columns = {n.lower() for v in _versions(cv) for n in v.field_names}

    @property
    def rules(self) -> tuple[str, ...]:
        """Ids of the rules this contract version's events can be made to break."""
        return tuple(v.rule for v in self.derived.violations)

    def describe(self) -> str:
        """Which rules violators break, and which rules are skipped and why (for the log)."""
        skipped = "; ".join(f"{r}: {why}" for r, why in self.derived.skipped.items())
        return (
            f"violators break the rules {', '.join(self.rules) or '(none)'} of contract "
            f"v{self.cv.version}" + (f" (skipped {skipped})" if skipped else "")
        )

    def _record(self, value: bytes) -> dict[str, Any]:
        return wire.decode(value, self.cv.parsed)

    def poison(self, value: bytes) -> tuple[bytes, str]:
        """A value bronze quarantines, made from the clean ``value``, and the reason it will
        give (one of :data:`POISON_REASONS`, drawn at random)."""
        reason = self._reasons[self.rng.randrange(len(self._reasons))]
        record = self._record(value) if reason == wire.BAD_MAGIC_BYTE else {}
        return POISON_REASONS[reason](record, value, self.rng), reason

    def violate(self, value: bytes) -> tuple[bytes, tuple[str, ...]] | None:
        """The clean ``value`` made to break a rule (drawn at random), and the ids of the rules
        it breaks, the drawn one first; None when no rule can be broken (none derived, or no
        breaking value for this event)."""
        violations = self.derived.violations
        if not violations:
            return None
        record = self._record(value)
        start = self.rng.randrange(len(violations))
        for k in range(len(violations)):
            found = self._break(record, violations[(start + k) % len(violations)])
            if found is not None:
                return wire.encode(found[0], self.cv.parsed, self.schema_id), found[1]
        return None

    def _break(
        self, record: dict[str, Any], v: Violation
    ) -> tuple[dict[str, Any], tuple[str, ...]] | None:
        """``record`` breaking rule ``v``, preferably no other (and never a fail rule), and the
        rules it breaks."""
        now_ms = self.clock()
        best: tuple[dict[str, Any], tuple[str, ...]] | None = None
        for candidate in v.candidates(record, self.rng, now_ms):
            changed = {**record, v.field: candidate}
            others = sorted(self.broken(changed, now_ms) - {v.rule})
            if self._fail.intersection(others):
                continue
            if best is None or len(others) < len(best[1]) - 1:
                best = (changed, (v.rule, *others))
            if not others:
                break
        return best

    def broken(self, record: dict[str, Any], now_ms: int) -> set[str]:
        """Ids of the rules ``record`` breaks when sent at ``now_ms`` (the rules this module
        can evaluate; ``ingest_ts`` is not known before silver reads the row)."""
        from datetime import UTC, datetime

        row = dict.fromkeys(self._columns)
        row.update((k.lower(), v) for k, v in record.items())
        row[KAFKA_TIME] = datetime.fromtimestamp(now_ms / 1000, UTC)
        out = set()
        for rule, check in self._checks.items():
            try:
                if not passes(check, row):
                    out.add(rule)
            except Unsupported:
                continue
        return out

    def conflict(self, value: bytes) -> bytes:
        """The event of ``value`` with the same id and another amount (1 cent to 10% more)."""
        record = self._record(value)
        amount: Decimal = record["amount"]
        cents = int(amount.scaleb(2))
        record["amount"] = amount + Decimal(self.rng.randint(1, max(1, cents // 10))).scaleb(-2)
        return wire.encode(record, self.cv.parsed, self.schema_id)
