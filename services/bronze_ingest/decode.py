"""Per-message decoding of a Kafka micro-batch into contract events or quarantine verdicts.

Each message is decoded with **its own writer schema** (the id in its Confluent header) by
Spark's ``from_avro`` and projected onto the job's reader schema (the newest contract version)
with ``from_avro``'s ``avroSchema`` option. ``from_avro`` alone is not enough to trust a
message: in PERMISSIVE mode a corrupt body comes back as nulls, and trailing bytes after a
record go unnoticed. So every decoded record is re-encoded with ``to_avro`` and the writer
schema, and compared with the body:

- equal: the body was exactly one record (the common case, all in the JVM);
- the body starts with the re-encoding: bytes were left over (``TRAILING_BYTES``);
- otherwise the writer used a valid but non-canonical encoding (fastavro writes some negative
  decimals with a redundant sign byte) or the body is corrupt: those rare rows are settled by
  decoding them with fastavro in Python, which reports exactly how many bytes a record used.

Reason codes (stable; ``quarantine.reason``) and their sentences are ``txn_contract.wire``'s
(``wire.REASONS``), the same that ``wire.decode`` raises on bytes in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from txn_contract import wire
from txn_lake.event_time import EventTime, event_time_aggregates

from .writer_schemas import IdVerdict

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = [
    "INTERNAL_REASONS",
    "Tally",
    "classify",
    "finish",
    "header_columns",
    "lean_schema",
    "tally",
]

_SUSPECT = "_SUSPECT"  # internal: settled by the Python fallback, never written
_UNRESOLVED = "_UNRESOLVED"  # internal: an id outside the subject, judged after decoding
# Placeholders that `finish` replaces; never written to an output.
INTERNAL_REASONS = frozenset({_SUSPECT, _UNRESOLVED})


def header_columns(raw: DataFrame) -> DataFrame:
    """Add ``_len``, ``schema_id`` (null unless the header is well formed), ``_header_reason``,
    ``_header_detail`` and ``_body`` to a Kafka source DataFrame."""
    from pyspark.sql import functions as F

    # The same checks as wire.split_header, which is Python on one value's bytes; this is the
    # vectorised form over the batch's columns (a Python UDF per row would cost the JVM round
    # trip for every message), so it takes its codes, sizes and sentences from wire.
    length = F.coalesce(F.octet_length("value"), F.lit(0))
    magic_hex = F.hex(F.substring("value", 1, 1))
    bad_magic = magic_hex != f"{wire.MAGIC_BYTE:02X}"
    short = length < wire.HEADER_SIZE
    reason = (
        F.when(length == 0, F.lit(wire.EMPTY_VALUE))
        .when(short, F.lit(wire.SHORT_HEADER))
        .when(bad_magic, F.lit(wire.BAD_MAGIC_BYTE))
    )
    detail = (
        F.when(length == 0, F.lit(wire.EMPTY_VALUE_DETAIL))
        .when(short, F.format_string(wire.SHORT_HEADER_DETAIL, length))
        .when(bad_magic, F.format_string(wire.BAD_MAGIC_DETAIL, F.lower(magic_hex)))
    )
    return (
        raw.withColumn("_len", length)
        .withColumn("_header_reason", reason)
        .withColumn("_header_detail", detail)
        .withColumn(
            "schema_id",
            F.when(
                F.col("_header_reason").isNull(),
                F.conv(F.hex(F.substring("value", 2, wire.HEADER_SIZE - 1)), 16, 10).cast("long"),
            ),
        )
        .withColumn(
            "_body",
            F.when(
                F.col("_header_reason").isNull(),
                F.expr(f"substring(value, {wire.HEADER_SIZE + 1})"),
            ),
        )
    )


def lean_schema(schema_str: str) -> str:
    """The schema without ``doc`` attributes: they do not affect decoding, and every schema
    string is embedded in the query plan once per expression that uses it."""

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "doc"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return json.dumps(strip(json.loads(schema_str)), separators=(",", ":"))


def _required_fields(schema: dict) -> list[str]:
    """Fields that can never be null in a correctly decoded record."""
    out = []
    for f in schema["fields"]:
        t = f["type"]
        if not (isinstance(t, list) and "null" in t) and t != "null":
            out.append(f["name"])
    return out


def _decode_failed(struct_col: Column, schema: dict) -> Column:

    cond = struct_col.isNull()
    for name in _required_fields(schema):
        cond = cond | struct_col.getField(name).isNull()
    return cond


def classify(batch: DataFrame, verdicts: dict[int, IdVerdict], reader_schema_str: str) -> DataFrame:
    """Return ``batch`` (with :func:`header_columns` applied) plus ``event`` (reader-shaped
    struct, null for quarantined rows), ``reason`` and ``detail`` (null for good rows).

    ``verdicts`` must cover the subject's ids; any other id is marked as unresolved, to be
    judged by :func:`finish` (so the common batch needs no extra pass to list its ids).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro, to_avro

    sid = F.col("schema_id")
    body = F.col("_body")
    reader_schema_str = lean_schema(reader_schema_str)
    reader = json.loads(reader_schema_str)
    df = header_columns(batch)
    id_reason: Column | None = None
    id_detail: Column | None = None
    event: Column | None = None
    failed: Column | None = None
    reencoded: Column | None = None
    # One column per writer schema holds the record as written (types differ per schema), so
    # each message is decoded once per use; Spark does not inline expensive expressions twice.
    for schema_id, verdict in sorted(verdicts.items()):
        hit = sid == F.lit(schema_id)
        if verdict.reason:
            id_reason = (F.when if id_reason is None else id_reason.when)(
                hit, F.lit(verdict.reason)
            )
            id_detail = (F.when if id_detail is None else id_detail.when)(
                hit, F.lit(verdict.detail)
            )
            continue
        writer_str = lean_schema(verdict.schema_str)
        written = f"_w{schema_id}"
        df = df.withColumn(
            written, F.when(hit, from_avro(body, writer_str, {"mode": "PERMISSIVE"}))
        )
        if json.loads(writer_str) == reader:
            # Written with the job's own version (the common case): decoding once is enough.
            projected = F.col(written)
        else:
            projected = from_avro(
                body, writer_str, {"mode": "PERMISSIVE", "avroSchema": reader_schema_str}
            )
        event = (F.when if event is None else event.when)(hit, projected)
        failed = (F.when if failed is None else failed.when)(
            hit, _decode_failed(F.col(written), json.loads(writer_str))
        )
        reencoded = (F.when if reencoded is None else reencoded.when)(
            hit, to_avro(F.col(written), writer_str)
        )
    known = sorted(verdicts)
    unresolved = ~sid.isin(known) if known else F.lit(True)
    id_reason = (F.when if id_reason is None else id_reason.when)(unresolved, F.lit(_UNRESOLVED))
    if event is None:  # no decodable id in this batch
        # a null of the reader's type, typed by Spark's own Avro conversion
        event = from_avro(F.lit(None).cast("binary"), reader_schema_str)
        failed = F.lit(None).cast("boolean")
        reencoded = F.lit(None).cast("binary")
    df = df.withColumn(
        "_id_reason", id_reason if id_reason is not None else F.lit(None).cast("string")
    )
    df = df.withColumn(
        "_id_detail", id_detail if id_detail is not None else F.lit(None).cast("string")
    )
    usable = F.col("_header_reason").isNull() & F.col("_id_reason").isNull()
    df = df.withColumn("_ev", F.when(usable, event))
    df = df.withColumn("_failed", F.when(usable, failed | _decode_failed(F.col("_ev"), reader)))
    df = df.withColumn("_reenc", F.when(usable & ~F.col("_failed"), reencoded))
    reenc_len = F.octet_length("_reenc")
    is_prefix = F.substring("_body", 1, reenc_len) == F.col("_reenc")
    payload_reason = (
        F.when(F.col("_failed"), F.lit(wire.CORRUPT_PAYLOAD))
        .when(F.col("_reenc") == body, F.lit(None).cast("string"))
        .when(is_prefix, F.lit(wire.TRAILING_BYTES))
        .otherwise(F.lit(_SUSPECT))
    )
    payload_detail = (
        F.when(
            F.col("_failed"),
            F.format_string(wire.CORRUPT_PAYLOAD_DETAIL, sid, F.lit("truncated or corrupt")),
        )
        .when(F.col("_reenc") == body, F.lit(None).cast("string"))
        .when(
            is_prefix,
            F.format_string(wire.TRAILING_BYTES_DETAIL, F.octet_length(body) - reenc_len, sid),
        )
    )
    return (
        df.withColumn(
            "reason",
            F.coalesce(
                F.col("_header_reason"),
                F.col("_id_reason"),
                F.when(usable, payload_reason),
            ),
        )
        .withColumn(
            "detail",
            F.coalesce(
                F.col("_header_detail"), F.col("_id_detail"), F.when(usable, payload_detail)
            ),
        )
        .withColumn(
            "event", F.when(F.col("reason").isNull() | (F.col("reason") == _SUSPECT), F.col("_ev"))
        )
    )


