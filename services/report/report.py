"""Assemble and render the data-volume report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from txn_lake import BRONZE, QUARANTINE, Lake
from txn_lake.describe import human_size
from txn_lake.facts import TableFacts, count_by, table_facts
from txn_lake.latency import RECENT_BATCHES, Freshness, lake_freshness
from txn_lake.outputs import StreamOutput, committed_end_offsets
from txn_lake.tables import BRONZE_TABLE, QUARANTINE_TABLE

from .config import ReportSettings
from .gold_stats import GoldStats, gold_stats
from .kafka_stats import TopicStats, topic_stats
from .silver_stats import SilverStats, silver_stats
from .volume import HourlyVolume, hourly_volume, table_sizes

__all__ = ["Report", "build_report", "render_text"]


@dataclass
class Report:
    """Every figure of the table; :meth:`as_json` gives the documented JSON keys."""

    topic: str
    lake: Path
    kafka: TopicStats
    bronze: TableFacts
    quarantine: TableFacts
    quarantine_by_reason: dict[str, int]
    committed_offsets: dict[int, int] | None
    silver: SilverStats
    gold: GoldStats = field(default_factory=GoldStats)
    freshness: dict[str, Freshness] = field(default_factory=dict)
    """Per existing table, in flow order (:func:`txn_lake.latency.lake_freshness`)."""
    volume: HourlyVolume = field(default_factory=HourlyVolume)
    """Rows per event hour per layer (:func:`.volume.hourly_volume`)."""
    tables: dict[str, TableFacts] = field(default_factory=dict)
    """Every existing table's facts, in flow order (:func:`.volume.table_sizes`)."""

    @property
    def lag(self) -> dict[int, int]:
        """End offset minus the bronze job's committed offset, per partition."""
        committed = self.committed_offsets or {}
        return {
            p: end - committed.get(p, self.kafka.start_offsets.get(p, 0))
            for p, end in self.kafka.end_offsets.items()
        }

    def as_json(self) -> dict[str, Any]:
        """The documented JSON keys (``txn-report --format json``), which the HTML page shows."""
        lag = self.lag
        return {
            "topic": self.topic,
            "lake": str(self.lake),
            "topic_bytes": self.kafka.bytes_on_disk,
            "topic_messages": {str(p): n for p, n in self.kafka.messages.items()},
            "topic_messages_total": sum(self.kafka.messages.values()),
            "bronze_rows": self.bronze.rows,
            "bronze_bytes": self.bronze.bytes,
            "bronze_files": self.bronze.files,
            "avg_file_bytes": self.bronze.avg_file_bytes,
            "min_file_bytes": self.bronze.min_file_bytes,
            "max_file_bytes": self.bronze.max_file_bytes,
            "quarantine_rows": self.quarantine.rows,
            "quarantine_by_reason": self.quarantine_by_reason,
            "quarantine_bytes": self.quarantine.bytes,
            "quarantine_files": self.quarantine.files,
            # Files on disk that the tables' current versions do not reference: left by killed
            # attempts or replaced by OPTIMIZE, until VACUUM. Never counted as data.
            "uncommitted_files": self.bronze.unreferenced_files
            + self.quarantine.unreferenced_files,
            "uncommitted_bytes": self.bronze.unreferenced_bytes
            + self.quarantine.unreferenced_bytes,
            "lag": {
                "partitions": {str(p): n for p, n in lag.items()},
                "total": sum(lag.values()),
                "checkpoint_found": self.committed_offsets is not None,
            },
            "silver": self.silver.as_json(self.bronze.rows),
            "gold": self.gold.as_json(),
            "freshness": {table: f.as_json() for table, f in self.freshness.items()},
            "volume_per_hour": self.volume.as_json(),
            "tables": {
                name: {"rows": f.rows, "files": f.files, "bytes": f.bytes, "version": f.version}
                for name, f in self.tables.items()
            },
        }


def build_report(settings: ReportSettings) -> Report:
    """Read the broker and the Delta logs of bronze and quarantine (lag from their commits)."""
    topic, lake = settings.topic, settings.lake
    root = Lake(lake)
    outputs = [StreamOutput(root, t) for t in (BRONZE_TABLE, QUARANTINE_TABLE)]
    _, offsets = committed_end_offsets(outputs)
    committed = None
    if offsets is not None:
        committed = {int(p): o for p, o in offsets.get(topic, {}).items()}
    bronze = table_facts(BRONZE, root.table_path(BRONZE), history=0)
    quarantine = table_facts(QUARANTINE, root.table_path(QUARANTINE), history=0)
    return Report(
        topic=topic,
        lake=lake,
        kafka=topic_stats(settings, topic, settings.log_dirs),
        bronze=bronze,
        quarantine=quarantine,
        quarantine_by_reason=count_by(root.table_path(QUARANTINE), "reason"),
        committed_offsets=committed,
        silver=silver_stats(root),
        gold=gold_stats(root),
        freshness=lake_freshness(root),
        volume=hourly_volume(root),
        tables=table_sizes(root, {BRONZE: bronze, QUARANTINE: quarantine}),
    )


def _size(n: float | None) -> str:
    return human_size(n, unknown="unknown")


