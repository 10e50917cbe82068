"""Trips: a stretch of days in another city, with the journey there and back.

People do not pay in Toronto at 10:00 and in Vancouver at 10:20. A customer's card-present
transactions happen where the customer is, and where they are is a pure function of (seed,
customer, time): event time is cut into 28-day periods, and in each period a customer takes at
most one trip, drawn from a cheap integer hash of (seed, customer, period) and their archetype's
trips a year (abroad for travellers, to another Canadian city for most). A trip leaves home at a daytime
hour, spends :data:`TRANSIT_MS` on the way (no card-present payment in transit: a traveller
buys online), stays 3-14 days abroad or 1-4 days at home in Canada, and comes back the same way.

The transit is long on purpose: the longest journey the bank's places allow (St. John's to
Honolulu, ~8,700 km; Victoria to Paris, ~8,000 km) over :data:`TRANSIT_MS` is below 900 km/h,
so two consecutive card-present transactions of a clean customer never imply an impossible
speed, whatever the gazetteer's coordinates.

Example::

    trip = trip_in_period(salt, customer, period=700)
    where = place_at(salt, customer, t_ms)   # a City, or None while in transit
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from .customers import Archetype, Customer
from .places import CANADIAN_CITIES, FOREIGN_CITIES, City

__all__ = [
    "HASH_K1",
    "HASH_K2",
    "HASH_K3",
    "PERIOD_MS",
    "TRANSIT_MS",
    "Trip",
    "period_hash",
    "place_at",
    "trip_in_period",
    "trip_threshold",
    "where",
]

DAY_MS = 86_400_000
PERIOD_DAYS = 28
PERIOD_MS = PERIOD_DAYS * DAY_MS
# Abroad and within Canada: long enough for any pair of the bank's places at < 900 km/h.
TRANSIT_MS = {True: 12 * 3_600_000, False: 8 * 3_600_000}
_TRANSIT_ABROAD, _TRANSIT_HOME = TRANSIT_MS[True], TRANSIT_MS[False]
_U = float(1 << 32)
_M32 = (1 << 32) - 1
# Odd 32-bit multipliers (Knuth's, and MurmurHash3's): cheap small-int mixing.
HASH_K1, HASH_K2, HASH_K3 = 0x9E3779B1, 0x85EBCA6B, 0xC2B2AE35
_K1, _K2, _K3 = HASH_K1, HASH_K2, HASH_K3


@dataclass(frozen=True, slots=True)
class Trip:
    """A trip to ``city``: leaves home at ``depart_ms``, there from ``arrive_ms`` until
    ``leave_ms``, home again at ``back_ms``."""

    city: City
    depart_ms: int
    arrive_ms: int
    leave_ms: int
    back_ms: int

    @property
    def abroad(self) -> bool:
        return self.city.country != "CA"


def _cum(cities: tuple[City, ...]) -> tuple[list[float], float]:
    cum = list(itertools.accumulate(c.weight for c in cities))
    return cum, cum[-1]


_ABROAD = _cum(FOREIGN_CITIES)
_DOMESTIC = _cum(CANADIAN_CITIES)


def trip_threshold(arch: Archetype) -> tuple[int, int]:
    """The archetype's chances of a trip abroad, and of any trip, in a period, as thresholds
    on :func:`period_hash`."""
    per_period = PERIOD_DAYS / 365.0
    p_abroad = arch.trips_abroad * per_period
    p_any = p_abroad + arch.trips_away * per_period
    return int(p_abroad * _U), int(p_any * _U)


def period_hash(salt: int, index: int, period: int) -> int:
    """A 32-bit hash of (salt, customer index, period): multiply-xorshift rounds on small ints.
    The generator computes the same per batch with numpy (:meth:`.batch.BatchTables.draw`); a
    unit test holds the two equal."""
    x = ((index * _K1 ^ (period * _K2 ^ salt)) * _K3) & _M32
    return x ^ x >> 15


def trip_in_period(salt: int, customer: Customer, period: int) -> Trip | None:
    """The customer's trip in ``period`` (28-day periods since the epoch), or None."""
    arch = customer.archetype
    u = period_hash(salt, customer.index, period)
    times = _trip(u, arch, trip_threshold(arch), period)
    return None if times is None else Trip(*times)


def _trip(
    u: int, arch: Archetype, threshold: tuple[int, int], period: int
) -> tuple[City, int, int, int, int] | None:
    """The trip of :func:`period_hash` ``u`` as (city, depart, arrive, leave, back), or None
    (vectorised for the generator in :mod:`.batch`)."""
    if u >= threshold[1]:
        return None
    abroad = u < threshold[0]
    # More bits for the details: one more multiply-xorshift round of u and the period.
    h = ((u ^ period * _K2) * _K1) & _M32
    h ^= h >> 16
    if abroad:
        cities, (cum, total), days = FOREIGN_CITIES, _ABROAD, 3 + h % 12
    else:
        cities, (cum, total), days = CANADIAN_CITIES, _DOMESTIC, 1 + h % 4
    city = cities[min(bisect.bisect_right(cum, (u & 0xFFFF) / 65_536.0 * total), len(cities) - 1)]
    if city is arch.home:
        return None
    # Leave and come back at a daytime hour; the whole trip stays inside the period.
    start = period * PERIOD_MS + (h >> 4) % (PERIOD_DAYS - days - 2) * DAY_MS
    depart = start + (11 + (h >> 12) % 12) * 3_600_000
    leave = start + days * DAY_MS + (11 + (h >> 20) % 12) * 3_600_000
    transit = _TRANSIT_ABROAD if abroad else _TRANSIT_HOME
    return city, depart, depart + transit, leave, leave + transit


def place_at(salt: int, customer: Customer, t_ms: int) -> City | None:
    """Where the customer is at ``t_ms``: home, a trip's city, or None while travelling."""
    arch = customer.archetype
    return where(salt, customer.index, arch, trip_threshold(arch), t_ms)


def where(
    salt: int, index: int, arch: Archetype, threshold: tuple[int, int], t_ms: int
) -> City | None:
    """:func:`place_at` for the hot loop: customer ``index`` of archetype ``arch`` with
    :func:`trip_threshold` ``threshold``. Most periods have no trip: one hash decides it."""
    period = t_ms // PERIOD_MS
    trip = _trip(period_hash(salt, index, period), arch, threshold, period)
    if trip is None or t_ms < trip[1] or t_ms >= trip[4]:
        return arch.home
    return trip[0] if trip[2] <= t_ms < trip[3] else None
