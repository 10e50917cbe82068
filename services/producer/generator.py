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

import bisect
import itertools
import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from txn_contract import Channel, Status, Transaction

from .population import (
    ATM_AMOUNTS_CAD,
    FOREIGN_CITIES,
    FX_PER_CAD,
    Customer,
    Device,
    Merchant,
    Population,
)

__all__ = [
    "BASE_DECLINE_RATE",
    "CHANNEL_BOUNDS_CAD",
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
    """Quantiles of the standard normal at ``points`` evenly spaced probabilities (plus one
    repeated end point so interpolation may read ``[i + 1]``): sampling by interpolating this
    table is inverse-transform sampling, three times cheaper than ``lognormvariate``."""
    from statistics import NormalDist

    nd = NormalDist()
    table = [nd.inv_cdf((i + 0.5) / points) for i in range(points)]
    return [*table, table[-1]]


_Z_POINTS = 4096


class EventGenerator:
    """Draws events from ``population`` with ``random.Random`` seeded by ``seed``.

    Two generators with the same population and seed draw the same events in the same order.
    """

    def __init__(self, population: Population, seed: int) -> None:
        self.population = population
        self._rng = random.Random(f"txn-events:{seed}")
        customers = population.customers
        self._customers = customers
        self._pick_prob, self._pick_alias = _alias_table([c.activity for c in customers])
        self._z = _normal_quantiles(_Z_POINTS)

        # (stores, ATMs) per city, so the hot path never hashes a City.
        pools = {
            city: (population.pos_by_city[city], population.atm_by_city[city])
            for city in population.pos_by_city
        }
        domestic = [c for c in population.pos_by_city if c.country == "CA"]
        self._away_pools = [pools[c] for c in domestic]
        self._away_cum, self._away_total = _cumulative(c.weight for c in domestic)
        self._abroad_pools = [pools[c] for c in FOREIGN_CITIES]
        self._abroad_cum, self._abroad_total = _cumulative(c.weight for c in FOREIGN_CITIES)
        self._ecom_domestic = population.ecom_domestic
        self._ecom_foreign = population.ecom_foreign

        # Per merchant and per customer, what a draw needs, unpacked in one go on the hot path.
        self._merchant_params = [_merchant_params(m) for m in population.merchants]
        self._profiles = [_profile(c, pools[c.home]) for c in customers]

    def draw(self) -> Draw:
        """The next event's choices."""
        return self.draws(1)[0]

    def draws(self, n: int) -> list[Draw]:
        """The next ``n`` events' choices (the batch form the producer's loop uses)."""
        rng = self._rng
        random_ = rng.random
        getrandbits = rng.getrandbits
        bisect_right = bisect.bisect_right
        exp = math.exp
        profiles = self._profiles
        n_profiles = len(profiles)
        pick_prob, pick_alias = self._pick_prob, self._pick_alias
        z_table, z_last = self._z, float(_Z_POINTS - 1)
        away_pools, away_cum, away_total = self._away_pools, self._away_cum, self._away_total
        abroad_pools, abroad_cum = self._abroad_pools, self._abroad_cum
        abroad_total = self._abroad_total
        ecom_domestic, ecom_foreign = self._ecom_domestic, self._ecom_foreign
        params = self._merchant_params
        atm, pos = Channel.ATM, Channel.POS
        mask, v4 = _UUID_V4_MASK, _UUID_V4_BITS
        note = _ATM_NOTE * 100
        out: list[Draw] = []
        append = out.append
        for _ in range(n):
            i = int(random_() * n_profiles)
            if random_() >= pick_prob[i]:
                i = pick_alias[i]
            (
                customer,
                p_pos,
                p_pos_atm,
                p_abroad,
                p_abroad_away,
                p_foreign_ecom,
                home,
                card,
                wallet,
                online,
                spend,
                atm_cum,
                atm_total,
                atm_amounts,
            ) = profiles[i]
            r = random_()
            if r < p_pos_atm:
                channel = pos if r < p_pos else atm
                r = random_()
                if r < p_abroad:
                    place = abroad_pools[bisect_right(abroad_cum, random_() * abroad_total)]
                elif r < p_abroad_away:
                    place = away_pools[bisect_right(away_cum, random_() * away_total)]
                else:
                    place = home
                if channel is pos:
                    pool, devices = place[0], wallet
                else:
                    pool, devices = place[1], card
            else:
                pool = ecom_foreign if random_() < p_foreign_ecom else ecom_domestic
                devices = online
            # Squaring a uniform favours the front of the pool: a few busy merchants.
            u = random_()
            merchant = pool[int(u * u * len(pool))]
            device = devices[int(random_() * len(devices))] if len(devices) > 1 else devices[0]
            mu, sigma, low, high, large, p_decline, p_decline_large, fx, is_atm = params[
                merchant.index
            ]
            if is_atm:
                cad = atm_amounts[bisect_right(atm_cum, random_() * atm_total)]
                cents = max(1, round(cad * fx / _ATM_NOTE)) * note
                if cents > high:
                    cents = high
            else:
                # Log-normal ticket: interpolate the normal quantile table at a uniform.
                x = random_() * z_last
                k = int(x)
                z = z_table[k] + (z_table[k + 1] - z_table[k]) * (x - k)
                cents = int(exp(mu + sigma * z) * spend + 0.5)
                if cents < low:
                    cents = low
                elif cents > high:
                    cents = high
            declined = random_() < (p_decline_large if cents >= large else p_decline)
            append((customer, device, merchant, cents, declined, getrandbits(128) & mask | v4))
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


def _profile(c, home: tuple) -> tuple:
    """The customer's choices as :meth:`EventGenerator.draws` unpacks them; ``home`` is the
    (stores, ATMs) pools of their city."""
    card = [d for d in c.devices if d.kind == "CARD"]
    wallet = [d for d in c.devices if d.kind in ("CARD", "MOBILE")]
    online = [d for d in c.devices if d.kind in ("WEB", "MOBILE")] or card
    amounts = [(a, w) for a, w in ATM_AMOUNTS_CAD if a <= c.atm_limit_cad]
    atm_cum, atm_total = _cumulative(w for _, w in amounts)
    return (
        c,
        c.channel_mix[0],
        c.channel_mix[0] + c.channel_mix[1],
        c.p_abroad,
        c.p_abroad + c.p_away,
        c.p_foreign_ecom,
        home,
        tuple(card),
        tuple(wallet),
        tuple(online),
        c.spend,
        atm_cum,
        atm_total,
        tuple(a for a, _ in amounts),
    )
