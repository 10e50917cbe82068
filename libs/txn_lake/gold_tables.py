"""The gold layer's tables: per-merchant hourly and per-customer daily aggregates, and the alerts.

Declared like every lake table (:class:`~txn_lake.tables.TableSpec`), written by the
``gold-signals`` job (:data:`GOLD_SIGNALS`). The aggregates are upserted by key (a group is
recomputed from silver whenever silver gains a row of it, late rows included), so each of their
figures equals a batch recomputation over silver; the alerts are appended, never retracted.

Example::

    from txn_lake.gold_tables import ALERTS_TABLE
    ALERTS_TABLE.app_id      # "txn-pipeline.gold_signals.alerts"
"""

from __future__ import annotations

from .columns import Column
from .layout import ALERTS, GOLD_CUSTOMER_DAILY, GOLD_MERCHANT_HOURLY
from .tables import TABLES, Job, TableSpec

__all__ = [
    "ALERTS_TABLE",
    "GOLD_CUSTOMER_DAILY_TABLE",
    "GOLD_MERCHANT_HOURLY_TABLE",
    "GOLD_SIGNALS",
    "GOLD_TABLES",
]

GOLD_SIGNALS = Job("gold_signals", "gold-signals")

_EVENT_DATE = Column(
    "event_date", "DATE", "UTC date of the transactions' timestamp (event time); partition column."
)
_UPDATED = Column(
    "updated_ts",
    "TIMESTAMP",
    "When gold-signals last recomputed the row from silver (UTC); a late row updates it.",
)
_CURRENCY = Column("currency", "STRING", "ISO 4217 currency of the transactions and amounts.")
# An aggregate is rewritten in place by MERGE, so its table is small and read whole: statistics
# on the keys readers filter on, and a checkpoint every 100 commits (one commit per batch).
_AGG_PROPERTIES = {
    "delta.checkpointInterval": "100",
}

GOLD_MERCHANT_HOURLY_TABLE = TableSpec(
    name=GOLD_MERCHANT_HOURLY,
    writer=GOLD_SIGNALS,
    columns=(
        Column("merchant_id", "STRING", "The merchant (merchant_id of the transaction stream)."),
        _CURRENCY,
        _EVENT_DATE,
        Column("event_hour", "INT", "UTC hour of the transactions' timestamp (0-23)."),
        Column("transactions", "BIGINT", "Silver transactions of the merchant in the hour."),
        Column("approved", "BIGINT", "Of which status APPROVED."),
        Column("declined", "BIGINT", "Of which status DECLINED."),
        Column(
            "amount_approved",
            "DECIMAL(38,2)",
            "Sum of the approved transactions' amounts, exact to the cent.",
        ),
        Column("customers", "BIGINT", "Distinct customers of those transactions (exact)."),
        Column("first_event_ts", "TIMESTAMP", "Earliest event time of those transactions (UTC)."),
        Column("last_event_ts", "TIMESTAMP", "Latest event time of those transactions (UTC)."),
        _UPDATED,
    ),
    partition_by=("event_date",),
    properties=_AGG_PROPERTIES,
    description="One row per merchant, currency and UTC event hour of silver's transactions "
    "(subject {subject}): counts, approved amount and distinct customers, exact and late-"
    "tolerant (recomputed from silver when it gains a row of the hour); partitioned by event "
    "date (UTC).",
)

GOLD_CUSTOMER_DAILY_TABLE = TableSpec(
    name=GOLD_CUSTOMER_DAILY,
    writer=GOLD_SIGNALS,
    columns=(
        Column("customer_id", "STRING", "The customer (customer_id of the transaction stream)."),
        _EVENT_DATE,
        _CURRENCY,
        Column("transactions", "BIGINT", "Silver transactions of the customer on the day."),
        Column("declined", "BIGINT", "Of which status DECLINED."),
        Column(
            "amount",
            "DECIMAL(38,2)",
            "Sum of the approved transactions' amounts, exact to the cent.",
        ),
        Column("merchants", "BIGINT", "Distinct merchants of those transactions (exact)."),
        Column("cities", "BIGINT", "Distinct (city, country) of those transactions (exact)."),
        _UPDATED,
    ),
    partition_by=("event_date",),
    properties=_AGG_PROPERTIES,
    description="One row per customer, UTC event date and currency of silver's transactions "
    "(subject {subject}): counts, approved amount, distinct merchants and cities, exact and "
    "late-tolerant; partitioned by event date (UTC).",
)

ALERTS_TABLE = TableSpec(
    name=ALERTS,
    writer=GOLD_SIGNALS,
    leading="the alert contract's fields (bank_txn_alerts-value, latest version)",
    columns=(
        Column(
            "event_date",
            "DATE",
            "UTC date of event_time (the trigger's event time); partition column.",
        ),
        Column("batch_id", "BIGINT", "gold-signals batch that raised the alert."),
    ),
    partition_by=("event_date",),
    properties={"delta.checkpointInterval": "100"},
    description="Alerts of subject bank_txn_alerts-value raised by the detectors of "
    "detectors.yaml over silver's transactions (subject {subject}), each once, never retracted; "
    "the same alerts go to Kafka topic bank_txn_alerts. Partitioned by the trigger's event date "
    "(UTC).",
)

GOLD_TABLES = (GOLD_MERCHANT_HOURLY_TABLE, GOLD_CUSTOMER_DAILY_TABLE, ALERTS_TABLE)
TABLES.update((t.name, t) for t in GOLD_TABLES)
