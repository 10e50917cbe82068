"""``txn-lake migrate``: convert a lake written by the plain-Parquet bronze-ingest to Delta, in place.

Before Delta, each bronze-ingest output (``LAKE/bronze``, ``LAKE/quarantine``) was a Spark
file-sink directory: Parquet files partitioned by ``date``/``hour`` and ``_spark_metadata/<N>``,
the list of files batch ``N`` committed. Files of a killed attempt stay on disk but are in no list,
so only the list says what the output holds. This is the one module that reads it.

Per output, in an order that makes an interrupted migration safe to run again:

1. ``CONVERT TO DELTA``, which takes its file list from ``_spark_metadata`` (only committed
   files), or an empty table when the output committed no file;
2. column comments, table comment and properties, as a table created by the job has them;
3. an empty append recording the output's last committed batch id as Delta's transaction version
   for the job's ``txnAppId``, with the metadata a batch commit carries (end offsets, verdicts).

Step 3 is what keeps exactly-once across the switch: the job's checkpoint is kept, so bronze-ingest
resumes at its next batch, and a batch whose output committed but whose checkpoint entry did not
is re-run and skipped by Delta instead of being written twice. Step 3 is also the marker of a
finished output: a run that finds it does nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from txn_contract import packaged_contract
from txn_contract.errors import ConfigError, TxnError

from . import facts
from .columns import contract_columns
from .layout import BRONZE, QUARANTINE, Lake
from .outputs import StreamOutput
from .tables import (
    BRONZE_INGEST,
    BRONZE_TABLE,
    PROP_CONTRACT_VERSIONS,
    PROP_SUBJECT,
    QUARANTINE_TABLE,
    TABLES,
)
from .writes import DEFAULT_TABLE_PROPERTIES, ensure_table, set_properties

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SinkLog", "migrate_lake", "read_sink_log", "unmigrated"]

JOB = BRONZE_INGEST  # the job that wrote the plain-Parquet lake and writes the Delta one
OUTPUTS = (BRONZE, QUARANTINE)
SINK_LOG = "_spark_metadata"

_LOG_NAME = re.compile(r"^(\d+)(\.compact)?$")


@dataclass(frozen=True)
class SinkLog:
    """What an output's ``_spark_metadata`` records: its last batch and the files it holds."""

    last_batch: int | None
    files: frozenset[str]


def read_sink_log(output: Path) -> SinkLog | None:
    """The file-sink log of ``output``, or None when it has none.

    Entries are ``N`` (batch N) and ``N.compact`` (every file up to batch N); ``.crc`` and temp
    files are not entries. The live file set is the newest compact entry plus later batches.
    """
    log_dir = output / SINK_LOG
    if not log_dir.is_dir():
        return None
    entries: dict[int, Path] = {}
    for p in log_dir.iterdir():
        m = _LOG_NAME.match(p.name)
        if m:
            entries[int(m.group(1))] = p
    if not entries:
        return SinkLog(None, frozenset())
    compacts = [n for n, p in entries.items() if p.name.endswith(".compact")]
    start = max(compacts, default=min(entries))
    files: set[str] = set()
    for n in sorted(n for n in entries if n >= start):
        for line in entries[n].read_text().splitlines()[1:]:  # line 1 is the version, "v1"
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry.get("action", "add") == "add":
                files.add(entry["path"])
            else:  # "delete": a file a later batch removed
                files.discard(entry["path"])
    return SinkLog(max(entries), frozenset(files))


def unmigrated(lake: Lake) -> list[Path]:
    """Outputs of ``lake`` written by the plain-Parquet layout and not (completely) migrated:
    not Delta yet, or converted without the last batch recorded (an interrupted migration)."""
    out = []
    for table in OUTPUTS:
        output = StreamOutput(lake, TABLES[table])
        log = read_sink_log(output.path)
        if log is not None and not _finished(output, log):
            out.append(output.path)
    return out


