"""A vectorized screen before the detectors: which customers could raise an alert at all.

:class:`~txn_gold.detect.Detectors` judges one customer at a time in Python, with exact decimal
arithmetic. Run over every customer a batch touches, it cost ~20 µs per history row (the rows
turned into Python objects, then the four detectors), most of a 150,000-row batch's time, to
find alerts for a few customers in 10,000. The screen computes, with Arrow and numpy over the
whole history at once, a necessary condition for each detector, and the exact detectors then
run only for the customers that pass one. The screen errs only one way: every customer for
whom a detector could fire passes (the float comparisons carry rigorous error bounds), so the
alerts are exactly those of the detectors over every customer; the property test
``tests/unit/test_gold_screen.py`` holds the two to the same alerts.

The conditions, per detector (``new`` = a transaction of this batch):

- ``velocity`` / ``card_testing``: some window ending at a (DECLINED) transaction holds at
  least the threshold and a new one (the cooldown is left to the detector);
- ``impossible_travel``: two consecutive POS/ATM transactions, one new, both in the gazetteer,
  farther apart and faster than the thresholds, less a relative 1e-6;
- ``amount_outlier``: a new APPROVED transaction with the history it needs, above the mean by
  more than the threshold's deviations, computed in float64 with a rigorous error bound added.

It also counts the new POS/ATM transactions whose city the gazetteer lacks (the detectors'
``unknown_cities``, for every customer, not only those screened in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .detect import Detectors

__all__ = ["Screened", "screen"]

_REL = 1e-6  # the relative margin on float comparisons (far above float64's error)
_EPS = 2.0**-52


@dataclass(frozen=True)
class Screened:
    """The customers that may raise an alert, and the new POS/ATM transactions in cities the
    gazetteer lacks."""

    customers: set[str]
    unknown_cities: int


@dataclass(frozen=True)
class _Sorted:
    """The history in the detectors' order per customer: codes (increasing per customer),
    event time in ms, and which rows are new."""

    rows: Any  # the Arrow table, sorted
    codes: np.ndarray
    ts: np.ndarray
    new: np.ndarray


def _sorted(history: Any, new_ids: Any, by: tuple[str, ...]) -> _Sorted:
    """``history`` sorted by the group ``by``, then event time, then ``transaction_id`` (the
    detectors' order), with each row's group code: numpy sorts integer keys, where a sort of
    the string columns took most of the screen's time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    us = pc.cast(history.column("timestamp"), pa.int64()).to_numpy(zero_copy_only=False)
    ts = us // 1000  # Txn.ts_ms: floor, as there
    codes = _group_codes(history, by)
    order = np.lexsort((ts, codes))
    order = _ties_by_id(order, codes, ts, history.column("transaction_id"))
    rows = history.take(pa.array(order))
    new = pc.is_in(rows.column("transaction_id"), value_set=new_ids)
    # The codes are those of the groups in first-appearance order: sorted, they count up from
    # 0 with every value present, which screen() relies on to name a code's customer.
    return _Sorted(rows, codes[order], ts[order], new.to_numpy(zero_copy_only=False))


def _group_codes(table: Any, by: tuple[str, ...]) -> np.ndarray:
    """One int64 code per row for its group of ``by`` (a NULL is a value of its own), numbered
    0, 1, ... in order of first appearance."""
    import numpy as np
    import pyarrow.compute as pc

    codes = np.zeros(table.num_rows, np.int64)
    for c in by:
        enc = pc.dictionary_encode(table.column(c).combine_chunks(), null_encoding="encode")
        part = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        codes = codes * (len(enc.dictionary) + 1) + part
    # Renumber the combined codes densely, in first-appearance order.
    _, first, dense = np.unique(codes, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[dense.reshape(-1)]


def _ties_by_id(order: np.ndarray, codes: np.ndarray, ts: np.ndarray, ids: Any) -> np.ndarray:
    """``order`` (by group, then time) with each run of rows of one group and one millisecond
    put in ``transaction_id`` order, as the detectors order them. The producer stamps a whole
    delivery batch with one millisecond, so ties are common: the tied rows' ids are ranked in
    one Arrow call (byte order is code point order, as Python compares them) and the rows
    sorted once more with that rank as the last key."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    c, t = codes[order], ts[order]
    same = (c[1:] == c[:-1]) & (t[1:] == t[:-1])
    if not same.any():
        return order
    tied = order[np.r_[same, False] | np.r_[False, same]]  # rows with a tie on either side
    rank = np.zeros(len(codes), np.int64)
    ranked = pc.rank(ids.take(pa.array(tied)), sort_keys="ascending", tiebreaker="dense")
    rank[tied] = ranked.to_numpy(zero_copy_only=False)
    return np.lexsort((rank, ts, codes))


def _windowed(s: _Sorted, mask: np.ndarray, least: int, window_s: int) -> np.ndarray:
    """Codes of the customers with a window (over the rows of ``mask``) holding ``least``
    rows and a new one."""
    import numpy as np

    codes, ts, new = s.codes[mask], s.ts[mask], s.new[mask]
    if not new.any():
        return codes[:0]
    window = window_s * 1000
    # A window holding a new row ends at or after it, so it holds nothing older than a window
    # before the oldest new row: those rows are left out (and with them most of the range).
    keep = ts > ts[new].min() - window
    codes, ts, new = codes[keep], ts[keep], new[keep]
    span = int(ts.max() - ts.min()) + window + 1
    if int(codes.max()) * span >= 2**62:
        # One sort key per row would overflow int64 (event times years apart across very many
        # customers): every customer with a new row passes, and the detector decides.
        return np.unique(codes[new])
    key = codes * span + (ts - ts.min())
    # The window ending at row i starts at the first row of the customer less than a window
    # before it: event time > ts_i - window (ms are integers).
    start = np.searchsorted(key, key - window + 1, side="left")
    idx = np.arange(len(key))
    last_new = np.maximum.accumulate(np.where(new, idx, -1))
    hit = (idx - start + 1 >= least) & (last_new >= start)
    return codes[hit]


def _travel(s: _Sorted, detectors: Detectors) -> tuple[np.ndarray, int]:
    """Codes of the customers with a new, far and fast consecutive placed pair; the new placed
    transactions whose city the gazetteer lacks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    p = detectors.travel
    placed = pc.is_in(s.rows.column("channel"), value_set=pa.array(list(p.channels)))
    mask = placed.to_numpy(zero_copy_only=False)
    rows = s.rows.filter(placed)
    codes, ts, new = s.codes[mask], s.ts[mask], s.new[mask]
    lat, lon = _coordinates(rows, detectors)
    unknown = int(np.sum(new & np.isnan(lat)))
    if len(codes) < 2:
        return codes[:0], unknown
    a, b = slice(0, -1), slice(1, None)
    pair = (codes[a] == codes[b]) & (new[a] | new[b]) & ~np.isnan(lat[a]) & ~np.isnan(lat[b])
    km = _haversine_km(lat[a], lon[a], lat[b], lon[b])
    hours = (ts[b] - ts[a]) / 3_600_000
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(hours > 0, km / np.where(hours > 0, hours, 1), np.inf)
    far = km > p.distance_km_over * (1 - _REL)
    fast = speed > p.speed_kmh_over * (1 - _REL)
    return codes[b][pair & far & fast], unknown


def _coordinates(rows: Any, detectors: Detectors) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of each row's city (NaN where the gazetteer lacks it), looked up
    once per distinct (city, country)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    city, country = (pc.cast(rows.column(c), pa.string()) for c in ("city", "country"))
    key = pc.binary_join_element_wise(city, country, "\x1f")
    encoded = pc.dictionary_encode(key.combine_chunks())
    places = []
    for name in encoded.dictionary.to_pylist():
        city, country = name.split("\x1f", 1)
        places.append(detectors.places.find(city, country) or (np.nan, np.nan))
    table = np.array([*places, (np.nan, np.nan)], dtype=np.float64).reshape(-1, 2)
    # A NULL city or country (NULL key) takes the last entry: not in the gazetteer.
    idx = pc.fill_null(encoded.indices, len(places)).to_numpy(zero_copy_only=False)
    return table[idx, 0], table[idx, 1]


def _haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    import numpy as np

    from .gazetteer import EARTH_RADIUS_KM

    lat1, lon1, lat2, lon2 = (np.radians(v) for v in (lat1, lon1, lat2, lon2))
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def _outliers(history: Any, new_ids: Any, detectors: Detectors) -> np.ndarray:
    """Codes (of the (customer, currency) order's customer) of new APPROVED rows that may be
    more than the threshold's deviations above the mean of the earlier ones."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    p = detectors.outlier
    s = _sorted(history, new_ids, ("customer_id", "currency"))
    n = len(s.codes)
    amount = pc.cast(s.rows.column("amount"), pa.float64()).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.r_[True, s.codes[1:] != s.codes[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    count = np.arange(n) - first  # the earlier rows of the group
    squares = amount * amount
    sums, sum_sq = _exclusive(amount, first), _exclusive(squares, first)
    # Rigorous bounds of the float error (u = 2^-52 per operation, n = every row summed): each
    # prefix sum errs by at most n*u times the sum of magnitudes before it, and a group's sum is
    # a difference of two prefixes; the products add u of their size. Wide, and still far below
    # the spread of a customer whose amounts vary by cents.
    grow = 2 * n * _EPS
    err_s = grow * float(np.abs(amount).sum()) + 1e-12
    err_q = grow * float(squares.sum()) + 1e-12
    above = count * amount - sums  # n * (a - mean)
    err_above = err_s + 2 * _EPS * (count * np.abs(amount) + np.abs(sums))
    spread = count * sum_sq - sums * sums  # n^2 * variance
    err_spread = (
        count * err_q + 2 * np.abs(sums) * err_s + err_s * err_s
        + 2 * _EPS * (count * sum_sq + sums * sums)
    )  # fmt: skip
    k2 = float(p.stddevs_over) ** 2
    approved = pc.equal(s.rows.column("status"), "APPROVED").to_numpy(zero_copy_only=False)
    may = (
        s.new
        & approved
        & (count >= p.min_history)
        & (spread + err_spread > 0)
        & (above + err_above > 0)
        & ((np.abs(above) + err_above) ** 2 * (1 + _REL) > k2 * (spread - err_spread))
    )
    customers = s.rows.column("customer_id").to_numpy(zero_copy_only=False)
    return customers[may]


def _exclusive(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The sum of the earlier values of each row's group (``first``: the group's first row)."""
    import numpy as np

    before = np.cumsum(values) - values
    return before - before[first]


def screen(history: Any, new_ids: Any, detectors: Detectors) -> Screened:
    """The customers of ``history`` (silver rows, the detectors' columns) for whom a detector
    may fire, given the batch's ``new_ids`` (an Arrow array of transaction ids)."""
    import numpy as np
    import pyarrow.compute as pc

    if history.num_rows == 0:
        return Screened(set(), 0)
    s = _sorted(history, new_ids, ("customer_id",))
    v, c = detectors.velocity, detectors.card_testing
    declined = pc.equal(s.rows.column("status"), "DECLINED").to_numpy(zero_copy_only=False)
    travel, unknown = _travel(s, detectors)
    codes = np.unique(
        np.concatenate(
            [
                _windowed(s, np.ones(len(s.codes), bool), v.min_transactions, v.window_seconds),
                _windowed(s, declined, c.min_declined, c.window_seconds),
                travel,
            ]
        )
    )
    names = s.rows.column("customer_id").to_numpy(zero_copy_only=False)
    firsts = np.flatnonzero(np.r_[True, s.codes[1:] != s.codes[:-1]])
    by_code = names[firsts]  # codes count up from 0 in sorted order
    found = set(by_code[codes].tolist()) | set(_outliers(history, new_ids, detectors).tolist())
    return Screened(found, unknown)
