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
class City:
    """A real place: name, ISO 3166-2 subdivision (or None when we do not report one),
    ISO 3166-1 country, local currency and a population weight."""

    name: str
    province: str | None
    country: str
    currency: str
    weight: float


# Census metropolitan areas and a few towns, weights ~ population in 100k (2021 census, rounded).
CANADIAN_CITIES: tuple[City, ...] = tuple(
    City(name, prov, "CA", "CAD", w)
    for name, prov, w in (
        ("Toronto", "CA-ON", 62.0),
        ("Montréal", "CA-QC", 43.0),
        ("Vancouver", "CA-BC", 27.0),
        ("Calgary", "CA-AB", 16.0),
        ("Edmonton", "CA-AB", 15.0),
        ("Ottawa", "CA-ON", 11.0),
        ("Winnipeg", "CA-MB", 8.5),
        ("Québec", "CA-QC", 8.4),
        ("Hamilton", "CA-ON", 7.9),
        ("Kitchener", "CA-ON", 5.8),
        ("London", "CA-ON", 5.4),
        ("Halifax", "CA-NS", 4.7),
        ("Laval", "CA-QC", 4.4),
        ("St. Catharines", "CA-ON", 4.3),
        ("Oshawa", "CA-ON", 4.2),
        ("Windsor", "CA-ON", 4.2),
        ("Victoria", "CA-BC", 4.0),
        ("Gatineau", "CA-QC", 3.5),
        ("Saskatoon", "CA-SK", 3.4),
        ("Regina", "CA-SK", 2.6),
        ("Sherbrooke", "CA-QC", 2.3),
        ("Kelowna", "CA-BC", 2.2),
        ("St. John's", "CA-NL", 2.1),
        ("Barrie", "CA-ON", 2.1),
        ("Greater Sudbury", "CA-ON", 1.7),
        ("Moncton", "CA-NB", 1.6),
        ("Trois-Rivières", "CA-QC", 1.6),
        ("Saint John", "CA-NB", 1.3),
        ("Thunder Bay", "CA-ON", 1.2),
        ("Lethbridge", "CA-AB", 1.2),
        ("Nanaimo", "CA-BC", 1.1),
        ("Kamloops", "CA-BC", 1.1),
        ("Fredericton", "CA-NB", 1.1),
        ("Charlottetown", "CA-PE", 0.8),
        ("Whitehorse", "CA-YT", 0.3),
        ("Yellowknife", "CA-NT", 0.2),
        ("Iqaluit", "CA-NU", 0.08),
    )
)

# Where Canadians' cards are used abroad; weights ~ share of cross-border card-present spend.
FOREIGN_CITIES: tuple[City, ...] = (
    City("New York", "US-NY", "US", "USD", 10.0),
    City("Buffalo", "US-NY", "US", "USD", 6.0),
    City("Plattsburgh", "US-NY", "US", "USD", 3.0),
    City("Seattle", "US-WA", "US", "USD", 6.0),
    City("Bellingham", "US-WA", "US", "USD", 4.0),
    City("Burlington", "US-VT", "US", "USD", 2.0),
    City("Detroit", "US-MI", "US", "USD", 3.0),
    City("Boston", "US-MA", "US", "USD", 3.0),
    City("Chicago", "US-IL", "US", "USD", 3.0),
    City("Orlando", "US-FL", "US", "USD", 6.0),
    City("Fort Lauderdale", "US-FL", "US", "USD", 5.0),
    City("Phoenix", "US-AZ", "US", "USD", 4.0),
    City("Palm Springs", "US-CA", "US", "USD", 2.0),
    City("Los Angeles", "US-CA", "US", "USD", 4.0),
    City("Las Vegas", "US-NV", "US", "USD", 5.0),
    City("Honolulu", "US-HI", "US", "USD", 2.0),
    City("Cancún", "MX-ROO", "MX", "MXN", 5.0),
    City("Puerto Vallarta", "MX-JAL", "MX", "MXN", 2.0),
    City("Ciudad de México", "MX-CMX", "MX", "MXN", 1.5),
    City("London", "GB-LND", "GB", "GBP", 3.0),
    City("Paris", "FR-IDF", "FR", "EUR", 3.0),
    City("Dublin", None, "IE", "EUR", 1.0),
)

