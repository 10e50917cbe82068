"""Generated events are valid contract events that behave like a bank's."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from decimal import Decimal

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract import Channel, Status, packaged_contract
from txn_producer.generator import EventGenerator, amount_bounds
from txn_producer.population import CANADIAN_CITIES, FX_PER_CAD, build_population

CONTRACT = packaged_contract()
TS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@functools.cache
def _population(customers: int, seed: int):
    return build_population(customers, seed)


def _events(customers: int, seed: int, n: int):
    gen = EventGenerator(_population(customers, seed), seed)
    return [gen.transaction(d, TS + i) for i, d in enumerate(gen.draws(n))]


@functools.cache
def _big_sample():
    """100,000 events of a 2,000-customer bank, for the behavioural statistics."""
    gen = EventGenerator(_population(2_000, 11), 11)
    draws = gen.draws(100_000)
    return draws, [gen.transaction(d, TS) for d in draws]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), customers=st.integers(1, 300))
def test_every_event_is_a_valid_contract_event_with_sane_amounts(seed, customers):
    for event in _events(customers, seed, 300):
        for cv in CONTRACT.versions:
            record = event.to_avro(cv.version)
            assert fastavro.validate(record, cv.parsed, raise_errors=True)
        amount = event.amount
        # At most two decimals, and inside the channel's bounds in the event's currency.
        assert amount.as_tuple().exponent >= -2
        assert amount == amount.quantize(Decimal("0.01"))
        low, high = amount_bounds(event.channel, event.currency)
        assert low <= amount <= high, event
        if event.channel is Channel.ATM:
            assert amount % 20 == 0
        parsed = uuid.UUID(event.transaction_id)
        assert parsed.version == 4 and str(parsed) == event.transaction_id
        assert event.currency in FX_PER_CAD
        assert (event.currency == "CAD") == (event.country == "CA")
        if event.province is not None:
            assert event.province.startswith(event.country + "-")
        assert event.merchant_category_code is None or (
            len(event.merchant_category_code) == 4 and event.merchant_category_code.isdigit()
        )


def test_same_seed_same_events_different_seed_different_events():
    assert _events(200, 5, 500) == _events(200, 5, 500)
    other = _events(200, 6, 500)
    assert [e.transaction_id for e in other] != [e.transaction_id for e in _events(200, 5, 500)]


def test_stream_does_not_depend_on_batch_sizes():
    # The producer draws batches of whatever size its pacing allows.
    pop = _population(300, 9)
    a, b = EventGenerator(pop, 9), EventGenerator(pop, 9)
    one = a.draws(1_000)
    many = b.draws(1) + b.draws(299) + b.draws(700)
    assert [a.transaction(d, TS) for d in one] == [b.transaction(d, TS) for d in many]


def test_population_is_reproducible_and_shaped_like_a_bank():
    pop, again = build_population(500, 3), build_population(500, 3)
    assert [c.customer_id for c in pop.customers] == [c.customer_id for c in again.customers]
    assert [m.merchant_id for m in pop.merchants] == [m.merchant_id for m in again.merchants]
    assert len({c.customer_id for c in pop.customers}) == 500
    assert len({m.merchant_id for m in pop.merchants}) == len(pop.merchants)
    provinces = {c.province for c in CANADIAN_CITIES}
    for c in pop.customers:
        assert 1 <= len(c.devices) <= 3
        assert c.devices[0].kind == "CARD"
        assert c.home.country == "CA" and c.home.province in provinces
        assert abs(sum(c.channel_mix) - 1) < 1e-9
    assert {m.channel for m in pop.merchants} == {Channel.POS, Channel.ATM, Channel.ECOM}
    assert all(m.mcc == "6011" for m in pop.merchants if m.channel is Channel.ATM and m.mcc)


def test_faker_is_not_called_per_event(monkeypatch):
    import faker.proxy

    gen = EventGenerator(_population(100, 1), 1)

    def refuse(*_a, **_k):
        raise AssertionError("Faker called on the hot path")

    monkeypatch.setattr(faker.proxy.Faker, "__getattr__", refuse)
    assert len(gen.draws(2_000)) == 2_000
    # The trap works: building a population does call Faker.
    with pytest.raises(AssertionError, match="hot path"):
        build_population(10, 12345)


def test_decline_rate_is_small_and_rises_for_large_foreign_and_online():
    _draws, events = _big_sample()

    def rate(selected):
        selected = list(selected)
        return sum(e.status is Status.DECLINED for e in selected) / len(selected)

    overall = rate(events)
    assert 0.005 < overall < 0.05
    assert rate(e for e in events if e.channel is Channel.ECOM) > 1.5 * rate(
        e for e in events if e.channel is Channel.POS
    )
    assert rate(e for e in events if e.country != "CA") > 1.5 * rate(
        e for e in events if e.country == "CA"
    )
    large = [e for e in events if e.channel is Channel.POS and e.amount >= 500]
    small = [e for e in events if e.channel is Channel.POS and e.amount < 500]
    assert len(large) > 50
    assert rate(large) > 2 * rate(small)


def test_channels_places_and_devices_behave():
    draws, events = _big_sample()
    channels = Counter(e.channel for e in events)
    assert channels[Channel.POS] > channels[Channel.ECOM] > channels[Channel.ATM] > 0
    abroad = sum(e.country != "CA" for e in events) / len(events)
    assert 0.01 < abroad < 0.15, abroad
    # Card present abroad happens too, not only foreign online shops.
    assert any(e.country != "CA" and e.channel is Channel.POS for e in events)
    for (customer, device, _merchant, cents, _declined, _bits), e in zip(
        draws, events, strict=True
    ):
        assert device in customer.devices
        if e.channel is Channel.ATM:
            assert device.kind == "CARD"
            if e.currency == "CAD":
                assert cents <= customer.atm_limit_cad * 100
        if e.channel is Channel.ECOM and any(d.kind != "CARD" for d in customer.devices):
            assert device.kind in ("WEB", "MOBILE")
    home = sum(
        1
        for (customer, _d, merchant, *_rest), e in zip(draws, events, strict=True)
        if e.channel is Channel.POS and merchant.city == customer.home
    )
    assert home / channels[Channel.POS] > 0.8
    # Online tickets are heavier-tailed than card-present ones.
    pos = sorted(e.amount for e in events if e.channel is Channel.POS and e.currency == "CAD")
    ecom = sorted(e.amount for e in events if e.channel is Channel.ECOM and e.currency == "CAD")
    assert ecom[int(len(ecom) * 0.99)] > 2 * pos[int(len(pos) * 0.99)]


@pytest.mark.parametrize("currency", sorted(FX_PER_CAD))
def test_atm_bounds_are_whole_notes(currency):
    low, high = amount_bounds(Channel.ATM, currency)
    assert low == 20 and high % 20 == 0 and high >= low
