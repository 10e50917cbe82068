"""Volume figures for the report: rows per event hour per layer, and each table's files and size.

Both come from cheap delta-rs reads (no Spark): the hourly counts from one ``GROUP BY`` over a
single column (bronze's and silver's event ``timestamp``; gold's merchant-hour aggregate is
already per hour, so its ``transactions`` are summed), the sizes from the tables' add actions.

Example::

    hourly_volume(Lake(Path("lake"))).as_json()
    # {"basis": "event hour (UTC)", "window_hours": 48,
    #  "hours": [{"hour": "2026-12-07T21:00:00Z", "layer": "bronze", "rows": 53349}, ...],
    #  "earlier_rows": {"bronze": 0, "silver": 0, "gold": 0}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from txn_lake import BRONZE, GOLD_MERCHANT_HOURLY, SILVER, Lake
from txn_lake.facts import TableFacts, is_delta_table, query, table_facts

__all__ = ["LAYERS", "WINDOW_HOURS", "HourlyVolume", "hourly_volume", "table_sizes"]

WINDOW_HOURS = 48
"""How many event hours the report shows, ending at the newest; older rows are summed."""

LAYERS = ("bronze", "silver", "gold")
"""The layers of the hourly volume, in flow order: gold counts the transactions it aggregated."""

_BY_TIMESTAMP = (
    "SELECT date_trunc('hour', \"timestamp\") AS hour, count(*) AS n FROM t "
    'WHERE "timestamp" IS NOT NULL GROUP BY 1'
)
_GOLD_BY_HOUR = (
    "SELECT event_date, event_hour, sum(transactions) AS n FROM t "
    "WHERE event_date IS NOT NULL AND event_hour IS NOT NULL GROUP BY 1, 2"
)
# What each layer's hourly count needs: its table, the columns the query reads, the query.
_SOURCES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "bronze": (BRONZE, ("timestamp",), _BY_TIMESTAMP),
    "silver": (SILVER, ("timestamp",), _BY_TIMESTAMP),
    "gold": (GOLD_MERCHANT_HOURLY, ("event_date", "event_hour", "transactions"), _GOLD_BY_HOUR),
}


@dataclass
class HourlyVolume:
    """Rows per event hour (UTC) per layer, over the :data:`WINDOW_HOURS` hours ending at the
    newest hour any layer holds; ``earlier_rows`` are each layer's rows before that window."""

    counts: dict[str, dict[datetime, int]] = field(default_factory=dict)
    earlier_rows: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The report's ``volume_per_hour`` object (hours oldest first, layers in flow order)."""
        hours = [
            {"hour": _iso(hour), "layer": layer, "rows": n}
            for layer in LAYERS
            for hour, n in sorted(self.counts.get(layer, {}).items())
        ]
        hours.sort(key=lambda h: h["hour"])
        return {
            "basis": "event hour (UTC)",
            "window_hours": WINDOW_HOURS,
            "hours": hours,
            "earlier_rows": {layer: self.earlier_rows.get(layer, 0) for layer in self.counts},
        }


def _iso(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%dT%H:00:00Z")


def _hour(row: dict[str, Any]) -> datetime:
    """The UTC hour of a result row: ``hour`` (a timestamp) or ``event_date`` + ``event_hour``."""
    if "hour" in row:
        value = row["hour"]
        if value.tzinfo is None:  # a timestamp without zone is UTC in the lake
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    day: date = row["event_date"]
    return datetime(day.year, day.month, day.day, int(row["event_hour"]), tzinfo=UTC)


def _columns(path: Path) -> set[str]:
    from deltalake import DeltaTable

    return {f.name for f in DeltaTable(str(path)).schema().fields}


def _layer_counts(lake: Lake, layer: str) -> dict[datetime, int] | None:
    """Rows per hour of ``layer``; None when its table does not exist or lacks the columns."""
    table, needs, sql = _SOURCES[layer]
    path = lake.table_path(table)
    if not is_delta_table(path) or not set(needs) <= _columns(path):
        return None
    out: dict[datetime, int] = {}
    for row in query(path, sql):
        hour = _hour(row)
        out[hour] = out.get(hour, 0) + int(row["n"] or 0)
    return out


def hourly_volume(lake: Lake, *, window_hours: int = WINDOW_HOURS) -> HourlyVolume:
    """Rows per event hour of bronze, silver and gold (each layer that exists) in ``lake``."""
    counts = {layer: found for layer in LAYERS if (found := _layer_counts(lake, layer)) is not None}
    newest = max((h for by_hour in counts.values() for h in by_hour), default=None)
    vol = HourlyVolume()
    if newest is None:
        vol.counts = {layer: {} for layer in counts}
        vol.earlier_rows = dict.fromkeys(counts, 0)
        return vol
    start = newest - timedelta(hours=window_hours - 1)
    for layer, by_hour in counts.items():
        vol.counts[layer] = {h: n for h, n in by_hour.items() if h >= start}
        vol.earlier_rows[layer] = sum(n for h, n in by_hour.items() if h < start)
    return vol


def table_sizes(lake: Lake, known: dict[str, TableFacts] | None = None) -> dict[str, TableFacts]:
    """The facts (rows, files, bytes) of every table of ``lake`` that exists, in flow order;
    ``known`` facts (already read by the report) are reused, not read again."""
    known = known or {}
    return {
        name: known[name]
        if name in known and known[name].exists
        else table_facts(name, lake.table_path(name), history=0)
        for name in lake.existing_tables()
    }
