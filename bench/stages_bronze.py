"""Where one bronze batch spends its time: the job's one-pass write against the two-pass path it
replaced, stage by stage, in one Spark session (so both see the same machine and load).

One batch (``--rows``) of a topic the real ``txn-producer`` filled, read with a batch
``spark.read.format("kafka")`` over fixed offsets, in the session the job builds
(``txn_lake.spark.build_session``, ``local[2]``, same driver memory, DataFrame debugging off as
``bronze-ingest`` sets it), with Spark's event log on.

**Stages 1-5**: cumulative one-pass plans to the ``noop`` sink (stage k runs stages 1..k; its own
cost is its plan's time minus the previous one's): Kafka read, header parse, ``from_avro``, the
``to_avro`` exact-length check, the rest of ``classify``.

**The two paths**, timed in place, each committing to its own lake:

- ``two-pass`` (the job until issue 19): ``classify`` persisted (``MEMORY_AND_DISK``), ``tally``
  (one ``groupBy`` + ``collect``), the frames, then Delta's own writer with ``txnAppId`` /
  ``txnVersion`` on tables with statistics on every column (``StreamOutput.append``);
- ``one-pass`` (the job now, :mod:`bronze_ingest.passes`): the write pass (classify, observe,
  Parquet files) and the delta-rs commit (:mod:`bronze_ingest.files`), split into building the
  plan (driver), the Spark write and the commit.

**References**: the one-pass path with the Kafka source's ``minPartitions`` (``--min-partitions``,
3 topic partitions on 2 cores leave a core idle for a third of every batch); one empty commit
with Delta's idempotent writer against one with delta-rs; and with ``--baseline-topic`` the
report's job on as many of its JSON messages (Kafka read, ``from_json``, Snappy Parquet).

Every plan runs ``--repeats`` times, interleaved, after one untimed run of each path (JIT
warm-up, like a job's first batch); medians and ranges are printed, then the Spark jobs of the
last timed run of each path from the event log (seconds, tasks, executor CPU).

Example (against a topic holding at least ROWS events, e.g. ``bench_bronze.py --keep-topics``)::

    set -a; . /tmp/benchplat/platform.env; set +a
    .venv/bin/python bench/stages_bronze.py --topic bench-bronze-avro-1234abcd --rows 500000 \\
        --baseline-topic bench-bronze-json-5678ef01
    .venv/bin/python bench/stages_bronze.py --topic bench-bronze-avro-1234abcd --rows 5000 \\
        --repeats 10                                        # a small batch: the fixed cost
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

from event_log import spark_jobs
from machine import load_average, machine

from bronze_ingest.cli import SESSION_CONF
from bronze_ingest.decode import INTERNAL_REASONS, finish, header_columns, lean_schema, tally
from bronze_ingest.frames import output_frames
from bronze_ingest.outputs import BatchPlan, BronzeBatch, BronzeOutputs
from bronze_ingest.passes import PlanColumns, merge_rare, rare_pass, write_pass
from bronze_ingest.writer_schemas import WriterSchemaResolver

# What the two-pass job kept (and persisted) per row.
CLASSIFIED = ("key", "value", "topic", "partition", "offset", "timestamp")
CLASSIFIED += ("schema_id", "reason", "detail", "event")


def _log(message: str) -> None:
    print(f"[stages] {message}", file=sys.stderr, flush=True)


def _offsets(bootstrap: str, topic: str, rows: int) -> tuple[dict, dict]:
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
    return start, end


class Stages:
    """The session, the batch's offsets, the plan and the two lakes."""

    def __init__(self, args) -> None:
        from txn_contract.registry import registry_client
        from txn_lake import Lake
        from txn_lake.spark import build_session

        self.args = args
        self.bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        registry = os.environ["SCHEMA_REGISTRY_URL"]
        subject = args.subject or f"{args.topic}-value"
        self.start, self.end = _offsets(self.bootstrap, args.topic, args.rows)
        client = registry_client(registry, timeout_s=10.0, retries=0)
        self.resolver = WriterSchemaResolver(client, registry, subject, timeout_s=30)
        self.verdicts = self.resolver.subject_verdicts()
        version, reader_id = self.resolver.newest()
        self.reader = self.verdicts[reader_id].schema_str
        self.plan = BatchPlan(self.verdicts, reader_id)
        self.events = args.work / "events"
        self.events.mkdir(parents=True, exist_ok=True)
        self.round = "setup"
        t = time.monotonic()
        self.spark = build_session(
            "bronze-stages",
            master=args.master,
            driver_memory=args.driver_memory,
            extra_conf={
                **SESSION_CONF,
                "spark.eventLog.enabled": "true",
                "spark.eventLog.dir": str(self.events),
                "spark.eventLog.compress": "false",
                "spark.eventLog.rolling.enabled": "false",
            },
        )
        _log(f"Spark {self.spark.version} in {time.monotonic() - t:.1f} s")
        self.after = BronzeOutputs(self.spark, Lake(args.work / "one-pass"), subject)
        self.before = BronzeOutputs(self.spark, Lake(args.work / "two-pass"), subject)
        for outputs in (self.after, self.before):
            outputs.ensure(self.reader, version, _log)
        for out in (self.before.bronze, self.before.quarantine):  # statistics on every column
            self.spark.sql(
                f"ALTER TABLE delta.`{out.path}` UNSET TBLPROPERTIES "
                "('delta.dataSkippingStatsColumns')"
            )
        self.columns = PlanColumns(self.plan)
        self.batch = {"before": 0, "after": 0}
        self.json_offsets = (
            _offsets(self.bootstrap, args.baseline_topic, args.rows)
            if args.baseline_topic
            else None
        )

    # ------------------------------------------------------------------ frames

    def raw(self, min_partitions: int | None = None, topic: str | None = None, offsets=None):
        start, end = offsets or (self.start, self.end)
        reader = (
            self.spark.read.format("kafka")
            .option("kafka.bootstrap.servers", self.bootstrap)
            .option("subscribe", topic or self.args.topic)
            .option("startingOffsets", json.dumps(start))
            .option("endingOffsets", json.dumps(end))
            .option("failOnDataLoss", "true")
        )
        if min_partitions:
            reader = reader.option("minPartitions", str(min_partitions))
        return reader.load().select("key", "value", "topic", "partition", "offset", "timestamp")

    def decoded(self, check: bool):
        """Header + ``from_avro`` per decodable writer id, as ``classify`` builds them, and with
        ``check`` the ``to_avro`` re-encoding compared with the body."""
        from pyspark.sql import functions as F
        from pyspark.sql.avro.functions import from_avro, to_avro

        df = header_columns(self.raw(), self.verdicts)
        sid, body = F.col("schema_id"), F.col("_body")
        exact = None
        for schema_id, v in sorted(self.verdicts.items()):
            if not v.schema_str:
                continue
            writer = lean_schema(v.schema_str)
            hit = sid == F.lit(schema_id)
            df = df.withColumn(
                f"_w{schema_id}", F.when(hit, from_avro(body, writer, {"mode": "PERMISSIVE"}))
            )
            test = to_avro(F.col(f"_w{schema_id}"), writer) == body
            exact = (F.when if exact is None else exact.when)(hit, test)
        return df.withColumn("_exact", exact) if check else df

    # ------------------------------------------------------------------ runs

    def step(self, name: str) -> None:
        """Tag the Spark jobs that follow (the event log's job properties)."""
        self.spark.sparkContext.setLocalProperty("bench.step", f"{self.round}/{name}")

    def noop(self, df) -> dict:
        t = time.perf_counter()
        df.write.format("noop").mode("overwrite").save()
        return {"total": time.perf_counter() - t}

    def ranges(self) -> dict:
        return {
            t: {p: [self.start[t][p], e] for p, e in parts.items()} for t, parts in self.end.items()
        }

    def two_pass(self) -> dict:
        """The job until issue 19: persist + tally, then Delta's writer with txnAppId."""
        from pyspark import StorageLevel

        t0 = time.perf_counter()
        classified = (
            self.columns.classifier.apply(self.raw())
            .select(*CLASSIFIED)
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        counted = tally(classified)
        t1 = time.perf_counter()
        settled = classified
        if counted.counts.keys() & INTERNAL_REASONS:
            settled = finish(classified, self.verdicts)
        bronze_df, quarantine_df = output_frames(settled, self.reader, datetime.now(UTC))
        self.batch["before"] += 1
        batch = self.batch["before"]
        meta = {**self.plan.to_json(), "offsets": counted.ranges, "event_time": {}}
        t2 = time.perf_counter()
        if set(counted.counts) - {None}:
            self.before.quarantine.append(quarantine_df, batch, meta)
        self.before.bronze.append(bronze_df, batch, meta)
        t3 = time.perf_counter()
        classified.unpersist()
        t4 = time.perf_counter()
        return {"total": t4 - t0, "pass1": t1 - t0, "frames": t2 - t1, "write": t3 - t2}

    def one_pass(self, min_partitions: int | None = None) -> dict:
        """The job now: the write pass (rare pass if needed), then the delta-rs commits."""
        t0 = time.perf_counter()
        self.batch["after"] += 1
        batch = self.batch["after"]
        now = datetime.now(UTC)
        partition = {"date": now.strftime("%Y-%m-%d"), "hour": str(now.hour)}
        bronze = self.after.stage("bronze", batch, partition)
        quarantine = self.after.stage("quarantine", batch, partition)
        raw = self.raw(min_partitions)
        source = (self.args.topic, len(self.end[self.args.topic]))
        first = write_pass(raw, self.columns, now, bronze, source)
        t1 = time.perf_counter()
        counted = first.counted
        if set(counted.counts) - {None}:
            counted = merge_rare(counted, rare_pass(raw, self.columns, now, bronze, quarantine))
        t2 = time.perf_counter()
        rows = counted.counts.get(None, 0)
        self.after.write(
            BronzeBatch(
                batch,
                self.plan,
                bronze if rows else None,
                quarantine if set(counted.counts) - {None} else None,
                counted.ranges,
                set(),
                counted.event_time,
                first.bronze_schema,
            )
        )
        t3 = time.perf_counter()
        if rows + sum(v for k, v in counted.counts.items() if k) != self.args.rows:
            raise SystemExit(f"the batch held {counted.counts}, not {self.args.rows} rows")
        return {"total": t3 - t0, "write_pass": t1 - t0, "rare": t2 - t1, "commit": t3 - t2}

    def empty_commits(self) -> dict:
        """One empty commit each way: Delta's idempotent writer, delta-rs with a txn action."""
        from deltalake.transaction import CommitProperties, Transaction

        out = self.before.bronze
        df = self.spark.createDataFrame(
            [], self.spark.read.format("delta").load(str(out.path)).schema
        )
        self.batch["before"] += 1
        t0 = time.perf_counter()
        out.append(df, self.batch["before"], {"bench": "empty"})
        t1 = time.perf_counter()
        table = self.after.files["bronze"].table()
        self.batch["after"] += 1
        props = CommitProperties(app_transactions=[Transaction("bench.empty", self.batch["after"])])
        table.create_write_transaction(
            [], "append", table.schema(), ["date", "hour"], commit_properties=props
        )
        t2 = time.perf_counter()
        return {"total": t2 - t0, "delta_spark": t1 - t0, "delta_rs": t2 - t1}

    def baseline(self, stage: str) -> dict:
        """The report's job on as many JSON messages: read, + from_json, + Snappy Parquet."""
        from report_bronze_job import report_events

        kafka = self.spark.read.format("kafka").option("kafka.bootstrap.servers", self.bootstrap)
        start, end = self.json_offsets
        kafka = (
            kafka.option("subscribe", self.args.baseline_topic)
            .option("startingOffsets", json.dumps(start))
            .option("endingOffsets", json.dumps(end))
            .load()
        )
        if stage == "kafka":
            return self.noop(kafka.select("value"))
        if stage == "from_json":
            return self.noop(report_events(kafka))
        t = time.perf_counter()
        out = self.args.work / f"baseline-{time.time_ns()}"
        report_events(kafka).write.partitionBy("date", "hour").parquet(str(out))
        return {"total": time.perf_counter() - t}


def _med(runs: list[dict], key: str = "total") -> float:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


def _rng(runs: list[dict], key: str = "total") -> str:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return f"{min(vals):.2f}-{max(vals):.2f}" if vals else ""


def _plans(s: Stages, args) -> dict:
    plans = {
        "1 kafka": lambda: s.noop(s.raw()),
        "2 header": lambda: s.noop(header_columns(s.raw(), s.verdicts)),
        "3 from_avro": lambda: s.noop(s.decoded(check=False)),
        "4 exact": lambda: s.noop(s.decoded(check=True)),
        "5 classify": lambda: s.noop(s.columns.classifier.apply(s.raw()).select(*CLASSIFIED)),
        "two-pass": s.two_pass,
        "one-pass": s.one_pass,
        "empty commits": s.empty_commits,
    }
    if args.min_partitions:
        plans["one-pass mp"] = lambda: s.one_pass(args.min_partitions)
    if args.baseline_topic:
        for stage in ("kafka", "from_json", "parquet"):
            plans[f"base {stage}"] = lambda stage=stage: s.baseline(stage)
    return plans


def _report(runs: dict, jobs: list[dict], args) -> None:
    n = args.rows
    print(f"\nOne batch of {n:,} rows, {args.master}, median of {args.repeats} (range).")
    print("| stage | seconds | plan s (range) |\n| --- | ---: | ---: |")
    prev = 0.0
    for key in ("1 kafka", "2 header", "3 from_avro", "4 exact", "5 classify"):
        med = _med(runs[key])
        print(f"| {key} | {med - prev:.2f} | {med:.2f} ({_rng(runs[key])}) |")
        prev = med
    tp, op = runs["two-pass"], runs["one-pass"]
    print("\n| path | whole batch s | parts (median s) | rows/s |\n| --- | ---: | --- | ---: |")
    print(
        f"| two-pass (before) | {_med(tp):.2f} ({_rng(tp)}) | persist + tally {_med(tp, 'pass1'):.2f}, "
        f"frames {_med(tp, 'frames'):.2f}, Delta appends {_med(tp, 'write'):.2f} | {n / _med(tp):,.0f} |"
    )
    print(
        f"| one-pass (now) | {_med(op):.2f} ({_rng(op)}) | write pass {_med(op, 'write_pass'):.2f}, "
        f"rare-row pass {_med(op, 'rare'):.2f}, commit {_med(op, 'commit'):.3f} | {n / _med(op):,.0f} |"
    )
    if "one-pass mp" in runs:
        mp = runs["one-pass mp"]
        print(
            f"| one-pass, minPartitions={args.min_partitions} | {_med(mp):.2f} ({_rng(mp)}) | "
            f"write pass {_med(mp, 'write_pass'):.2f} | {n / _med(mp):,.0f} |"
        )
    ec = runs["empty commits"]
    print(
        f"\nan empty commit: Delta's writer with txnAppId {_med(ec, 'delta_spark'):.2f} s "
        f"({_rng(ec, 'delta_spark')}), delta-rs with a txn action {_med(ec, 'delta_rs'):.3f} s"
    )
    if args.baseline_topic:
        k, fj, pq = (_med(runs[f"base {x}"]) for x in ("kafka", "from_json", "parquet"))
        print(
            f"the report's job on {n:,} JSON messages: Kafka read {k:.2f} s, + from_json "
            f"{fj:.2f} s, + Snappy Parquet {pq:.2f} s ({_rng(runs['base parquet'])}); the "
            f"one-pass batch is {pq / _med(op):.2f}x its rate, the two-pass {pq / _med(tp):.2f}x"
        )
    paths = ["two-pass", "one-pass", *(["base parquet"] if args.baseline_topic else [])]
    for path in paths:
        mine = [j for j in jobs if j["step"] == f"r{args.repeats}/{path}"]
        cpu = sum(j["cpu"] for j in mine)
        print(
            f"\nSpark jobs of the last timed {path} run (event log): {len(mine)} job(s), "
            f"{sum(j['seconds'] for j in mine):.2f} s, executor CPU {cpu:.2f} s"
        )
        print("| job | seconds | tasks | executor CPU s |\n| --- | ---: | ---: | ---: |")
        for j in mine:
            desc = " ".join(str(j["description"]).split())[:70]
            print(f"| {desc} | {j['seconds']:.2f} | {j['tasks']} | {j['cpu']:.2f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topic", required=True)
    ap.add_argument("--subject", default=None, help="default: TOPIC-value")
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="3g")
    ap.add_argument("--min-partitions", type=int, default=6)
    ap.add_argument("--work", type=Path, default=None, help="scratch dir (default: a temp dir)")
    ap.add_argument("--baseline-topic", default=None, help="a topic of the report job's JSON")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"load at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        args.work = args.work or Path(tmp)
        s = Stages(args)
        plans = _plans(s, args)
        s.round = "warm-up"
        for name in ("two-pass", "one-pass"):
            t = time.perf_counter()
            plans[name]()
            _log(f"warm-up {name}: {time.perf_counter() - t:.1f} s; load {load_average()}")
        runs: dict[str, list[dict]] = {k: [] for k in plans}
        for r in range(args.repeats):
            s.round = f"r{r + 1}"
            for name, fn in plans.items():
                s.step(name)
                runs[name].append(fn())
                _log(f"round {r + 1} {name}: {runs[name][-1]['total']:.2f} s")
        s.spark.stop()
        jobs = spark_jobs(s.events)
    _report(runs, jobs, args)
    print(f"\nload at end: {load_average()}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
