"""Silver's figures for the report, from the Delta logs and the per-batch audit (no Spark)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from txn_lake import SILVER, SILVER_AUDIT, SILVER_REJECTS, Lake
from txn_lake.facts import is_delta_table, query, table_facts

__all__ = ["SilverStats", "silver_stats"]

_SUMS = ("rows_read", "inserted", "duplicates_dropped", "conflicts", "rejected", "late")


@dataclass
class SilverStats:
    """Totals over every silver-refine batch, and silver's table figures."""

    exists: bool = False
    rows: int = 0
    files: int = 0
    bytes: int = 0
    rejects_rows: int = 0
    batches: int = 0
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_SUMS, 0))
    rejects_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def avg_file_bytes(self) -> float | None:
        return self.bytes / self.files if self.files else None

    def as_json(self, bronze_rows: int) -> dict[str, Any]:
        """The report's ``silver`` object; ``reconciled`` is true when every bronze row is in
        silver, rejected, or dropped as an exact duplicate (None before silver exists)."""
        t = self.totals
        accounted = self.rows + t["rejected"] + t["duplicates_dropped"]
        return {
            "exists": self.exists,
            "rows": self.rows,
            "duplicates_dropped": t["duplicates_dropped"],
            "conflicts": t["conflicts"],
            "rejected": t["rejected"],
            "rejects_by_rule": self.rejects_by_rule,
            "late": t["late"],
            "files": self.files,
            "bytes": self.bytes,
            "avg_file_bytes": self.avg_file_bytes,
            "batches": self.batches,
            "bronze_rows_read": t["rows_read"],
            "bronze_rows_not_read": bronze_rows - t["rows_read"],
            "reconciled": (bronze_rows == accounted) if self.exists else None,
        }


def silver_stats(lake: Lake) -> SilverStats:
    """Read silver's and silver_rejects' logs and sum the audit table's rows."""
    st = SilverStats()
    silver = table_facts(SILVER, lake.table_path(SILVER), history=0)
    if not silver.exists:
        return st
    st.exists, st.rows, st.files, st.bytes = True, silver.rows, silver.files, silver.bytes
    st.rejects_rows = table_facts(SILVER_REJECTS, lake.table_path(SILVER_REJECTS), history=0).rows
    audit_path = lake.table_path(SILVER_AUDIT)
    if not is_delta_table(audit_path):
        return st
    audit = query(audit_path, f"SELECT {', '.join(_SUMS)}, rejected_by_rule FROM t")
    st.batches = len(audit)
    for name in _SUMS:
        st.totals[name] = sum(row[name] or 0 for row in audit)
    by_rule: Counter[str] = Counter()
    for row in audit:
        for rule, n in row["rejected_by_rule"] or []:  # Arrow maps: (key, value) pairs
            by_rule[rule] += n or 0
    st.rejects_by_rule = dict(sorted(by_rule.items()))
    return st
