"""Table facts read from the Delta log with delta-rs, without a JVM.

Rows, files and bytes come from the log's add actions (their size and per-file statistics),
never from listing directories: files of killed attempts and files replaced by OPTIMIZE stay on
disk until VACUUM, and a directory listing would count them. What a streaming output has
committed comes from the commits it wrote: Delta's transaction id (``txnAppId`` ->
``txnVersion``) and each commit's ``userMetadata`` (batch id and Kafka offset range).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CommitInfo",
    "TableFacts",
    "batch_commit",
    "commits",
    "committed_batch",
    "count_by",
    "is_delta_table",
    "latest_commit",
    "query",
    "query_table",
    "table_facts",
]


def is_delta_table(path: Path) -> bool:
    """True when ``path`` holds a Delta transaction log with at least one commit (a table being
    created has the directory a moment before its first commit)."""
    log = path / "_delta_log"
    return log.is_dir() and any(log.glob("*.json"))


def _open(path: Path):
    from deltalake import DeltaTable

    return DeltaTable(str(path))


@dataclass(frozen=True)
class CommitInfo:
    """One commit of the table's history."""

    version: int
    timestamp_ms: int
    operation: str
    metrics: dict[str, str]
    user_metadata: dict[str, Any] | None

    @property
    def batch_id(self) -> int | None:
        return (self.user_metadata or {}).get("batch_id")


@dataclass
class TableFacts:
    """What the log says about one table (``exists`` False: no table at ``path`` yet)."""

    name: str
    path: Path
    exists: bool = False
    version: int | None = None
    rows: int = 0
    files: int = 0
    bytes: int = 0
    min_file_bytes: int | None = None
    max_file_bytes: int | None = None
    partitions: int = 0
    partition_by: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    columns: list[tuple[str, str, str]] = field(default_factory=list)  # name, type, comment
    recent: list[CommitInfo] = field(default_factory=list)
    unreferenced_files: int = 0
    unreferenced_bytes: int = 0

    @property
    def avg_file_bytes(self) -> float | None:
        return self.bytes / self.files if self.files else None