def _silver_rows(sv: dict[str, Any], bronze_rows: int) -> list[tuple[str, str]]:
    if not sv["exists"]:
        return [("Silver", "no silver table yet (run silver-refine)")]
    by_rule = ", ".join(f"{k}={v:,}" for k, v in sv["rejects_by_rule"].items())
    accounted = sv["rows"] + sv["rejected"] + sv["duplicates_dropped"]
    verdict = "reconciled" if sv["reconciled"] else "NOT reconciled"
    if not sv["reconciled"] and sv["bronze_rows_not_read"]:
        verdict += f" ({sv['bronze_rows_not_read']:,} bronze rows not read by silver yet)"
    return [
        ("Silver rows", f"{sv['rows']:,}"),
        ("Silver files", f"{sv['files']:,} (average {_size(sv['avg_file_bytes'])})"),
        ("Silver rejected", f"{sv['rejected']:,}" + (f" ({by_rule})" if by_rule else "")),
        ("Duplicates dropped (exact)", f"{sv['duplicates_dropped']:,}"),
        ("Conflicts (same id, other content)", f"{sv['conflicts']:,}"),
        ("Late rows (kept, flagged)", f"{sv['late']:,}"),
        (
            "Reconciliation",
            f"bronze {bronze_rows:,} = silver {sv['rows']:,} + rejected {sv['rejected']:,} + "
            f"duplicates {sv['duplicates_dropped']:,} ({accounted:,}): {verdict}",
        ),
    ]


def _gold_rows(g: dict[str, Any]) -> list[tuple[str, str]]:
    if not g["exists"]:
        return [("Gold", "no gold table yet (run gold-signals)")]
    by_detector = ", ".join(f"{k}={v:,}" for k, v in g["alerts_by_detector"].items())
    worst = ", ".join(
        f"{m['merchant_id']} {m['decline_rate']:.1%} of {m['transactions']:,}"
        for m in g["top_decline_merchants"]
    )
    return [
        ("Alerts", f"{g['alerts']:,}" + (f" ({by_detector})" if by_detector else "")),
        ("Gold merchant-hour rows", f"{g['merchant_hourly_rows']:,}"),
        ("Gold customer-day rows", f"{g['customer_daily_rows']:,}"),
        ("Highest decline rates", worst or "no merchant with enough transactions yet"),
    ]


def _seconds(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    return f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def _freshness_lines(fresh: dict[str, dict[str, Any]]) -> list[str]:
    """One line per table: time since its writer's last commit, p95 event -> commit."""
    if not fresh:
        return []
    out = [
        "",
        "Freshness: time since the last commit, and p95 of event -> commit (a batch's median) "
        f"over the last {RECENT_BATCHES} batches",
    ]
    width = max(len(t) for t in fresh)
    for table, f in fresh.items():
        if f["seconds_since_commit"] is None:
            out.append(f"  {table:<{width}}  no batch has written to it yet")
            continue
        p95 = f["p95_latency_seconds"]
        latency = (
            f"p95 latency {_seconds(p95)} over {f['batches']} batch"
            + ("" if f["batches"] == 1 else "es")
            if p95 is not None
            else "no batch recorded its event times"
        )
        out.append(
            f"  {table:<{width}}  last commit {_seconds(f['seconds_since_commit'])} ago, {latency}"
        )
    return out


def render_text(r: Report) -> str:
    """The report's table, as the project report printed it, plus what it could not show."""
    j = r.as_json()
    lag = j["lag"]
    per_part = ", ".join(f"p{p}={n:,}" for p, n in lag["partitions"].items())
    rows = [
        (
            "Kafka topic size",
            f"{_size(j['topic_bytes'])} ({j['topic_messages_total']:,} messages "
            f"in {len(j['topic_messages'])} partitions)",
        ),
        ("Bronze size (Delta, Snappy Parquet)", _size(j["bronze_bytes"])),
        ("Number of Parquet files", f"{j['bronze_files']:,}"),
        (
            "Average file size",
            f"{_size(j['avg_file_bytes'])} (min {_size(j['min_file_bytes'])}, "
            f"max {_size(j['max_file_bytes'])})",
        ),
        ("Bronze rows", f"{j['bronze_rows']:,}"),
        (
            "Quarantined rows",
            f"{j['quarantine_rows']:,}"
            + (
                " (" + ", ".join(f"{k}={v:,}" for k, v in j["quarantine_by_reason"].items()) + ")"
                if j["quarantine_by_reason"]
                else ""
            ),
        ),
        (
            "Lag (offsets)",
            f"{lag['total']:,} ({per_part})"
            + ("" if lag["checkpoint_found"] else " - bronze has committed no batch yet"),
        ),
    ]
    rows += _silver_rows(j["silver"], j["bronze_rows"])
    rows += _gold_rows(j["gold"])
    width = max(len(k) for k, _ in rows)
    out = [
        f"Data volume: topic {r.topic} -> {r.lake}",
        "",
        f"| {'Metric':<{width}} | Value",
        f"|{'-' * (width + 2)}|{'-' * 40}",
    ]
    out += [f"| {k:<{width}} | {v}" for k, v in rows]
    out += _freshness_lines(j["freshness"])
    if j["uncommitted_files"]:
        out.append("")
        out.append(
            f"Not counted: {j['uncommitted_files']} uncommitted file(s), "
            f"{_size(j['uncommitted_bytes'])}, not in the tables' current versions (left by "
            "killed attempts or replaced by compaction; Delta readers ignore them, VACUUM "
            "deletes them)."
        )
    if j["topic_bytes"] is None:
        out.append("")
        out.append(
            "Topic size needs the broker's log directory: pass --kafka-log-dir or "
            "--state-dir of `txn-platform`."
        )
    return "\n".join(out)
