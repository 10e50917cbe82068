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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from txn_contract import wire
from txn_lake.event_time import EventTime, event_time_aggregates

from .writer_schemas import IdVerdict

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = [
    "INTERNAL_REASONS",
    "SUSPECT",
    "UNRESOLVED",
    "Classifier",
    "Tally",
    "classify",
    "finish",
    "header_columns",
    "lean_schema",
    "tally",
]

_SUSPECT = "_SUSPECT"  # internal: settled by the Python fallback, never written
_UNRESOLVED = "_UNRESOLVED"  # internal: an id outside the subject, judged after decoding
SUSPECT, UNRESOLVED = _SUSPECT, _UNRESOLVED
# Placeholders that `finish` replaces; never written to an output.
INTERNAL_REASONS = frozenset({_SUSPECT, _UNRESOLVED})


def _header_layers(known_ids: Iterable[int]) -> list[dict[str, Column]]:
    """The header's columns as two layers of expressions (the second reads the first)."""
    from pyspark.sql import functions as F

    # The same checks as wire.split_header, which is Python on one value's bytes; this is the
    # vectorised form over the batch's columns (a Python UDF per row would cost the JVM round
    # trip for every message), so it takes its codes, sizes and sentences from wire. Byte
    # comparisons, not per-row hex strings: the header was the dearest part of decoding.
    length = F.coalesce(F.octet_length("value"), F.lit(0))
    first = F.substring("value", 1, 1)
    bad_magic = first != F.lit(bytearray([wire.MAGIC_BYTE]))
    short = length < wire.HEADER_SIZE
    reason = (
        F.when(length == 0, F.lit(wire.EMPTY_VALUE))
        .when(short, F.lit(wire.SHORT_HEADER))
        .when(bad_magic, F.lit(wire.BAD_MAGIC_BYTE))
    )
    detail = (
        F.when(length == 0, F.lit(wire.EMPTY_VALUE_DETAIL))
        .when(short, F.format_string(wire.SHORT_HEADER_DETAIL, length))
        .when(bad_magic, F.format_string(wire.BAD_MAGIC_DETAIL, F.lower(F.hex(first))))
    )
    number = F.conv(F.hex(F.substring("value", 2, wire.HEADER_SIZE - 1)), 16, 10).cast("long")
    header = F.substring("value", 1, wire.HEADER_SIZE)
    schema_id: Column | None = None
    for i in sorted(set(known_ids)):
        hit = header == F.lit(bytearray(wire.frame(i, b"")))
        schema_id = _chain(schema_id, hit, F.lit(i).cast("long"))
    schema_id = number if schema_id is None else schema_id.otherwise(number)
    well_formed = F.col("_header_reason").isNull()
    return [
        {"_len": length, "_header_reason": reason, "_header_detail": detail},
        {
            "schema_id": F.when(well_formed, schema_id),
            "_body": F.when(well_formed, F.expr(f"substring(value, {wire.HEADER_SIZE + 1})")),
        },
    ]


def _apply(df: DataFrame, layers: list[dict[str, Column]]) -> DataFrame:
    for layer in layers:
        df = df.withColumns(layer)
    return df


def header_columns(raw: DataFrame, known_ids: Iterable[int] = ()) -> DataFrame:
    """Add ``_len``, ``schema_id`` (null unless the header is well formed), ``_header_reason``,
    ``_header_detail`` and ``_body`` to a Kafka source DataFrame.

    ``known_ids`` are the ids most messages carry (the plan's): their 5-byte headers are matched
    as bytes, and only other headers are converted to a number through hex digits.
    """
    return _apply(raw, _header_layers(known_ids))


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


class Classifier:
    """:func:`classify` for one set of verdicts and one reader schema: its expressions are built
    once (each costs PySpark calls into the JVM, a second or more per batch when rebuilt) and
    applied to every batch as a few projections.

    Example::

        classifier = Classifier(verdicts, reader_schema_str)
        classified = classifier.apply(batch)   # the same as classify(batch, verdicts, reader)
    """

    def __init__(self, verdicts: dict[int, IdVerdict], reader_schema_str: str) -> None:
        reader_schema_str = lean_schema(reader_schema_str)
        self.layers = _header_layers(verdicts) + _decode_layers(verdicts, reader_schema_str)

    def apply(self, batch: DataFrame) -> DataFrame:
        """``batch`` classified: see :func:`classify`."""
        return _apply(batch, self.layers)


