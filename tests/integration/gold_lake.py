"""The lake the gold-signals integration tests share (``test_gold_signals.py``,
``test_gold_restarts.py``): silver written as silver-refine writes it, scenarios with
just-below-threshold controls in silver batch 0, late rows in silver batch 1, and gold run
(available-now) after each and once more with nothing new. Session-scoped: built once.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import create_topic
from txn_contract import packaged_contract
from txn_contract.alerts import SUBJECT as ALERTS_SUBJECT
from txn_contract.detectors import packaged_detectors
from txn_gold.config import GoldSettings
from txn_gold.job import GoldJob
from txn_lake.gold_tables import ALERTS_TABLE, GOLD_CUSTOMER_DAILY_TABLE, GOLD_MERCHANT_HOURLY_TABLE
from txn_lake.layout import Lake
from txn_lake.outputs import StreamOutput
from txn_lake.tables import SILVER_TABLE
from txn_lake.writes import append_arrow

CONTRACT = packaged_contract()
ALERTS = packaged_contract(ALERTS_SUBJECT)
GOLD_SIGNALS = Path(sys.executable).parent / "gold-signals"
T0 = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
TABLES = (GOLD_MERCHANT_HOURLY_TABLE.name, GOLD_CUSTOMER_DAILY_TABLE.name, ALERTS_TABLE.name)


def _txn(customer, minutes, *, status="APPROVED", channel="ONLINE", city="Toronto",
         country="CA", amount="25.00", merchant="M1", late=False):  # fmt: skip
    ts = T0 + timedelta(minutes=minutes)
    return {
        "transaction_id": f"{customer}-{minutes:09.3f}-{uuid.uuid4().hex[:6]}",
        "timestamp": ts,
        "customer_id": customer,
        "merchant_id": merchant,
        "amount": Decimal(amount),
        "currency": "CAD",
        "channel": channel,
        "city": city,
        "country": country,
        "device_id": f"dev-{customer}",
        "status": status,
        "event_date": ts.date(),
        "event_hour": ts.hour,
        "is_late": late,
        "rule_warnings": [],
    }


def _scenarios() -> dict[str, list[dict]]:
    """Customer -> transactions of silver batch 0, one scenario each (named by the customer)."""
    pos = {"channel": "POS"}
    outlier_history = [
        _txn(c, 60 * i, amount="90.00" if i % 2 else "110.00")
        for c in ("J3", "J5")
        for i in range(12)
    ]  # mean 100.00, population standard deviation 10.00
    return {
        "A": [_txn("A", m, merchant="M2") for m in (0, 1, 2, 3, 4)],  # 5 in 4 min: velocity
        "B": [_txn("B", m) for m in (0, 3, 6, 9)],  # 4 in 10 min: nothing
        "C": [_txn("C", m / 2, merchant="M3") for m in range(12)],  # a burst of 12: one alert
        "D": [_txn("D", m, status="DECLINED") for m in (0, 2, 4)],  # 3 declines in 4 min
        "E": [_txn("E", m, status="DECLINED") for m in (0, 4)],  # 2 declines: nothing
        "F": [_txn("F", 0, **pos), _txn("F", 60, city="Vancouver", **pos)],  # 3,355 km in 1 h
        "G": [_txn("G", 0, **pos), _txn("G", 60, city="Hamilton", **pos)],  # 62 km: nothing
        "H": [_txn("H", 0, **pos), _txn("H", 180, city="Montréal", **pos)],  # 167 km/h: nothing
        "I": [_txn("I", 0, **pos), _txn("I", 10, city="Atlantis", **pos)],  # not in the gazetteer
        "J": [
            *outlier_history,
            _txn("J3", 60 * 12, amount="130.00"),
            _txn("J5", 60 * 12, amount="150.00"),
        ],
        "K": [_txn("K", m, merchant="M2") for m in (0, 1, 2, 3)],  # 4: nothing, until batch 1
    }


def _late() -> list[dict]:
    """Silver batch 1: late rows into hours gold aggregated, one completing K's window."""
    return [
        _txn("K", 1.5, merchant="M2", late=True),
        _txn("B", 30, merchant="M2", amount="12.34", late=True),
        _txn("Z", 5, merchant="M1", status="DECLINED", late=True),
        _txn("Z", 7, merchant="M3", city="Ottawa", amount="99.99", late=True),
    ]


