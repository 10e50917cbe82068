"""Bronze's outputs as Parquet files that Spark writes and delta-rs commits, once per batch id.

Why not Delta's own Spark writer for these appends (measured, docs/performance.md):

- its idempotent append (``txnAppId``/``txnVersion``) asks the snapshot for the table's
  transaction versions, which Delta 4.4 reconstructs in three Spark jobs before every commit (it
  does not read them from the checksum file), on every output, in every batch;
- the commit's ``userMetadata`` (offsets, event time, verdicts) must be known before the files are
  written, which cost every batch a pass that counted it first.

Here the decoding pass writes the batch's files and counts the batch on the way
(``DataFrame.observe``); the commit follows, made by delta-rs with everything known. It is the
same commit Delta's writer makes: the files' add actions with their statistics, the ``txn`` action
(``appId`` = the output's app id, ``version`` = the batch id) and ``userMetadata``, atomically.
A batch id the output has already committed is not committed again.

An attempt's files live in a directory of their own inside the partition,
``date=D/hour=H/b<batch>-<attempt>/``; files of an attempt that died are in no commit, so every
Delta reader ignores them and VACUUM deletes them.

Example::

    out = FileOutput(StreamOutput(lake, BRONZE_TABLE))
    staged = out.stage_dir(7, {"date": "2026-12-01", "hour": "17"})
    staged.write(frame)                       # the table's columns, from its spec
    out.commit(staged, 7, {"offsets": ...})   # None if batch 7 was committed already
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from txn_lake.outputs import StreamOutput

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructField, StructType

__all__ = ["STATS_PROPERTY", "FileOutput", "Staged", "file_stats", "write_files"]

STATS_PROPERTY = "delta.dataSkippingStatsColumns"
"""The table property naming the columns whose statistics each file's add action carries."""

_DELTA_STRING_PREFIX = 32  # Delta truncates string statistics to this many characters


@dataclass(frozen=True)
class Staged:
    """One attempt's files of one output for one batch, written and not yet committed;
    ``partition`` is the values of the table's partition columns for every file."""

    directory: Path
    partition: Mapping[str, str]

    def write(self, df: DataFrame, max_records_per_file: int | None = None) -> None:
        """Write ``df``, a frame of the table's spec (partition columns included, with this
        partition's values), as files of this attempt (see :func:`write_files`)."""
        write_files(df.drop(*self.partition), self.directory, max_records_per_file)

    def files(self) -> list[Path]:
        """The attempt's data files (Spark's ``part-*`` files), sorted."""
        return sorted(self.directory.glob("part-*.parquet")) if self.directory.is_dir() else []

    def discard(self) -> None:
        """Delete the attempt's files (they are in no commit)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def write_files(df: DataFrame, directory: Path, max_records_per_file: int | None = None) -> None:
    """Write ``df`` as Snappy Parquet files into ``directory`` (Spark's file writer; appends
    when the directory has files already). ``df`` must hold the table's data columns in order,
    without the partition columns: their values are the add actions'."""
    writer = (
        df.write.mode("append")
        # No _SUCCESS marker: it would be one stray file per batch that VACUUM never deletes.
        .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    )
    if max_records_per_file:
        writer = writer.option("maxRecordsPerFile", str(max_records_per_file))
    writer.parquet(str(directory))


