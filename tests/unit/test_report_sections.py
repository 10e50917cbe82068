"""txn-report's gold section (alerts per detector, the merchants with the highest decline rate,
from gold tables made with delta-rs) and the topic's size with three brokers; no Spark, no
Kafka."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake

from txn_lake import ALERTS, GOLD_MERCHANT_HOURLY, Lake
from txn_report.gold_stats import MIN_MERCHANT_TRANSACTIONS, TOP_MERCHANTS, gold_stats
from txn_report.report import _gold_rows


def _merchant_hours(lake: Lake, rows: list[tuple[str, int, int, int]]) -> None:
    """(merchant_id, hour, transactions, declined) per merchant-hour."""
    write_deltalake(
        str(lake.table_path(GOLD_MERCHANT_HOURLY)),
        pa.table(
            {
                "merchant_id": [r[0] for r in rows],
                "event_hour": pa.array([r[1] for r in rows], pa.int32()),
                "transactions": pa.array([r[2] for r in rows], pa.int64()),
                "declined": pa.array([r[3] for r in rows], pa.int64()),
            }
        ),
    )


def test_no_gold_table_says_so(tmp_path):
    lake = Lake(tmp_path / "lake")
    st = gold_stats(lake)
    assert st.as_json()["exists"] is False
    assert st.as_json()["alerts_by_detector"] == {}
    assert _gold_rows(st.as_json()) == [("Gold", "no gold table yet (run gold-signals)")]


def test_alerts_by_detector_and_the_worst_merchants_summed_over_their_hours(tmp_path):
    lake = Lake(tmp_path / "lake")
    write_deltalake(
        str(lake.table_path(ALERTS)),
        pa.table({"detector": ["velocity", "card_testing", "velocity", "amount_outlier"]}),
    )
    n = MIN_MERCHANT_TRANSACTIONS
    hours = [
        ("m-bad", 1, n, n // 2),  # 75% over its two hours (50% and 100%), summed not averaged
        ("m-bad", 2, n, n),
        ("m-few", 1, n - 1, n - 1),  # 100%, but too few transactions to rank
        ("m-ok", 3, 4 * n, n),  # 25%
        ("m-tie", 3, 4 * n, 3 * n),  # 75% too, of more transactions: ahead of m-bad
    ]
    hours += [(f"m-{i}", 0, n, 0) for i in range(TOP_MERCHANTS)]
    _merchant_hours(lake, hours)

    st = gold_stats(lake).as_json()

    assert st["alerts_by_detector"] == {"amount_outlier": 1, "card_testing": 1, "velocity": 2}
    assert st["alerts"] == 4
    assert st["merchant_hourly_rows"] == len(hours)
    top = [
        (m["merchant_id"], m["declined"], m["transactions"]) for m in st["top_decline_merchants"]
    ]
    assert top[:3] == [("m-tie", 3 * n, 4 * n), ("m-bad", n + n // 2, 2 * n), ("m-ok", n, 4 * n)]
    assert len(top) == TOP_MERCHANTS
    assert "m-few" not in {m for m, _, _ in top}
    rows = dict(_gold_rows(st))
    assert rows["Alerts"] == "4 (amount_outlier=1, card_testing=1, velocity=2)"
    assert rows["Highest decline rates"].startswith("m-tie 75.0% of 80")


def test_topic_size_is_one_copy_with_three_brokers(tmp_path):
    """With --brokers 3 every partition has a replica per node: the size is one copy (each
    partition's largest replica), and the platform's node directories are found."""
    from txn_report.config import ReportSettings
    from txn_report.kafka_stats import topic_bytes

    state = tmp_path / "state"
    sizes = {1: (100, 40, 7), 2: (100, 40, 0), 3: (90, 40, 7)}  # node -> partition bytes
    for node, parts in sizes.items():
        for p, n in enumerate(parts):
            d = state / f"kafka-{node}" / "data" / f"bank_txn_stream-{p}"
            d.mkdir(parents=True)
            (d / "00000000000000000000.log").write_bytes(b"x" * n)
            (d / "00000000000000000000.index").write_bytes(b"i" * 1000)  # not data
        (state / f"kafka-{node}" / "data" / "bank_txn_stream-x").mkdir()  # not a partition
    settings = ReportSettings(lake=tmp_path, state_dir=state, bootstrap_servers="b:1")
    assert [d.parent.name for d in settings.log_dirs] == ["kafka-1", "kafka-2", "kafka-3"]
    assert topic_bytes(settings.log_dirs, "bank_txn_stream") == 100 + 40 + 7
    assert topic_bytes(settings.log_dirs, "other") == 0
    assert topic_bytes([tmp_path / "missing"], "bank_txn_stream") is None
