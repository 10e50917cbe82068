"""The detectors of ``detectors.yaml`` over one customer's transactions: pure Python, no Spark.

The job hands each customer's known transactions (silver up to the batch, sorted by event time
then ``transaction_id``), which of them are new in the batch, and the alerts already raised for
the customer; :meth:`Detectors.run` returns the new alerts' facts. Which candidates are judged:

- ``velocity``, ``card_testing``: every window (ending at a transaction, the window's trigger)
  that holds a new transaction; a late row thus completes an earlier window, whose trigger is the
  transaction that ends it. A window with at least the threshold raises an alert unless an
  alert of the detector for the customer has a trigger less than ``window_seconds`` away
  (the cooldown): a burst of 12 is one alert.
- ``impossible_travel``: every pair of consecutive POS/ATM transactions that holds a new one;
  the later is the trigger.
- ``amount_outlier``: every new APPROVED transaction, against the customer's transactions in the
  currency that precede it, as they are known when it arrives.

A window "within N seconds" holds the transactions less than N seconds of event time before its
trigger, the trigger included. An alert whose ``alert_id`` exists already is not raised again.

Example::

    found = Detectors(packaged_detectors(), shared_gazetteer()).run(txns, new_ids, known)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from txn_contract.detectors import DetectorSet, alert_id

from .gazetteer import Gazetteer, great_circle_km

__all__ = ["Detectors", "Known", "Raised", "Run", "Txn"]

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Txn:
    """The fields of a silver transaction the detectors read; ``ts_ms`` is its event time."""

    transaction_id: str
    ts_ms: int
    status: str
    channel: str
    city: str | None
    country: str | None
    amount: Decimal
    currency: str

    @property
    def order(self) -> tuple[int, str]:
        """The detectors' order: event time, then transaction_id."""
        return (self.ts_ms, self.transaction_id)


@dataclass(frozen=True, slots=True)
class Known:
    """An alert already raised for the customer (in the lake, or earlier in this run)."""

    alert_id: str
    detector: str
    ts_ms: int


@dataclass(frozen=True)
class Raised:
    """A new alert's facts: the detector, the trigger, the evidence and the typed evidence
    fields of the alert contract (``transaction_count``, ``distance_km``, ...)."""

    detector: str
    customer_id: str
    trigger: Txn
    evidence: tuple[str, ...]
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def alert_id(self) -> str:
        return alert_id(self.detector, self.customer_id, self.trigger.transaction_id)


@dataclass
class Run:
    """What :meth:`Detectors.run` found for one customer."""

    raised: list[Raised] = field(default_factory=list)
    unknown_cities: int = 0
    """New POS/ATM transactions whose city the gazetteer lacks (never an alert)."""