# Online shops' registered seats abroad (city, subdivision, country, currency).
_FOREIGN_ECOM_SEATS: tuple[City, ...] = (
    City("Seattle", "US-WA", "US", "USD", 5.0),
    City("San Francisco", "US-CA", "US", "USD", 4.0),
    City("New York", "US-NY", "US", "USD", 3.0),
    City("Dublin", None, "IE", "EUR", 2.0),
    City("Luxembourg", None, "LU", "EUR", 1.0),
    City("London", "GB-LND", "GB", "GBP", 1.5),
)

# Units of each currency per Canadian dollar (rounded mid-market rates; only shapes amounts).
FX_PER_CAD: dict[str, float] = {"CAD": 1.0, "USD": 0.73, "EUR": 0.68, "GBP": 0.58, "MXN": 12.8}


@dataclass(frozen=True, slots=True)
class Category:
    """A merchant category: ISO 18245 MCC, channel, share of that channel's merchants, and the
    log-normal ticket size in CAD (median, sigma)."""

    mcc: str
    label: str
    channel: Channel
    weight: float
    median_cad: float
    sigma: float


CATEGORIES: tuple[Category, ...] = (
    # Card present: small tickets, moderate spread.
    Category("5411", "Grocery stores, supermarkets", Channel.POS, 22, 48.0, 0.75),
    Category("5814", "Fast food restaurants", Channel.POS, 14, 12.0, 0.50),
    Category("5812", "Eating places, restaurants", Channel.POS, 12, 42.0, 0.60),
    Category("5541", "Service stations", Channel.POS, 10, 55.0, 0.45),
    Category("5499", "Convenience and specialty food", Channel.POS, 8, 9.0, 0.60),
    Category("5912", "Drug stores, pharmacies", Channel.POS, 7, 25.0, 0.70),
    Category("5311", "Department stores", Channel.POS, 5, 70.0, 0.80),
    Category("5651", "Family clothing stores", Channel.POS, 5, 65.0, 0.70),
    Category("5200", "Home supply warehouse stores", Channel.POS, 4, 85.0, 0.90),
    Category("5732", "Electronics stores", Channel.POS, 3, 150.0, 1.00),
    Category("4121", "Taxicabs and limousines", Channel.POS, 3, 22.0, 0.50),
    Category("7832", "Motion picture theatres", Channel.POS, 2, 28.0, 0.40),
    Category("5942", "Book stores", Channel.POS, 2, 30.0, 0.60),
    # Card not present: wider spread and a long tail (travel, electronics).
    Category("5399", "General merchandise (marketplaces)", Channel.ECOM, 30, 45.0, 1.10),
    Category("5814", "Food delivery", Channel.ECOM, 13, 35.0, 0.50),
    Category("4899", "Streaming and subscriptions", Channel.ECOM, 12, 17.0, 0.40),
    Category("5818", "Digital goods", Channel.ECOM, 12, 9.0, 0.80),
    Category("5651", "Clothing (online)", Channel.ECOM, 10, 80.0, 0.80),
    Category("5732", "Electronics (online)", Channel.ECOM, 8, 180.0, 1.10),
    Category("4511", "Airlines", Channel.ECOM, 5, 450.0, 0.80),
    Category("7011", "Hotels and lodging", Channel.ECOM, 5, 280.0, 0.70),
    Category("4722", "Travel agencies", Channel.ECOM, 5, 600.0, 0.90),
    # Cash.
    Category("6011", "Automated cash disbursements", Channel.ATM, 1, 100.0, 0.0),
)

