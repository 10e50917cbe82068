"""The synthetic bank's population: customers, their devices, merchants and ATMs.

Everything is built once, up front, from one seed, so that generating an event costs a few
random draws and list look-ups and never a Faker call. Faker (seeded, ``en_CA``) supplies the
merchant and customer names and the merchant identifiers; cities come from fixed tables of real
places (Faker's cities are invented, and a province code must match its city), weighted by
population so Toronto sees more traffic than Iqaluit.

Example::

    from txn_producer.population import build_population
    pop = build_population(customers=1_000, seed=7)
    pop.customers[0].home.name, pop.customers[0].devices
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field

from txn_contract import Channel

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


@dataclass(frozen=True, slots=True)
class Device:
    """A card, phone or browser a customer pays with; ``kind`` is CARD, MOBILE or WEB."""

    index: int
    device_id: str
    kind: str


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


@dataclass(slots=True)
class Customer:
    """A customer with a home city, one to three devices, channel preferences and a spend
    profile. Probabilities are per event."""

    index: int
    customer_id: str
    name: str
    segment: str
    home: City
    devices: tuple[Device, ...]
    # Probability of each channel for this customer, in (POS, ATM, ECOM) order.
    channel_mix: tuple[float, float, float]
    # Multiplier on category ticket sizes (students spend less, affluent customers more).
    spend: float
    atm_limit_cad: int
    # Card-present events abroad, in another Canadian city, and ECOM at foreign shops.
    p_abroad: float
    p_away: float
    p_foreign_ecom: float
    # Relative number of events (a few customers transact much more than most).
    activity: float
    key: bytes = field(default=b"", repr=False)

    @property
    def preferred_channels(self) -> tuple[Channel, ...]:
        """Channels from most to least used by this customer."""
        order = sorted(
            zip(self.channel_mix, (Channel.POS, Channel.ATM, Channel.ECOM), strict=True),
            key=lambda pair: -pair[0],
        )
        return tuple(ch for _, ch in order)


@dataclass
class Population:
    """Everything events are drawn from, with the look-up lists the generator needs."""

    seed: int
    customers: list[Customer]
    merchants: list[Merchant]
    devices: list[Device]
    # Merchants by place: card-present pools per city, online shops split home/abroad.
    pos_by_city: dict[City, list[Merchant]]
    atm_by_city: dict[City, list[Merchant]]
    ecom_domestic: list[Merchant]
    ecom_foreign: list[Merchant]

    def describe(self) -> str:
        """One line for logs: the sizes of the pools."""
        return (
            f"{len(self.customers):,} customers, {len(self.devices):,} devices, "
            f"{len(self.merchants):,} merchants "
            f"({sum(map(len, self.pos_by_city.values())):,} stores, "
            f"{sum(map(len, self.atm_by_city.values())):,} ATMs, "
            f"{len(self.ecom_domestic) + len(self.ecom_foreign):,} online shops) "
            f"in {len(self.pos_by_city)} cities"
        )


_SEGMENTS = (
    # name, share, spend multiplier, ATM limits to choose from, channel base weights.
    ("student", 0.15, 0.6, (200, 300, 500), (0.55, 0.10, 0.35)),
    ("standard", 0.65, 1.0, (500, 600, 800), (0.62, 0.10, 0.28)),
    ("affluent", 0.20, 1.8, (800, 1000), (0.58, 0.05, 0.37)),
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
    """Build the population for ``customers`` customers, deterministically from ``seed``.

    Merchant and ATM counts scale with the number of customers (within bounds), spread over
    cities by population. Takes about a second for 10,000 customers.
    """
    if customers < 1:
        raise ValueError("a population needs at least one customer")
    build = _Build(customers, seed)
    pos_by_city, atm_by_city, ecom_domestic, ecom_foreign = build.merchant_pools(customers)
    devices: list[Device] = []
    numbers = build.rng.sample(range(10**9), customers)
    people = [build.customer(i, numbers[i], devices) for i in range(customers)]
    return Population(
        seed=seed,
        customers=people,
        merchants=build.merchants,
        devices=devices,
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
        self.first_names = [fake.first_name() for _ in range(min(customers, 400))]
        self.last_names = [fake.last_name() for _ in range(min(customers, 400))]
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

    def customer(self, i: int, number: int, devices: list[Device]) -> Customer:
        """Customer ``i``, whose devices are appended to ``devices``."""
        rng = self.rng
        seg_name, _share, spend, limits, base_mix = _weighted(
            rng, _SEGMENTS, [s[1] for s in _SEGMENTS]
        )
        kinds = ["CARD"]
        if rng.random() < 0.75:
            kinds.append("MOBILE")
        if rng.random() < 0.40:
            kinds.append("WEB")
        own = []
        for kind in kinds:
            d = Device(len(devices), f"{kind.lower()}-{rng.getrandbits(48):012x}", kind)
            devices.append(d)
            own.append(d)
        # Each customer leans their own way: a gamma factor per channel, then normalised.
        raw = [w * rng.gammavariate(2.0, 0.5) for w in base_mix]
        total = sum(raw)
        mix = (raw[0] / total, raw[1] / total, raw[2] / total)
        traveller = rng.random() < 0.25
        customer_id = f"C{number:09d}"
        return Customer(
            index=i,
            customer_id=customer_id,
            name=f"{rng.choice(self.first_names)} {rng.choice(self.last_names)}",
            segment=seg_name,
            home=_weighted(rng, CANADIAN_CITIES, _HOME_WEIGHTS),
            devices=tuple(own),
            channel_mix=mix,
            spend=spend * math.exp(rng.gauss(0.0, 0.3)),
            atm_limit_cad=rng.choice(limits),
            p_abroad=rng.uniform(0.02, 0.12) if traveller else 0.003,
            p_away=rng.uniform(0.01, 0.08),
            p_foreign_ecom=rng.uniform(0.05, 0.35),
            activity=math.exp(rng.gauss(0.0, 1.0)),
            key=customer_id.encode("utf-8"),
        )


_HOME_WEIGHTS = [c.weight for c in CANADIAN_CITIES]