def migrate_lake(spark: SparkSession, lake: Lake, emit: Callable[[str], None]) -> None:
    """Convert the plain-Parquet outputs of ``lake`` to Delta tables; keep the checkpoint.

    Raises :class:`ConfigError` when ``lake`` holds neither output. A lake that is Delta already
    (or was migrated) is left unchanged. bronze-ingest must not run meanwhile.
    """
    if not lake.root.is_dir():
        raise ConfigError("--lake", f"{lake.root} does not exist")
    outputs = {t: StreamOutput(lake, TABLES[t]) for t in OUTPUTS}
    logs = {t: read_sink_log(o.path) for t, o in outputs.items()}
    if not any(logs[t] is not None or facts.is_delta_table(o.path) for t, o in outputs.items()):
        raise ConfigError(
            "--lake",
            f"{lake.root} holds no bronze-ingest output ({', '.join(OUTPUTS)}) to migrate",
        )
    pending = [t for t in OUTPUTS if not _finished(outputs[t], logs[t])]
    if not pending:
        emit(f"{lake.root} is a Delta lake already: nothing to migrate")
        return
    emit("converting the plain-Parquet outputs; bronze-ingest must not be running")
    for t in pending:
        _to_delta(spark, outputs[t], logs[t], emit)
    end_offsets = _end_offsets(spark, [o.path for o in outputs.values()])
    for t in pending:
        if logs[t] is not None and logs[t].files:  # converted; a created table has it all
            _describe(spark, lake, outputs[t])
        last = logs[t].last_batch if logs[t] is not None else None
        if last is not None:
            _record_batch(spark, lake, outputs[t], last, end_offsets, emit)
    checkpoint = JOB.checkpoint(lake)
    if checkpoint.is_dir():
        emit(f"kept the checkpoint {checkpoint}: bronze-ingest resumes where it stopped")
    else:
        emit(
            f"no checkpoint at {checkpoint}: bronze-ingest will refuse this lake unless it is "
            "given the checkpoint that wrote it (--checkpoint)"
        )
    emit("migration done")


def _finished(out: StreamOutput, log: SinkLog | None) -> bool:
    """True when ``out`` is Delta and, if it was a file sink, its last batch is recorded."""
    if not facts.is_delta_table(out.path):
        return False
    if log is None or log.last_batch is None:
        return True
    committed = out.committed_batch()
    return committed is not None and committed >= log.last_batch


def _to_delta(
    spark: SparkSession, out: StreamOutput, log: SinkLog | None, emit: Callable[[str], None]
) -> None:
    """CONVERT the output in place, or create it empty when it committed no file."""
    if facts.is_delta_table(out.path):
        return  # converted by an interrupted run; the later steps are redone
    if log is None or not log.files:
        ensure_table(
            spark,
            out.path,
            _schema(spark, out.table),
            out.spec.partition_by,
            _properties(out.table),
            _description(out.table),
        )
        emit(f"{out.table}: no committed file; created an empty Delta table at {out.path}")
        return
    _check_files(out.path, log)
    on_disk = sum(1 for p in out.path.rglob("*.parquet") if SINK_LOG not in p.parts)
    types = {c.name: c.ddl_type for c in out.spec.columns}
    partitions = ", ".join(f"{c} {types[c]}" for c in out.spec.partition_by)
    # Only from _spark_metadata may the file list come: a directory listing would take in
    # the files of killed attempts. True is Delta's default; set here so no cluster default
    # can turn it off.
    previous = spark.conf.get("spark.databricks.delta.convert.useMetadataLog", None)
    spark.conf.set("spark.databricks.delta.convert.useMetadataLog", "true")
    try:
        spark.sql(f"CONVERT TO DELTA parquet.`{_ident(out.path)}` PARTITIONED BY ({partitions})")
    finally:
        if previous is None:
            spark.conf.unset("spark.databricks.delta.convert.useMetadataLog")
        else:
            spark.conf.set("spark.databricks.delta.convert.useMetadataLog", previous)
    left_out = on_disk - len(log.files)
    emit(
        f"{out.table}: converted {len(log.files)} committed file(s) (batches up to "
        f"{log.last_batch})"
        + (
            f"; {left_out} file(s) of killed attempts left out (`txn-lake vacuum` deletes them "
            "once they are older than the retention period)"
            if left_out > 0
            else ""
        )
    )


