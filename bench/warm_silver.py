"""A warm silver batch's fixed cost, phase by phase, from the query's progress and Spark's
event log.

Takes a bronze table (``--lake``, e.g. the one ``bench_silver.py --work DIR`` left in
``DIR/lake``), cuts its rows in Kafka order into a seed slice of ``--silver-rows`` and
``--batches`` slices of ``--rows`` (their ~2 % re-sends meet earlier rows), and runs the job's
own streaming query (``SilverJob.begin``, ``--trigger``, in the session the job builds:
``local[2]``, with Spark's event log on) over a scratch lake whose bronze gains one slice per
micro-batch, appended as bronze-ingest appends it (one commit, its offsets in
``userMetadata``) once the batch before is committed. Batch 0 (the seed) gives silver rows
to meet; the first ``--warmup`` batches after it are not counted.

Per batch: the query's own durations (``triggerExecution``, the whole micro-batch;
``addBatch``, our ``process_batch``; the rest is Spark's planning and logs), wall and CPU
seconds of each phase of ``process_batch`` (``check``: ``check_batch``; ``classify``;
``stats``; ``lineage``; ``write <table>``; the rest is ``other``; CPU is the JVM's and this
process's, which hardly changes with the machine's load), and the Spark jobs each phase ran
(the event log; every job is tagged with its batch and phase).

``--first-commit`` also times ``silver-refine --available-now`` as a whole process over a
``--rows``-row bronze: the seconds from the process's start to silver's first commit (its Delta
log timestamp), on a new lake (the tables are created first) and again on the same lake once
bronze holds ``--rows`` more rows (the tables exist: a restart).

Example::

    .venv/bin/python bench/warm_silver.py --lake /tmp/sb0/lake --batches 10 --first-commit
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from event_log import spark_jobs
from machine import load_average, machine

__all__ = ["main"]

BIN = Path(sys.executable).parent
EVENT_LOG = {
    "spark.eventLog.enabled": "true",
    "spark.eventLog.compress": "false",
    "spark.eventLog.rolling.enabled": "false",
}
PROGRESS = ("triggerExecution", "addBatch", "latestOffset", "getBatch", "queryPlanning",
            "walCommit", "commitOffsets")  # fmt: skip


def _log(message: str) -> None:
    print(f"[warm] {message}", file=sys.stderr, flush=True)


def _slices(spark, bronze: str, work: Path, seed: int, rows: int, n: int) -> list[Path]:
    """Bronze's rows in Kafka order per partition, cut into a seed slice and ``n`` slices of
    ``rows``, each written to its own Parquet folder."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    df = spark.read.format("delta").load(bronze)
    k = df.select("kafka_partition").distinct().count()
    order = Window.partitionBy("kafka_partition").orderBy("kafka_offset")
    ranked = df.withColumn("_i", F.row_number().over(order)).where(
        F.col("_i") <= (seed + rows * n) // k + 1
    )
    # Slice s: rows [lo, hi) of every Kafka partition.
    bounds = [(0, seed // k)] + [
        (seed // k + i * (rows // k), seed // k + (i + 1) * (rows // k)) for i in range(n)
    ]
    which = F.coalesce(
        *[F.when((F.col("_i") > lo) & (F.col("_i") <= hi), F.lit(s)) for s, (lo, hi) in enumerate(bounds)]
    )  # fmt: skip
    cut = ranked.withColumn("_slice", which).where(F.col("_slice").isNotNull()).drop("_i")
    cut.write.mode("overwrite").partitionBy("_slice").parquet(str(work / "slices"))
    return [work / "slices" / f"_slice={s}" for s in range(len(bounds))]


def _append_bronze(spark, rows: Path, bronze: Path, batch_id: int) -> None:
    """``rows`` appended to ``bronze`` as bronze-ingest appends a batch: one commit, with the
    Kafka offsets it holds in ``userMetadata`` (silver's lineage reads them)."""
    from pyspark.sql import functions as F

    from txn_lake.tables import BRONZE_TABLE

    df = spark.read.parquet(str(rows))
    spans = df.groupBy("kafka_topic", "kafka_partition").agg(
        F.min("kafka_offset").alias("lo"), F.max("kafka_offset").alias("hi")
    )
    offsets: dict = {}
    for r in spans.collect():
        offsets.setdefault(r.kafka_topic, {})[str(r.kafka_partition)] = [r.lo, r.hi + 1]
    meta = {"app_id": BRONZE_TABLE.app_id, "batch_id": batch_id, "offsets": offsets}
    df.write.format("delta").mode("append").option("userMetadata", json.dumps(meta)).save(
        str(bronze)
    )


def jvm_pid() -> int:
    """The pid of this driver's JVM: the java child process pyspark's launcher started (read
    from /proc, not through py4j)."""
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            comm = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue  # a process that ended meanwhile
        if int(fields[1]) == me and comm == "java":
            return int(stat.parent.name)
    raise SystemExit("no JVM child of this process: is the Spark session local?")


class Phases:
    """Wall-clock and CPU seconds (the JVM's and this Python's) per phase of the batch in
    progress; tags Spark jobs with it. CPU seconds hardly change with the machine's load."""

    def __init__(self, spark) -> None:
        self.context = spark.sparkContext
        self.jvm_stat = Path(f"/proc/{jvm_pid()}/stat")
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.batch = "setup"
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.active: str | None = None
        self.done: list[dict] = []

    def cpu_now(self) -> float:
        """CPU seconds used so far by the JVM and by this process."""
        fields = self.jvm_stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks + time.process_time()

    def tag(self, phase: str) -> None:
        self.context.setLocalProperty("bench.step", f"{self.batch}/{phase}")

    def wrap(self, owner, name: str, phase) -> None:
        """Time ``owner.name`` as ``phase`` (a string, or a function of the call's args)."""
        if not hasattr(owner, name):
            return
        fn = getattr(owner, name)

        def timed(*args, **kwargs):
            if self.active:  # a phase inside another is the outer one's
                return fn(*args, **kwargs)
            label = phase if isinstance(phase, str) else phase(*args)
            self.active = label
            self.tag(label)
            t, c = time.perf_counter(), self.cpu_now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t
                self.cpu[label] += self.cpu_now() - c
                self.active = None
                self.tag("other")

        setattr(owner, name, timed)

    def wrap_batch(self, job) -> None:
        """Time each ``process_batch`` whole; its phases are timed inside it."""
        fn = job.process_batch

        def batch(df, batch_id):
            self.batch = f"b{batch_id}"
            self.seconds, self.cpu = defaultdict(float), defaultdict(float)
            self.tag("other")
            t, c = time.perf_counter(), self.cpu_now()
            try:
                return fn(df, batch_id)
            finally:
                total, cpu = time.perf_counter() - t, self.cpu_now() - c
                timed, used = dict(self.seconds), dict(self.cpu)
                timed["other"] = total - sum(timed.values())
                used["other"] = cpu - sum(used.values())
                self.done.append({"batch": batch_id, "total": total, "cpu": cpu, "phases": timed,
                                  "phase_cpu": used})  # fmt: skip
                self.tag("idle")

        job.process_batch = batch


def _instrument(job, phases: Phases) -> None:
    from txn_silver import job as job_module

    phases.wrap_batch(job)
    phases.wrap(job.outputs, "check_batch", "check")
    phases.wrap(job_module, "classify", "classify")
    phases.wrap(job, "_stats", "stats")
    phases.wrap(job.lineage, "versions", "lineage")
    phases.wrap(job.outputs, "_append", lambda out, *_: f"write {out.table}")
    phases.wrap(job.outputs, "_append_arrow", lambda out, *_: f"write {out.table}")


def _wait_for(job, batches: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while job.totals["batches"] < batches:
        if job.failure is not None:
            raise SystemExit(f"the silver query failed: {job.failure}")
        if time.monotonic() > deadline:
            raise SystemExit(f"no batch {batches - 1} within {timeout:.0f} s")
        time.sleep(0.02)


def warm_batches(args, work: Path) -> dict:
    """The seed batch, then ``--batches`` batches through the job's streaming query."""
    from txn_contract.rules import packaged_rules
    from txn_lake import BRONZE, Lake
    from txn_lake.spark import build_session
    from txn_silver.config import SilverSettings
    from txn_silver.job import SilverJob

    events = work / "events"
    events.mkdir(parents=True)
    conf = {**EVENT_LOG, "spark.eventLog.dir": str(events), **dict(args.conf)}
    spark = build_session("warm-silver", args.master, args.driver_memory, extra_conf=conf)
    source = Lake(args.lake).table_path(BRONZE)
    slices = _slices(spark, str(source), work, args.silver_rows, args.rows, args.batches)
    lake = work / "lake"
    _append_bronze(spark, slices[0], lake / BRONZE, 0)
    cfg = SilverSettings(lake=lake, trigger=args.trigger)
    job = SilverJob(cfg, spark, packaged_rules())
    lines: list[str] = []
    phases = Phases(spark)
    _instrument(job, phases)
    query = job.begin(lines.append)
    jcmd, pid = "jcmd", str(jvm_pid())
    for batch_id in range(len(slices)):
        if batch_id:
            _append_bronze(spark, slices[batch_id], lake / BRONZE, batch_id)
        if args.jfr and batch_id == args.warmup + 1:
            # Java Flight Recorder over the timed batches only: where the JVM's CPU goes.
            record = ["JFR.start", "name=warm", "settings=profile", f"filename={args.jfr}"]
            subprocess.run([jcmd, pid, *record], check=True, capture_output=True)
        _wait_for(job, batch_id + 1)
        run = phases.done[-1]
        line = next(x for x in reversed(lines) if x.startswith(f"batch {batch_id}:"))
        run["line"] = line
        _log(f"{line}  [{run['total']:.2f} s, CPU {run['cpu']:.2f} s; load {load_average()}]")
    if args.jfr:
        subprocess.run([jcmd, pid, "JFR.stop", "name=warm"], check=True, capture_output=True)
    deadline = time.monotonic() + 30  # the last batch's progress is posted after its commit
    while (query.lastProgress or {}).get("batchId") != len(slices) - 1:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    job.request_stop()
    query.stop()
    progress = {p["batchId"]: p["durationMs"] for p in map(json.loads, map(str, _progress(query)))}
    for run in phases.done:
        run["progress"] = progress.get(run["batch"], {})
    spark.stop()
    return {"runs": phases.done, "jobs": spark_jobs(events)}


def _progress(query) -> list:
    """The query's recent progress events, as JSON strings."""
    return [p.json for p in query.recentProgress]


def _silver_commit_ms(lake: Path, batch_id: int) -> int | None:
    from txn_lake import Lake
    from txn_lake.facts import batch_commit
    from txn_lake.tables import SILVER_TABLE

    info = batch_commit(SILVER_TABLE.path(Lake(lake)), SILVER_TABLE.app_id, batch_id)
    return info.timestamp_ms if info else None


def first_commit(args, work: Path) -> list[dict]:
    """``silver-refine --available-now`` as a process over a small bronze, twice."""
    from txn_lake.spark import build_session

    spark = build_session("warm-silver-bronze", args.master, args.driver_memory)
    lake = work / "first"
    out = []
    for run, slice_dir in enumerate(sorted((work / "slices").glob("_slice=*"))[1:3]):
        _append_bronze(spark, slice_dir, lake / "bronze", run)
        cmd = [str(BIN / "silver-refine"), "--lake", str(lake), "--available-now",
               "--master", args.master, "--driver-memory", args.driver_memory]  # fmt: skip
        start_ms = time.time_ns() // 1_000_000
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode:
            raise SystemExit(f"silver-refine failed:\n{proc.stderr[-3000:]}")
        commit = _silver_commit_ms(lake, run)
        batch = [ln for ln in proc.stderr.splitlines() if f"batch {run}:" in ln]
        out.append(
            {
                "run": "new lake" if run == 0 else "restart",
                "first_commit_s": (commit - start_ms) / 1000 if commit else None,
                "process_s": time.time_ns() / 1e9 - start_ms / 1000,
                "batch_line": batch[-1] if batch else "",
            }
        )
        _log(f"first commit ({out[-1]['run']}): {out[-1]['first_commit_s']} s")
    spark.stop()
    return out


def _med(values) -> str:
    v = list(values)
    return f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" if v else "-"


def _report(result: dict, args) -> None:
    runs = [r for r in result["runs"] if r["batch"] > args.warmup]
    print(f"\nmachine: {machine()}; load at the end: {load_average()}")
    print(f"command: {' '.join(sys.argv)}")
    print(f"seed batch: {result['runs'][0]['line']}")
    print(f"\nwarm batches of ~{args.rows} rows ({len(runs)} timed; median (range), seconds):")
    for key in PROGRESS:
        found = (r["progress"][key] / 1000 for r in runs if key in r["progress"])
        print(f"  query {key:<20}{_med(found)}")
    print(f"  process_batch wall        {_med(r['total'] for r in runs)}")
    print(f"  process_batch CPU         {_med(r['cpu'] for r in runs)}  (JVM and Python)")
    jobs_by = defaultdict(list)
    for j in result["jobs"]:
        jobs_by[j["step"]].append(j)
    print(f"  {'phase':<24}{'wall s':>8}{'CPU s':>8}{'jobs':>6}{'job s':>8}")
    for name in sorted({p for r in runs for p in r["phases"]}):
        wall = statistics.median(r["phases"].get(name, 0.0) for r in runs)
        cpu = statistics.median(r["phase_cpu"].get(name, 0.0) for r in runs)
        per = [jobs_by.get(f"b{r['batch']}/{name}", []) for r in runs]
        n = statistics.median(len(p) for p in per)
        secs = statistics.median(sum(j.get("seconds", 0) for j in p) for p in per)
        print(f"  {name:<24}{wall:8.2f}{cpu:8.2f}{n:6.0f}{secs:8.2f}")
    per_batch = [sum(1 for j in result["jobs"] if j["step"].startswith(f"b{r['batch']}/"))
                 for r in runs]  # fmt: skip
    print(f"  Spark jobs per process_batch: {statistics.median(per_batch):.0f}")
    last = runs[-1]["batch"]
    print(f"\nSpark jobs of batch {last}:")
    for j in result["jobs"]:
        if j["step"].startswith(f"b{last}/"):
            print(f"  {j['step']:<22}{j.get('seconds', 0):6.2f} s  {j['description'][:90]}")
    for fc in result.get("first_commit", []):
        print(f"\nfirst commit after process start ({fc['run']}): {fc['first_commit_s']:.1f} s "
              f"(process {fc['process_s']:.1f} s)\n  {fc['batch_line']}")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--lake", type=Path, required=True, help="a lake whose bronze to read")
    p.add_argument("--rows", type=int, default=1000, help="rows per warm batch")
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2, help="warm batches left uncounted")
    p.add_argument("--silver-rows", type=int, default=100_000, help="seed batch's rows")
    p.add_argument("--trigger", default="500ms", help="the query's processing-time trigger")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="3g")
    p.add_argument("--first-commit", action="store_true")
    p.add_argument("--jfr", type=Path, help="record the timed batches with Java Flight Recorder")
    p.add_argument(
        "--conf",
        action="append",
        default=[],
        type=lambda kv: tuple(kv.split("=", 1)),
        metavar="KEY=VALUE",
        help="a Spark setting of the session (repeatable)",
    )
    p.add_argument("--work", type=Path, help="scratch dir [default: a temp dir]")
    args = p.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="warm-silver-"))
    _log(f"work dir {work}; load {load_average()}")
    result = warm_batches(args, work)
    if args.first_commit:
        result["first_commit"] = first_commit(args, work)
    _report(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
