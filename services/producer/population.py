"""The synthetic bank's population: customers, their devices, merchants and ATMs.

Merchants are built once, up front, from one seed; customers are derived from (seed, index) on
first use (:mod:`.customers`), so a bank of tens of millions costs nothing until they pay, and
generating an event costs a few random draws and list look-ups, never a Faker call. Faker
(seeded, ``en_CA``) supplies the merchant names and identifiers and the pools customers' names
are drawn from; cities come from fixed tables of real places (Faker's cities are invented, and a
province code must match its city), weighted by population so Toronto sees more traffic than
Whitehorse.

Example::

    from txn_producer.population import build_population
    pop = build_population(customers=1_000, seed=7)
    pop.customers[0].home.name, pop.customers[0].devices
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from txn_contract import Channel

from .customers import Customer, CustomerBook, Device, build_archetypes
from .places import (
    ATM_AMOUNTS_CAD,
    CANADIAN_CITIES,
    CATEGORIES,
    FOREIGN_CITIES,
    FOREIGN_ECOM_SEATS,
    FX_PER_CAD,
    Category,
    City,
)

__all__ = [
    "ATM_AMOUNTS_CAD",
    "CANADIAN_CITIES",
    "CATEGORIES",
    "FOREIGN_CITIES",
    "FX_PER_CAD",
    "Category",
    "City",
    "Customer",
    "Device",
    "Merchant",
    "Population",
    "build_population",
]


@dataclass(slots=True)
class Merchant:
    """A shop, online shop or ATM, with its place, currency and category."""

    index: int
    merchant_id: str
    name: str
    channel: Channel
    category: Category
    city: City
    # None when the acquirer does not send an MCC (a small share, mostly abroad).
    mcc: str | None
    # The ISO 3166-2 code reported in events; None when not known.
    province: str | None

    @property
    def currency(self) -> str:
        return self.city.currency

    @property
    def country(self) -> str:
        return self.city.country

    @property
    def foreign(self) -> bool:
        return self.city.country != "CA"


class _LazyRows(Sequence):
    """A read-only sequence computed on access: ``rows[i] == get(i)`` for ``i < length``."""

    def __init__(self, length: int, get: Callable[[int], Any]) -> None:
        self._length, self._get = length, get

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._get(k) for k in range(*i.indices(self._length))]
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError(i)
        return self._get(i)


@dataclass
class Population:
    """Everything events are drawn from: the customers (derived lazily, :attr:`book`), the
    merchants, and the look-up lists the generator needs."""

    seed: int
    book: CustomerBook
    merchants: list[Merchant]
    # Merchants by place: card-present pools per city, online shops split home/abroad.
    pos_by_city: dict[City, list[Merchant]]
    atm_by_city: dict[City, list[Merchant]]
    ecom_domestic: list[Merchant]
    ecom_foreign: list[Merchant]

    @property
    def size(self) -> int:
        """Customers of the clean stream (indexes ``0 .. size-1``)."""
        return self.book.size

    def customer(self, index: int) -> Customer:
        """Customer ``index``, derived from the seed on first use."""
        return self.book.customer(index)

    @property
    def customers(self) -> Sequence[Customer]:
        """The clean stream's customers as a lazy sequence (nothing is built until read)."""
        return _LazyRows(self.size, self.book.customer)

    @property
    def devices(self) -> Sequence[Device]:
        """Every device slot by :attr:`Device.index` (``3 * customer + slot``), lazily; a slot
        the customer does not use reads as their card."""
        return _LazyRows(3 * self.size, self._device)

    def _device(self, index: int) -> Device:
        c = self.book.customer(index // 3)
        return next((d for d in c.devices if d.index == index), c.devices[0])

    def describe(self) -> str:
        """One line for logs: the sizes of the pools."""
        return (
            f"{self.size:,} customers (derived on first use), "
            f"{len(self.merchants):,} merchants "
            f"({sum(map(len, self.pos_by_city.values())):,} stores, "
            f"{sum(map(len, self.atm_by_city.values())):,} ATMs, "
            f"{len(self.ecom_domestic) + len(self.ecom_foreign):,} online shops) "
            f"in {len(self.pos_by_city)} cities"
        )


def _weighted(rng: random.Random, items, weights):
    return rng.choices(items, weights=weights, k=1)[0]


def _spread(total: int, cities: tuple[City, ...], minimum: int) -> list[int]:
    """Split ``total`` over cities by weight, at least ``minimum`` each."""
    weight_sum = sum(c.weight for c in cities)
    return [max(minimum, round(total * c.weight / weight_sum)) for c in cities]


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


class _Ids:
    """Unique identifiers from Faker patterns (``#`` = digit), retried on the rare clash."""

    def __init__(self, fake) -> None:
        self._fake = fake
        self._seen: set[str] = set()

    def make(self, pattern: str) -> str:
        while True:
            candidate = self._fake.numerify(pattern)
            if candidate not in self._seen:
                self._seen.add(candidate)
                return candidate


@functools.cache
def _faker():
    """One Faker per process (creating one costs ~0.2 s); each build re-seeds it."""
    from faker import Faker

    return Faker("en_CA")


def build_population(customers: int, seed: int) -> Population:
    """The population of ``customers`` customers, deterministically from ``seed``.

    Merchants, ATMs and the spending archetypes are built now (merchant counts scale with the
    customers, within bounds, spread over cities by population: about a second); customers are
    derived from (seed, index) when first used, so ``customers`` may be tens of millions.
    """
    if customers < 1:
        raise ValueError("a population needs at least one customer")
    build = _Build(customers, seed)
    pos_by_city, atm_by_city, ecom_domestic, ecom_foreign = build.merchant_pools(customers)
    book = CustomerBook(
        seed, customers, build_archetypes(seed), build.first_names, build.last_names
    )
    return Population(
        seed=seed,
        book=book,
        merchants=build.merchants,
        pos_by_city=pos_by_city,
        atm_by_city=atm_by_city,
        ecom_domestic=ecom_domestic,
        ecom_foreign=ecom_foreign,
    )


_BANKS = ("Maple Bank", "Northern Trust Co-op", "Prairie Credit Union", "Harbour Bank")
_POS_CATEGORIES = [c for c in CATEGORIES if c.channel is Channel.POS]
_ECOM_CATEGORIES = [c for c in CATEGORIES if c.channel is Channel.ECOM]
_ATM_CATEGORY = next(c for c in CATEGORIES if c.channel is Channel.ATM)


class _Build:
    """One build: the seeded RNG and Faker, Faker's name pools, the merchants made so far.

    The order of the draws is the build's contract: the same seed gives the same population.
    """

    def __init__(self, customers: int, seed: int) -> None:
        self.rng = random.Random(f"txn-population:{seed}")
        fake = _faker()
        # Re-seeding resets Faker's RNG, so a build depends on the seed alone.
        fake.seed_instance(seed)
        self.ids = _Ids(fake)
        # Faker is slow (~0.1 ms a name): draw pools of names once and combine them.
        self.first_names = [fake.first_name() for _ in range(400)]
        self.last_names = [fake.last_name() for _ in range(400)]
        self.companies = [fake.company() for _ in range(300)]
        self.merchants: list[Merchant] = []

    def merchant_pools(self, customers: int):
        """(stores by city, ATMs by city, domestic online shops, foreign online shops)."""
        n_pos = _clamp(customers // 4, 300, 30_000)
        n_atm = _clamp(customers // 40, 40, 4_000)
        n_pos_abroad = _clamp(customers // 50, 60, 2_000)
        pos_by_city: dict[City, list[Merchant]] = {}
        atm_by_city: dict[City, list[Merchant]] = {}
        for city, n in zip(CANADIAN_CITIES, _spread(n_pos, CANADIAN_CITIES, 3), strict=True):
            pos_by_city[city] = self.stores(city, n)
        for city, n in zip(CANADIAN_CITIES, _spread(n_atm, CANADIAN_CITIES, 1), strict=True):
            atm_by_city[city] = self.atms(city, n)
        for city, n in zip(FOREIGN_CITIES, _spread(n_pos_abroad, FOREIGN_CITIES, 2), strict=True):
            pos_by_city[city] = self.stores(city, n)
            atm_by_city[city] = self.atms(city, max(1, n // 10))
        big_cities = tuple(c for c in CANADIAN_CITIES if c.weight >= 4.0)
        ecom_domestic = self.shops(big_cities, _clamp(customers // 50, 40, 2_000))
        ecom_foreign = self.shops(FOREIGN_ECOM_SEATS, _clamp(customers // 100, 20, 1_000))
        return pos_by_city, atm_by_city, ecom_domestic, ecom_foreign

    def add_merchant(
        self, channel: Channel, category: Category, city: City, merchant_id: str, name: str
    ) -> Merchant:
        # Acquirers abroad more often leave the MCC out; domestic ones rarely do.
        missing_mcc = self.rng.random() < (0.08 if city.country != "CA" else 0.01)
        m = Merchant(
            index=len(self.merchants),
            merchant_id=merchant_id,
            name=name,
            channel=channel,
            category=category,
            city=city,
            mcc=None if missing_mcc else category.mcc,
            province=city.province,
        )
        self.merchants.append(m)
        return m

    def stores(self, city: City, n: int) -> list[Merchant]:
        rng, out = self.rng, []
        for _ in range(n):
            cat = _weighted(rng, _POS_CATEGORIES, [c.weight for c in _POS_CATEGORIES])
            # Chains: the same company name shows up in many cities with a store number.
            name = f"{rng.choice(self.companies)} #{rng.randint(1, 999)}"
            out.append(
                self.add_merchant(Channel.POS, cat, city, self.ids.make("MID#########"), name)
            )
        # Popular stores first: the generator picks early entries more often.
        rng.shuffle(out)
        return out

    def atms(self, city: City, n: int) -> list[Merchant]:
        code = (city.province or city.country).replace("-", "")
        return [
            self.add_merchant(
                Channel.ATM,
                _ATM_CATEGORY,
                city,
                self.ids.make(f"ATM{code}#####"),
                f"{self.rng.choice(_BANKS)} ATM",
            )
            for _ in range(n)
        ]

    def shops(self, seats: tuple[City, ...], n: int) -> list[Merchant]:
        rng, out = self.rng, []
        for _ in range(n):
            seat = _weighted(rng, seats, [c.weight for c in seats])
            cat = _weighted(rng, _ECOM_CATEGORIES, [c.weight for c in _ECOM_CATEGORIES])
            name = f"{rng.choice(self.companies)} Online"
            out.append(
                self.add_merchant(Channel.ECOM, cat, seat, self.ids.make("ECM#########"), name)
            )
        return out
