"""A whole batch of events' choices at once, with numpy: what :class:`~.generator.EventGenerator`
draws, as columns.

Per event, Python costs about a microsecond an operation; the realistic stream needs a few dozen
(who pays at this hour, their hash and archetype, whether their period has a trip and where it
goes, a merchant, an amount, a decline, ids). Here each is one array operation over the batch,
and the Python loop that follows only assembles the tuples the encoder reads.

Randomness is counter-like: every event takes exactly :data:`WORDS` 64-bit words of one PCG64
stream, so a batch of ``n`` events takes the next ``WORDS * n`` words and the stream does not
depend on how it is cut into batches. The formulas are those of the scalar code
(:meth:`~.customers.CustomerBook.derive`, :func:`~.trips.where`): unsigned 64-bit arithmetic
wraps, and the hashes keep only low bits, so the numbers are the same.

Example::

    tables = BatchTables(population, trip_salt=gen.trip_salt, profiles=..., params=...)
    cols = tables.draw(raw_words, np.asarray(times_ms))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .customers import DEVICE_PREFIX, PHONE_BELOW, SLOTS, WEB_BELOW
from .places import ATM_AMOUNTS_CAD, CANADIAN_CITIES, FOREIGN_CITIES
from .population import Population
from .trips import HASH_K1, HASH_K2, HASH_K3, PERIOD_DAYS, PERIOD_MS, TRANSIT_MS, trip_threshold

__all__ = ["WORDS", "BatchTables", "Columns"]

# 64-bit words per event: 9 uniforms (slot, index in slot, channel, phone or card, foreign shop,
# phone or browser, merchant, amount, decline), then the UUID's high and low words.
WORDS = 11
_U53 = 2.0**-53
_M32 = np.uint64(0xFFFFFFFF)
_DAY_MS, _HOUR_MS = 86_400_000, 3_600_000
_LOCAL_OFFSET_H = -5
# Version-4 UUID: version nibble (bits 12-15 of the high word), variant (top 2 bits of the low).
_HI_CLEAR, _HI_SET = np.uint64(~(0xF << 12) & (2**64 - 1)), np.uint64(0x4 << 12)
_LO_CLEAR, _LO_SET = np.uint64(~(0xC << 60) & (2**64 - 1)), np.uint64(0x8 << 60)


@dataclass(slots=True)
class Columns:
    """One batch's choices, as lists the assembly loop zips: customer index, hash, id (the
    Kafka key) and id as an Avro string, device slot, index and id as an Avro string, merchant
    position in :attr:`BatchTables.merchants`, amount in cents, declined, UUID words."""

    index: list[int]
    h: list[int]
    key: list[bytes]
    avro_id: list[bytes]
    slot: list[int]
    device: list[int]
    device_id: list[bytes]
    merchant: list[int]
    cents: list[int]
    declined: list[bool]
    uuid_hi: list[int]
    uuid_lo: list[int]


class BatchTables:
    """The population's look-up tables as arrays, and :meth:`draw`.

    ``hour_tables`` are the generator's running slot weights per local hour, ``per_slot`` the
    customers per index class, ``z`` the truncated normal quantile table.
    """

    def __init__(
        self,
        population: Population,
        trip_salt: int,
        hour_tables: list[tuple[list[float], float]],
        per_slot: list[int],
        z: list[float],
    ) -> None:
        self.book = population.book
        self.salt = np.uint64(trip_salt)
        self.hour_cum = np.array([cum for cum, _ in hour_tables])
        self.hour_total = np.array([total for _, total in hour_tables])
        self.per_slot = np.array(per_slot, dtype=np.int64)
        self.z = np.array(z)
        self._places(population)
        self._archetypes(population)
        self._merchants(population)

    def _places(self, population: Population) -> None:
        """Cities by number, and the trip destinations' running weights."""
        self.cities = list(population.pos_by_city)
        number = {id(c): k for k, c in enumerate(self.cities)}
        self.abroad_ids = np.array([number[id(c)] for c in FOREIGN_CITIES])
        self.domestic_ids = np.array([number[id(c)] for c in CANADIAN_CITIES])
        self.abroad_cum = np.cumsum([c.weight for c in FOREIGN_CITIES])
        self.domestic_cum = np.cumsum([c.weight for c in CANADIAN_CITIES])
        self.city_number = number

    def _archetypes(self, population: Population) -> None:
        """Per archetype: channel mix, foreign shops, home, trip thresholds, spend, ATM table."""
        archs = population.book.archetypes
        self.p_pos = np.array([a.channel_mix[0] for a in archs])
        self.p_pos_atm = np.array([a.channel_mix[0] + a.channel_mix[1] for a in archs])
        self.p_foreign = np.array([a.p_foreign_ecom for a in archs])
        self.home = np.array([self.city_number[id(a.home)] for a in archs])
        thresholds = np.array([trip_threshold(a) for a in archs], dtype=np.int64)
        self.thr_abroad, self.thr_any = thresholds[:, 0], thresholds[:, 1]
        self.spend = np.array([a.spend for a in archs])
        limits = sorted({a.atm_limit_cad for a in archs})
        self.limit_of = np.array([limits.index(a.atm_limit_cad) for a in archs])
        # Running weights of the amounts within each limit; inf past the last allowed one (and
        # on it, so u * total rounding up still lands on it), as the generator's _cumulative.
        amounts = [amt for amt, _ in ATM_AMOUNTS_CAD]
        cum = np.full((len(limits), len(amounts)), np.inf)
        self.atm_total = np.zeros(len(limits))
        for row, limit in enumerate(limits):
            weights = [w for amt, w in ATM_AMOUNTS_CAD if amt <= limit]
            cum[row, : len(weights)] = np.cumsum(weights)
            self.atm_total[row] = cum[row, len(weights) - 1]
            cum[row, len(weights) - 1] = np.inf
        self.atm_cum, self.atm_amounts = cum, np.array(amounts, dtype=np.float64)

    def _merchants(self, population: Population) -> None:
        """Merchant pools laid end to end: stores then ATMs of city ``c`` are pools ``2c`` and
        ``2c + 1``; domestic and foreign online shops the last two."""
        pools = []
        for city in self.cities:
            pools += [population.pos_by_city[city], population.atm_by_city[city]]
        pools += [population.ecom_domestic, population.ecom_foreign]
        self.ecom_pool = 2 * len(self.cities)
        self.pool_len = np.array([len(p) for p in pools], dtype=np.int64)
        self.pool_off = np.concatenate([[0], np.cumsum(self.pool_len)[:-1]])
        self.merchants = [m for pool in pools for m in pool]

    def set_params(self, params: list[tuple]) -> None:
        """Per-merchant ticket parameters (the generator's ``_merchant_params``, by merchant
        index), re-laid by pool position."""
        rows = [params[m.index] for m in self.merchants]
        self.mu, self.sigma = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
        self.low = np.array([r[2] for r in rows], dtype=np.int64)
        self.high = np.array([r[3] for r in rows], dtype=np.int64)
        self.large = np.array([r[4] for r in rows], dtype=np.int64)
        self.p_decline = np.array([r[5] for r in rows])
        self.p_large = np.array([r[6] for r in rows])
        self.fx = np.array([r[7] for r in rows])
        self.is_atm = np.array([r[8] for r in rows], dtype=bool)

    def draw(self, raw: np.ndarray, t: np.ndarray) -> Columns:
        """The choices of ``len(t)`` events at times ``t`` (int64 ms) from ``raw``, their
        ``WORDS * len(t)`` random words."""
        words = raw.reshape(len(t), WORDS)
        u = (words[:, :9] >> np.uint64(11)).astype(np.float64) * _U53
        index = self._who(u[:, 0], u[:, 1], t)
        h = self.book.hashes(index)
        arch = (h >> np.uint64(20)).astype(np.int64)
        place = self._where(index, arch, t, card_present=u[:, 2] < self.p_pos_atm[arch])
        slot, pool = self._channel(u, h, arch, place)
        pos = self.pool_off[pool] + (u[:, 6] * u[:, 6] * self.pool_len[pool]).astype(np.int64)
        cents = self._amounts(pos, arch, u[:, 7])
        declined = u[:, 8] < np.where(
            cents >= self.large[pos], self.p_large[pos], self.p_decline[pos]
        )
        key, avro_id = _customer_ids(self.book.id_numbers(index))
        device = 3 * index + slot
        return Columns(
            index.tolist(),
            h.tolist(),
            key,
            avro_id,
            slot.tolist(),
            device.tolist(),
            _device_ids(self.book.device_numbers(device), slot),
            pos.tolist(),
            cents.tolist(),
            declined.tolist(),
            (words[:, 9] & _HI_CLEAR | _HI_SET).tolist(),
            (words[:, 10] & _LO_CLEAR | _LO_SET).tolist(),
        )

    def _who(self, u0: np.ndarray, u1: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Who pays: an index class by the local hour's weights (``bisect_right``), then one of
        its customers uniformly."""
        hour = (t // _HOUR_MS + _LOCAL_OFFSET_H) % 24
        x = u0 * self.hour_total[hour]
        s = (self.hour_cum[hour] <= x[:, None]).sum(axis=1)
        return s + SLOTS * (u1 * self.per_slot[s]).astype(np.int64)

    def _where(
        self, index: np.ndarray, arch: np.ndarray, t: np.ndarray, card_present: np.ndarray
    ) -> np.ndarray:
        """The city number where each card-present event happens (:func:`~.trips.where`):
        home, a trip's city, or -1 in transit and for online events."""
        place = np.where(card_present, self.home[arch], -1)
        period = (t // PERIOD_MS).astype(np.uint64)
        u = (
            (
                index.astype(np.uint64) * np.uint64(HASH_K1)
                ^ (period * np.uint64(HASH_K2) ^ self.salt)
            )
            * np.uint64(HASH_K3)
        ) & _M32
        u ^= u >> np.uint64(15)
        k = np.flatnonzero(card_present & (u.astype(np.int64) < self.thr_any[arch]))
        if len(k):
            place[k] = self._trips(u[k], period[k], arch[k], t[k])
        return place

    def _trips(self, u: np.ndarray, period: np.ndarray, arch: np.ndarray, t: np.ndarray):
        """Where events in a period with a trip happen (:func:`~.trips._trip`, vectorised)."""
        abroad = u.astype(np.int64) < self.thr_abroad[arch]
        h = ((u ^ period * np.uint64(HASH_K2)) * np.uint64(HASH_K1)) & _M32
        h = (h ^ h >> np.uint64(16)).astype(np.int64)
        days = np.where(abroad, 3 + h % 12, 1 + h % 4)
        x = (u & np.uint64(0xFFFF)).astype(np.float64) / 65_536.0
        far = np.searchsorted(self.abroad_cum, x * self.abroad_cum[-1], side="right")
        near = np.searchsorted(self.domestic_cum, x * self.domestic_cum[-1], side="right")
        city = np.where(
            abroad,
            self.abroad_ids[np.minimum(far, len(self.abroad_ids) - 1)],
            self.domestic_ids[np.minimum(near, len(self.domestic_ids) - 1)],
        )
        start = period.astype(np.int64) * PERIOD_MS + (h >> 4) % (PERIOD_DAYS - days - 2) * _DAY_MS
        depart = start + (11 + (h >> 12) % 12) * _HOUR_MS
        leave = start + days * _DAY_MS + (11 + (h >> 20) % 12) * _HOUR_MS
        transit = np.where(abroad, TRANSIT_MS[True], TRANSIT_MS[False])
        home = self.home[arch]
        away = (city != home) & (t >= depart) & (t < leave + transit)
        there = (t >= depart + transit) & (t < leave)
        return np.where(away, np.where(there, city, -1), home)

    def _channel(self, u: np.ndarray, h: np.ndarray, arch: np.ndarray, place: np.ndarray):
        """Device slot and merchant pool: a store (card, or phone half the time) or an ATM
        (card) where the customer is, else an online shop (phone or browser)."""
        has_phone = ((h >> np.uint64(12)) & np.uint64(0xFF)) < PHONE_BELOW
        has_web = ((h >> np.uint64(4)) & np.uint64(0xFF)) < WEB_BELOW
        present = place >= 0
        store = u[:, 2] < self.p_pos[arch]
        online_slot = np.where(
            has_web, np.where(has_phone, np.where(u[:, 5] < 0.5, 1, 2), 2), has_phone
        )
        slot = np.where(present, np.where(store, has_phone & (u[:, 3] < 0.5), 0), online_slot)
        foreign = u[:, 4] < self.p_foreign[arch]
        pool = np.where(present, 2 * place + ~store, self.ecom_pool + foreign)
        return slot.astype(np.int64), pool.astype(np.int64)

    def _amounts(self, pos: np.ndarray, arch: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Cents in the merchant's currency: a log-normal ticket by the (truncated) normal
        quantile table, scaled by spend and clamped; at an ATM, notes within the limit."""
        x = u * (len(self.z) - 2)
        i = x.astype(np.int64)
        z = self.z[i] + (self.z[i + 1] - self.z[i]) * (x - i)
        cents = np.floor(np.exp(self.mu[pos] + self.sigma[pos] * z) * self.spend[arch] + 0.5)
        cents = np.clip(cents.astype(np.int64), self.low[pos], self.high[pos])
        atm = np.flatnonzero(self.is_atm[pos])
        if len(atm):
            lim = self.limit_of[arch[atm]]
            xa = u[atm] * self.atm_total[lim]
            cad = self.atm_amounts[(self.atm_cum[lim] <= xa[:, None]).sum(axis=1)]
            notes = np.maximum(1, np.round(cad * self.fx[pos[atm]] / 20))
            cents[atm] = np.minimum(notes.astype(np.int64) * 2_000, self.high[pos[atm]])
        return cents


def _digits(number: np.ndarray, width: int) -> np.ndarray:
    """The ASCII decimal digits of ``number`` (int64), ``width`` of them, zero-padded: (n, width)
    bytes."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (number[:, None] // powers % 10 + 48).astype(np.uint8)


def _customer_ids(number: np.ndarray) -> tuple[list[bytes], list[bytes]]:
    """``C`` + 9 digits, as bytes and as an Avro string (length 10, zigzag ``0x14``): built as
    rows of a byte matrix and read out as ``bytes`` by numpy (no NUL byte in them, which a
    fixed-width bytes array would strip)."""
    rows = np.empty((len(number), 11), dtype=np.uint8)
    rows[:, 0], rows[:, 1] = 0x14, ord("C")
    rows[:, 2:] = _digits(number, 9)
    key = np.ascontiguousarray(rows[:, 1:]).view("S10").ravel().tolist()
    return key, rows.view("S11").ravel().tolist()


def _device_ids(number: np.ndarray, slot: np.ndarray) -> list[bytes]:
    """Device ids as Avro strings: the kind's prefix (:data:`~.customers.DEVICE_PREFIX`, length
    byte included) then 10 digits, NUL-padded to the longest kind, which numpy's fixed-width
    bytes drop when read out."""
    rows = np.zeros((len(number), _DEVICE_WIDTH), dtype=np.uint8)
    digits = _digits(number, 10)
    for kind, prefix in enumerate(DEVICE_PREFIX):
        k = np.flatnonzero(slot == kind)
        rows[k, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
        rows[k, len(prefix) : len(prefix) + 10] = digits[k]
    return rows.view(f"S{_DEVICE_WIDTH}").ravel().tolist()


_DEVICE_WIDTH = max(len(p) for p in DEVICE_PREFIX) + 10
