"""Where everything lives under a lake root: the tables and the streaming checkpoints.

Example::

    lake = Lake(Path("lake"))
    lake.table_path(BRONZE)        # lake/bronze
    lake.checkpoint(BRONZE_INGEST.name)  # lake/_checkpoints/bronze_ingest (txn_lake.tables)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ALERTS",
    "BRONZE",
    "GOLD_CUSTOMER_DAILY",
    "GOLD_MERCHANT_HOURLY",
    "QUARANTINE",
    "SILVER",
    "SILVER_AUDIT",
    "SILVER_REJECTS",
    "TABLE_NAMES",
    "Lake",
    "lake_table",
]

BRONZE = "bronze"
QUARANTINE = "quarantine"
SILVER = "silver"
SILVER_REJECTS = "silver_rejects"
# silver-refine's per-batch audit (rows read, inserted, duplicates, conflicts, rejects per rule).
SILVER_AUDIT = "silver_audit"
# gold-signals' aggregates and alerts (txn_lake.gold_tables).
GOLD_MERCHANT_HOURLY = "gold_merchant_hourly"
GOLD_CUSTOMER_DAILY = "gold_customer_daily"
ALERTS = "alerts"
TABLE_NAMES = (
    BRONZE,
    QUARANTINE,
    SILVER,
    SILVER_REJECTS,
    SILVER_AUDIT,
    GOLD_MERCHANT_HOURLY,
    GOLD_CUSTOMER_DAILY,
    ALERTS,
)


@dataclass(frozen=True)
class Lake:
    """A lake root: ``LAKE/<table>`` Delta tables and ``LAKE/_checkpoints/<job>``."""

    root: Path

    def table_path(self, name: str) -> Path:
        """The directory of table ``name`` (one of :data:`TABLE_NAMES`)."""
        if name not in TABLE_NAMES:
            from txn_contract.errors import ConfigError

            raise ConfigError(
                "--table", f"{name!r} is not a lake table; choose from {', '.join(TABLE_NAMES)}"
            )
        return self.root / name

    def checkpoint(self, job: str) -> Path:
        """The default streaming checkpoint of ``job`` (``bronze_ingest``, ``silver_refine``)."""
        return self.root / "_checkpoints" / job

    def existing_tables(self) -> list[str]:
        """Names of the tables that exist as Delta tables, in flow order."""
        from .facts import is_delta_table

        return [n for n in TABLE_NAMES if is_delta_table(self.table_path(n))]


def lake_table(name: str) -> property:
    """A settings property: the path of lake table ``name`` under the settings' ``lake``.

    ``bronze_path = lake_table(BRONZE)`` in a settings model with a ``lake`` field gives
    ``settings.bronze_path == Lake(settings.lake).table_path(BRONZE)``. (A property, which
    pydantic leaves alone, rather than a field.)
    """
    Lake(Path("/")).table_path(name)  # refuse an unknown table when the model is defined

    def path(settings) -> Path:
        return Lake(settings.lake).table_path(name)

    return property(path, doc=f"LAKE/{name}")
