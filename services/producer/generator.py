"""Drawing transaction events from the population, by channel rules, with one seeded RNG.

Per event: a customer (weighted by how active they are), a channel from their own mix, a place
(home city mostly; sometimes another Canadian city; for travellers, abroad), a merchant there
(popular ones more often), a device that fits the channel, an amount from the merchant
category's ticket-size distribution scaled by the customer's spend profile, and an
authorisation outcome whose decline probability rises for large, foreign and online
transactions. The transaction id is a version-4 UUID built from the same RNG, so ``--seed``
reproduces ids as well as amounts, channels and statuses.

A draw is a plain tuple so the producer's hot loop stays cheap; :meth:`EventGenerator.transaction`
turns one into the contract's typed :class:`~txn_contract.Transaction`.

Example::

    gen = EventGenerator(build_population(1_000, seed=7), seed=7)
    event = gen.transaction(gen.draw(), timestamp_ms=1_767_225_600_000)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from txn_contract import Channel, Status, Transaction

from .batch import WORDS, BatchTables
from .customers import DEVICE_KINDS, SLOT_PERSONA, SLOTS, Customer, Device, mix64
from .population import FX_PER_CAD, Merchant, Population

__all__ = [
    "BASE_DECLINE_RATE",
    "CHANNEL_BOUNDS_CAD",
    "DEFAULT_START_MS",
    "Z_TRUNCATE",
    "Draw",
    "EventGenerator",
    "amount_bounds",
    "format_uuid",
]

# Amount bounds per channel in CAD cents; abroad they scale by the exchange rate.
CHANNEL_BOUNDS_CAD: dict[Channel, tuple[int, int]] = {
    Channel.POS: (50, 500_000),  # $0.50 .. $5,000: card-present tickets
    Channel.ECOM: (99, 2_500_000),  # $0.99 .. $25,000: online, long-tailed (travel, electronics)
    Channel.ATM: (2_000, 100_000),  # $20 .. $1,000 in notes of 20
}
# Share of transactions declined before any risk factor (insufficient funds, expired cards...).
BASE_DECLINE_RATE: dict[Channel, float] = {
    Channel.POS: 0.008,
    Channel.ATM: 0.012,
    Channel.ECOM: 0.025,
}
_FOREIGN_DECLINE_FACTOR = 2.5
_LARGE_DECLINE_FACTOR = 4.0
_MAX_DECLINE_RATE = 0.5
# Above these (CAD) a transaction counts as large for the risk rules.
_LARGE_CAD = {Channel.POS: 500, Channel.ECOM: 1_000, Channel.ATM: 400}
_ATM_NOTE = 20

_UUID_V4_MASK = ~((0xF << 76) | (0xC << 60)) & ((1 << 128) - 1)
_UUID_V4_BITS = (0x4 << 76) | (0x8 << 60)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# One event's choices: (customer, device, merchant, amount in cents of the merchant's currency,
# declined?, 128 UUID bits). A plain tuple because it is built on the hot path; the timestamp is
# added by whoever owns the clock.
Draw = tuple[Customer, Device, Merchant, int, bool, int]


def amount_bounds(channel: Channel, currency: str) -> tuple[Decimal, Decimal]:
    """Smallest and largest amount the generator draws for ``channel`` in ``currency``."""
    low, high = _bounds_cents(channel, currency)
    return Decimal(low).scaleb(-2), Decimal(high).scaleb(-2)


def _bounds_cents(channel: Channel, currency: str) -> tuple[int, int]:
    fx = FX_PER_CAD[currency]
    low, high = CHANNEL_BOUNDS_CAD[channel]
    if channel is Channel.ATM:
        note = _ATM_NOTE * 100
        return note, max(note, int(high * fx) // note * note)
    return max(1, round(low * fx)), round(high * fx)


def format_uuid(bits: int) -> str:
    """The canonical lowercase 36-character form of a 128-bit UUID."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _cumulative(weights) -> tuple[list[float], float]:
    """Running sums for ``bisect_right(cum, u * total)``, and the total.

    The last sum is replaced by infinity: ``u * total`` can round up to ``total`` itself, and
    must still land on the last item rather than past the end.
    """
    cum = list(itertools.accumulate(weights))
    total = cum[-1]
    cum[-1] = math.inf
    return cum, total


