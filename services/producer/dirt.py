"""Realistically dirty streams: re-sent events and late events, at given rates.

Real upstreams are not clean. A client that times out waiting for an acknowledgement sends the
same event again (an exact re-send, same key and bytes), and a device that was offline uploads
its events hours after they happened. ``--duplicate-rate`` and ``--late-rate`` make the
producer do both, so silver's dedup and late flag have something to work on (``make demo``
uses them). Both draw from their own generator seeded from ``--seed``: the same seed gives the
same dirty stream.

A re-send takes the place of a new event, so ``--count`` and ``--rate`` still count messages
on the topic; it repeats one of the last :data:`RECENT` messages, as a retry would.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Collection

__all__ = ["LATE_MAX_MS", "LATE_MIN_MS", "RECENT", "Dirt"]

# A late event is stamped this long before it is sent: past silver's default allowed
# lateness (1 h), up to the 6 hours a phone may stay offline on a trip.
LATE_MIN_MS = 65 * 60 * 1000
LATE_MAX_MS = 6 * 3600 * 1000
# How far back a re-send reaches: the messages a retrying client still holds.
RECENT = 1_000
# Decorrelates the dirt's draws from the event generator's, which uses the seed itself.
_SALT = 0x5EED_D127


class Dirt:
    """Turns a clean batch into a dirty one; counts what it did.

    Example::

        dirt = Dirt(duplicate_rate=0.02, late_rate=0.01, seed=7)
        messages = dirt.apply(timestamps, lambda ts: encoder.messages(draws, ts))
    """

    def __init__(self, duplicate_rate: float, late_rate: float, seed: int) -> None:
        self.duplicate_rate = duplicate_rate
        self.late_rate = late_rate
        self.resent = 0
        self.made_late = 0
        self._rng = random.Random(seed ^ _SALT)
        self._recent: deque[tuple[bytes, bytes]] = deque(maxlen=RECENT)

    @property
    def active(self) -> bool:
        """Whether the stream is dirty at all (a clean run pays nothing)."""
        return self.duplicate_rate > 0 or self.late_rate > 0

    def apply(
        self,
        timestamps_ms: list[int] | None,
        encode: Callable[[list[int] | None], list[tuple[bytes, bytes]]],
        exempt: Collection[int] = (),
    ) -> list[tuple[bytes, bytes]]:
        """``encode(timestamps)``'s messages, made dirty: a ``late_rate`` share of the events
        stamped 65 min to 6 h before ``timestamps_ms``, and a ``duplicate_rate`` share of the
        slots given to exact copies of originals sent earlier in the run (one of the last
        :data:`RECENT`). Slots taken by copies are decided first, so ``made_late`` counts only
        events that are sent. ``timestamps_ms`` may be None (the encoder's wall clock) only
        without a late rate. Slots in ``exempt`` are neither made late nor replaced by a copy
        (injected scenarios keep their timing)."""
        rng, n = self._rng, len(timestamps_ms) if timestamps_ms is not None else 0
        copy = [rng.random() < self.duplicate_rate for _ in range(n)] if self.duplicate_rate else []
        for k in exempt:
            if copy:
                copy[k] = False
        if self.late_rate and timestamps_ms is not None:
            timestamps_ms = list(timestamps_ms)
            for i, ms in enumerate(timestamps_ms):
                if rng.random() < self.late_rate and not (copy and copy[i]) and i not in exempt:
                    timestamps_ms[i] = ms - rng.randint(LATE_MIN_MS, LATE_MAX_MS)
                    self.made_late += 1
        messages = encode(timestamps_ms)
        if not self.duplicate_rate:
            return messages
        if not copy:  # wall-clock stamps: decide the copies now
            copy = [rng.random() < self.duplicate_rate for _ in messages]
        recent = self._recent
        out = []
        for message, is_copy in zip(messages, copy, strict=True):
            if is_copy and recent:
                out.append(recent[int(rng.random() * len(recent))])
                self.resent += 1
            else:
                out.append(message)
                recent.append(message)
        return out
