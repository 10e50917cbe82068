"""A streaming job's outputs: one lake table each, written exactly once per batch id.

Every commit a job writes carries ``userMetadata``: the job's ``app_id`` for that output, the
``batch_id``, the Kafka offsets the batch covered and the end offsets committed so far, plus
whatever the job needs to redo a batch exactly as it first ran (for bronze, the schema-id
verdicts). The table's history vouches for it: it is committed with the rows, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import facts
from .layout import Lake
from .writes import append_batch

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import DataFrame

__all__ = ["StreamOutput", "committed_end_offsets", "merge_offsets"]

Offsets = dict[str, dict[str, int]]  # topic -> partition (as a string, as JSON keys are) -> offset


@dataclass(frozen=True)
class StreamOutput:
    """Table ``table`` of ``lake`` as the output of streaming job ``job``."""

    lake: Lake
    job: str
    table: str

    @property
    def path(self) -> Path:
        return self.lake.table_path(self.table)

    @property
    def app_id(self) -> str:
        """Delta ``txnAppId``: stable for the job and output, whatever the checkpoint."""
        return f"txn-pipeline.{self.job}.{self.table}"

    def committed_batch(self) -> int | None:
        """The last batch id this output committed (Delta's transaction version)."""
        return facts.committed_batch(self.path, self.app_id)

    def latest_commit(self) -> facts.CommitInfo | None:
        return facts.latest_commit(self.path, self.app_id)

    def batch_commit(self, batch_id: int) -> facts.CommitInfo | None:
        return facts.batch_commit(self.path, self.app_id, batch_id)

    def append(
        self,
        df: DataFrame,
        batch_id: int,
        metadata: dict[str, Any],
        *,
        merge_schema: bool = False,
    ) -> None:
        """Append ``df`` as ``batch_id`` (skipped by Delta if already committed)."""
        append_batch(
            df,
            self.path,
            app_id=self.app_id,
            batch_id=batch_id,
            user_metadata={"app_id": self.app_id, "batch_id": batch_id, **metadata},
            merge_schema=merge_schema,
        )


def merge_offsets(base: Offsets, batch: Offsets) -> Offsets:
    """End offsets after a batch: the larger of the two per partition."""
    out = {t: dict(p) for t, p in base.items()}
    for topic, parts in batch.items():
        cur = out.setdefault(topic, {})
        for part, off in parts.items():
            cur[part] = max(cur.get(part, 0), int(off))
    return out


def committed_end_offsets(outputs: list[StreamOutput]) -> tuple[int | None, Offsets | None]:
    """``(batch id, end offsets)`` of the newest batch any of ``outputs`` committed.

    Each commit records the end offsets of every partition read so far, so the newest commit
    across the outputs is the job's committed position (what lag is measured from).
    """
    best: facts.CommitInfo | None = None
    for out in outputs:
        info = out.latest_commit()
        if info is not None and (best is None or (info.batch_id or -1) > (best.batch_id or -1)):
            best = info
    if best is None:
        return None, None
    raw = (best.user_metadata or {}).get("end_offsets") or {}
    return best.batch_id, {
        t: {str(p): int(o) for p, o in parts.items()} for t, parts in raw.items()
    }