def _check_files(output: Path, log: SinkLog) -> None:
    """Refuse a log whose local files are gone (e.g. a lake moved since it was written):
    the log holds absolute paths, and CONVERT would record files that cannot be read."""
    missing = [
        f
        for f in log.files
        if urlparse(f).scheme in ("", "file") and not Path(unquote(urlparse(f).path)).is_file()
    ]
    if missing:
        raise TxnError(
            f"{output}/{SINK_LOG} lists {len(missing)} file(s) that do not exist, e.g. "
            f"{missing[0]}; was the lake moved since bronze-ingest wrote it? Migrate it where it "
            "was written, then move it."
        )


def _schema(spark: SparkSession, table: str):
    """The schema a new table ``table`` has (bronze: the packaged contract's newest version)."""
    if table == BRONZE:
        return BRONZE_TABLE.schema(contract_columns(spark, packaged_contract().latest.schema_str))
    return QUARANTINE_TABLE.schema()


def _description(table: str) -> str:
    return TABLES[table].comment(packaged_contract().subject)


def _column_comments(table: str) -> dict[str, str]:
    """Comment per column name: contract fields' docs, then the pipeline's own columns."""
    if table == QUARANTINE:
        return {c.name: c.comment for c in QUARANTINE_TABLE.columns}
    fields = json.loads(packaged_contract().latest.schema_str)["fields"]
    docs = {f["name"]: f["doc"] for f in fields if f.get("doc")}
    return {**docs, **{c.name: c.comment for c in BRONZE_TABLE.columns}}


def _describe(spark: SparkSession, lake: Lake, out: StreamOutput) -> None:
    """Column comments (one commit), then the table comment and properties (one commit)."""
    columns = spark.read.format("delta").load(str(out.path)).columns
    comments = _column_comments(out.table)
    changes = ", ".join(
        f"`{c.replace('`', '``')}` COMMENT '{_quote(comments[c])}'"
        for c in columns
        if comments.get(c)
    )
    if changes:
        spark.sql(f"ALTER TABLE delta.`{_ident(out.path)}` ALTER COLUMN {changes}")
    # Delta keeps the "comment" property as the table's description.
    props = {
        **DEFAULT_TABLE_PROPERTIES,
        **_properties(out.table),
        "comment": _description(out.table),
    }
    if out.table == BRONZE:
        props[PROP_CONTRACT_VERSIONS] = _contract_versions(spark, lake, out.path)
    set_properties(spark, out.path, props)


def _properties(table: str) -> dict[str, str]:
    """The txn.* properties bronze-ingest gives a table it creates (besides the defaults)."""
    runtime = {PROP_SUBJECT: packaged_contract().subject}
    if table == BRONZE:
        runtime[PROP_CONTRACT_VERSIONS] = str(packaged_contract().latest.version)
    props = TABLES[table].table_properties(**runtime)
    return props


def _contract_versions(spark: SparkSession, lake: Lake, bronze: Path) -> str:
    """The contract versions of bronze's rows and its columns' version, e.g. ``"1,2"``.

    Schema ids map to versions through the newest verdicts file the old job left (it judged
    every id under the subject); if one cannot be mapped, every packaged version is named.
    """
    contract = packaged_contract()
    ids = {
        r[0]
        for r in spark.read.format("delta")
        .load(str(bronze))
        .select("schema_id")
        .distinct()
        .collect()
    }
    ids.discard(None)
    files = _verdict_files(lake)
    stored = json.loads(files[max(files)].read_text()) if files else {}
    versions = {contract.latest.version}
    for i in ids:
        schema_str = (stored.get(str(i)) or {}).get("schema_str")
        match = [v.version for v in contract.versions if _same_schema(schema_str, v.schema)]
        if not match:
            return ",".join(str(v.version) for v in contract.versions)
        versions.add(match[0])
    return ",".join(str(v) for v in sorted(versions))


