"""gold-signals over a silver table written as silver-refine writes it (real broker, registry,
Spark with Delta): exactly which alerts each detector raises, with just-below-threshold
controls, in the Delta table and on the topic; aggregates equal to a batch recomputation over
silver after late rows; a run with nothing new; tables that describe themselves. The lake and
its scenarios: ``tests/integration/gold_lake.py``; SIGKILL and compaction beside the job:
``test_gold_restarts.py``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.gold_lake import (
    ALERTS,
    TABLES,
    _aggregates,
    _alerts,
    _consume,
    _decode,
    _read,
    _recomputed,
    _version,
)
from txn_contract.detectors import alert_id
from txn_lake.gold_tables import ALERTS_TABLE, GOLD_CUSTOMER_DAILY_TABLE, GOLD_MERCHANT_HOURLY_TABLE
from txn_lake.layout import Lake

pytestmark = pytest.mark.integration


def test_exactly_the_scenarios_alerts_are_in_the_table(spark, gold):
    rows = _read(spark, gold["lake"], ALERTS_TABLE.name).collect()
    assert len(rows) == len(gold["expected"])
    assert _alerts(spark, gold["lake"]) == gold["expected"]
    by = {(r.detector, r.customer_id): r for r in rows}
    for r in rows:
        assert r.alert_id == alert_id(r.detector, r.customer_id, r.transaction_id)
        assert r.event_date == r.event_time.date() and r.detectors_version == 1
    assert by["velocity", "C"].transaction_count == 5 and by["velocity", "C"].window_seconds == 600
    assert (
        by["card_testing", "D"].transaction_count == 3
        and by["card_testing", "D"].severity == "high"
    )
    travel = by["impossible_travel", "F"]
    assert (travel.from_city, travel.to_city) == ("Toronto", "Vancouver")
    assert 3300 < travel.distance_km < 3400 and travel.speed_kmh > 900
    assert len(travel.transaction_ids) == 2 and travel.elapsed_seconds == 3600
    outlier = by["amount_outlier", "J5"]
    assert (outlier.transaction_count, outlier.mean_amount, outlier.stddev_amount) == (
        12, Decimal("100.00"), Decimal("10.00"),
    )  # fmt: skip
    assert outlier.z_score == pytest.approx(5.0) and outlier.amount == Decimal("150.00")
    assert len(by["velocity", "K"].transaction_ids) == 5  # the late row completed the window
    assert gold["runs"][0]["unknown_cities"] == 1  # Atlantis


def test_the_topic_holds_the_same_alerts_decoded_with_the_registered_schema(platform, gold):
    records = _decode(platform, _consume(platform, gold["topic"], len(gold["expected"])))
    assert {(r["detector"], r["customer_id"], r["transaction_id"]) for r in records} == gold[
        "expected"
    ]
    assert len(records) == len(gold["expected"])


def test_aggregates_equal_a_batch_recomputation_over_silver_after_late_rows(spark, gold):
    lake = gold["lake"]
    got = _aggregates(spark, lake)
    for name, frame in _recomputed(spark, lake).items():
        columns = [c for c in _read(spark, lake, name).columns if c != "updated_ts"]
        assert got[name] == sorted(map(str, frame.select(*columns).collect())), name
    # The late rows landed in hours gold had aggregated in its first run.
    m2 = _read(spark, lake, GOLD_MERCHANT_HOURLY_TABLE.name).where("merchant_id = 'M2'").collect()
    assert sum(r.transactions for r in m2) == 5 + 4 + 2 and max(r.customers for r in m2) == 3


def test_a_run_with_nothing_new_adds_nothing(spark, gold):
    assert gold["runs"][2]["batches"] == 0
    assert {t: _version(gold["lake"], t) for t in TABLES} == gold["versions_before_third"]


def test_tables_describe_themselves(gold):
    from txn_lake.facts import table_facts

    for spec in (GOLD_MERCHANT_HOURLY_TABLE, GOLD_CUSTOMER_DAILY_TABLE, ALERTS_TABLE):
        facts = table_facts(spec.name, spec.path(Lake(gold["lake"])), history=0)
        assert facts.partition_by == ["event_date"], spec.name
        assert all(comment for _n, _t, comment in facts.columns), spec.name
        assert facts.description
    alerts = table_facts("alerts", ALERTS_TABLE.path(Lake(gold["lake"])), history=0)
    # Appends only: no file outside the log (a MERGE leaves the files it replaced until vacuum).
    assert alerts.unreferenced_files == 0
    assert alerts.properties["txn.detectors.version"] == "1"
    names = [n for n, _t, _c in alerts.columns]
    assert names[: len(ALERTS.latest.field_names)] == list(ALERTS.latest.field_names)


# --------------------------------------------------------------------------- exactly once