@dataclass(frozen=True)
class Tally:
    """What one pass over a classified batch counts."""

    counts: dict[str | None, int]
    """Rows per reason (None = good)."""
    unresolved_ids: list[int]
    """Schema ids not registered under the subject (usually none), sorted."""
    good_by_id: dict[int, int]
    """Good rows per writer schema id."""
    ranges: dict[str, dict[str, list[int]]]
    """Offset range ``[first, last + 1)`` read per topic and partition (a string, as in JSON)."""
    event_time: EventTime
    """Event times of the batch's good rows."""


def tally(classified: DataFrame) -> Tally:
    """One pass over the classified batch: see :class:`Tally`."""
    from pyspark.sql import functions as F

    reason = F.col("reason")
    rows = (
        classified.groupBy(
            "reason",
            F.when(reason == _UNRESOLVED, F.col("schema_id")).alias("unresolved_id"),
            F.when(reason.isNull(), F.col("schema_id")).alias("good_id"),
            "topic",
            "partition",
        )
        .agg(
            F.count(F.lit(1)).alias("count"),
            F.min("offset").alias("lo"),
            F.max("offset").alias("hi"),
            *event_time_aggregates(F.when(reason.isNull(), F.col("event.timestamp"))),
        )
        .collect()
    )
    counts: dict[str | None, int] = {}
    ids = set()
    good: dict[int, int] = {}
    ranges: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        counts[r["reason"]] = counts.get(r["reason"], 0) + r["count"]
        if r["unresolved_id"] is not None:
            ids.add(r["unresolved_id"])
        if r["good_id"] is not None:
            good[r["good_id"]] = good.get(r["good_id"], 0) + r["count"]
        span = ranges.setdefault(r["topic"], {}).setdefault(
            str(r["partition"]), [r["lo"], r["hi"] + 1]
        )
        span[0], span[1] = min(span[0], r["lo"]), max(span[1], r["hi"] + 1)
    return Tally(counts, sorted(ids), good, ranges, EventTime.of_groups(rows))


