"""Customers derived lazily from the seed: customer ``i`` is a pure function of (seed, ``i``).

A bank that takes 3,000 transactions a second from cardholders who pay a few times a day has
tens of millions of customers; building them all up front would take minutes and gigabytes. So
nothing is built per customer until the customer pays: :meth:`CustomerBook.customer`
derives customer ``i`` from a cheap 64-bit integer mix of (seed, ``i``), on every event when
the population is too large to cache.

Derivation must cost about a microsecond (the producer may lose at most 10% of its full-speed
rate to realism), so a :class:`Customer` holds only its id and hash; the rest is read off the
hash when asked for: one of :data:`ARCHETYPES` spending profiles (segment, home city, channel
mix, spend, ATM limit, travel habits, built once per seed), a name, and which devices they
have (a device is built only when it pays, :func:`device_of`). Which customers pay at a given hour is decided
by their :class:`Persona` (``i % 20``): how many transactions a day, and at which hours.

Example::

    book = CustomerBook(seed=7, size=1_000_000, pools=...)
    book.customer(123_456).customer_id
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np

from .places import CANADIAN_CITIES, City

__all__ = [
    "ARCHETYPES",
    "DEVICE_KINDS",
    "DEVICE_PREFIX",
    "MEAN_DAILY",
    "PERSONAS",
    "SLOTS",
    "SLOT_PERSONA",
    "Archetype",
    "Customer",
    "CustomerBook",
    "Device",
    "Persona",
    "avro_string",
    "build_archetypes",
    "customers_for_rate",
    "device_of",
    "mix64",
]

_MASK = (1 << 64) - 1
ARCHETYPES = 4096
# A population up to this size is cached as it is derived (derivation is pure, so only speed
# depends on it; ~250 bytes a customer); a larger one is derived on every event.
_CACHE = 250_000


def avro_string(text: str) -> bytes:
    """``text`` encoded as an Avro string: its UTF-8 length as a zigzag varint, then UTF-8."""
    data = text.encode("utf-8")
    n, out = len(data) << 1, bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + data


def mix64(x: int) -> int:
    """SplitMix64's finaliser: a 64-bit hash of ``x`` whose bits look independent."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@dataclass(frozen=True, slots=True)
class Persona:
    """When and how often a customer pays: ``slots`` of the 20 index classes (``i % 20``),
    ``daily`` transactions a day on average, ``hours`` the relative weight of each local hour."""

    name: str
    slots: int
    daily: float
    hours: tuple[float, ...]


def _shape(peaks: dict[range, float], base: float = 0.15) -> tuple[float, ...]:
    raw = [base + sum(w for r, w in peaks.items() if h in r) for h in range(24)]
    mean = sum(raw) / 24
    return tuple(w / mean for w in raw)


# Real cardholders pay a few times a day (Canadian debit + credit: ~3/day per active card
# holder); who pays shifts through the day. Local time is Eastern (UTC-5) for everyone.
PERSONAS: tuple[Persona, ...] = (
    Persona("daytime", 9, 3.0, _shape({range(7, 20): 1.0, range(11, 14): 0.8, range(17, 19): 0.8})),
    Persona("evening", 6, 4.0, _shape({range(15, 24): 1.0, range(18, 22): 0.7})),
    Persona("night shift", 2, 3.0, _shape({range(0, 7): 1.0, range(21, 24): 1.0})),
    Persona("occasional", 2, 1.0, _shape({range(9, 18): 1.0})),
    Persona("busy", 1, 8.0, _shape({range(8, 21): 1.0})),
)
SLOTS = sum(p.slots for p in PERSONAS)
# The persona of index class s (i % SLOTS).
SLOT_PERSONA: tuple[Persona, ...] = tuple(p for p in PERSONAS for _ in range(p.slots))
MEAN_DAILY = sum(p.slots * p.daily for p in PERSONAS) / SLOTS


def customers_for_rate(rate: float) -> int:
    """The population whose cardholders, paying :data:`MEAN_DAILY` times a day, make ``rate``
    transactions a second (at least one customer per index class)."""
    return max(SLOTS, math.ceil(rate * 86_400 / MEAN_DAILY))