def _verdict_files(lake: Lake) -> dict[int, Path]:
    """The old job's per-batch verdicts, ``CHECKPOINT/verdicts/<batchId>``, by batch id."""
    d = JOB.checkpoint(lake) / "verdicts"
    if not d.is_dir():
        return {}
    return {int(p.name): p for p in d.iterdir() if p.name.isdigit()}


def _same_schema(schema_str: str | None, schema: dict[str, Any]) -> bool:
    # Registries may re-format the text they were given; the parsed JSON is what must agree.
    if not schema_str:
        return False
    try:
        return json.loads(schema_str) == schema
    except ValueError:
        return False


def _old_plan(lake: Lake, batch_id: int) -> dict[str, Any] | None:
    """The plan of ``batch_id`` as the new job commits it, from the old job's verdicts file.

    Old shape: ``{"<id>": {"schema_id", "schema_str", "reason", "detail"}}``; new shape:
    ``{"reader_schema_id": id, "verdicts": {"<id>": null | [reason, detail]}}``. The reader is
    the id of the packaged contract's newest version, which the old job decoded with. None when
    there is no file, or the reader is not in it (the job then judges the batch afresh).
    """
    path = _verdict_files(lake).get(batch_id)
    if path is None:
        return None
    stored: dict[str, dict[str, Any]] = json.loads(path.read_text())
    latest = packaged_contract().latest.schema
    readers = [int(i) for i, v in stored.items() if _same_schema(v.get("schema_str"), latest)]
    if not readers:
        return None
    return {
        "reader_schema_id": readers[0],
        "verdicts": {
            str(i): None if v.get("schema_str") else [v.get("reason"), v.get("detail")]
            for i, v in sorted(stored.items(), key=lambda kv: int(kv[0]))
        },
    }


def _end_offsets(spark: SparkSession, paths: list[Path]) -> dict[str, dict[str, int]]:
    """Next offset per topic and partition: 1 + the highest offset either output holds.

    Every message the old job read went to exactly one output, so this is where it stopped.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    cols = ["kafka_topic", "kafka_partition", "kafka_offset"]
    frames = [spark.read.format("delta").load(str(p)).select(*cols) for p in paths]
    rows = (
        reduce(lambda a, b: a.unionByName(b), frames)
        .groupBy("kafka_topic", "kafka_partition")
        .agg(F.max("kafka_offset").alias("last"))
        .collect()
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["kafka_topic"], {})[str(r["kafka_partition"])] = int(r["last"]) + 1
    return out


def _record_batch(
    spark: SparkSession,
    lake: Lake,
    out: StreamOutput,
    batch_id: int,
    end_offsets: dict[str, dict[str, int]],
    emit: Callable[[str], None],
) -> None:
    """An empty append as batch ``batch_id``: Delta then holds it as the output's last batch."""
    meta: dict[str, Any] = {"migrated_from": "parquet", "end_offsets": end_offsets}
    plan = _old_plan(lake, batch_id)
    if plan is not None:
        meta.update(plan)
    empty = spark.read.format("delta").load(str(out.path)).limit(0)
    out.append(empty, batch_id, meta)
    emit(
        f"{out.table}: recorded batch {batch_id} as the last one {JOB.name} committed"
        + (" (with its verdicts)" if plan is not None else "")
    )


def _quote(text: str) -> str:
    """``text`` inside a single-quoted SQL string literal."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _ident(path: Path) -> str:
    return str(path).replace("`", "``")
