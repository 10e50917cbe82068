"""Gold's figures for the report, from the gold tables with delta-rs (no Spark): alerts per
detector, the merchants with the highest decline rate, and the aggregates' sizes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from txn_lake import ALERTS, GOLD_CUSTOMER_DAILY, GOLD_MERCHANT_HOURLY, Lake
from txn_lake.facts import is_delta_table, query, table_facts

__all__ = ["MIN_MERCHANT_TRANSACTIONS", "TOP_MERCHANTS", "GoldStats", "gold_stats"]

# The decline-rate ranking: how many merchants, and the fewest transactions a merchant needs to
# be ranked (a merchant with one declined payment is not "the worst" at 100%).
TOP_MERCHANTS = 5
MIN_MERCHANT_TRANSACTIONS = 20


@dataclass
class GoldStats:
    """Gold's figures; ``exists`` is False before gold-signals has created its tables."""

    exists: bool = False
    alerts: int = 0
    alerts_by_detector: dict[str, int] = field(default_factory=dict)
    merchant_hourly_rows: int = 0
    customer_daily_rows: int = 0
    top_decline_merchants: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report's ``gold`` object."""
        return {
            "exists": self.exists,
            "alerts": self.alerts,
            "alerts_by_detector": self.alerts_by_detector,
            "merchant_hourly_rows": self.merchant_hourly_rows,
            "customer_daily_rows": self.customer_daily_rows,
            "top_decline_merchants": self.top_decline_merchants,
        }


def gold_stats(lake: Lake) -> GoldStats:
    """Read the gold tables of ``lake`` (each one optional: gold may not have run yet)."""
    st = GoldStats()
    merchant = lake.table_path(GOLD_MERCHANT_HOURLY)
    alerts = lake.table_path(ALERTS)
    st.exists = is_delta_table(merchant) or is_delta_table(alerts)
    if not st.exists:
        return st
    if is_delta_table(alerts):
        rows = query(alerts, "SELECT detector, count(*) AS n FROM t GROUP BY detector")
        st.alerts_by_detector = {r["detector"]: int(r["n"]) for r in sorted(rows, key=_by_d)}
        st.alerts = sum(st.alerts_by_detector.values())
    if is_delta_table(merchant):
        st.merchant_hourly_rows = table_facts(GOLD_MERCHANT_HOURLY, merchant, history=0).rows
        st.top_decline_merchants = _top_decline(merchant)
    daily = lake.table_path(GOLD_CUSTOMER_DAILY)
    if is_delta_table(daily):
        st.customer_daily_rows = table_facts(GOLD_CUSTOMER_DAILY, daily, history=0).rows
    return st


def _by_d(row: dict[str, Any]) -> str:
    return str(row["detector"])


def _top_decline(path) -> list[dict[str, Any]]:
    """The merchants with the highest share of declined transactions (ties: more transactions
    first, then the id), among those with at least :data:`MIN_MERCHANT_TRANSACTIONS`."""
    sql = (
        "SELECT merchant_id, sum(transactions) AS transactions, sum(declined) AS declined "
        f"FROM t GROUP BY merchant_id HAVING sum(transactions) >= {MIN_MERCHANT_TRANSACTIONS}"
    )
    rows = [
        {
            "merchant_id": r["merchant_id"],
            "transactions": int(r["transactions"]),
            "declined": int(r["declined"]),
            "decline_rate": int(r["declined"]) / int(r["transactions"]),
        }
        for r in query(path, sql)
    ]
    rows.sort(key=lambda r: (-r["decline_rate"], -r["transactions"], str(r["merchant_id"])))
    return rows[:TOP_MERCHANTS]
