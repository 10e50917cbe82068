"""The DAGs' decisions, as pure functions of what the CLIs print in JSON.

- :func:`maintenance_plan`: from ``txn-lake compact --dry-run --format json`` and
  ``txn-lake vacuum --dry-run --format json``, which tables ``txn_lake_maintenance`` compacts
  and vacuums, and why it skips the others.
- :func:`gate_failure`: from ``txn-report --format json``, why ``txn_batch_refresh``'s gate
  fails the run, in one sentence (None: it passes).

Example::

    plan = maintenance_plan(json.loads(compact_dry_run), json.loads(vacuum_dry_run), 10, "1h")
    plan["bronze"]  # {"compact": None, "vacuum": None, "retention_hours": 168.0, ...}
"""

from __future__ import annotations

from typing import Any

__all__ = ["LAKE_TABLES", "gate_failure", "maintenance_plan", "reconciliation"]

# The lake's tables in flow order (txn_lake.layout.TABLE_NAMES; a unit test holds them equal).
LAKE_TABLES = (
    "bronze",
    "quarantine",
    "silver",
    "silver_rejects",
    "silver_audit",
    "gold_merchant_hourly",
    "gold_customer_daily",
    "alerts",
)


def maintenance_plan(
    compactions: list[dict[str, Any]],
    vacuums: list[dict[str, Any]],
    min_small_files: int,
    min_age: str,
) -> dict[str, dict[str, Any]]:
    """Per lake table, from ``txn-lake compact --dry-run`` (``compactions``) and ``txn-lake
    vacuum --dry-run`` (``vacuums``): ``compact`` and ``vacuum`` (None: run it; else the
    sentence saying why it is skipped), ``retention_hours`` (what vacuum keeps, from the
    table's properties) and ``small_files``.

    Compaction is skipped when the table's closed partitions hold fewer than
    ``min_small_files`` small files; vacuum when no file on disk outside the table's current
    version is older than its retention, so that Delta's VACUUM would delete nothing (files a
    compaction of this run replaces are younger). So gold, whose MERGEs replace files every
    batch in partitions that never hold many, is vacuumed without being compacted.
    """
    compaction = {c["table"]: c for c in compactions}
    vacuum = {v["table"]: v for v in vacuums}
    out: dict[str, dict[str, Any]] = {}
    for table in LAKE_TABLES:
        c, v = compaction.get(table), vacuum.get(table)
        if c is None or v is None:
            missing = f"{table}: skipped: no Delta table in the lake yet"
            out[table] = _decision(missing, missing, None, 0)
            continue
        small, parts = c["small_files"], len(c["partitions"])
        compact = None
        if small < min_small_files:
            compact = (
                f"{table}: compaction skipped: its partitions closed for at least {min_age} "
                f"hold {small} small file(s) ({parts} partition(s) with several files), fewer "
                f"than min_small_files={min_small_files}"
            )
        hours = v["retention_hours"]
        clean = None
        if not v["files"]:
            clean = (
                f"{table}: vacuum skipped: no file on disk outside its current version is "
                f"older than its retention, {hours:g} h, so VACUUM would delete nothing"
            )
        out[table] = _decision(compact, clean, hours, small)
    return out


def _decision(
    compact: str | None, vacuum: str | None, retention_hours: float | None, small_files: int
) -> dict[str, Any]:
    return {
        "compact": compact,
        "vacuum": vacuum,
        "retention_hours": retention_hours,
        "small_files": small_files,
    }


def reconciliation(report: dict[str, Any]) -> tuple[int, int]:
    """``(rows silver read from bronze, per its audit; silver + rejects + duplicates)``."""
    sv = report["silver"]
    return sv["bronze_rows_read"], sv["rows"] + sv["rejected"] + sv["duplicates_dropped"]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def gate_failure(
    report: dict[str, Any], max_quarantine_ratio: float, max_reject_ratio: float
) -> str | None:
    """Why the batch refresh must fail, as one sentence, or None when it passes.

    It fails when the rows silver read, up to the bronze version it consumed (the sum of its
    audit's ``rows_read``), differ from silver's rows + rejects + exact duplicates dropped, or
    when the share of landed messages that bronze quarantined, or of read rows that silver
    rejected, exceeds its threshold. Bronze rows that silver has not read yet (bronze still
    streaming ahead) are not a failure.
    """
    sv = report.get("silver") or {}
    if not sv.get("exists"):
        return (
            "The batch refresh gate failed: the lake has no silver table: silver-refine wrote none."
        )
    reasons = []
    read, accounted = reconciliation(report)
    if read != accounted:
        reasons.append(
            f"silver does not reconcile: it read {read:,} bronze rows (its audit) but holds "
            f"{sv['rows']:,} rows + {sv['rejected']:,} rejects + "
            f"{sv['duplicates_dropped']:,} duplicates = {accounted:,}"
        )
    quarantined = report.get("quarantine_rows", 0)
    landed = report.get("bronze_rows", 0) + quarantined
    if _ratio(quarantined, landed) > max_quarantine_ratio:
        reasons.append(
            f"bronze quarantined {_ratio(quarantined, landed):.2%} of the messages it landed "
            f"({quarantined:,} of {landed:,}), above max_quarantine_ratio "
            f"{max_quarantine_ratio:.2%}"
        )
    if _ratio(sv["rejected"], read) > max_reject_ratio:
        reasons.append(
            f"silver rejected {_ratio(sv['rejected'], read):.2%} of the rows it read "
            f"({sv['rejected']:,} of {read:,}), above max_reject_ratio {max_reject_ratio:.2%}"
        )
    if not reasons:
        return None
    return "The batch refresh gate failed: " + "; ".join(reasons) + "."