# Typical withdrawal amounts in CAD and how often people pick them.
ATM_AMOUNTS_CAD: tuple[tuple[int, float], ...] = (
    (20, 10),
    (40, 14),
    (60, 12),
    (80, 8),
    (100, 16),
    (120, 5),
    (140, 3),
    (160, 3),
    (200, 12),
    (240, 2),
    (300, 5),
    (400, 4),
    (500, 3),
    (600, 1.5),
    (800, 1),
    (1000, 0.8),
)


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
    rng = random.Random(f"txn-population:{seed}")
    fake = _faker()
    # Re-seeding resets Faker's RNG, so a build depends on the seed alone.
    fake.seed_instance(seed)
    ids = _Ids(fake)
    # Faker is slow (~0.1 ms a name): draw pools of names once and combine them.
    first_names = [fake.first_name() for _ in range(min(customers, 400))]
    last_names = [fake.last_name() for _ in range(min(customers, 400))]
    companies = [fake.company() for _ in range(300)]
    banks = ("Maple Bank", "Northern Trust Co-op", "Prairie Credit Union", "Harbour Bank")

    merchants: list[Merchant] = []

    def add_merchant(
        channel: Channel, category: Category, city: City, merchant_id: str, name: str
    ) -> Merchant:
        # Acquirers abroad more often leave the MCC out; domestic ones rarely do.
        missing_mcc = rng.random() < (0.08 if city.country != "CA" else 0.01)
        m = Merchant(
            index=len(merchants),
            merchant_id=merchant_id,
            name=name,
            channel=channel,
            category=category,
            city=city,
            mcc=None if missing_mcc else category.mcc,
            province=city.province,
        )
        merchants.append(m)
        return m

    pos_categories = [c for c in CATEGORIES if c.channel is Channel.POS]
    ecom_categories = [c for c in CATEGORIES if c.channel is Channel.ECOM]
    atm_category = next(c for c in CATEGORIES if c.channel is Channel.ATM)

    def stores(city: City, n: int) -> list[Merchant]:
        out = []
        for _ in range(n):
            cat = _weighted(rng, pos_categories, [c.weight for c in pos_categories])
            # Chains: the same company name shows up in many cities with a store number.
            name = f"{rng.choice(companies)} #{rng.randint(1, 999)}"
            out.append(add_merchant(Channel.POS, cat, city, ids.make("MID#########"), name))
        # Popular stores first: the generator picks early entries more often.
        rng.shuffle(out)
        return out

    def atms(city: City, n: int) -> list[Merchant]:
        code = (city.province or city.country).replace("-", "")
        return [
            add_merchant(
                Channel.ATM,
                atm_category,
                city,
                ids.make(f"ATM{code}#####"),
                f"{rng.choice(banks)} ATM",
            )
            for _ in range(n)
        ]

    def shops(seats: tuple[City, ...], n: int) -> list[Merchant]:
        out = []
        for _ in range(n):
            seat = _weighted(rng, seats, [c.weight for c in seats])
            cat = _weighted(rng, ecom_categories, [c.weight for c in ecom_categories])
            name = f"{rng.choice(companies)} Online"
            out.append(add_merchant(Channel.ECOM, cat, seat, ids.make("ECM#########"), name))
        return out

    n_pos = _clamp(customers // 4, 300, 30_000)
    n_atm = _clamp(customers // 40, 40, 4_000)
    n_pos_abroad = _clamp(customers // 50, 60, 2_000)
    pos_by_city: dict[City, list[Merchant]] = {}
    atm_by_city: dict[City, list[Merchant]] = {}
    for city, n in zip(CANADIAN_CITIES, _spread(n_pos, CANADIAN_CITIES, 3), strict=True):
        pos_by_city[city] = stores(city, n)
    for city, n in zip(CANADIAN_CITIES, _spread(n_atm, CANADIAN_CITIES, 1), strict=True):
        atm_by_city[city] = atms(city, n)
    for city, n in zip(FOREIGN_CITIES, _spread(n_pos_abroad, FOREIGN_CITIES, 2), strict=True):
        pos_by_city[city] = stores(city, n)
        atm_by_city[city] = atms(city, max(1, n // 10))
    big_cities = tuple(c for c in CANADIAN_CITIES if c.weight >= 4.0)
    ecom_domestic = shops(big_cities, _clamp(customers // 50, 40, 2_000))
    ecom_foreign = shops(_FOREIGN_ECOM_SEATS, _clamp(customers // 100, 20, 1_000))

    devices: list[Device] = []
    people: list[Customer] = []
    numbers = rng.sample(range(10**9), customers)
    home_weights = [c.weight for c in CANADIAN_CITIES]
    for i in range(customers):
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
        customer_id = f"C{numbers[i]:09d}"
        people.append(
            Customer(
                index=i,
                customer_id=customer_id,
                name=f"{rng.choice(first_names)} {rng.choice(last_names)}",
                segment=seg_name,
                home=_weighted(rng, CANADIAN_CITIES, home_weights),
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
        )
    return Population(
        seed=seed,
        customers=people,
        merchants=merchants,
        devices=devices,
        pos_by_city=pos_by_city,
        atm_by_city=atm_by_city,
        ecom_domestic=ecom_domestic,
        ecom_foreign=ecom_foreign,
    )
