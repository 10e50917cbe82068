"""What a run sends, batch by batch: events drawn and encoded, then scenarios and dirt applied.

:class:`EventStream` owns the event clock (simulated or wall), the injected fraud scenarios
(:mod:`.fraud`) and the dirt (:mod:`.dirt`: re-sends, late events, conflicts, poison,
violators), and counts what it made of each kind, for the summary, the progress line and the
metrics.

Example::

    stream = EventStream(config, generator, encoder, population, faults=None, truth=None)
    messages = stream.messages(2_000, first=0)   # [(key, value), ...]
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

from .dirt import Dirt
from .fraud import Scenarios
from .progress import Summary

if TYPE_CHECKING:
    from txn_runtime.producer_metrics import ProducerFigures

    from .config import ProducerSettings
    from .faults import Faults

__all__ = ["EventStream"]


class EventStream:
    """The messages of a run's batches (``generator`` draws, ``encoder`` encodes; ``faults``
    makes conflicts, poison and violators when their rates are set; ``truth`` receives the
    finished scenarios)."""

    def __init__(
        self,
        config: ProducerSettings,
        generator: Any,
        encoder: Any,
        population: Any,
        *,
        faults: Faults | None = None,
        truth: TextIO | None = None,
    ) -> None:
        self.config = config
        self._generator = generator
        self._encoder = encoder
        self.fraud = Scenarios(population, config.fraud_rate, config.seed, truth)
        self.dirt = Dirt(
            config.duplicate_rate,
            config.late_rate,
            config.seed,
            conflict_rate=config.conflict_rate,
            poison_rate=config.poison_rate,
            violation_rate=config.violation_rate,
            faults=faults,
        )
        self.scenario_events = 0

    def messages(self, n: int, first: int) -> list[tuple[bytes, bytes]]:
        """The next ``n`` messages as (key, value) pairs, ``first`` being how many were sent
        before (the simulated clock's position)."""
        timestamps = self._timestamps(n, first)
        draws = self._generator.draws(n, timestamps)
        exempt: set[int] = set()
        if self.fraud.rate or self.fraud.pending:
            draws, exempt = self.fraud.apply(draws, timestamps)
            self.scenario_events += len(exempt)
        if self.dirt.active:
            # A scenario event stays on time: made late, it would no longer tell its story.
            return self.dirt.apply(timestamps, partial(self._encoder.messages, draws), exempt)
        return self._encoder.messages(draws, timestamps)

    def _timestamps(self, n: int, first: int) -> list[int]:
        """Event timestamps (ms) of the next ``n`` events: the simulated clock, or the wall
        clock once per batch (what a pacer releases at once, or 2,000 events at full speed:
        ~10 ms), which also decides who pays and where they are."""
        cfg = self.config
        if cfg.start_time is not None:
            start_ms = int(cfg.start_time.timestamp() * 1000)
            ms_per_event = 1000.0 / cfg.simulated_rate
            return [start_ms + int((first + k) * ms_per_event) for k in range(n)]
        return [time.time_ns() // 1_000_000] * n

    def kinds(self) -> dict[str, int]:
        """Messages made so far of each kind other than clean (the metrics' ``kind`` label)."""
        dirt = self.dirt
        return {
            "late": dirt.made_late,
            "fraud": self.scenario_events,
            "duplicate": dirt.resent,
            "conflict": dirt.conflicts,
            "poison": sum(dirt.poison.values()),
            "violation": dirt.violators,
        }

    def figures(self, produced: int, delivered: int, failed: int) -> ProducerFigures:
        """The run's totals for the metrics."""
        from txn_runtime.producer_metrics import ProducerFigures

        return ProducerFigures(
            produced,
            delivered,
            failed,
            kinds=self.kinds(),
            poison=dict(self.dirt.poison),
            violations=dict(self.dirt.violations),
        )

    def summary(self, produced: int, delivered: int, failed: int, seconds: float) -> Summary:
        """The run's summary, with what the dirt made."""
        dirt = self.dirt
        return Summary(
            produced,
            delivered,
            failed,
            seconds,
            resent=dirt.resent,
            late=dirt.made_late,
            conflicts=dirt.conflicts,
            poison=dict(dirt.poison),
            violators=dirt.violators,
            violations=dict(dirt.violations),
        )

    def progress_note(self) -> str:
        """The dirty share for the progress line ("" for a clean stream)."""
        shown = {k: n for k, n in self.kinds().items() if n}
        return "  " + ", ".join(f"{k} {n:,}" for k, n in shown.items()) if shown else ""
