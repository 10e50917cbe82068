"""The detectors' pure logic (txn_gold.detect, txn_gold.gazetteer), without Spark or a lake."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract.detectors import alert_id, packaged_detectors
from txn_gold.detect import Detectors, Known, Txn
from txn_gold.gazetteer import great_circle_km, max_distance_km, shared_gazetteer

MIN = 60_000


@pytest.fixture(scope="module")
def detectors() -> Detectors:
    return Detectors(packaged_detectors(), shared_gazetteer())


def txn(i: int, minute: float, *, status="APPROVED", channel="ONLINE", city="Toronto",
        amount="25.00", currency="CAD") -> Txn:  # fmt: skip
    return Txn(
        f"t{i:04d}", int(minute * MIN), status, channel, city, "CA", Decimal(amount), currency
    )


def run(detectors: Detectors, txns: list[Txn], new: list[Txn] | None = None, known=()):
    ordered = sorted(txns, key=lambda t: t.order)
    ids = {t.transaction_id for t in (txns if new is None else new)}
    return detectors.run("C1", ordered, ids, known).raised


def by(raised, detector: str) -> list:
    return [r for r in raised if r.detector == detector]


def test_velocity_needs_five_within_ten_minutes(detectors):
    assert by(run(detectors, [txn(i, 2 * i) for i in range(4)]), "velocity") == []
    five = [txn(i, 2 * i) for i in range(5)]  # 0..8 min
    (alert,) = by(run(detectors, five), "velocity")
    assert alert.trigger == five[4] and alert.fields["transaction_count"] == 5
    # Ten minutes apart is not "within" ten minutes: 0 and 10 are never in one window.
    spread = [txn(i, 2.5 * i) for i in range(5)]  # 0..10 min
    assert by(run(detectors, spread), "velocity") == []


def test_a_burst_is_one_alert_until_the_window_has_passed(detectors):
    burst = [txn(i, i / 2) for i in range(12)]
    assert len(by(run(detectors, burst), "velocity")) == 1
    later = burst + [txn(100 + i, 20 + i) for i in range(5)]  # 10+ min after the first trigger
    assert len(by(run(detectors, later), "velocity")) == 2


def test_a_late_row_completes_a_window_and_its_end_is_the_trigger(detectors):
    on_time = [txn(i, i) for i in range(4)]
    late = txn(9, 1.5)
    assert by(run(detectors, on_time), "velocity") == []
    (alert,) = by(run(detectors, [*on_time, late], new=[late]), "velocity")
    assert alert.trigger == on_time[3] and len(alert.evidence) == 5


def test_a_known_alert_is_never_raised_again_and_holds_the_cooldown(detectors):
    five = [txn(i, i) for i in range(5)]
    first = by(run(detectors, five), "velocity")[0]
    known = [Known(first.alert_id, "velocity", first.trigger.ts_ms)]
    sixth = txn(6, 5)
    assert by(run(detectors, [*five, sixth], new=[sixth], known=known), "velocity") == []


def test_card_testing_counts_declines_only(detectors):
    two = [txn(0, 0, status="DECLINED"), txn(1, 4, status="DECLINED"), txn(2, 2)]
    assert by(run(detectors, two), "card_testing") == []
    three = [*two, txn(3, 4.5, status="DECLINED")]
    (alert,) = by(run(detectors, three), "card_testing")
    assert alert.evidence == ("t0000", "t0001", "t0003")


@pytest.mark.parametrize(
    ("city", "minutes", "alerts"),
    [("Hamilton", 60, 0), ("Montréal", 180, 0), ("Vancouver", 60, 1), ("Atlantis", 1, 0)],
)
def test_impossible_travel(detectors, city, minutes, alerts):
    pair = [txn(0, 0, channel="POS"), txn(1, minutes, channel="ATM", city=city)]
    found = by(run(detectors, pair), "impossible_travel")
    assert len(found) == alerts
    unknown = detectors.run("C1", pair, {"t0000", "t0001"}, []).unknown_cities
    assert unknown == (1 if city == "Atlantis" else 0)


def test_impossible_travel_skips_online_transactions_between(detectors):
    txns = [txn(0, 0, channel="POS"), txn(1, 30, city="Vancouver"), txn(2, 600, channel="POS")]
    assert by(run(detectors, txns), "impossible_travel") == []


def _history(amounts: list[str]) -> list[Txn]:
    return [txn(i, 60 * i, amount=a) for i, a in enumerate(amounts)]


@pytest.mark.parametrize(("amount", "alerts"), [("130.00", 0), ("140.00", 0), ("140.01", 1)])
def test_amount_outlier_above_four_standard_deviations(detectors, amount, alerts):
    history = _history(["90.00", "110.00"] * 6)  # mean 100, standard deviation 10
    trigger = txn(99, 60 * 13, amount=amount)
    found = by(run(detectors, [*history, trigger], new=[trigger]), "amount_outlier")
    assert len(found) == alerts
    if alerts:
        assert found[0].fields["mean_amount"] == Decimal("100.00")
        assert found[0].fields["stddev_amount"] == Decimal("10.00")


def test_amount_outlier_needs_ten_earlier_in_the_currency(detectors):
    history = _history(["90.00", "110.00"] * 5)[:9]
    trigger = txn(99, 60 * 13, amount="1000.00")
    assert by(run(detectors, [*history, trigger], new=[trigger]), "amount_outlier") == []
    other = [txn(50 + i, i, amount="100.00", currency="USD") for i in range(10)]
    assert by(run(detectors, [*history, *other, trigger], new=[trigger]), "amount_outlier") == []


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120), amounts, st.sampled_from(["APPROVED", "DECLINED"])),
                max_size=40))  # fmt: skip
def test_alerts_have_stable_ids_and_never_repeat(detectors, draws):
    txns = [txn(i, m, status=s, amount=str(a)) for i, (m, a, s) in enumerate(draws)]
    first = run(detectors, txns)
    again = run(detectors, txns)
    assert [r.alert_id for r in first] == [r.alert_id for r in again]
    assert len({r.alert_id for r in first}) == len(first)
    for r in first:
        assert r.alert_id == alert_id(r.detector, "C1", r.trigger.transaction_id)
        assert r.trigger.transaction_id in r.evidence
    # Windowed alerts of one detector are at least a window apart (the cooldown).
    for detector in ("velocity", "card_testing"):
        times = sorted(r.trigger.ts_ms for r in by(first, detector))
        assert all(b - a >= 10 * MIN // (2 if detector == "card_testing" else 1)
                   for a, b in itertools.pairwise(times))  # fmt: skip


def test_great_circle_bounds():
    places = shared_gazetteer()
    toronto = places.find("toronto", "ca")
    assert toronto is not None and places.find("Montreal", "CA") == places.find("Montréal", "CA")
    assert great_circle_km(toronto, toronto) == 0
    assert 495 < great_circle_km(toronto, places.find("Montréal", "CA")) < 510
    assert great_circle_km((0, 0), (0, 180)) == pytest.approx(max_distance_km())
