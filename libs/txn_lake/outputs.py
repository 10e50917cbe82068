"""A streaming job's outputs: one lake table each, written exactly once per batch id.

Every commit a job writes carries ``userMetadata``: the job's ``app_id`` for that output, the
``batch_id``, the Kafka offsets the batch covered and the end offsets committed so far, plus
whatever the job needs to redo a batch exactly as it first ran (for bronze, the schema-id
verdicts). The table's history vouches for it: it is committed with the rows, atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from txn_contract.errors import ConfigError

from . import facts
from .layout import Lake
from .tables import TableSpec
from .writes import append_arrow, append_batch, ensure_table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "StreamOutput",
    "check_new_checkpoint",
    "committed_end_offsets",
    "merge_offsets",
    "rerun_of_committed",
]

Offsets = dict[str, dict[str, int]]  # topic -> partition (as a string, as JSON keys are) -> offset


@dataclass(frozen=True)
class StreamOutput:
    """Lake table ``spec`` of ``lake``, as the output of the job that writes it."""

    lake: Lake
    spec: TableSpec
    _handles: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def table(self) -> str:
        return self.spec.name

    @property
    def path(self) -> Path:
        return self.spec.path(self.lake)

    @property
    def app_id(self) -> str:
        """Delta ``txnAppId``: stable for the job and output, whatever the checkpoint."""
        return self.spec.app_id

    def ensure(
        self,
        spark: SparkSession,
        schema: StructType,
        subject: str,
        properties: dict[str, str] | None = None,
    ) -> bool:
        """Create the table with ``schema`` unless it exists; True if it was created."""
        return ensure_table(
            spark,
            self.path,
            schema,
            self.spec.partition_by,
            self.spec.table_properties(**(properties or {})),
            self.spec.comment(subject),
        )

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
        options: dict[str, str] | None = None,
        on_driver: bool = False,
    ) -> None:
        """Append ``df`` as ``batch_id`` (skipped if already committed) with Spark's Delta
        writer (``options`` are further writer options), or, ``on_driver``, collected as Arrow
        and committed by delta-rs (:func:`~txn_lake.writes.append_arrow`: for a small frame
        that adds no column)."""
        user = {"app_id": self.app_id, "batch_id": batch_id, **metadata}
        if on_driver:
            if merge_schema:
                raise ValueError("a frame that adds columns is appended by Spark (mergeSchema)")
            table = self.delta_table()
            append_arrow(
                table, df.toArrow(), app_id=self.app_id, batch_id=batch_id, user_metadata=user
            )
            return
        append_batch(
            df,
            self.path,
            app_id=self.app_id,
            batch_id=batch_id,
            user_metadata=user,
            merge_schema=merge_schema,
            options=options,
        )

    def delta_table(self) -> Any:
        """The table as a delta-rs ``DeltaTable``, opened once and brought up to date at each
        call (the log is read from the version it had)."""
        from deltalake import DeltaTable

        table = self._handles.get("delta")
        if table is None:
            table = self._handles["delta"] = DeltaTable(str(self.path))
        else:
            table.update_incremental()
        return table


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


def _last_committed(outputs: Sequence[StreamOutput]) -> tuple[StreamOutput, int] | None:
    found = [(out, b) for out in outputs if (b := out.committed_batch()) is not None]
    return max(found, key=lambda ob: ob[1]) if found else None


def check_new_checkpoint(outputs: Sequence[StreamOutput], checkpoint: Path) -> None:
    """Refuse a missing or emptied ``checkpoint`` when ``outputs`` already hold committed batches.

    Delta skips a batch id at or below the one an output has committed; a new checkpoint starts
    again at batch 0, so every batch up to the tables' last one would be skipped, advancing the
    source while writing nothing. (A checkpoint that exists but is behind is caught at its first
    batch by :func:`rerun_of_committed`.)
    """
    last = _last_committed(outputs)
    fresh = not checkpoint.is_dir() or not any(checkpoint.iterdir())
    if last is not None and fresh:
        out, batch = last
        raise ConfigError(
            "--checkpoint",
            f"{out.path} already holds batches up to {batch} of {out.spec.writer.name}, but the "
            f"checkpoint {checkpoint} is empty or missing; a new checkpoint would make those "
            "batch ids be skipped. Use the checkpoint that wrote this lake, or a new --lake",
        )


def rerun_of_committed(outputs: Sequence[StreamOutput], batch_id: int) -> bool:
    """True when ``batch_id`` is the last batch ``outputs`` committed (a re-run after a crash),
    False for a new batch; refuses a checkpoint that is behind the tables, whose batch ids
    Delta would skip."""
    last = _last_committed(outputs)
    if last is None or batch_id > last[1]:
        return False
    out, batch = last
    if batch_id < batch:
        raise ConfigError(
            "--checkpoint",
            f"the lake already holds batches up to {batch} of {out.spec.writer.name}, but the "
            f"checkpoint starts again at batch {batch_id}; those batch ids would be skipped. Use "
            "the checkpoint that wrote this lake, or a new --lake",
        )
    return True