@dataclass(frozen=True, slots=True)
class Archetype:
    """A spending profile many customers share: segment, home, channel mix (POS, ATM, ECOM),
    spend multiplier, ATM limit, trips a year abroad and to other Canadian cities, and the
    share of ECOM at foreign shops."""

    index: int
    segment: str
    home: City
    channel_mix: tuple[float, float, float]
    spend: float
    atm_limit_cad: int
    trips_abroad: float
    trips_away: float
    p_foreign_ecom: float


# Device slots: the kind, and the Avro string prefix of its id (the zigzag length, then
# "<kind>-"): ids are "<kind>-" + 10 digits, so the length is fixed per kind.
DEVICE_KINDS = ("CARD", "MOBILE", "WEB")
DEVICE_PREFIX = tuple(avro_string(f"{k.lower()}-{0:010d}")[:-10] for k in DEVICE_KINDS)
_M32 = (1 << 32) - 1
_M32_U = np.uint64(_M32)
_new = tuple.__new__
# Bits (8 of the customer's hash each) below these: the customer has a phone (75%), a browser
# (40%).
PHONE_BELOW, WEB_BELOW = 192, 102
# Odd 32-bit multipliers (Knuth's, and MurmurHash3's finaliser): cheap small-int mixing.
_K1, _K2 = 0x9E3779B1, 0x85EBCA6B


class Device(NamedTuple):
    """A card, phone or browser a customer pays with; ``kind`` is CARD, MOBILE or WEB.
    ``index`` is ``3 * customer index + slot`` (unique in the bank); ``avro_id`` is the id as
    an Avro string (length, then UTF-8), what the encoder joins.

    A tuple (built with ``tuple.__new__`` on the hot path: a device is made per event)."""

    avro_id: bytes
    index: int
    kind: str

    @property
    def device_id(self) -> str:
        """The id, e.g. ``card-0412958837``."""
        return self.avro_id[1:].decode("ascii")

    def __repr__(self) -> str:
        return f"Device({self.index}, {self.device_id!r}, {self.kind!r})"


