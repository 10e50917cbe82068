"""Where one bronze batch spends its time: the decode of ``bronze_ingest`` stage by stage.

One batch (``--rows``, default 500,000) of a topic the real ``txn-producer`` filled, read with
a batch ``spark.read.format("kafka")`` over fixed offsets, in the same Spark session the job
builds (``txn_lake.spark.build_session``: Delta, Kafka, Avro, ``local[2]``, same driver memory).

**A. Cumulative plans, one pass, no cache.** Stage k runs stages 1..k and ends in the ``noop``
sink (every column computed, nothing written), or in a real write for the last stages; a
stage's own cost is its plan's time minus the previous plan's:

1. Kafka read (``key, value, topic, partition, offset, timestamp``, as ``process_batch``);
2. header parse (``decode.header_columns``: length, magic byte, schema id, body);
3. ``from_avro`` of the body with its writer schema, as ``decode.classify`` builds it;
4. the exact-length check: ``to_avro`` re-encode with the writer schema, compared to the body;
5. the rest of ``decode.classify`` (failed-decode checks, reason/detail, event), the columns
   ``BronzeJob._classified`` selects;
6. the bronze columns (``frames.output_frames`` on the classified rows);
7. the write of those rows as a Delta append to a table created like the job's
   (``BronzeOutputs.ensure`` + ``StreamOutput.append``: idempotent txn options, userMetadata),
   split by file times into the data files (tasks done: the newest data file's mtime) and the
   Delta commit (until the commit's ``_delta_log`` JSON exists) plus post-commit work (until
   ``save()`` returns: checkpoint, auto-compaction check).

For reference, the same rows as a plain Snappy Parquet write (``partitionBy date, hour``),
``classify`` with the Kafka source's ``minPartitions=4`` (the topic has 3 partitions and the
machine 2 cores), and an empty Delta append (the fixed cost of one commit).

**B. The job's own path** (``BronzeJob.process_batch`` with the same public functions):
``classify`` persisted (``MEMORY_AND_DISK``) -> ``decode.tally`` (a ``groupBy`` + ``collect``:
the pass that fills the cache) -> ``decode.finish`` -> ``output_frames`` ->
``BronzeOutputs.write`` (the second pass, from the cache) -> ``unpersist``.

Every plan runs ``--repeats`` times, interleaved, after one untimed run of the job's path
(JIT warm-up, like a job's first batch); medians are printed with the range.

Example (against a topic with at least ROWS events, e.g. one bench_bronze.py filled)::

    set -a; . /tmp/benchplat/platform.env; set +a
    .venv/bin/python bench/stages_bronze.py --topic bench-bronze-avro-1234abcd --rows 500000
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import load_average, machine

from bronze_ingest.decode import classify, finish, header_columns, lean_schema, tally
from bronze_ingest.frames import output_frames
from bronze_ingest.outputs import BatchPlan, BronzeOutputs
from bronze_ingest.writer_schemas import WriterSchemaResolver

# The columns BronzeJob._classified keeps (and persists).
CLASSIFIED = (
    "key",
    "value",
    "topic",
    "partition",
    "offset",
    "timestamp",
    "schema_id",
    "reason",
    "detail",
    "event",
)


def _log(message: str) -> None:
    print(f"[stages] {message}", file=sys.stderr, flush=True)


def _offsets(bootstrap: str, topic: str, rows: int) -> tuple[dict, dict, int]:
    """Start and end offsets (Spark's JSON form) of the first ``rows`` messages, taken from
    each partition in proportion to its size."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-stages"})
    try:
        parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        marks = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts}
    finally:
        c.close()
    total = sum(hi - lo for lo, hi in marks.values())
    if total < rows:
        raise SystemExit(f"topic {topic} holds {total:,} messages, fewer than --rows {rows:,}")
    take = {p: (hi - lo) * rows // total for p, (lo, hi) in marks.items()}
    take[parts[0]] += rows - sum(take.values())
    start = {topic: {str(p): marks[p][0] for p in parts}}
    end = {topic: {str(p): marks[p][0] + take[p] for p in parts}}
    return start, end, rows


class Stages:
    def __init__(self, args) -> None:
        from txn_lake import Lake
        from txn_lake.spark import build_session

        self.args = args
        self.bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        registry = os.environ["SCHEMA_REGISTRY_URL"]
        self.subject = args.subject or f"{args.topic}-value"
        self.start, self.end, self.rows = _offsets(self.bootstrap, args.topic, args.rows)
        self.ranges = {
            t: {p: [self.start[t][p], self.end[t][p]] for p in parts}
            for t, parts in self.end.items()
        }
        self.resolver = WriterSchemaResolver(registry, self.subject, timeout_s=30)
        self.verdicts = self.resolver.subject_verdicts()
        self.version, self.reader_id = self.resolver.newest()
        self.reader_str = self.verdicts[self.reader_id].schema_str
        self.plan = BatchPlan(self.verdicts, self.reader_id)
        t = time.monotonic()
        self.spark = build_session(
            "bronze-stages", master=args.master, driver_memory=args.driver_memory
        )
        _log(
            f"Spark {self.spark.version} on {self.spark.sparkContext.master} in {time.monotonic() - t:.1f} s"
        )
        self.work = args.work
        self.work.mkdir(parents=True, exist_ok=True)
        self.lake = Lake(self.work / "lake")
        self.outputs = BronzeOutputs(self.spark, self.lake, self.subject)
        self.outputs.ensure(self.reader_str, self.version, _log)
        self.batch_id = 0
        self.parquet_n = 0

    # ------------------------------------------------------------------ plans

    def raw(self, min_partitions: int | None = None):
        reader = (
            self.spark.read.format("kafka")
            .option("kafka.bootstrap.servers", self.bootstrap)
            .option("subscribe", self.args.topic)
            .option("startingOffsets", json.dumps(self.start))
            .option("endingOffsets", json.dumps(self.end))
            .option("failOnDataLoss", "true")
        )
        if min_partitions:
            reader = reader.option("minPartitions", str(min_partitions))
        return reader.load().select("key", "value", "topic", "partition", "offset", "timestamp")

    def decoded(self, check: bool):
        """Header + ``from_avro`` (and with ``check`` the re-encode comparison), built with the
        expressions ``classify`` uses for each decodable writer id."""
        from pyspark.sql import functions as F
        from pyspark.sql.avro.functions import from_avro, to_avro

        df = header_columns(self.raw())
        sid, body = F.col("schema_id"), F.col("_body")
        reenc = None
        for schema_id, v in sorted(self.verdicts.items()):
            if not v.schema_str:
                continue
            writer = lean_schema(v.schema_str)
            hit = sid == F.lit(schema_id)
            df = df.withColumn(
                f"_w{schema_id}", F.when(hit, from_avro(body, writer, {"mode": "PERMISSIVE"}))
            )
            enc = to_avro(F.col(f"_w{schema_id}"), writer)
            reenc = (F.when if reenc is None else reenc.when)(hit, enc)
        if check:
            df = df.withColumn("_reenc", reenc).withColumn("_exact", F.col("_reenc") == body)
        return df

    def classified(self, min_partitions: int | None = None):
        return classify(self.raw(min_partitions), self.verdicts, self.reader_str).select(
            *CLASSIFIED
        )

    def bronze_frame(self):
        return output_frames(self.classified(), self.reader_str, datetime.now(UTC))[0]

    # ------------------------------------------------------------------ runs

    @staticmethod
    def noop(df) -> dict:
        t = time.perf_counter()
        df.write.format("noop").mode("overwrite").save()
        return {"total": time.perf_counter() - t}

    def parquet(self) -> dict:
        self.parquet_n += 1
        out = self.work / f"parquet-{self.parquet_n}"
        t = time.perf_counter()
        self.bronze_frame().write.mode("overwrite").partitionBy("date", "hour").parquet(str(out))
        return {"total": time.perf_counter() - t}

    def _next_batch(self) -> int:
        self.batch_id += 1
        return self.batch_id

    def _split(self, t0_wall: float, t_end: float, version_before: int) -> dict:
        """Data files done (newest new data file), commit written (its log JSON), returned."""
        path = self.outputs.bronze.path
        files = [
            p.stat().st_mtime
            for p in path.rglob("*.parquet")
            if "_delta_log" not in p.parts and p.stat().st_mtime >= t0_wall
        ]
        logs = sorted((path / "_delta_log").glob("*.json"))
        newest = logs[-1]
        version = int(newest.stem)
        out = {"total": t_end - t0_wall}
        if files and version > version_before:
            out["files"] = max(files) - t0_wall
            out["commit"] = newest.stat().st_mtime - max(files)
            out["post_commit"] = t_end - newest.stat().st_mtime
        return out

    def _version(self) -> int:
        logs = sorted((self.outputs.bronze.path / "_delta_log").glob("*.json"))
        return int(logs[-1].stem)

    def delta(self) -> dict:
        df = self.bronze_frame()
        v0 = self._version()
        t0 = time.time()
        self.outputs.bronze.append(df, self._next_batch(), {"bench": "stages"})
        return self._split(t0, time.time(), v0)

    def delta_empty(self) -> dict:
        df = self.bronze_frame().limit(0)
        t0 = time.perf_counter()
        self.outputs.bronze.append(df, self._next_batch(), {"bench": "stages-empty"})
        return {"total": time.perf_counter() - t0}

    def job_path(self) -> dict:
        """``BronzeJob.process_batch`` for a batch whose ids are all known (the common case)."""
        from pyspark import StorageLevel

        t0 = time.perf_counter()
        classified = self.classified().persist(StorageLevel.MEMORY_AND_DISK)
        counts, extra, good_by_id, ranges = tally(classified)
        t1 = time.perf_counter()
        if extra:
            raise SystemExit(f"unexpected schema ids outside the subject: {extra}")
        settled = finish(classified, self.verdicts)
        counts = {(k or "BRONZE"): v for k, v in counts.items()}
        bronze_rows = counts.pop("BRONZE", 0)
        bronze_df, quarantine_df = output_frames(settled, self.reader_str, datetime.now(UTC))
        versions = {self.resolver.version_of(i) for i in (*good_by_id, self.reader_id)}
        v0 = self._version()
        w0 = time.time()
        t2 = time.perf_counter()
        self.outputs.write(
            self._next_batch(),
            self.plan,
            bronze_df if bronze_rows else None,
            quarantine_df if counts else None,
            ranges,
            {v for v in versions if v is not None},
        )
        t3 = time.perf_counter()
        split = self._split(w0, time.time(), v0)
        classified.unpersist()
        t4 = time.perf_counter()
        if bronze_rows + sum(counts.values()) != self.rows:
            raise SystemExit(f"the batch held {bronze_rows} + {counts} rows, not {self.rows}")
        return {
            "total": t4 - t0,
            "pass1": t1 - t0,
            "prepare": t2 - t1,
            "pass2": t3 - t2,
            "files": split.get("files"),
            "commit": split.get("commit"),
            "post_commit": split.get("post_commit"),
            "unpersist": t4 - t3,
            "quarantine": sum(counts.values()),
        }


def _med(runs: list[dict], key: str) -> float | None:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def _rng(runs: list[dict], key: str) -> str:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return f"{min(vals):.2f}-{max(vals):.2f}" if vals else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topic", required=True)
    ap.add_argument("--subject", default=None, help="default: TOPIC-value")
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="3g")
    ap.add_argument("--work", type=Path, default=None, help="scratch dir (default: a temp dir)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"load at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        args.work = args.work or Path(tmp)
        s = Stages(args)
        n = s.rows
        plans = {
            "1 kafka": lambda: s.noop(s.raw()),
            "2 header": lambda: s.noop(header_columns(s.raw())),
            "3 from_avro": lambda: s.noop(s.decoded(check=False)),
            "4 exact": lambda: s.noop(s.decoded(check=True)),
            "5 classify": lambda: s.noop(s.classified()),
            "6 frames": lambda: s.noop(s.bronze_frame()),
            "7 delta": s.delta,
            "ref parquet": s.parquet,
            "ref classify mp4": lambda: s.noop(s.classified(min_partitions=4)),
            "ref empty commit": s.delta_empty,
            "job path": s.job_path,
        }
        _log("warm-up: one untimed run of the job's path")
        t = time.perf_counter()
        s.job_path()
        _log(f"warm-up took {time.perf_counter() - t:.1f} s; load {load_average()}")
        runs: dict[str, list[dict]] = {k: [] for k in plans}
        for r in range(args.repeats):
            for name, fn in plans.items():
                runs[name].append(fn())
                _log(f"round {r + 1} {name}: {runs[name][-1]['total']:.2f} s")
        from txn_lake.facts import table_facts

        history = table_facts("bronze", s.outputs.bronze.path, history=1000).recent
        optimize = sum(1 for c in history if c.operation == "OPTIMIZE")
        s.spark.stop()

    med = {k: _med(v, "total") for k, v in runs.items()}
    delta = runs["7 delta"]
    files_t, commit_t, post_t = (_med(delta, k) for k in ("files", "commit", "post_commit"))
    rows = [
        ("1. Kafka read (batch source, 6 columns)", med["1 kafka"], runs["1 kafka"]),
        ("2. header parse (header_columns)", med["2 header"] - med["1 kafka"], runs["2 header"]),
        (
            "3. from_avro (writer schema, PERMISSIVE)",
            med["3 from_avro"] - med["2 header"],
            runs["3 from_avro"],
        ),
        (
            "4. exact-length check (to_avro + compare)",
            med["4 exact"] - med["3 from_avro"],
            runs["4 exact"],
        ),
        (
            "5. rest of classify (checks, reason, event)",
            med["5 classify"] - med["4 exact"],
            runs["5 classify"],
        ),
        (
            "6. bronze columns (output_frames)",
            med["6 frames"] - med["5 classify"],
            runs["6 frames"],
        ),
    ]
    if files_t is not None:
        rows += [
            ("7a. Delta write: data files (+ stats)", files_t - med["6 frames"], None),
            ("7b. Delta commit (log JSON written)", commit_t, None),
            ("7c. post-commit (until save() returns)", post_t, None),
        ]
    else:
        rows.append(("7. Delta write + commit", med["7 delta"] - med["6 frames"], delta))
    total = med["7 delta"]
    print(
        f"\nA. one batch of {n:,} rows, cumulative plans (stage k = stages 1..k, noop sink; "
        f"7 = the real Delta append); median of {args.repeats} runs, {args.master}"
    )
    print("| stage | seconds | rows/s | share | cumulative s (range) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, sec, rr in rows:
        rate = f"{n / sec:,.0f}" if sec and sec > 0 else "-"
        cum = f"{_med(rr, 'total'):.2f} ({_rng(rr, 'total')})" if rr else ""
        print(f"| {label} | {sec:.2f} | {rate} | {sec / total:.0%} | {cum} |")
    print(
        f"| **total, one pass to Delta** | **{total:.2f}** | **{n / total:,.0f}** | 100% | "
        f"{_rng(delta, 'total')} |"
    )
    print("\nreference plans (median, range):")
    for key, label in (
        ("ref parquet", "stages 1-6 + plain Parquet write (Snappy, date/hour) instead of Delta"),
        ("ref classify mp4", "stages 1-5 with Kafka minPartitions=4 (vs 5 above)"),
        ("ref empty commit", "an empty Delta append (one commit's fixed cost)"),
    ):
        print(
            f"  {label}: {med[key]:.2f} s ({_rng(runs[key], 'total')})"
            + (f" = {n / med[key]:,.0f} rows/s" if key != "ref empty commit" else "")
        )
    job = runs["job path"]
    jt = med["job path"]
    print(
        f"\nB. the job's path for the same batch (process_batch: persist, tally, finish, "
        f"write, unpersist); median of {args.repeats}"
    )
    print("| step | seconds | share |")
    print("| --- | ---: | ---: |")
    for key, label in (
        ("pass1", "pass 1: Kafka + classify + fill the cache (persist) + tally (groupBy, collect)"),
        ("prepare", "finish + output_frames (driver, planning)"),
        ("files", "pass 2: from the cache, finish's union, data files (+ stats)"),
        ("commit", "Delta commit (log JSON written)"),
        ("post_commit", "post-commit (until write() returns)"),
        ("unpersist", "unpersist"),
    ):
        v = _med(job, key)
        if v is not None:
            print(f"| {label} | {v:.2f} | {v / jt:.0%} |")
    print(f"| **total** | **{jt:.2f}** ({_rng(job, 'total')}) = {n / jt:,.0f} rows/s | 100% |")
    print(f"the job's path vs one pass to Delta (A total): {jt / total:.2f}x the time")
    if optimize:
        print(f"note: auto-compaction ran {optimize} OPTIMIZE commit(s) during the runs")
    print(f"\nload at end: {load_average()}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