class Detectors:
    """The four detectors with the parameters of ``detectors`` (a validated
    :class:`~txn_contract.detectors.DetectorSet`) and the city coordinates of ``places``."""

    def __init__(self, detectors: DetectorSet, places: Gazetteer) -> None:
        self.set = detectors
        self.places = places
        self.velocity = detectors.velocity.params
        self.card_testing = detectors.card_testing.params
        self.travel = detectors.impossible_travel.params
        self.outlier = detectors.amount_outlier.params

    def run(
        self, customer_id: str, txns: Sequence[Txn], new_ids: set[str], known: Iterable[Known]
    ) -> Run:
        """New alerts over ``txns`` (the customer's known transactions, sorted by
        :attr:`Txn.order`) of which ``new_ids`` arrived in this batch; ``known`` are the
        customer's alerts so far."""
        known = list(known)
        seen = {k.alert_id for k in known}
        out = Run()
        v, c = self.velocity, self.card_testing
        out.raised += self._windowed(
            "velocity",
            customer_id,
            list(txns),
            new_ids,
            v.min_transactions,
            v.window_seconds,
            known,
        )
        declined = [t for t in txns if t.status == "DECLINED"]
        out.raised += self._windowed(
            "card_testing", customer_id, declined, new_ids, c.min_declined, c.window_seconds, known
        )
        travel, out.unknown_cities = self._travel(customer_id, txns, new_ids)
        out.raised += travel
        out.raised += self._outliers(customer_id, txns, new_ids)
        out.raised = [r for r in out.raised if r.alert_id not in seen]
        return out

    # ------------------------------------------------------------------ windowed

    def _windowed(
        self,
        detector: str,
        customer_id: str,
        events: list[Txn],
        new_ids: set[str],
        least: int,
        window_s: int,
        known: list[Known],
    ) -> list[Raised]:
        """Windows ending at each event that hold a new event, in order, with the cooldown."""
        window_ms = window_s * 1000
        fired = [k.ts_ms for k in known if k.detector == detector]
        out: list[Raised] = []
        start, last_new = 0, None
        for end, trigger in enumerate(events):
            if trigger.transaction_id in new_ids:
                last_new = trigger.ts_ms
            while trigger.ts_ms - events[start].ts_ms >= window_ms:
                start += 1
            holds_new = last_new is not None and trigger.ts_ms - last_new < window_ms
            count = end - start + 1
            if not holds_new or count < least:
                continue
            if any(abs(trigger.ts_ms - ts) < window_ms for ts in fired):
                continue  # the cooldown of an alert less than a window away
            fired.append(trigger.ts_ms)
            evidence = tuple(t.transaction_id for t in events[start : end + 1])
            fields = {"transaction_count": count, "window_seconds": window_s}
            out.append(Raised(detector, customer_id, trigger, evidence, fields))
        return out

    # ------------------------------------------------------------------ impossible travel

    def _travel(
        self, customer_id: str, txns: Sequence[Txn], new_ids: set[str]
    ) -> tuple[list[Raised], int]:
        p = self.travel
        placed = [t for t in txns if t.channel in p.channels]
        unknown = sum(
            1
            for t in placed
            if t.transaction_id in new_ids and self.places.find(t.city, t.country) is None
        )
        out: list[Raised] = []
        for before, after in itertools.pairwise(placed):
            if before.transaction_id not in new_ids and after.transaction_id not in new_ids:
                continue
            a = self.places.find(before.city, before.country)
            b = self.places.find(after.city, after.country)
            if a is None or b is None:
                continue  # a city the gazetteer lacks never raises an alert
            km = great_circle_km(a, b)
            elapsed_s = (after.ts_ms - before.ts_ms) / 1000
            speed = km / (elapsed_s / 3600) if elapsed_s > 0 else math.inf
            if km > p.distance_km_over and speed > p.speed_kmh_over:
                fields = {
                    "distance_km": round(km, 3),
                    "elapsed_seconds": elapsed_s,
                    "speed_kmh": round(speed, 3) if math.isfinite(speed) else speed,
                    "from_city": before.city,
                    "from_country": before.country,
                    "to_city": after.city,
                    "to_country": after.country,
                }
                evidence = (before.transaction_id, after.transaction_id)
                out.append(Raised("impossible_travel", customer_id, after, evidence, fields))
        return out, unknown

    # ------------------------------------------------------------------ amount outlier

    def _outliers(self, customer_id: str, txns: Sequence[Txn], new_ids: set[str]) -> list[Raised]:
        p = self.outlier
        # Per currency, the running count, sum and sum of squares of the earlier transactions.
        sums: dict[str, tuple[int, Decimal, Decimal]] = {}
        out: list[Raised] = []
        with localcontext() as ctx:
            ctx.prec = 50  # exact for decimal(18,2) amounts over any realistic history
            for t in txns:
                n, s, q = sums.get(t.currency, (0, Decimal(0), Decimal(0)))
                if t.transaction_id in new_ids and t.status == "APPROVED" and n >= p.min_history:
                    mean = s / n
                    variance = q / n - mean * mean
                    # A history without spread has no standard deviation to measure against.
                    if variance > 0:
                        std = variance.sqrt()
                        z = (t.amount - mean) / std
                        if z > Decimal(str(p.stddevs_over)):
                            out.append(self._outlier(customer_id, t, n, mean, std, z))
                sums[t.currency] = (n + 1, s + t.amount, q + t.amount * t.amount)
        return out

    @staticmethod
    def _outlier(customer_id: str, t: Txn, n: int, mean: Decimal, std: Decimal, z: Decimal):
        fields = {
            "transaction_count": n,
            "amount": t.amount,
            "currency": t.currency,
            "mean_amount": mean.quantize(_CENT, rounding=ROUND_HALF_EVEN),
            "stddev_amount": std.quantize(_CENT, rounding=ROUND_HALF_EVEN),
            "z_score": float(z),
        }
        return Raised("amount_outlier", customer_id, t, (t.transaction_id,), fields)