def finish(classified: DataFrame, verdicts: dict[int, IdVerdict]) -> DataFrame:
    """Give unresolved ids their reason (``UNKNOWN_SCHEMA_ID``/``FOREIGN_SCHEMA_ID`` from
    ``verdicts``) and settle the rare rows whose re-encoding differs from the body with
    fastavro in Python.

    A body that fastavro decodes using every byte is a valid (non-canonical) encoding and its
    row stays good; otherwise the row gets ``TRAILING_BYTES`` or ``CORRUPT_PAYLOAD``.
    ``classified`` should be persisted: it is read once per branch.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schemas = {i: v.schema_str for i, v in verdicts.items() if v.schema_str}
    rejected = {i: v for i, v in verdicts.items() if v.reason}
    # plain strings, so the UDF's closure needs no txn_contract on the executors
    corrupt, corrupt_detail = wire.CORRUPT_PAYLOAD, wire.CORRUPT_PAYLOAD_DETAIL
    trailing, trailing_detail = wire.TRAILING_BYTES, wire.TRAILING_BYTES_DETAIL

    # No annotations: PySpark would read them as a pandas-UDF type hint.
    def judge(schema_id, body):
        import io

        import fastavro

        parsed = fastavro.parse_schema(json.loads(schemas[schema_id]))
        buf = io.BytesIO(body)
        try:
            fastavro.schemaless_reader(buf, parsed, None)
        except Exception as exc:  # noqa: BLE001 - any decoder failure means a corrupt body
            return corrupt, corrupt_detail % (schema_id, exc)
        left = len(body) - buf.tell()
        if left:
            return trailing, trailing_detail % (left, schema_id)
        return None, None

    judge_udf = F.udf(
        judge,
        T.StructType(
            [T.StructField("reason", T.StringType()), T.StructField("detail", T.StringType())]
        ),
        useArrow=False,  # a handful of rows: Arrow (and pandas) would only add weight
    )
    reason, detail = F.col("reason"), F.col("detail")
    if rejected:
        sid = F.col("schema_id")
        is_unresolved = reason == _UNRESOLVED
        new_reason, new_detail = reason, detail
        for i, v in sorted(rejected.items()):
            new_reason = F.when(is_unresolved & (sid == i), F.lit(v.reason)).otherwise(new_reason)
            new_detail = F.when(is_unresolved & (sid == i), F.lit(v.detail)).otherwise(new_detail)
        reason, detail = new_reason, new_detail
    # Both at once: the detail's condition must see the reason before it is replaced.
    fixed = classified.withColumns({"reason": reason, "detail": detail})
    suspects = fixed.filter(F.col("reason") == _SUSPECT)
    others = fixed.filter((F.col("reason") != _SUSPECT) | F.col("reason").isNull())
    settled = (
        suspects.withColumn(
            "_judged",
            judge_udf(F.col("schema_id"), F.expr(f"substring(value, {wire.HEADER_SIZE + 1})")),
        )
        .withColumn("reason", F.col("_judged.reason"))
        .withColumn("detail", F.col("_judged.detail"))
        .withColumn("event", F.when(F.col("reason").isNull(), F.col("event")))
        .drop("_judged")
    )
    return others.unionByName(settled)
