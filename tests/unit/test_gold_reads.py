"""gold-signals' lake reads with many keys: the IN lists are cut into chunks (DataFusion's
parser overflowed its stack on a list of 30,000 literals), and the results are the same."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
from deltalake import write_deltalake

from txn_gold.reads import IN_LIST_MAX, LakeReads, chunks


def test_chunks_cover_every_value_once_in_order():
    values = list(range(2 * IN_LIST_MAX + 3))
    parts = chunks(values)
    assert [len(p) for p in parts] == [IN_LIST_MAX, IN_LIST_MAX, 3]
    assert [v for p in parts for v in p] == values
    assert chunks([]) == [[]]


def test_history_of_more_customers_than_one_in_list_holds(tmp_path):
    n = 3 * IN_LIST_MAX + 7
    ts = datetime(2026, 12, 7, tzinfo=UTC)
    silver = tmp_path / "silver"
    write_deltalake(
        str(silver),
        pa.table(
            {
                "transaction_id": [f"t{i}" for i in range(n)],
                "customer_id": [f"c{i}" for i in range(n)],
                "timestamp": pa.array([ts] * n, pa.timestamp("us", tz="UTC")),
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
    rows = LakeReads(silver, tmp_path / "alerts").history(wanted, upto=1)
    got = sorted(rows.column("customer_id").to_pylist())
    assert got == sorted(f"c{i}" for i in range(0, n, 2) if i % 3 <= 1)