def _expected(batch0: dict[str, list[dict]], batch1: list[dict]) -> set[tuple[str, str, str]]:
    """(detector, customer, trigger transaction) of every alert the scenarios must raise."""
    k = sorted(batch0["K"] + [batch1[0]], key=lambda r: (r["timestamp"], r["transaction_id"]))
    j5 = next(r for r in batch0["J"] if r["customer_id"] == "J5" and r["amount"] == 150)
    return {
        ("velocity", "A", batch0["A"][4]["transaction_id"]),
        ("velocity", "C", batch0["C"][4]["transaction_id"]),
        ("card_testing", "D", batch0["D"][2]["transaction_id"]),
        ("impossible_travel", "F", batch0["F"][1]["transaction_id"]),
        ("amount_outlier", "J5", j5["transaction_id"]),
        ("velocity", "K", k[4]["transaction_id"]),
    }


def _append_silver(lake: Path, rows: list[dict], batch: int) -> None:
    """Commit ``rows`` as silver batch ``batch`` (as silver-refine's driver-side append does)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    table = DeltaTable(str(SILVER_TABLE.path(Lake(lake))))
    schema = pa.schema(table.schema().to_arrow())
    now = datetime.now(UTC)
    full = [{**r, "batch_id": batch, "refined_ts": now, "ingest_ts": now} for r in rows]
    meta = {"app_id": SILVER_TABLE.app_id, "batch_id": batch}
    assert append_arrow(
        table, pa.Table.from_pylist(full, schema=schema), app_id=SILVER_TABLE.app_id,
        batch_id=batch, user_metadata=meta,
    )  # fmt: skip


def _create_silver(spark, lake: Path) -> None:
    from txn_contract import SUBJECT
    from txn_lake.columns import contract_columns

    schema = SILVER_TABLE.schema(contract_columns(spark, CONTRACT.latest.schema_str))
    StreamOutput(Lake(lake), SILVER_TABLE).ensure(spark, schema, SUBJECT)


def _settings(platform, lake: Path, topic: str, **extra) -> GoldSettings:
    return GoldSettings(
        lake=lake,
        bootstrap_servers=platform.bootstrap_servers,
        schema_registry_url=platform.registry_url,
        alerts_topic=topic,
        available_now=True,
        **extra,
    ).validated()


@pytest.fixture(scope="session")
def alert_schema_id(platform) -> int:
    from txn_contract.registry import lookup_schema_id, register_contract, registry_client

    client = registry_client(platform.registry_url)
    register_contract(client, ALERTS, platform.registry_url)
    return lookup_schema_id(client, ALERTS, ALERTS.latest.version, platform.registry_url)


def _gold(spark, platform, lake, topic, schema_id, **extra) -> dict:
    cfg = _settings(platform, lake, topic, **extra)
    return GoldJob(cfg, spark, packaged_detectors(), schema_id).run(emit=print)


def _consume(
    platform, topic: str, least: int, timeout_s: float = 30.0
) -> list[tuple[bytes, bytes]]:
    """Every message of ``topic`` (at least ``least``, waiting up to ``timeout_s``)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": platform.bootstrap_servers,
            "group.id": f"gold-test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                out.append((msg.key(), msg.value()))
            elif msg is None and len(out) >= least:
                break
    finally:
        consumer.close()
    return out


def _decode(platform, messages) -> list[dict]:
    """Alerts decoded with the schema the registry holds under each message's id."""
    import fastavro

    from txn_contract import wire
    from txn_contract.registry import registry_client

    client = registry_client(platform.registry_url)
    out = []
    for key, value in messages:
        schema_id, _body = wire.split_header(value)
        parsed = fastavro.parse_schema(json.loads(client.get_schema(schema_id).schema_str))
        record = wire.decode(value, parsed)
        assert key.decode() == record["customer_id"]
        out.append(record)
    return out


