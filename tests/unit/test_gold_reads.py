"""gold-signals' lake reads: Arrow scans filtered by key sets (no SQL IN lists, whose
DataFusion parser overflowed its stack at 30,000 literals and made a read scan silver once per
5,000 keys), and group-bys equal to a plain recomputation, NULLs included."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
from deltalake import write_deltalake

from txn_gold.reads import LakeReads

TS = datetime(2026, 12, 7, 9, tzinfo=UTC)


def _silver(tmp_path, n: int):
    rows = {
        "transaction_id": [f"t{i}" for i in range(n)],
        "customer_id": [f"c{i % 97}" for i in range(n)],
        "merchant_id": [f"m{i % 13}" for i in range(n)],
        "timestamp": pa.array(
            [TS + timedelta(minutes=i) for i in range(n)], pa.timestamp("us", tz="UTC")
        ),
        "event_date": pa.array([(TS + timedelta(minutes=i)).date() for i in range(n)], pa.date32()),
        "event_hour": pa.array([(TS + timedelta(minutes=i)).hour for i in range(n)], pa.int32()),
        "status": [("APPROVED", "DECLINED", "REVERSED")[i % 3] for i in range(n)],
        "channel": ["POS"] * n,
        # Some rows without a city or a currency: SQL's semantics (not counted) must hold.
        "city": [None if i % 11 == 0 else f"city{i % 5}" for i in range(n)],
        "country": ["CA"] * n,
        "amount": pa.array([Decimal(i) / 4 for i in range(n)], pa.decimal128(18, 2)),
        "currency": [None if i % 17 == 0 else ("CAD", "USD")[i % 2] for i in range(n)],
        "is_late": [False] * n,
        "batch_id": pa.array([i % 4 for i in range(n)], pa.int64()),
    }
    path = tmp_path / "silver"
    write_deltalake(str(path), pa.table(rows), partition_by=["event_date"])
    return path, pa.table(rows).to_pylist()


def test_history_of_more_customers_than_an_in_list_held(tmp_path):
    n = 30_007
    many = tmp_path / "many"
    write_deltalake(
        str(many),
        pa.table(
            {
                "transaction_id": [f"t{i}" for i in range(n)],
                "customer_id": [f"c{i}" for i in range(n)],
                "timestamp": pa.array([TS] * n, pa.timestamp("us", tz="UTC")),
                "status": ["APPROVED"] * n,
                "channel": ["POS"] * n,
                "city": ["Toronto"] * n,
                "country": ["CA"] * n,
                "amount": pa.array([Decimal("1.00")] * n, pa.decimal128(18, 2)),
                "currency": ["CAD"] * n,
                "batch_id": pa.array([i % 3 for i in range(n)], pa.int64()),
            }
        ),
    )
    wanted = [f"c{i}" for i in range(0, n, 2)] + ["nobody"]
    rows = LakeReads(many, tmp_path / "alerts").history(wanted, upto=1)
    got = sorted(rows.column("customer_id").to_pylist())
    assert got == sorted(f"c{i}" for i in range(0, n, 2) if i % 3 <= 1)


def test_aggregates_equal_a_plain_recomputation(tmp_path):
    path, rows = _silver(tmp_path, 3_000)
    upto = 2
    kept = [r for r in rows if r["batch_id"] <= upto and r["currency"] is not None]
    dates = sorted({r["event_date"] for r in rows})[:2]
    merchants = ["m1", "m2", "m5"]
    customers = [f"c{i}" for i in range(0, 97, 3)]
    reads = LakeReads(path, tmp_path / "alerts")

    want_m: dict[tuple, dict] = defaultdict(
        lambda: {"n": 0, "a": 0, "d": 0, "amt": Decimal(0), "c": set(), "ts": []}
    )
    for r in kept:
        if r["merchant_id"] in merchants and r["event_date"] in dates:
            g = want_m[(r["merchant_id"], r["currency"], r["event_date"], r["event_hour"])]
            g["n"] += 1
            g["a"] += r["status"] == "APPROVED"
            g["d"] += r["status"] == "DECLINED"
            g["amt"] += r["amount"] if r["status"] == "APPROVED" else 0
            g["c"].add(r["customer_id"])
            g["ts"].append(r["timestamp"])
    got_m = {
        (x["merchant_id"], x["currency"], x["event_date"], x["event_hour"]): x
        for x in reads.merchant_hourly(dates, merchants, upto).to_pylist()
    }
    assert set(got_m) == set(want_m) and want_m
    for key, g in want_m.items():
        x = got_m[key]
        assert (x["transactions"], x["approved"], x["declined"]) == (g["n"], g["a"], g["d"])
        assert (x["amount_approved"], x["customers"]) == (g["amt"], len(g["c"]))
        assert (x["first_event_ts"], x["last_event_ts"]) == (min(g["ts"]), max(g["ts"]))

    want_c: dict[tuple, dict] = defaultdict(
        lambda: {"n": 0, "d": 0, "amt": Decimal(0), "m": set(), "p": set()}
    )
    for r in kept:
        if r["customer_id"] in customers and r["event_date"] in dates:
            g = want_c[(r["customer_id"], r["event_date"], r["currency"])]
            g["n"] += 1
            g["d"] += r["status"] == "DECLINED"
            g["amt"] += r["amount"] if r["status"] == "APPROVED" else 0
            g["m"].add(r["merchant_id"])
            if r["city"] is not None:
                g["p"].add((r["city"], r["country"]))
    got_c = {
        (x["customer_id"], x["event_date"], x["currency"]): x
        for x in reads.customer_daily(dates, customers, upto).to_pylist()
    }
    assert set(got_c) == set(want_c) and want_c
    for key, g in want_c.items():
        x = got_c[key]
        assert (x["transactions"], x["declined"], x["amount"]) == (g["n"], g["d"], g["amt"])
        assert (x["merchants"], x["cities"]) == (len(g["m"]), len(g["p"]))
