"""Maintenance of the lake's tables: compaction of closed partitions and vacuum.

Compaction is Delta's OPTIMIZE, one partition at a time, restricted to partitions whose time
window ended at least ``min_age`` ago, so it does not rewrite the files a streaming job is still
appending to. OPTIMIZE commits with ``dataChange=false``: rows do not change, and streaming
readers of the table (silver reads bronze) skip the commit. A blind append never conflicts with
it; a concurrent metadata change (schema evolution) can, so a conflicting partition is retried.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from txn_contract.errors import ConfigError, TxnError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "SMALL_FILE_BYTES",
    "CompactResult",
    "CompactionPlan",
    "closed_partitions",
    "compact_table",
    "compaction_plan",
    "partition_end",
    "retention_hours",
    "vacuum_candidates",
    "vacuum_table",
]

Emit = Callable[[str], None]


def partition_end(values: dict[str, str]) -> datetime | None:
    """When a partition's time window ends: ``date``/``hour`` (bronze, quarantine) close at the
    end of that hour, ``event_date`` (silver) at the end of that day (UTC)."""
    if "date" in values and "hour" in values:
        start = datetime.strptime(values["date"], "%Y-%m-%d").replace(tzinfo=UTC)
        return start + timedelta(hours=int(values["hour"]) + 1)
    for key in ("event_date", "date"):
        if key in values:
            start = datetime.strptime(str(values[key])[:10], "%Y-%m-%d").replace(tzinfo=UTC)
            return start + timedelta(days=1)
    return None


def closed_partitions(path: Path, min_age_s: float, now: datetime | None = None) -> list[dict]:
    """Partitions (as ``{column: value}``) whose window ended at least ``min_age_s`` ago and that
    hold more than one file (one file is already compact)."""
    return [values for values, _ in _closed_partition_files(path, min_age_s, now)]


def _closed_partition_files(
    path: Path, min_age_s: float, now: datetime | None
) -> list[tuple[dict[str, str], list[int]]]:
    """:func:`closed_partitions` with the sizes of each one's files, from the log."""
    import pyarrow as pa
    from deltalake import DeltaTable

    dt = DeltaTable(str(path))
    cols = list(dt.metadata().partition_columns)
    actions = pa.table(dt.get_add_actions(flatten=True))
    if not cols or not actions.num_rows:
        return []
    files: dict[tuple, list[int]] = {}
    keys = zip(*(actions.column(f"partition.{c}").to_pylist() for c in cols), strict=True)
    for key, size in zip(keys, actions.column("size_bytes").to_pylist(), strict=True):
        files.setdefault(key, []).append(size)
    now = now or datetime.now(UTC)
    out = []
    for key, sizes in sorted(files.items(), key=lambda kv: [str(v) for v in kv[0]]):
        values = {c: str(v) for c, v in zip(cols, key, strict=True)}
        end = partition_end(values)
        if len(sizes) > 1 and (
            min_age_s == 0 or (end is not None and (now - end).total_seconds() >= min_age_s)
        ):
            out.append((values, sizes))
    return out


# Delta OPTIMIZE's default spark.databricks.delta.optimize.minFileSize: bin-packing rewrites
# only the files below it, so those are the small files.
SMALL_FILE_BYTES = 1024**3


@dataclass
class CompactionPlan:
    """What ``txn-lake compact`` would do to one table (``--dry-run``), from the log alone:
    the closed partitions it would OPTIMIZE, with their files and small files."""

    table: str
    partitions: list[tuple[dict[str, str], int, int]]  # values, files, small files
    retention_hours: float

    @property
    def small_files(self) -> int:
        return sum(small for _, _, small in self.partitions)

    def as_json(self) -> dict:
        """The documented JSON form (``txn-lake compact --dry-run --format json``)."""
        return {
            "table": self.table,
            "small_files": self.small_files,
            "small_file_bytes": SMALL_FILE_BYTES,
            "retention_hours": self.retention_hours,
            "partitions": [
                {"partition": values, "files": files, "small_files": small}
                for values, files, small in self.partitions
            ],
        }


def compaction_plan(
    name: str, path: Path, min_age_s: float, now: datetime | None = None
) -> CompactionPlan:
    """The partitions :func:`compact_table` would OPTIMIZE and how many small files they hold
    (files under :data:`SMALL_FILE_BYTES`), and the table's vacuum retention (no Spark)."""
    from deltalake import DeltaTable

    parts = [
        (values, len(sizes), sum(1 for s in sizes if s < SMALL_FILE_BYTES))
        for values, sizes in _closed_partition_files(path, min_age_s, now)
    ]
    properties = dict(DeltaTable(str(path)).metadata().configuration)
    return CompactionPlan(name, parts, retention_hours(properties))


@dataclass
class CompactResult:
    """What one table's compaction did."""

    table: str
    partitions: int = 0
    files_removed: int = 0
    files_added: int = 0
    retries: int = 0


def _where(values: dict[str, str], types: dict[str, str]) -> str:
    parts = []
    for col, val in values.items():
        if types.get(col) in ("integer", "long", "short", "byte"):
            parts.append(f"`{col}` = {int(val)}")
        else:
            parts.append(f"`{col}` = '{val.replace(chr(39), chr(39) * 2)}'")
    return " AND ".join(parts)


