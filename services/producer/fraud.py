"""Injected fraud: labelled scenarios of each detector's pattern, and their ground truth.

``--fraud-rate P`` starts a scenario in a share ``P`` of the event slots (seeded, its own RNG).
A scenario is a short story of one customer that meets a detector's thresholds
(``contracts/bank_txn_alerts-value/detectors.yaml``) with a margin, so a deterministic
detector finds every one:

- ``velocity``: 6 approved payments a minute apart (the 5th is within 4 minutes of the 1st);
- ``card_testing``: 3 small declined online payments 40 s apart;
- ``impossible_travel``: a purchase in the home city, then a cash withdrawal 30-50 minutes
  later in a city at least 2,500 km away (Europe, Hawaii, Mexico);
- ``amount_outlier``: 11 grocery-sized payments 5 minutes apart (never 5 in 10 minutes, so no
  velocity alert), then an approved online payment more than 6 standard deviations above
  their mean.

Scenario customers come from the population's reserve (indexes at or above its size): derived
like every customer, but never drawn by the clean stream, so nothing else they do can hide or
add to a scenario. Each scenario event takes the slot of a clean event when it falls due (as a
re-send does), is stamped with that slot's time, and is never marked in the event itself: the
truth is only in ``--fraud-truth FILE``, one JSON line per scenario once its last event is
produced: ``{"scenario", "detector", "customer_id", "transaction_ids", "trigger"}``.

Example::

    fraud = Scenarios(population, rate=0.001, seed=7, truth=open("truth.jsonl", "w"))
    draws = fraud.apply(draws, times_ms)
"""

from __future__ import annotations

import heapq
import json
import math
import random
from typing import TextIO

from txn_contract import Channel

from .generator import Draw, format_uuid
from .places import FOREIGN_CITIES, FX_PER_CAD
from .population import Customer, Merchant, Population

__all__ = ["DETECTORS", "FAR_CITIES", "Scenarios"]

DETECTORS = ("velocity", "card_testing", "impossible_travel", "amount_outlier")
# Destinations at least ~2,500 km from every Canadian city of the bank.
FAR_CITIES = tuple(
    c for c in FOREIGN_CITIES if c.name in {"London", "Paris", "Dublin", "Honolulu", "Cancún"}
)
_UUID_V4_MASK = ~((0xF << 76) | (0xC << 60)) & ((1 << 128) - 1)
_UUID_V4_BITS = (0x4 << 76) | (0x8 << 60)
_S = 1000  # ms per second
_SALT = 0xF4A0_D5CE


