"""What a producer run reports and how it paces itself: the summary, the schedule, the progress
line."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["Pacer", "Progress", "Summary"]

_PROGRESS_INTERVAL_S = 0.5


@dataclass
class Summary:
    """What a run did; ``rate`` is delivered events per second."""

    produced: int
    delivered: int
    failed: int
    seconds: float
    # Messages that re-sent an earlier event, events stamped late, re-sends with other content,
    # poison by quarantine reason, violators and the rules they break (--duplicate-rate,
    # --late-rate, --conflict-rate, --poison-rate, --violation-rate); all among ``produced``.
    resent: int = 0
    late: int = 0
    conflicts: int = 0
    poison: dict[str, int] = field(default_factory=dict)
    violators: int = 0
    violations: dict[str, int] = field(default_factory=dict)
    """Rules broken by the violators, by rule id (one violator may break two)."""

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        """Every produced event was confirmed by the broker."""
        return self.delivered == self.produced

    def to_json(self) -> str:
        """The one JSON line printed on stdout at exit."""
        return json.dumps(
            {
                "produced": self.produced,
                "delivered": self.delivered,
                "failed": self.failed,
                "seconds": round(self.seconds, 3),
                "rate": round(self.rate, 1),
                "resent": self.resent,
                "late": self.late,
                "conflicts": self.conflicts,
                "poison": sum(self.poison.values()),
                "violations": self.violators,
                "poison_by_reason": dict(sorted(self.poison.items())),
                "violations_by_rule": dict(sorted(self.violations.items())),
            }
        )


class Pacer:
    """A schedule on the monotonic clock: event ``i`` is due at ``t0 + i / rate``.

    The producer asks how many events are due and sends them in one batch, so the long-run rate
    is exact however coarse ``sleep`` is: lateness is made up by the next batch instead of
    accumulating, as it would with a sleep per event.
    """

    def __init__(self, rate: float, t0: float) -> None:
        self.rate = rate
        self.t0 = t0

    def due(self, now: float) -> int:
        """How many events should have been sent by ``now`` (the first is due at ``t0``)."""
        return int((now - self.t0) * self.rate) + 1

    def wait(self, sent: int, now: float) -> float:
        """Seconds until event number ``sent`` is due (0 when it already is)."""
        return max(0.0, self.t0 + sent / self.rate - now)


class Progress:
    """The live progress line on stderr (rewritten in place with a carriage return)."""

    def __init__(self, stream: TextIO, enabled: bool, interval: float = _PROGRESS_INTERVAL_S):
        self.stream = stream
        self.enabled = enabled
        self.interval = interval
        self._last_t = 0.0
        self._last_delivered = 0
        self._shown = False

    def update(
        self,
        now: float,
        elapsed: float,
        produced: int,
        delivered: int,
        failed: int,
        force: bool = False,
        note: Callable[[], str] | None = None,
    ) -> None:
        """Rewrite the line if ``interval`` has passed since the last one (or ``force``);
        ``note()`` is appended (the dirty share so far)."""
        if not self.enabled or (not force and now - self._last_t < self.interval):
            return
        span = now - self._last_t if self._last_t else elapsed
        rate = (delivered - self._last_delivered) / span if span > 0 else 0.0
        self._last_t, self._last_delivered = now, delivered
        in_flight = produced - delivered - failed
        line = (
            f"{elapsed:7.1f} s  rate {rate:>9,.0f}/s  delivered {delivered:>11,}  "
            f"failed {failed:,}  in flight {in_flight:,}{note() if note else ''}"
        )
        # \x1b[K clears what a longer previous line left behind.
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the line so what follows starts on a fresh one."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