def device_of(index: int, book: CustomerBook, slot: int) -> Device:
    """Device ``slot`` (0 card, 1 phone, 2 browser) of customer ``index``: ``<kind>-`` and 10
    digits, an affine bijection of ``3 * index + slot`` modulo 10^10 (so no two devices share
    an id), written with two table look-ups rather than formatted."""
    number = (book.device_mult * (3 * index + slot) + book.device_add) % 10_000_000_000
    digits = book.digits5
    avro_id = DEVICE_PREFIX[slot] + digits[number // 100_000] + digits[number % 100_000]
    return _new(Device, (avro_id, 3 * index + slot, DEVICE_KINDS[slot]))


class Customer(NamedTuple):
    """A customer, derived from (seed, ``index``) by :class:`CustomerBook`: the Kafka key
    (``customer_id`` in UTF-8), the id as an Avro string, a 64-bit hash the rest follows from
    (archetype, name, which devices), and their :class:`Persona` (``index % 20``).

    Only what every event needs is computed when the customer is made (a tuple, built with
    ``tuple.__new__``: a customer is made per event); the rest (name, devices, home...) is
    computed when read. Two customers are equal when their index, hash and id are.
    """

    key: bytes
    avro_id: bytes
    index: int
    h: int
    book: CustomerBook

    # Bits of the 32-bit ``h``: archetype (top 12), phone (8 below), browser (8 below).
    @property
    def archetype(self) -> Archetype:
        """The customer's spending profile."""
        return self.book.archetypes[self.h >> 20]

    @property
    def has_phone(self) -> bool:
        """75% pay with a phone too."""
        return (self.h >> 12) & 0xFF < PHONE_BELOW

    @property
    def has_web(self) -> bool:
        """40% shop from a browser."""
        return (self.h >> 4) & 0xFF < WEB_BELOW

    @property
    def customer_id(self) -> str:
        """``C`` and 9 digits."""
        return self.key.decode("ascii")

    @property
    def name(self) -> str:
        """A name from the population's pools (Faker's, drawn once)."""
        first, last = self.book.first_names, self.book.last_names
        return (
            f"{first[(self.h & 0xFFFF) % len(first)]} {last[(self.h >> 16 & 0xFFFF) % len(last)]}"
        )

    @property
    def persona(self) -> Persona:
        """When and how often the customer pays."""
        return SLOT_PERSONA[self.index % SLOTS]

    def device(self, slot: int) -> Device:
        """Device ``slot`` (0 card, 1 phone, 2 browser), whether or not the customer has it."""
        return device_of(self.index, self.book, slot)

    @property
    def devices(self) -> tuple[Device, ...]:
        """The card, then the phone and browser the customer has."""
        slots = (0, *((1,) if self.has_phone else ()), *((2,) if self.has_web else ()))
        return tuple(self.device(s) for s in slots)

    @property
    def card(self) -> tuple[Device, ...]:
        """Devices for an ATM: the card."""
        return (self.device(0),)

    @property
    def wallet(self) -> tuple[Device, ...]:
        """Devices for a store: the card, or the phone."""
        return tuple(d for d in self.devices if d.kind != "WEB")

    @property
    def online(self) -> tuple[Device, ...]:
        """Devices for online shops: phone or browser (the card if neither)."""
        return tuple(d for d in self.devices if d.kind != "CARD") or self.card

    segment = property(lambda self: self.archetype.segment)
    home = property(lambda self: self.archetype.home)
    channel_mix = property(lambda self: self.archetype.channel_mix)
    spend = property(lambda self: self.archetype.spend)
    atm_limit_cad = property(lambda self: self.archetype.atm_limit_cad)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Customer) and self[:4] == other[:4]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Customer({self.index}, {self.customer_id!r}, {self.segment!r}, {self.home.name})"


_SEGMENTS = (
    # name, share, spend multiplier, ATM limits, channel base weights (POS, ATM, ECOM).
    ("student", 0.15, 0.6, (200, 300, 500), (0.55, 0.10, 0.35)),
    ("standard", 0.65, 1.0, (500, 600, 800), (0.62, 0.10, 0.28)),
    ("affluent", 0.20, 1.8, (800, 1000), (0.58, 0.05, 0.37)),
)
_HOME_WEIGHTS = [c.weight for c in CANADIAN_CITIES]


def build_archetypes(seed: int) -> list[Archetype]:
    """:data:`ARCHETYPES` spending profiles, deterministically from ``seed``."""
    rng = random.Random(f"txn-archetypes:{seed}")
    out = []
    for a in range(ARCHETYPES):
        seg, _share, spend, limits, base = rng.choices(_SEGMENTS, [s[1] for s in _SEGMENTS])[0]
        # Each profile leans its own way: a gamma factor per channel, then normalised.
        raw = [w * rng.gammavariate(2.0, 0.5) for w in base]
        total = sum(raw)
        traveller = rng.random() < 0.25
        out.append(
            Archetype(
                index=a,
                segment=seg,
                home=rng.choices(CANADIAN_CITIES, _HOME_WEIGHTS)[0],
                channel_mix=(raw[0] / total, raw[1] / total, raw[2] / total),
                spend=spend * math.exp(rng.gauss(0.0, 0.3)),
                atm_limit_cad=rng.choice(limits),
                trips_abroad=rng.uniform(1.0, 4.0) if traveller else 0.0,
                trips_away=rng.uniform(0.5, 4.0),
                p_foreign_ecom=rng.uniform(0.05, 0.35),
            )
        )
    return out