def _alias_table(weights: list[float]) -> tuple[list[float], list[int]]:
    """Vose's alias method: pick index ``i = int(u * n)``, keep it if ``v < prob[i]``, else
    take ``alias[i]``; exact weighted choice in O(1) with two uniforms."""
    n = len(weights)
    total = sum(weights)
    scaled = [w * n / total for w in weights]
    prob, alias = [1.0] * n, list(range(n))
    small = [i for i, x in enumerate(scaled) if x < 1.0]
    large = [i for i, x in enumerate(scaled) if x >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return prob, alias


def _normal_quantiles(points: int) -> list[float]:
    """Quantiles of the standard normal truncated to +-:data:`Z_TRUNCATE`, at ``points``
    evenly spaced probabilities (plus one repeated end point so interpolation may read
    ``[i + 1]``): sampling by interpolating this table is inverse-transform sampling, three
    times cheaper than ``lognormvariate``."""
    from statistics import NormalDist

    nd = NormalDist()
    lo, hi = nd.cdf(-Z_TRUNCATE), nd.cdf(Z_TRUNCATE)
    table = [nd.inv_cdf(lo + (hi - lo) * (i + 0.5) / points) for i in range(points)]
    return [*table, table[-1]]


_Z_POINTS = 4096
_Z_LAST = float(_Z_POINTS - 1)
# A customer's tickets stay within e^(+-2 sigma) of the category's median: real tickets are
# bounded by what people buy, and an untruncated log-normal tail would make a clean customer's
# ordinary purchase a 4-sigma amount_outlier far more often than 1 in 10,000.
Z_TRUNCATE = 2.0
_EVENTS_SALT = 0xE7E7_5EED
# 2026-01-01T00:00:00Z: the default simulated clock's start (benches and tests).
DEFAULT_START_MS = 1_767_225_600_000


class EventGenerator:
    """Draws events from ``population`` with a numpy PCG64 stream seeded by ``seed``.

    Each event's time decides who pays (personas weighted by the local hour) and where they
    are (:func:`~.trips.place_at`). :meth:`draws` takes the events' times; without them it uses
    its own simulated clock, from ``start_ms`` at ``rate`` events a second. Two generators with
    the same population and seed draw the same events for the same times.
    """

    def __init__(
        self,
        population: Population,
        seed: int,
        *,
        start_ms: int = DEFAULT_START_MS,
        rate: float = 1_000.0,
    ) -> None:
        self.population = population
        # Every event takes batch.WORDS words of this stream, whatever the batch sizes.
        self._bits = np.random.PCG64(np.random.SeedSequence([mix64(seed ^ _EVENTS_SALT), 1]))
        self._book = population.book
        self.trip_salt = mix64(seed ^ 0x7219_5A17) & 0xFFFFFFFF
        self._clock_ms, self._ms_per_event = float(start_ms), 1000.0 / rate
        size = population.size
        per_slot = [max(0, -(-(size - s) // SLOTS)) for s in range(SLOTS)]
        self._tables = BatchTables(
            population,
            self.trip_salt,
            [_slot_table(h, per_slot) for h in range(24)],
            per_slot,
            _normal_quantiles(_Z_POINTS),
        )
        self._tables.set_params([_merchant_params(m) for m in population.merchants])

    def clock(self, n: int) -> list[int]:
        """The next ``n`` times (ms) of the generator's own simulated clock."""
        t, step = self._clock_ms, self._ms_per_event
        self._clock_ms = t + n * step
        return [int(t + k * step) for k in range(n)]

    def draw(self) -> Draw:
        """The next event's choices."""
        return self.draws(1)[0]

    def draws(self, n: int, times_ms: Sequence[int] | None = None) -> list[Draw]:
        """The choices of the next ``n`` events at ``times_ms`` (default: :meth:`clock`).

        The choices are made for the whole batch at once (:meth:`.batch.BatchTables.draw`);
        this loop only builds the tuples the encoder reads."""
        if times_ms is None:
            times_ms = self.clock(n)
        if n == 0:
            return []
        raw = self._bits.random_raw(WORDS * n)
        cols = self._tables.draw(raw, np.asarray(times_ms[:n], dtype=np.int64))
        book, merchants, kinds, new = (
            self._book,
            self._tables.merchants,
            DEVICE_KINDS,
            tuple.__new__,
        )
        out: list[Draw] = []
        append = out.append
        for index, h, key, avro_id, slot, di, device_id, pos, cents, declined, hi, lo in zip(
            cols.index,
            cols.h,
            cols.key,
            cols.avro_id,
            cols.slot,
            cols.device,
            cols.device_id,
            cols.merchant,
            cols.cents,
            cols.declined,
            cols.uuid_hi,
            cols.uuid_lo,
            strict=True,
        ):
            customer = new(Customer, (key, avro_id, index, h, book))
            device = new(Device, (device_id, di, kinds[slot]))
            append((customer, device, merchants[pos], cents, declined, hi << 64 | lo))
        return out

    @staticmethod
    def transaction(draw: Draw, timestamp_ms: int) -> Transaction:
        """The typed contract event of ``draw`` at ``timestamp_ms`` (ms since the epoch, UTC)."""
        customer, device, m, cents, declined, id_bits = draw
        return Transaction(
            transaction_id=format_uuid(id_bits),
            timestamp=_EPOCH + timedelta(milliseconds=timestamp_ms),
            customer_id=customer.customer_id,
            merchant_id=m.merchant_id,
            amount=Decimal(cents).scaleb(-2),
            currency=m.currency,
            channel=m.channel,
            city=m.city.name,
            country=m.country,
            device_id=device.device_id,
            status=Status.DECLINED if declined else Status.APPROVED,
            merchant_category_code=m.mcc,
            province=m.province,
        )


def _merchant_params(m) -> tuple:
    """Log-normal parameters of the merchant's ticket in local cents, its bounds, and the
    decline probabilities below and above the "large" threshold."""
    fx = FX_PER_CAD[m.currency]
    low, high = _bounds_cents(m.channel, m.currency)
    p = BASE_DECLINE_RATE[m.channel]
    if m.foreign:
        p *= _FOREIGN_DECLINE_FACTOR
    return (
        math.log(m.category.median_cad * fx * 100),
        m.category.sigma,
        low,
        high,
        round(_LARGE_CAD[m.channel] * fx * 100),
        min(p, _MAX_DECLINE_RATE),
        min(p * _LARGE_DECLINE_FACTOR, _MAX_DECLINE_RATE),
        fx,
        m.channel is Channel.ATM,
    )


def _slot_table(local_hour: int, per_slot: list[int]) -> tuple[list[float], float]:
    """Running weights of the index classes at ``local_hour``: each class's customers times
    their persona's transactions a day times the hour's weight (so a class pays in
    proportion to what its customers would), for ``bisect_right(cum, u * total)``."""
    return _cumulative(
        n * p.daily * p.hours[local_hour] for n, p in zip(per_slot, SLOT_PERSONA, strict=True)
    )