@pytest.fixture(scope="session")
def gold(spark, platform, alert_schema_id, tmp_path_factory):
    """One lake for every gold test of the session: silver batch 0, gold; silver batch 1, gold; gold
    again (nothing new). ``after_first`` is a copy of the lake after the first gold run."""
    lake = tmp_path_factory.mktemp("gold_lake")
    topic = f"gold_alerts_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    batch0, batch1 = _scenarios(), _late()
    _create_silver(spark, lake)
    _append_silver(lake, [r for rows in batch0.values() for r in rows], 0)
    first = _gold(spark, platform, lake, topic, alert_schema_id)
    after_first = tmp_path_factory.mktemp("gold_after_first") / "lake"
    shutil.copytree(lake, after_first)
    _append_silver(lake, batch1, 1)
    second = _gold(spark, platform, lake, topic, alert_schema_id)
    versions = {t: _version(lake, t) for t in TABLES}
    third = _gold(spark, platform, lake, topic, alert_schema_id)
    return {
        "lake": lake,
        "topic": topic,
        "runs": (first, second, third),
        "batch1": batch1,
        "after_first": after_first,
        "expected": _expected(batch0, batch1),
        "versions_before_third": versions,
    }


def _version(lake: Path, table: str) -> int:
    from deltalake import DeltaTable

    return DeltaTable(str(Lake(lake).table_path(table))).version()


def _read(spark, lake: Path, table: str):
    return spark.read.format("delta").load(str(Lake(lake).table_path(table)))


def _alerts(spark, lake: Path) -> set[tuple[str, str, str]]:
    rows = _read(spark, lake, ALERTS_TABLE.name).collect()
    return {(r.detector, r.customer_id, r.transaction_id) for r in rows}


def _recomputed(spark, lake: Path):
    from pyspark.sql import functions as F

    silver = _read(spark, lake, "silver")
    approved = F.when(F.col("status") == "APPROVED", F.col("amount"))
    merchant = silver.groupBy("merchant_id", "currency", "event_date", "event_hour").agg(
        F.count("*").alias("transactions"),
        F.count_if(F.col("status") == "APPROVED").alias("approved"),
        F.count_if(F.col("status") == "DECLINED").alias("declined"),
        F.coalesce(F.sum(approved), F.lit(0)).cast("decimal(38,2)").alias("amount_approved"),
        F.countDistinct("customer_id").alias("customers"),
        F.min("timestamp").alias("first_event_ts"),
        F.max("timestamp").alias("last_event_ts"),
    )
    customer = silver.groupBy("customer_id", "event_date", "currency").agg(
        F.count("*").alias("transactions"),
        F.count_if(F.col("status") == "DECLINED").alias("declined"),
        F.coalesce(F.sum(approved), F.lit(0)).cast("decimal(38,2)").alias("amount"),
        F.countDistinct("merchant_id").alias("merchants"),
        F.countDistinct("city", "country").alias("cities"),
    )
    return {GOLD_MERCHANT_HOURLY_TABLE.name: merchant, GOLD_CUSTOMER_DAILY_TABLE.name: customer}


def _aggregates(spark, lake: Path) -> dict[str, list[str]]:
    out = {}
    for name in (GOLD_MERCHANT_HOURLY_TABLE.name, GOLD_CUSTOMER_DAILY_TABLE.name):
        df = _read(spark, lake, name).drop("updated_ts")
        out[name] = sorted(map(str, df.collect()))
    return out


def _snapshot(spark, lake: Path) -> dict:
    """The gold tables without the write times and batch ids (batch boundaries may differ)."""
    out = _aggregates(spark, lake)
    alerts = _read(spark, lake, ALERTS_TABLE.name).drop("detected_at", "batch_id")
    out[ALERTS_TABLE.name] = sorted(map(str, alerts.collect()))
    return out


def _commits(path: Path) -> int:
    return len(list((path / "_delta_log").glob("*.json"))) if path.is_dir() else 0