def _history(dt, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` commits, newest first.

    delta-rs 1.6.6 cannot parse the commit that Delta's CONVERT TO DELTA writes at version 0
    (``readVersion: -1``); version 0 is always the table's creation and never holds a job's
    metadata, so it is left out when reading it fails.
    """
    from deltalake.exceptions import DeltaProtocolError

    try:
        return dt.history(limit)
    except DeltaProtocolError:
        newest = dt.version()
        return dt.history(min(limit, newest)) if newest > 0 else []


def commits(path: Path, after: int, limit: int) -> tuple[int, list[CommitInfo]]:
    """``(current version, commits newer than version after)``, newest first, at most ``limit``:
    for readers that follow a table's history incrementally."""
    dt = _open(path)
    newest = dt.version()
    wanted = min(newest - after, limit)
    return newest, [_commit(e) for e in _history(dt, wanted)] if wanted > 0 else []


def _commit(entry: dict[str, Any]) -> CommitInfo:
    meta = entry.get("userMetadata")
    parsed = None
    if meta:
        try:
            parsed = json.loads(meta)
        except ValueError:
            parsed = {"text": meta}
    return CommitInfo(
        version=int(entry["version"]),
        timestamp_ms=int(entry.get("timestamp") or 0),
        operation=str(entry.get("operation", "")),
        metrics={k: str(v) for k, v in (entry.get("operationMetrics") or {}).items()},
        user_metadata=parsed if isinstance(parsed, dict) else None,
    )


def table_facts(name: str, path: Path, *, history: int = 5) -> TableFacts:
    """Version, rows, files, bytes, schema with comments, properties and recent commits."""
    import pyarrow as pa

    facts = TableFacts(name=name, path=path)
    if not is_delta_table(path):
        return facts
    dt = _open(path)
    actions = pa.table(dt.get_add_actions(flatten=True))
    sizes = actions.column("size_bytes").to_pylist()
    records = actions.column("num_records").to_pylist()
    meta = dt.metadata()
    facts.exists = True
    facts.version = dt.version()
    facts.files = len(sizes)
    facts.bytes = sum(sizes)
    facts.rows = sum(r or 0 for r in records)
    if sizes:
        facts.min_file_bytes, facts.max_file_bytes = min(sizes), max(sizes)
    facts.partition_by = list(meta.partition_columns)
    part_cols = [f"partition.{c}" for c in facts.partition_by]
    if part_cols and actions.num_rows:
        keys = zip(*(actions.column(c).to_pylist() for c in part_cols), strict=True)
        facts.partitions = len(set(keys))
    facts.properties = dict(meta.configuration)
    facts.description = meta.description
    facts.columns = [
        (f.name, _type_name(f.type), (f.metadata or {}).get("comment", ""))
        for f in dt.schema().fields
    ]
    facts.recent = [_commit(e) for e in _history(dt, history)]
    referenced = {str((path / p).resolve()) for p in actions.column("path").to_pylist()}
    for p in path.rglob("*.parquet"):
        if "_delta_log" in p.parts or str(p.resolve()) in referenced:
            continue
        facts.unreferenced_files += 1
        facts.unreferenced_bytes += p.stat().st_size
    return facts


def _type_name(t: Any) -> str:
    text = str(t)
    return text.removeprefix('PrimitiveType("').removesuffix('")')


def committed_batch(path: Path, app_id: str) -> int | None:
    """The last batch id ``app_id`` committed to the table (Delta's ``txnVersion``)."""
    if not is_delta_table(path):
        return None
    return _open(path).transaction_version(app_id)


def latest_commit(path: Path, app_id: str, *, scan: int = 200) -> CommitInfo | None:
    """The newest commit written by ``app_id`` (its ``userMetadata`` names the app)."""
    if not is_delta_table(path):
        return None
    for entry in _history(_open(path), scan):
        info = _commit(entry)
        if info.user_metadata and info.user_metadata.get("app_id") == app_id:
            return info
    return None


def batch_commit(path: Path, app_id: str, batch_id: int, *, scan: int = 200) -> CommitInfo | None:
    """The commit in which ``app_id`` wrote batch ``batch_id``, if it is in recent history."""
    if not is_delta_table(path):
        return None
    for entry in _history(_open(path), scan):
        info = _commit(entry)
        meta = info.user_metadata or {}
        if meta.get("app_id") == app_id and meta.get("batch_id") == batch_id:
            return info
    return None


def query_table(path: Path, sql: str, table: str = "t") -> pa.Table:
    """The result of ``sql`` run by delta-rs's query engine (DataFusion) over the table's
    current version, registered as ``table``, as an Arrow table (strings may come back as
    Arrow string views).

    Why not ``to_pyarrow_table``: in this environment (deltalake 1.6.6, pyarrow 26) a process
    that scanned a table through pyarrow's dataset aborts at exit about half the time
    ("terminate called without an active exception"); DataFusion's scan does not.
    """
    import pyarrow as pa
    from deltalake import QueryBuilder

    return pa.table(QueryBuilder().register(table, _open(path)).execute(sql).read_all())


def query(path: Path, sql: str, table: str = "t") -> list[dict[str, Any]]:
    """Rows of ``sql`` (see :func:`query_table`) as dicts."""
    return query_table(path, sql, table).to_pylist()


def count_by(path: Path, column: str) -> dict[str, int]:
    """Rows per value of ``column`` in the table's current version (e.g. quarantine reasons)."""
    if not is_delta_table(path):
        return {}
    quoted = '"' + column.replace('"', '""') + '"'
    rows = query(path, f"SELECT {quoted} AS v, count(*) AS n FROM t GROUP BY {quoted}")
    return dict(sorted(((r["v"], int(r["n"])) for r in rows), key=lambda kv: str(kv[0])))