def classify(batch: DataFrame, verdicts: dict[int, IdVerdict], reader_schema_str: str) -> DataFrame:
    """Return ``batch`` (with :func:`header_columns` applied) plus ``event`` (reader-shaped
    struct, null for quarantined rows), ``reason`` and ``detail`` (null for good rows).

    ``verdicts`` must cover the subject's ids; any other id is marked as unresolved, to be
    judged by :func:`finish` (so the common batch needs no extra pass to list its ids).
    """
    return Classifier(verdicts, reader_schema_str).apply(batch)


def _decode_layers(
    verdicts: dict[int, IdVerdict], reader_schema_str: str
) -> list[dict[str, Column]]:
    """The layers after the header's: the record per writer id, its reader-shaped event, the
    checks, then reason, detail and event."""
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro, to_avro

    sid = F.col("schema_id")
    body = F.col("_body")
    reader = json.loads(reader_schema_str)
    written: dict[str, Column] = {}
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
            id_reason = _chain(id_reason, hit, F.lit(verdict.reason))
            id_detail = _chain(id_detail, hit, F.lit(verdict.detail))
            continue
        writer_str = lean_schema(verdict.schema_str)
        name = f"_w{schema_id}"
        written[name] = F.when(hit, from_avro(body, writer_str, {"mode": "PERMISSIVE"}))
        if json.loads(writer_str) == reader:
            # Written with the job's own version (the common case): decoding once is enough.
            projected = F.col(name)
        else:
            projected = from_avro(
                body, writer_str, {"mode": "PERMISSIVE", "avroSchema": reader_schema_str}
            )
        event = _chain(event, hit, projected)
        failed = _chain(failed, hit, _decode_failed(F.col(name), json.loads(writer_str)))
        reencoded = _chain(reencoded, hit, to_avro(F.col(name), writer_str))
    known = sorted(verdicts)
    unresolved = ~sid.isin(known) if known else F.lit(True)
    id_reason = _chain(id_reason, unresolved, F.lit(_UNRESOLVED))
    if event is None:  # no decodable id in this batch
        # a null of the reader's type, typed by Spark's own Avro conversion
        event = from_avro(F.lit(None).cast("binary"), reader_schema_str)
        failed = F.lit(None).cast("boolean")
        reencoded = F.lit(None).cast("binary")
    usable = F.col("_header_reason").isNull() & F.col("_id_reason").isNull()
    return [
        {
            **written,
            "_id_reason": id_reason,
            "_id_detail": id_detail if id_detail is not None else F.lit(None).cast("string"),
        },
        {"_ev": F.when(usable, event)},
        {"_failed": F.when(usable, failed | _decode_failed(F.col("_ev"), reader))},
        {"_reenc": F.when(usable & ~F.col("_failed"), reencoded)},
        *_verdict_layers(usable),
    ]


def _chain(case: Column | None, condition: Column, value: Column) -> Column:
    """``case`` (a ``CASE WHEN``, or None to start one) with one more branch."""
    from pyspark.sql import functions as F

    return (F.when if case is None else case.when)(condition, value)


def _verdict_layers(usable: Column) -> list[dict[str, Column]]:
    """``reason`` and ``detail`` from the header, the id and the payload checks; then ``event``."""
    from pyspark.sql import functions as F

    sid, body, reenc = F.col("schema_id"), F.col("_body"), F.col("_reenc")
    reenc_len = F.octet_length("_reenc")
    is_prefix = F.substring("_body", 1, reenc_len) == reenc
    payload_reason = (
        F.when(F.col("_failed"), F.lit(wire.CORRUPT_PAYLOAD))
        .when(reenc == body, F.lit(None).cast("string"))
        .when(is_prefix, F.lit(wire.TRAILING_BYTES))
        .otherwise(F.lit(_SUSPECT))
    )
    payload_detail = (
        F.when(
            F.col("_failed"),
            F.format_string(wire.CORRUPT_PAYLOAD_DETAIL, sid, F.lit("truncated or corrupt")),
        )
        .when(reenc == body, F.lit(None).cast("string"))
        .when(
            is_prefix,
            F.format_string(wire.TRAILING_BYTES_DETAIL, F.octet_length(body) - reenc_len, sid),
        )
    )
    reason = F.col("reason")
    return [
        {
            "reason": F.coalesce(
                F.col("_header_reason"), F.col("_id_reason"), F.when(usable, payload_reason)
            ),
            "detail": F.coalesce(
                F.col("_header_detail"), F.col("_id_detail"), F.when(usable, payload_detail)
            ),
        },
        {"event": F.when(reason.isNull() | (reason == _SUSPECT), F.col("_ev"))},
    ]


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