def compact_table(
    spark: SparkSession, name: str, path: Path, min_age_s: float, emit: Emit, attempts: int = 5
) -> CompactResult:
    """OPTIMIZE every closed partition of the table at ``path`` (see :func:`closed_partitions`)."""
    from delta import exceptions as dx
    from delta.tables import DeltaTable

    conflicts = tuple(getattr(dx, n) for n in dx.__all__)
    result = CompactResult(name)
    table = DeltaTable.forPath(spark, str(path))
    types = {f.name: f.dataType.typeName() for f in table.toDF().schema.fields}
    for values in closed_partitions(path, min_age_s):
        where = _where(values, types)
        for attempt in range(1, attempts + 1):
            try:
                metrics = table.optimize().where(where).executeCompaction().collect()[0].metrics
                break
            except conflicts as exc:
                if attempt == attempts:
                    raise TxnError(
                        f"Compacting {name} partition {where} kept conflicting with concurrent "
                        f"commits ({attempts} attempts): {str(exc).splitlines()[0]}"
                    ) from exc
                result.retries += 1
                emit(f"{name} {where}: a concurrent commit conflicted; retrying ({attempt})")
                time.sleep(0.5 * attempt)
        result.partitions += 1
        result.files_removed += int(metrics.numFilesRemoved)
        result.files_added += int(metrics.numFilesAdded)
        emit(f"{name} {where}: {metrics.numFilesRemoved} file(s) -> {metrics.numFilesAdded}")
    return result


_INTERVAL = re.compile(
    r"^\s*interval\s+(\d+(?:\.\d+)?)\s+(week|day|hour|minute|second)s?\s*$", re.I
)
_UNIT_HOURS = {"week": 168.0, "day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600}


def retention_hours(properties: dict[str, str]) -> float:
    """The table's ``delta.deletedFileRetentionDuration`` in hours (Delta's default: 7 days)."""
    text = properties.get("delta.deletedFileRetentionDuration", "interval 7 days")
    m = _INTERVAL.match(text)
    if not m:
        raise TxnError(
            f"delta.deletedFileRetentionDuration {text!r} is not an interval Delta writes"
        )
    return float(m.group(1)) * _UNIT_HOURS[m.group(2).lower()]


def check_retain_hours(path: Path, retain_hours: float | None) -> None:
    """Refuse a ``retain_hours`` that Delta 4.4 would not vacuum with, from the log (no Spark).

    Delta 4.4 vacuums with the table's ``delta.deletedFileRetentionDuration`` and ignores any
    other non-zero ``RETAIN`` value, so a value other than the table's is refused here with
    the reason, rather than silently ignored; ``0`` (and ``None``) pass, to Delta, whose own
    retention check refuses ``0``.
    """
    from .facts import table_facts

    table_retention = retention_hours(table_facts(path.name, path, history=0).properties)
    if retain_hours is None or retain_hours == 0 or retain_hours == table_retention:
        return
    shorter = retain_hours < table_retention
    raise ConfigError(
        "--retain-hours",
        f"{retain_hours:g} h is {'shorter' if shorter else 'longer'} than {path.name}'s "
        f"retention (delta.deletedFileRetentionDuration, {table_retention:g} h), which is "
        "what Delta vacuums with; "
        + (
            "a shorter retention would delete files a reader or a running job may still "
            "need, so Delta's retention check refuses it"
            if shorter
            else "raise that table property to keep files longer"
        ),
    )


def vacuum_candidates(path: Path, now: float | None = None) -> tuple[float, int]:
    """``(the table's retention in hours, files VACUUM could delete)``, from the log and the file
    system (no Spark): Parquet files under the table that its current version does not
    reference and that are older than the retention. An upper bound, as Delta also keeps the
    files that versions within the retention reference; 0 means VACUUM would delete nothing."""
    import pyarrow as pa
    from deltalake import DeltaTable

    dt = DeltaTable(str(path))
    hours = retention_hours(dict(dt.metadata().configuration))
    actions = pa.table(dt.get_add_actions(flatten=True))
    referenced = {str((path / p).resolve()) for p in actions.column("path").to_pylist()}
    cutoff = (now if now is not None else time.time()) - hours * 3600
    old = [
        p
        for p in path.rglob("*.parquet")
        if "_delta_log" not in p.parts
        and str(p.resolve()) not in referenced
        and p.stat().st_mtime < cutoff
    ]
    return hours, len(old)


def vacuum_table(spark: SparkSession, path: Path, retain_hours: float | None) -> int:
    """VACUUM with Delta's retention safety check left on (after :func:`check_retain_hours`);
    that check's refusal is a :class:`ConfigError` of ``--retain-hours``.

    Returns the number of files on disk before minus after.
    """
    from delta.tables import DeltaTable
    from pyspark.errors import IllegalArgumentException

    check_retain_hours(path, retain_hours)
    before = sum(1 for _ in path.rglob("*.parquet"))
    table = DeltaTable.forPath(spark, str(path))
    try:
        table.vacuum() if retain_hours is None else table.vacuum(retain_hours)
    except IllegalArgumentException as exc:
        if "retention" not in str(exc).lower():
            raise
        # Delta's own retention check (RETAIN 0 HOURS): its message, as one sentence.
        raise ConfigError(
            "--retain-hours",
            f"Delta's retention check refuses to vacuum {path.name} with {retain_hours:g} h: "
            "files a reader or a running job may still need would be deleted",
        ) from exc
    return before - sum(1 for _ in path.rglob("*.parquet"))
