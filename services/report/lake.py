"""Read what the bronze job committed, without Spark.

Spark's file sink records every committed file in ``<output>/_spark_metadata/<batchId>`` (and
every tenth batch a ``<batchId>.compact`` holding all entries so far). Files in the output
directory that no log entry names are leftovers of attempts that were killed; they are never
data and are reported apart.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OutputStats", "checkpoint_offsets", "committed_files", "output_stats"]

_LOG_NAME = re.compile(r"^(\d+)(\.compact)?$")


def _url_to_path(url: str) -> Path:
    """``file:///a%20b/x.parquet`` -> ``/a b/x.parquet`` (the log stores escaped URIs)."""
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(url).path))


def committed_files(output: Path) -> dict[Path, int]:
    """``{file: size}`` of every file the sink committed under ``output``."""
    log_dir = output / "_spark_metadata"
    if not log_dir.is_dir():
        return {}
    batches: dict[int, Path] = {}
    latest_compact = -1
    for p in log_dir.iterdir():
        m = _LOG_NAME.match(p.name)
        if not m:
            continue  # .crc files and temp files of an unfinished write
        batch = int(m.group(1))
        batches[batch] = p
        if m.group(2):
            latest_compact = max(latest_compact, batch)
    files: dict[Path, int] = {}
    for batch in sorted(b for b in batches if b >= latest_compact):
        lines = batches[batch].read_text().splitlines()
        for line in lines[1:]:  # the first line is the log format version ("v1")
            if not line.strip():
                continue
            entry = json.loads(line)
            path = _url_to_path(entry["path"])
            if entry.get("action", "add") == "delete":
                files.pop(path, None)
            else:
                files[path] = int(entry["size"])
    return files


@dataclass
class OutputStats:
    """Rows, bytes and files of one sink output (bronze or quarantine)."""

    rows: int = 0
    bytes: int = 0
    files: int = 0
    min_file_bytes: int | None = None
    max_file_bytes: int | None = None
    by_reason: dict[str, int] = field(default_factory=dict)
    uncommitted_files: int = 0
    uncommitted_bytes: int = 0

    @property
    def avg_file_bytes(self) -> float | None:
        return self.bytes / self.files if self.files else None


def output_stats(output: Path, *, reasons: bool = False) -> OutputStats:
    """Figures of the committed files of ``output``; row counts come from Parquet footers."""
    import pyarrow.parquet as pq

    stats = OutputStats()
    committed = committed_files(output)
    sizes = []
    reason_counts: Counter[str] = Counter()
    for path, size in committed.items():
        meta = pq.ParquetFile(path).metadata
        stats.rows += meta.num_rows
        sizes.append(size)
        if reasons:
            column = pq.read_table(path, columns=["reason"]).column("reason").to_pylist()
            reason_counts.update(column)
    if sizes:
        stats.bytes, stats.files = sum(sizes), len(sizes)
        stats.min_file_bytes, stats.max_file_bytes = min(sizes), max(sizes)
    stats.by_reason = dict(sorted(reason_counts.items()))
    if output.is_dir():
        on_disk = {
            p.resolve()
            for p in output.rglob("*.parquet")
            if "_spark_metadata" not in p.parts and not p.name.startswith(".")
        }
        known = {p.resolve() for p in committed}
        leftovers = on_disk - known
        stats.uncommitted_files = len(leftovers)
        stats.uncommitted_bytes = sum(p.stat().st_size for p in leftovers)
    return stats


def checkpoint_offsets(checkpoint: Path) -> dict[str, dict[int, int]] | None:
    """End offsets of the last batch the query committed: ``{topic: {partition: offset}}``.

    Spark writes ``offsets/<id>`` when a batch is planned and ``commits/<id>`` when it is done;
    only committed batches count, so a batch in flight at a crash is still lag.
    """
    commits = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*") if p.name.isdigit()]
    if not commits:
        return None
    offsets_file = checkpoint / "offsets" / str(max(commits))
    lines = offsets_file.read_text().splitlines()
    # Line 1 is the version, line 2 the batch metadata, then one line per source.
    source = json.loads(lines[2])
    return {topic: {int(p): int(o) for p, o in parts.items()} for topic, parts in source.items()}
