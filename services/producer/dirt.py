"""Realistically dirty streams: re-sends, late events, conflicts, poison and rule violators.

Real upstreams are not clean. A client that times out waiting for an acknowledgement sends the
same event again (an exact re-send, same key and bytes); a device that was offline uploads its
events hours after they happened; a system re-sends a transaction with a corrected amount under
the same id (a conflict); a misconfigured producer writes bytes that are not the contract's
(poison); and an upstream that does not validate sends well-formed events that break a quality
rule (a violator). ``--duplicate-rate``, ``--late-rate``, ``--conflict-rate``, ``--poison-rate``
and ``--violation-rate`` make the producer do each, so every path downstream has something to
work on (``make demo`` uses them all): bronze's quarantine, silver's dedup, conflicts, rejects
by rule and late flag. Every draw comes from generators seeded from ``--seed``: the same seed
gives the same dirty stream.

A re-send, a conflict, a poison message and a violator each take the place of a new event, so
``--count`` and ``--rate`` still count messages on the topic, and their rates are shares of the
messages. A re-send repeats one of the last :data:`RECENT` messages, as a retry would; a
conflict re-sends one of the last :data:`RECENT` clean, on-time events with another amount.
``--late-rate`` is a share of the clean events (those no other kind replaced).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Collection
from itertools import accumulate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .faults import Faults

__all__ = ["LATE_MAX_MS", "LATE_MIN_MS", "RECENT", "Dirt"]

# A late event is stamped this long before it is sent: past silver's default allowed
# lateness (1 h), up to the 6 hours a phone may stay offline on a trip.
LATE_MIN_MS = 65 * 60 * 1000
LATE_MAX_MS = 6 * 3600 * 1000
# How far back a re-send reaches: the messages a retrying client still holds.
RECENT = 1_000
# Decorrelates the dirt's draws from the event generator's, which uses the seed itself.
_SALT = 0x5EED_D127
# What takes a slot, in the order of the rates' shares of [0, 1); past them, the clean event.
_COPY, _CONFLICT, _POISON, _VIOLATION, _CLEAN = range(5)

Message = tuple[bytes, bytes]


class Dirt:
    """Turns a clean batch into a dirty one; counts what it did.

    ``faults`` makes the conflicts, poison and violators (:class:`~.faults.Faults`); it is
    needed when one of their rates is above 0.

    Example::

        dirt = Dirt(duplicate_rate=0.02, late_rate=0.01, seed=7)
        messages = dirt.apply(timestamps, lambda ts: encoder.messages(draws, ts))
    """

    def __init__(
        self,
        duplicate_rate: float,
        late_rate: float,
        seed: int,
        *,
        conflict_rate: float = 0.0,
        poison_rate: float = 0.0,
        violation_rate: float = 0.0,
        faults: Faults | None = None,
    ) -> None:
        if (conflict_rate or poison_rate or violation_rate) and faults is None:
            raise ValueError("conflicts, poison and violators need faults")
        self.duplicate_rate = duplicate_rate
        self.late_rate = late_rate
        self.conflict_rate = conflict_rate
        self.poison_rate = poison_rate
        self.violation_rate = violation_rate
        self.resent = 0
        self.made_late = 0
        self.conflicts = 0
        self.poison: Counter[str] = Counter()
        """Poison messages per quarantine reason they will get."""
        self.violators = 0
        self.violations: Counter[str] = Counter()
        """Rules broken, by rule id (a violator may break more than the rule it was made
        for: each rule it breaks is counted)."""
        self._faults = faults
        self._rng = random.Random(seed ^ _SALT)
        self._bounds = list(
            accumulate((duplicate_rate, conflict_rate, poison_rate, violation_rate))
        )
        self._recent: deque[Message] = deque(maxlen=RECENT)
        self._on_time: deque[Message] = deque(maxlen=RECENT)

    @property
    def active(self) -> bool:
        """Whether the stream is dirty at all (a clean run pays nothing)."""
        return self.late_rate > 0 or self._replaces

    @property
    def _replaces(self) -> bool:
        return self._bounds[-1] > 0

    def apply(
        self,
        timestamps_ms: list[int] | None,
        encode: Callable[[list[int] | None], list[Message]],
        exempt: Collection[int] = (),
    ) -> list[Message]:
        """``encode(timestamps)``'s messages, made dirty: each slot's kind is drawn first (a
        re-send, a conflict, poison, a violator, or the clean event), then a ``late_rate``
        share of the clean events is stamped 65 min to 6 h before ``timestamps_ms``, so
        ``made_late`` counts only events that are sent. ``timestamps_ms`` may be None (the
        encoder's wall clock) only without a late rate. Slots in ``exempt`` stay clean and on
        time (injected scenarios keep their story)."""
        n = len(timestamps_ms) if timestamps_ms is not None else 0
        kinds = self._kinds(n, exempt) if timestamps_ms is not None else []
        late: set[int] = set()
        if self.late_rate and timestamps_ms is not None:
            timestamps_ms, late = self._make_late(timestamps_ms, kinds, exempt)
        messages = encode(timestamps_ms)
        if not self._replaces:
            return messages
        if timestamps_ms is None:  # wall-clock stamps: decide the kinds now
            kinds = self._kinds(len(messages), exempt)
        return [
            self._one(message, kind, i in late or i in exempt)
            for i, (message, kind) in enumerate(zip(messages, kinds, strict=True))
        ]

    def _kinds(self, n: int, exempt: Collection[int]) -> list[int]:
        """What takes each of ``n`` slots: one uniform draw per slot against the rates."""
        if not self._replaces:
            return [_CLEAN] * n
        rng, bounds = self._rng, self._bounds
        kinds = [bisect_right(bounds, rng.random()) for _ in range(n)]
        for k in exempt:
            kinds[k] = _CLEAN
        return kinds

    def _make_late(
        self, timestamps_ms: list[int], kinds: list[int], exempt: Collection[int]
    ) -> tuple[list[int], set[int]]:
        """``timestamps_ms`` with a ``late_rate`` share of the clean slots stamped late."""
        rng, out, late = self._rng, list(timestamps_ms), set()
        for i, ms in enumerate(out):
            if rng.random() < self.late_rate and kinds[i] == _CLEAN and i not in exempt:
                out[i] = ms - rng.randint(LATE_MIN_MS, LATE_MAX_MS)
                late.add(i)
        self.made_late += len(late)
        return out, late

    def _one(self, message: Message, kind: int, late_or_scenario: bool) -> Message:
        """The message sent in a slot of ``kind`` whose clean event is ``message``."""
        if kind == _COPY and self._recent:
            self.resent += 1
            return self._recent[int(self._rng.random() * len(self._recent))]
        faults = self._faults  # never None when a kind below can be drawn (see __init__)
        if faults is not None and kind == _CONFLICT and self._on_time:
            key, value = self._on_time[int(faults.rng.random() * len(self._on_time))]
            self.conflicts += 1
            return key, faults.conflict(value)
        if faults is not None and kind == _POISON:
            value, reason = faults.poison(message[1])
            self.poison[reason] += 1
            return message[0], value
        broken = faults.violate(message[1]) if faults is not None and kind == _VIOLATION else None
        if broken is not None:
            self.violators += 1
            self.violations.update(broken[1])
            return message[0], broken[0]
        # A clean event (or a re-send or conflict before anything was sent to repeat).
        if self.duplicate_rate:
            self._recent.append(message)
        if self.conflict_rate and not late_or_scenario:
            self._on_time.append(message)
        return message
