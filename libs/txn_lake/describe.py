"""``txn-lake describe``: what each table's log says, as text or JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .facts import TableFacts

__all__ = ["facts_json", "human_size", "render_facts"]


def human_size(n: float | None, unknown: str = "-") -> str:
    """``1536`` -> ``"1.5 KB"``; ``unknown`` when the size is not known."""
    if n is None:
        return unknown
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def facts_json(f: TableFacts) -> dict[str, Any]:
    """The documented JSON form of one table's facts."""
    return {
        "table": f.name,
        "path": str(f.path),
        "exists": f.exists,
        "version": f.version,
        "rows": f.rows,
        "files": f.files,
        "bytes": f.bytes,
        "avg_file_bytes": f.avg_file_bytes,
        "partitions": f.partitions,
        "partition_by": f.partition_by,
        "description": f.description,
        "properties": f.properties,
        "columns": [{"name": n, "type": t, "comment": c} for n, t, c in f.columns],
        "recent": [
            {
                "version": c.version,
                "timestamp": datetime.fromtimestamp(c.timestamp_ms / 1000, UTC).isoformat(),
                "operation": c.operation,
                "metrics": c.metrics,
                "user_metadata": c.user_metadata,
            }
            for c in f.recent
        ],
        "unreferenced_files": f.unreferenced_files,
    }


def _commit_line(c) -> str:
    when = datetime.fromtimestamp(c.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    meta = c.user_metadata or {}
    what = c.operation
    if "batch_id" in meta:
        ranges = ", ".join(
            f"{t}[{p}]={r[0]}..{r[1]}"
            for t, parts in sorted((meta.get("offsets") or {}).items())
            for p, r in sorted(parts.items())
        )
        what += f" batch {meta['batch_id']}" + (f" offsets {ranges}" if ranges else "")
    rows = c.metrics.get("numOutputRows")
    removed = c.metrics.get("numRemovedFiles")
    added = c.metrics.get("numAddedFiles")
    if rows:
        what += f", {int(rows):,} rows"
    if removed and added:
        what += f", files {removed} -> {added}"
    return f"    v{c.version}  {when}  {what}"


def render_facts(f: TableFacts, *, columns: bool = True) -> str:
    """One table as text: figures, properties, columns with comments, recent commits."""
    if not f.exists:
        return f"{f.name}: no Delta table at {f.path}"
    out = [
        f"{f.name}: {f.path}",
        f"  version {f.version}; {f.rows:,} rows in {f.files:,} file(s), {human_size(f.bytes)} "
        f"(average {human_size(f.avg_file_bytes)}); {f.partitions} partition(s) by "
        f"{', '.join(f.partition_by) or '-'}",
    ]
    if f.description:
        out.append(f"  {f.description}")
    if f.unreferenced_files:
        out.append(
            f"  {f.unreferenced_files} file(s) on disk are not in the current version "
            "(replaced by OPTIMIZE or left by killed attempts; VACUUM removes them)"
        )
    txn_props = {k: v for k, v in f.properties.items() if k.startswith("txn.")}
    delta_props = {k: v for k, v in f.properties.items() if not k.startswith("txn.")}
    for k, v in sorted({**txn_props, **delta_props}.items()):
        out.append(f"  property {k} = {v}")
    if columns:
        out.append("  columns:")
        width = max((len(n) for n, _, _ in f.columns), default=0)
        for name, typ, comment in f.columns:
            out.append(f"    {name:<{width}}  {typ:<14} {comment}")
    if f.recent:
        out.append("  recent commits:")
        out.extend(_commit_line(c) for c in f.recent)
    return "\n".join(out)
