"""The vectorized screen lets through every customer for whom a detector fires: the detectors
run on the screened customers raise exactly the alerts they raise run on every customer, and the
screen counts the same new transactions in cities the gazetteer lacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from txn_contract.detectors import packaged_detectors
from txn_gold.detect import Detectors
from txn_gold.gazetteer import shared_gazetteer
from txn_gold.job import _txns
from txn_gold.screen import screen

T0 = datetime(2026, 12, 7, 12, tzinfo=UTC)
CITIES = [("Toronto", "CA"), ("Montreal", "CA"), ("Paris", "FR"), ("Atlantis", "XX"), (None, "CA")]
# Mostly alike, so a rare large one stands out (amount_outlier), and a few odd ones.
AMOUNTS = ["20.00"] * 8 + ["19.99", "20.01", "21.00", "12.50", "5000.00", "0.01"]


@pytest.fixture(scope="module")
def detectors() -> Detectors:
    return Detectors(packaged_detectors(), shared_gazetteer())


row = st.fixed_dictionaries(
    {
        "customer": st.integers(0, 2),
        # Seconds apart on a few scales: bursts inside the windows, and hours between trips.
        "second": st.one_of(st.integers(0, 900), st.integers(0, 4 * 3600)),
        "status": st.sampled_from(["APPROVED", "APPROVED", "APPROVED", "DECLINED"]),
        "channel": st.sampled_from(["POS", "ATM", "ONLINE"]),
        "place": st.sampled_from(CITIES),
        "amount": st.sampled_from(AMOUNTS),
        "currency": st.sampled_from(["CAD"] * 5 + ["EUR"]),
        "new": st.booleans(),
    }
)


def _history(rows: list[dict]) -> pa.Table:
    return pa.table(
        {
            "transaction_id": [f"t{i:03d}" for i in range(len(rows))],
            "customer_id": [f"c{r['customer']}" for r in rows],
            "timestamp": pa.array(
                [T0 + timedelta(seconds=r["second"]) for r in rows], pa.timestamp("us", tz="UTC")
            ),
            "status": [r["status"] for r in rows],
            "channel": [r["channel"] for r in rows],
            "city": [r["place"][0] for r in rows],
            "country": [r["place"][1] for r in rows],
            "amount": pa.array([Decimal(r["amount"]) for r in rows], pa.decimal128(18, 2)),
            "currency": [r["currency"] for r in rows],
        }
    )


def _alerts(detectors: Detectors, history: pa.Table, new_ids: set[str], customers) -> tuple:
    txns = _txns(history)
    found, unknown = set(), 0
    for customer in customers:
        run = detectors.run(customer, txns.get(customer, []), new_ids, [])
        found |= {r.alert_id for r in run.raised}
        unknown += run.unknown_cities
    return found, unknown


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Short histories for the edges; long ones, where every detector fires (an outlier needs ten
# earlier transactions in its currency).
@given(st.one_of(st.lists(row, min_size=1, max_size=12), st.lists(row, min_size=20, max_size=80)))
def test_the_screen_keeps_every_customer_an_alert_comes_from(detectors, rows):
    history = _history(rows)
    new_ids = {f"t{i:03d}" for i, r in enumerate(rows) if r["new"]}
    everyone = sorted(set(history.column("customer_id").to_pylist()))
    want, want_unknown = _alerts(detectors, history, new_ids, everyone)

    screened = screen(history, pa.array(sorted(new_ids), pa.string()), detectors)
    got, _ = _alerts(detectors, history, new_ids, sorted(screened.customers))
    assert got == want
    assert screened.unknown_cities == want_unknown


def test_the_screen_leaves_out_quiet_customers(detectors):
    # Three transactions an hour apart in one city, all new: no detector can fire.
    rows = [
        {"customer": 0, "second": 3600 * i, "status": "APPROVED", "channel": "POS",
         "place": ("Toronto", "CA"), "amount": "20.00", "currency": "CAD", "new": True}
        for i in range(3)
    ]  # fmt: skip
    history = _history(rows)
    screened = screen(history, history.column("transaction_id").combine_chunks(), detectors)
    assert screened.customers == set()
    assert screened.unknown_cities == 0


def test_an_outlier_after_exactly_the_history_it_needs_is_screened_in(detectors):
    need = detectors.outlier.min_history
    amounts = ["20.00", "20.01"] * need
    rows = [
        {"customer": 0, "second": 3600 * i, "status": "APPROVED", "channel": "ONLINE",
         "place": ("Toronto", "CA"), "amount": a, "currency": "CAD", "new": False}
        for i, a in enumerate([*amounts[:need], "5000.00"])
    ]  # fmt: skip
    rows[-1]["new"] = True
    history = _history(rows)
    new_ids = {f"t{need:03d}"}
    screened = screen(history, pa.array(sorted(new_ids)), detectors)
    assert screened.customers == {"c0"}
    assert _alerts(detectors, history, new_ids, ["c0"])[0]  # and the detector does fire


def test_a_near_constant_customer_after_a_large_history_is_screened_in(detectors):
    # Float prefix sums over a large history before the customer lose the cents the
    # customer's spread is made of (its standard deviation is 0.0022): the error bound must
    # let it through, and the detector then fires (z ~ 234).
    big = [
        {"customer": 0, "second": i % 3600, "status": "APPROVED", "channel": "ONLINE",
         "place": ("Toronto", "CA"), "amount": "987654.32", "currency": "CAD", "new": False}
        for i in range(100_000)
    ]  # fmt: skip
    steady = [
        {"customer": 1, "second": 60 * i, "status": "APPROVED", "channel": "ONLINE",
         "place": ("Toronto", "CA"), "amount": "10.00" if i == 0 else "9.99", "currency": "CAD",
         "new": False}
        for i in range(20)
    ]  # fmt: skip
    steady.append({**steady[-1], "second": 60 * 20, "amount": "10.50", "new": True})
    rows = big + steady
    history = _history(rows)
    # As a scan hands it over: several chunks.
    history = pa.concat_tables([history.slice(0, 50_000), history.slice(50_000)])
    new_ids = {f"t{len(rows) - 1:03d}"}
    screened = screen(history, pa.array(sorted(new_ids)), detectors)
    assert "c1" in screened.customers
    assert _alerts(detectors, history, new_ids, ["c1"])[0]


def test_windows_over_event_times_centuries_apart_still_screen_in(detectors):
    # Event times 2,000 years apart across 150,000 customers: one int64 sort key (customer
    # code x event-time range in ms) would not fit, so the screen lets every customer with a
    # new row through; the burst's customer must be among them.
    rows = [
        {"customer": i, "second": 0, "status": "APPROVED", "channel": "ONLINE",
         "place": ("Toronto", "CA"), "amount": "20.00", "currency": "CAD", "new": True}
        for i in range(150_000)
    ]  # fmt: skip
    burst = [{**rows[0], "customer": 149_999, "second": s} for s in (1, 2, 3, 4)]
    history = _history(rows + burst)
    old = pa.array([datetime(1, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    ts = pa.concat_arrays([old, history.column("timestamp").combine_chunks().slice(1)])
    history = history.set_column(2, "timestamp", ts)
    screened = screen(history, history.column("transaction_id").combine_chunks(), detectors)
    assert "c149999" in screened.customers  # five within a window: velocity


_ids = st.sampled_from(["t-a", "t-b", "t-c", "t-é", "t-10", "t-9", "T-1"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["C1", "C2", "C10", None]),
            st.sampled_from(["CAD", "USD", None]),
            st.integers(0, 3),  # milliseconds: many ties
            _ids,
        ),
        min_size=1,
        max_size=60,
    )
)
def test_the_screens_order_is_the_detectors_group_time_then_id(rows):
    """Rows come out grouped (customer, currency), then by event time, then by transaction id,
    ties included, and each group's code counts up from 0 in that order."""
    from txn_gold.screen import _sorted

    table = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "currency": [r[1] for r in rows],
            "timestamp": pa.array([r[2] * 1000 for r in rows], pa.timestamp("us", tz="UTC")),
            "transaction_id": [r[3] for r in rows],
        }
    )
    s = _sorted(table, pa.array(["t-a"]), ("customer_id", "currency"))
    out = list(zip(*(s.rows.column(c).to_pylist() for c in ("customer_id", "currency")), s.ts.tolist(),
                   s.rows.column("transaction_id").to_pylist(), strict=True))  # fmt: skip
    groups = [(c, cur) for c, cur, _, _ in out]
    # Groups are contiguous, numbered 0, 1, ... as they come.
    firsts = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(firsts) == len(set(groups))
    assert s.codes.tolist() == [firsts.index(g) for g in groups]
    # Within a group: event time, then transaction id (by code point, as Python orders them).
    for g in firsts:
        within = [(ts, tid) for c, cur, ts, tid in out if (c, cur) == g]
        assert within == sorted(within)
    assert sorted(map(repr, out)) == sorted(repr((r[0], r[1], r[2], r[3])) for r in rows)
    assert s.new.tolist() == [tid == "t-a" for *_, tid in out]