class CustomerBook:
    """Customers ``0 .. size-1`` (and the reserve above them, for injected scenarios), each
    derived from (seed, index) when asked for; a population small enough is also cached.

    ``first_names`` and ``last_names`` are name pools (drawn once, with Faker, by the
    population); ``archetypes`` from :func:`build_archetypes`.
    """

    def __init__(
        self,
        seed: int,
        size: int,
        archetypes: list[Archetype],
        first_names: list[str],
        last_names: list[str],
    ) -> None:
        self.seed = seed
        self.size = size
        self._salt = mix64(seed ^ 0xC057_0E55)
        self._salt32 = self._salt & _M32
        # customer_id = C + a 9-digit number, an affine bijection of the index modulo 10^9:
        # unique without remembering which numbers were given out.
        r = random.Random(f"txn-customer-ids:{seed}")
        mult = r.randrange(10**8, 10**9) | 1
        while mult % 5 == 0:
            mult += 2
        self._mult, self._add = mult, r.randrange(10**9)
        # Device ids likewise, modulo 10^10.
        self.device_mult = r.randrange(10**9, 10**10) | 1
        while self.device_mult % 5 == 0:
            self.device_mult += 2
        self.device_add = r.randrange(10**10)
        self.archetypes = archetypes
        self.first_names, self.last_names = first_names, last_names
        self.c4, self.digits5 = _digits()
        self._cache: dict[int, Customer] = {}
        # What the hot loop calls: a cached look-up when every customer fits in the cache,
        # else derivation itself (a cache of tens of millions of customers would almost never
        # hit, and derivation costs about what a cache insertion does).
        self.lookup = self._cached if size <= _CACHE else self.derive

    def customer(self, index: int) -> Customer:
        """Customer ``index`` (any index below 10^9; those at or above ``size`` are the
        reserve no clean traffic uses)."""
        if not 0 <= index < 10**9:
            raise IndexError(f"customer index {index} is outside 0..10^9")
        return self.lookup(index)

    def _cached(self, index: int) -> Customer:
        c = self._cache.get(index)
        if c is None:
            c = self._cache[index] = self.derive(index)
        return c

    def derive(self, index: int) -> Customer:
        """Customer ``index`` computed afresh: a 32-bit multiply-xorshift hash of (salt,
        index), and the id (no cryptographic hash: it only has to look random and be cheap)."""
        x = ((index ^ self._salt32) * _K1) & _M32
        x = ((x ^ x >> 16) * _K2) & _M32
        number = (self._mult * index + self._add) % 1_000_000_000
        key = self.c4[number // 100_000] + self.digits5[number % 100_000]
        return _new(Customer, (key, b"\x14" + key, index, x ^ x >> 13, self))

    def hashes(self, index: np.ndarray) -> np.ndarray:
        """:meth:`derive`'s 32-bit hashes of a whole array of indexes (uint64), in numpy: the
        same multiply-xorshift rounds, whose low 32 bits survive uint64 wrap-around."""
        x = ((index.astype(np.uint64) ^ np.uint64(self._salt32)) * np.uint64(_K1)) & _M32_U
        x = ((x ^ (x >> np.uint64(16))) * np.uint64(_K2)) & _M32_U
        return x ^ (x >> np.uint64(13))

    def id_numbers(self, index: np.ndarray) -> np.ndarray:
        """The 9-digit customer id numbers of an array of indexes (int64, as :meth:`derive`)."""
        return (self._mult * index.astype(np.int64) + self._add) % 1_000_000_000

    def device_numbers(self, device_index: np.ndarray) -> np.ndarray:
        """The 10-digit numbers of devices ``3 * customer + slot`` (int64, as
        :func:`device_of`): the product is taken modulo 10^10 in two halves of the index, so
        no intermediate leaves int64."""
        d = device_index.astype(np.int64)
        m, ten10 = self.device_mult, 10_000_000_000
        hi = (m * (d // 100_000)) % ten10 * 100_000
        return (hi + m * (d % 100_000) + self.device_add) % ten10


@cache
def _digits() -> tuple[list[bytes], list[bytes]]:
    """By value: ``C`` and 4 digits, and 5 digits. An id is two look-ups and a concatenation,
    cheaper than formatting it."""
    return [b"C%04d" % i for i in range(10_000)], [b"%05d" % i for i in range(100_000)]