class Scenarios:
    """Replaces due slots of a batch with scenario events; writes the truth of finished
    scenarios to ``truth`` (a text stream, or None)."""

    def __init__(
        self, population: Population, rate: float, seed: int, truth: TextIO | None = None
    ) -> None:
        self.rate = rate
        self.started = 0
        self.finished = 0
        self._pop = population
        self._rng = random.Random(seed ^ _SALT)
        self._truth = truth
        # (due ms, sequence, scenario number, step) of the events still to come.
        self._due: list[tuple[int, int, int, int]] = []
        self._plans: dict[int, _Plan] = {}
        self._seq = 0

    @property
    def pending(self) -> bool:
        """Whether scenario events are still to come."""
        return bool(self._due)

    def apply(self, draws: list[Draw], times_ms: list[int]) -> tuple[list[Draw], set[int]]:
        """``draws`` with due scenario events in their slots (one event per slot, the rest wait
        for the next ones), and the slots they took."""
        if not self.rate and not self._due:
            return draws, set()
        out, taken, rng, due = list(draws), set(), self._rng, self._due
        for k, t in enumerate(times_ms):
            if self.rate and rng.random() < self.rate:
                self._start(t)
            if due and due[0][0] <= t:
                _ms, _seq, number, step = heapq.heappop(due)
                plan = self._plans[number]
                out[k] = plan.draws[step]
                taken.add(k)
                plan.left -= 1
                if plan.left == 0:
                    self._finish(number)
        return out, taken

    def _start(self, t: int) -> None:
        number = self.started
        self.started += 1
        customer = self._pop.customer(self._pop.size + number)
        kind = DETECTORS[self._rng.randrange(len(DETECTORS))]
        plan = getattr(self, f"_{kind}")(customer)
        plan.detector = kind
        self._plans[number] = plan
        for step, offset in enumerate(plan.offsets_ms):
            self._seq += 1
            heapq.heappush(self._due, (t + offset, self._seq, number, step))

    def _finish(self, number: int) -> None:
        plan = self._plans.pop(number)
        self.finished += 1
        if self._truth is None:
            return
        ids = [format_uuid(d[5]) for d in plan.draws]
        line = {
            "scenario": number,
            "detector": plan.detector,
            "customer_id": plan.draws[0][0].customer_id,
            "transaction_ids": ids,
            "trigger": ids[plan.trigger],
        }
        self._truth.write(json.dumps(line) + "\n")

    # --- the four stories ------------------------------------------------------------------
    def _draw(self, c: Customer, merchant: Merchant, cents: int, declined: bool = False) -> Draw:
        device = c.online[0] if merchant.channel is Channel.ECOM else c.card[0]
        bits = self._rng.getrandbits(128) & _UUID_V4_MASK | _UUID_V4_BITS
        return (c, device, merchant, cents, declined, bits)

    def _store(self, c: Customer) -> Merchant:
        stores = self._pop.pos_by_city[c.home]
        return stores[self._rng.randrange(len(stores))]

    def _velocity(self, c: Customer) -> _Plan:
        rng = self._rng
        draws = [self._draw(c, self._store(c), rng.randint(800, 6_000)) for _ in range(6)]
        return _Plan(draws, [60 * _S * i for i in range(6)], trigger=4)

    def _card_testing(self, c: Customer) -> _Plan:
        shops, rng = self._pop.ecom_foreign, self._rng
        shop = shops[rng.randrange(len(shops))]
        draws = [self._draw(c, shop, rng.randint(100, 500), declined=True) for _ in range(3)]
        return _Plan(draws, [0, 40 * _S, 80 * _S], trigger=2)

    def _impossible_travel(self, c: Customer) -> _Plan:
        rng = self._rng
        far = FAR_CITIES[rng.randrange(len(FAR_CITIES))]
        atms = self._pop.atm_by_city[far]
        atm = atms[rng.randrange(len(atms))]
        # About 200 CAD in local notes of 20.
        cash = max(1, round(200 * FX_PER_CAD[far.currency] / 20)) * 2_000
        draws = [self._draw(c, self._store(c), rng.randint(1_500, 9_000)), self._draw(c, atm, cash)]
        return _Plan(draws, [0, rng.randint(30, 50) * 60 * _S], trigger=1)

    def _amount_outlier(self, c: Customer) -> _Plan:
        rng = self._rng
        history = [rng.randint(3_000, 6_000) for _ in range(11)]
        mean = sum(history) / len(history)
        sd = math.sqrt(sum((x - mean) ** 2 for x in history) / len(history))
        spike = math.ceil(mean + 6 * sd) + 10_000
        shops = self._pop.ecom_domestic
        draws = [self._draw(c, self._store(c), cents) for cents in history]
        draws.append(self._draw(c, shops[rng.randrange(len(shops))], spike))
        return _Plan(draws, [5 * 60 * _S * i for i in range(11)] + [60 * 60 * _S], trigger=11)


class _Plan:
    """A scenario's events, their offsets from its start, and which one triggers the alert."""

    def __init__(self, draws: list[Draw], offsets_ms: list[int], trigger: int) -> None:
        self.draws = draws
        self.offsets_ms = offsets_ms
        self.trigger = trigger
        self.left = len(draws)
        self.detector = ""