class FileOutput:
    """A lake table appended with staged files and delta-rs commits (see the module doc)."""

    def __init__(self, output: StreamOutput) -> None:
        self.output = output
        self._table: Any | None = None

    @property
    def path(self) -> Path:
        return self.output.path

    def table(self) -> Any:
        """The table's delta-rs handle, brought up to the log's newest version."""
        from deltalake import DeltaTable

        if self._table is None:
            self._table = DeltaTable(str(self.path))
        else:
            self._table.update_incremental()
        return self._table

    def committed_batch(self) -> int | None:
        """The last batch id committed to this output (Delta's transaction version)."""
        return self.table().transaction_version(self.output.app_id)

    def create(self, schema: StructType, properties: Mapping[str, str], comment: str) -> bool:
        """Create the table (``schema`` with its column comments, the spec's partitioning,
        ``properties``, ``comment`` as its description) unless it exists; True if created.
        delta-rs creates it in milliseconds: Delta's Spark side is not needed on the way to the
        first batch."""
        from deltalake import DeltaTable, Schema

        from txn_lake.facts import is_delta_table

        if is_delta_table(self.path):
            return False
        DeltaTable.create(
            str(self.path),
            Schema.from_json(schema.json()),
            mode="ignore",
            partition_by=list(self.output.spec.partition_by),
            description=comment,
            configuration=dict(properties),
            raise_if_key_not_exists=False,  # the txn.* properties are the lake's own
        )
        return True

    def set_properties(self, properties: Mapping[str, str]) -> None:
        """Set table properties (a metadata-only commit)."""
        if properties:
            self.table().alter.set_table_properties(dict(properties), raise_if_not_exists=False)

    def add_columns(self, fields: list[StructField]) -> None:
        """Add nullable columns, each with its comment (schema evolution, a commit of its own)."""
        from deltalake import Field

        if fields:
            self.table().alter.add_columns(
                [Field.from_json(json.dumps(f.jsonValue())) for f in fields]
            )

    def stage_dir(self, batch_id: int, partition: Mapping[str, str]) -> Staged:
        """A new directory for one attempt's files of ``batch_id`` in ``partition``."""
        parts = "/".join(f"{k}={v}" for k, v in partition.items())
        attempt = uuid.uuid4().hex[:8]
        return Staged(self.path / parts / f"b{batch_id}-{attempt}", dict(partition))

    def commit(
        self, staged: Staged, batch_id: int, metadata: Mapping[str, Any]
    ) -> tuple[int, int] | None:
        """Commit the staged files as ``batch_id`` with ``metadata`` as ``userMetadata``;
        ``(rows, files)`` committed, or None when the output has committed ``batch_id``
        already (the files are then discarded)."""
        from deltalake.transaction import AddAction, CommitProperties, Transaction

        table = self.table()
        done = table.transaction_version(self.output.app_id)
        if done is not None and done >= batch_id:
            staged.discard()
            return None
        stats_columns = _stats_columns(table)
        actions, rows, size = [], 0, 0
        for f in staged.files():
            stats = file_stats(f, stats_columns)
            if not stats["numRecords"]:
                continue  # Spark's first task writes a file even without rows: not data
            st = f.stat()
            relative = f.relative_to(self.path).as_posix()
            actions.append(
                AddAction(
                    relative,
                    st.st_size,
                    dict(staged.partition),
                    int(st.st_mtime * 1000),
                    True,
                    json.dumps(stats, separators=(",", ":")),
                )
            )
            rows += stats["numRecords"]
            size += st.st_size
        user = {"app_id": self.output.app_id, "batch_id": batch_id, **metadata}
        properties = CommitProperties(
            custom_metadata={
                "userMetadata": json.dumps(user, separators=(",", ":"), sort_keys=True),
                # What Delta's own WRITE records (txn-lake describe shows the rows per commit).
                "operationMetrics": {
                    "numFiles": str(len(actions)),
                    "numOutputRows": str(rows),
                    "numOutputBytes": str(size),
                },
            },
            app_transactions=[Transaction(self.output.app_id, batch_id, int(time.time() * 1000))],
        )
        table.create_write_transaction(
            actions,
            "append",
            table.schema(),
            list(self.output.spec.partition_by),
            commit_properties=properties,
        )
        return rows, len(actions)


def _stats_columns(table: Any) -> list[str]:
    names = table.metadata().configuration.get(STATS_PROPERTY) or ""
    return [n.strip() for n in names.split(",") if n.strip()]


def file_stats(path: Path, columns: list[str]) -> dict[str, Any]:
    """Delta's per-file statistics of a Parquet file from its footer: ``numRecords``, and for
    each of ``columns`` that the file has, ``minValues``/``maxValues`` (when known) and
    ``nullCount``, in the forms Delta writes (timestamps as ISO-8601 UTC with milliseconds,
    strings cut to 32 characters or left out when longer)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    out: dict[str, Any] = {"numRecords": meta.num_rows}
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    index = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    for name in columns:
        if name not in index:
            continue
        chunks = [meta.row_group(g).column(index[name]) for g in range(meta.num_row_groups)]
        stats = [c.statistics for c in chunks]
        if not stats or any(s is None or not s.has_null_count for s in stats):
            continue  # unknown: a reader must not skip on it
        nulls[name] = sum(s.null_count for s in stats)
        # num_values counts the non-null values: every row group that holds one must have its
        # bounds, or the file's would not bound every row (a writer leaves them out for a
        # value too long to keep).
        holding = [s for s in stats if s.num_values > 0]
        if not holding or not all(s.has_min_max for s in holding):
            continue
        lo = _json_value(min(s.min_raw for s in holding), holding[0], floor=True)
        hi = _json_value(max(s.max_raw for s in holding), holding[0], floor=False)
        if lo is not None and hi is not None:
            mins[name], maxs[name] = lo, hi
    out.update(minValues=mins, maxValues=maxs, nullCount=nulls)
    return out


def _json_value(raw: Any, stats: Any, *, floor: bool) -> Any:
    """A raw (physical) Parquet statistic as Delta writes it in JSON; None when not supported."""
    logical = str(stats.logical_type)
    signed = logical.startswith("Int(") and "isSigned=true" in logical
    if stats.physical_type in ("INT32", "INT64") and (logical == "None" or signed):
        return int(raw)
    # Only UTC-adjusted timestamps: Delta writes a timestamp without time zone's bounds without
    # an offset, and "Z" would shift them.
    if (
        stats.physical_type == "INT64"
        and logical.startswith("Timestamp")
        and "isAdjustedToUTC=true" in logical
    ):
        unit = 1000 if "MICROS" in logical.upper() else 1 if "MILLIS" in logical.upper() else None
        if unit is None:
            return None
        # Delta keeps milliseconds: round outwards, so the statistic stays a bound.
        ms = raw // unit if floor else -(-raw // unit)
        return (
            datetime.fromtimestamp(ms / 1000, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
    if stats.physical_type == "BYTE_ARRAY" and logical == "String":
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        return text if len(text) <= _DELTA_STRING_PREFIX else None
    return None
