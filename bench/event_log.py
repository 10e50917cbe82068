"""Where a Spark application's time went, read from its event log (issue 19's "floor").

An event log is what Spark writes with ``spark.eventLog.enabled=true`` (uncompressed, not
rolling): one JSON event per line. This reads the events any application writes and answers:

- **the application**: the SparkContext's start (its ``ApplicationStart`` event; the JVM
  and the Python process started a few seconds before) to its end, the seconds in which at least one Spark job ran (the union of the jobs'
  intervals), and the rest: the driver's own work (Python, planning, delta-rs commits, waiting
  for the next trigger);
- **each streaming batch**: the query's ``durationMs`` phases from its progress event
  (``addBatch`` = the batch's work, ``latestOffset``/``getBatch`` = reading the source's offsets,
  ``walCommit``/``commitOffsets`` = the checkpoint), its rows, and the Spark jobs that ran inside
  it with their seconds;
- **the jobs**: seconds, tasks, executor run and CPU seconds, by description.

Run it on a directory of event logs (the newest application) or one file::

    mkdir -p /tmp/sparkconf /tmp/events
    printf 'spark.eventLog.enabled true\\nspark.eventLog.dir file:/tmp/events\\n' \\
        > /tmp/sparkconf/spark-defaults.conf
    SPARK_CONF_DIR=/tmp/sparkconf .venv/bin/python bench/bench_silver.py --events 1000000
    .venv/bin/python bench/event_log.py /tmp/events --batches 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

__all__ = ["Application", "read_application", "spark_jobs"]

PROGRESS = "org.apache.spark.sql.streaming.StreamingQueryListener$QueryProgressEvent"
QUERY_STARTED = "org.apache.spark.sql.streaming.StreamingQueryListener$QueryStartedEvent"
# The phases of a streaming batch, in the order they run (Spark's durationMs keys).
PHASES = ("latestOffset", "getBatch", "queryPlanning", "walCommit", "addBatch", "commitOffsets")


@dataclass
class Job:
    """One Spark job: when it ran (epoch ms), what it was, what its tasks cost."""

    job_id: int
    description: str
    step: str
    start_ms: int
    query_id: str | None = None
    batch_id: int | None = None
    end_ms: int | None = None
    tasks: int = 0
    run_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def seconds(self) -> float:
        return 0.0 if self.end_ms is None else (self.end_ms - self.start_ms) / 1000


@dataclass
class Batch:
    """One streaming micro-batch, from its progress event."""

    query: str
    query_id: str
    batch_id: int
    rows: int
    start_ms: int
    durations_ms: dict[str, int]
    jobs: list[Job] = field(default_factory=list)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.durations_ms.get("triggerExecution", 0)

    @property
    def job_seconds(self) -> float:
        return union_seconds([(j.start_ms, j.end_ms or j.start_ms) for j in self.jobs])


@dataclass
class Application:
    """One application's jobs and streaming batches, and its start and end (epoch ms)."""

    start_ms: int | None = None
    end_ms: int | None = None
    query_started_ms: int | None = None
    jobs: list[Job] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)

    @property
    def job_seconds(self) -> float:
        """Seconds in which at least one Spark job ran."""
        return union_seconds([(j.start_ms, j.end_ms or j.start_ms) for j in self.jobs])


def union_seconds(spans: list[tuple[int, int]]) -> float:
    """The length of the union of ``[start, end]`` spans (epoch ms), in seconds."""
    total, end = 0, None
    for a, b in sorted(spans):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total / 1000


def _events(path: Path) -> Iterator[dict]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def newest_log(path: Path) -> Path:
    """``path`` itself, or the newest event log in the directory ``path``."""
    if path.is_file():
        return path
    logs = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "appstatus"))]
    if not logs:
        raise SystemExit(f"{path}: no event log in it (spark.eventLog.enabled, .dir?)")
    return max(logs, key=lambda p: p.stat().st_mtime)


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _job(e: dict) -> Job:
    props = e.get("Properties") or {}
    stages = e.get("Stage Infos") or []
    desc = props.get("spark.job.description") or (stages[-1]["Stage Name"] if stages else "")
    step = props.get("bench.step", "other")
    batch = props.get("streaming.sql.batchId")
    query = props.get("sql.streaming.queryId")
    return Job(e["Job ID"], desc, step, e["Submission Time"], query,
               None if batch is None else int(batch))  # fmt: skip


def read_application(path: Path) -> Application:
    """Every job and streaming batch of the event log ``path`` (a file)."""
    app, jobs, stage_job = Application(), {}, {}
    for e in _events(path):
        kind = e.get("Event")
        if kind == "SparkListenerApplicationStart":
            app.start_ms = e["Timestamp"]
        elif kind == "SparkListenerApplicationEnd":
            app.end_ms = e["Timestamp"]
        elif kind == QUERY_STARTED and app.query_started_ms is None:
            app.query_started_ms = _ms(e["timestamp"])
        elif kind == "SparkListenerJobStart":
            jobs[e["Job ID"]] = _job(e)
            for st in e.get("Stage Infos") or []:
                stage_job[st["Stage ID"]] = e["Job ID"]
        elif kind == "SparkListenerJobEnd" and e["Job ID"] in jobs:
            jobs[e["Job ID"]].end_ms = e["Completion Time"]
        elif kind == "SparkListenerTaskEnd" and e.get("Stage ID") in stage_job:
            m, job = e.get("Task Metrics") or {}, jobs[stage_job[e["Stage ID"]]]
            job.tasks += 1
            job.run_s += m.get("Executor Run Time", 0) / 1000
            job.cpu_s += (
                m.get("Executor CPU Time", 0) + m.get("Executor Deserialize CPU Time", 0)
            ) / 1e9
        elif kind == PROGRESS:
            p = e["progress"]
            rows = sum(s.get("numInputRows", 0) for s in p.get("sources", []))
            name, start = p["name"] or p["id"], _ms(p["timestamp"])
            app.batches.append(Batch(name, p["id"], p["batchId"], rows, start, p["durationMs"]))
    app.jobs = [jobs[k] for k in sorted(jobs)]
    # A job belongs to the batch its streaming properties name (queries of one application run
    # side by side, so a time window would mix them up).
    by_batch: dict[tuple[str, int], list[Job]] = {}
    for j in app.jobs:
        if j.query_id is not None and j.batch_id is not None:
            by_batch.setdefault((j.query_id, j.batch_id), []).append(j)
    for b in app.batches:
        b.jobs = by_batch.get((b.query_id, b.batch_id), [])
    return app


def spark_jobs(event_dir: Path) -> list[dict]:
    """Spark jobs of every log under ``event_dir``: step tag, description, start (ms), seconds,
    tasks, executor CPU seconds (what ``stages_bronze.py`` and ``warm_silver.py`` print)."""
    out = []
    for path in sorted(event_dir.rglob("*")):
        if path.is_file() and not path.name.startswith((".", "appstatus")):
            out += [
                {
                    "step": j.step,
                    "description": j.description,
                    "start": j.start_ms,
                    "seconds": j.seconds,
                    "tasks": j.tasks,
                    "cpu": j.cpu_s,
                }
                for j in read_application(path).jobs
            ]
    return out


def _print_app(app: Application) -> None:
    if app.start_ms is None:
        return
    end = app.end_ms or max([j.end_ms or 0 for j in app.jobs] + [b.end_ms for b in app.batches])
    wall = (end - app.start_ms) / 1000
    print(f"application: {wall:.1f} s from the SparkContext's start to its end")
    print(f"  in Spark jobs: {app.job_seconds:.1f} s ({len(app.jobs)} jobs, "
          f"{sum(j.cpu_s for j in app.jobs):.1f} executor CPU s); "
          f"the driver alone: {wall - app.job_seconds:.1f} s")  # fmt: skip
    if app.query_started_ms is not None:
        print(f"  SparkContext start -> first query started: "
              f"{(app.query_started_ms - app.start_ms) / 1000:.1f} s")  # fmt: skip
    if app.batches:
        first = min(app.batches, key=lambda b: b.start_ms)
        print(f"  SparkContext start -> first batch ({first.query} {first.batch_id}) done: "
              f"{(first.end_ms - app.start_ms) / 1000:.1f} s")  # fmt: skip


def _print_batches(app: Application, limit: int) -> None:
    if not app.batches:
        return
    print("\n| query | batch | rows | total s | " + " | ".join(PHASES) + " | jobs | in jobs s |")
    print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in PHASES) + " | ---: | ---: |")
    shown = sorted(app.batches, key=lambda b: b.start_ms)
    for b in shown[:limit] + (shown[limit:][-3:] if len(shown) > limit else []):
        d = b.durations_ms
        cells = " | ".join(f"{d.get(k, 0) / 1000:.2f}" for k in PHASES)
        print(f"| {b.query} | {b.batch_id} | {b.rows:,} | {d.get('triggerExecution', 0) / 1000:.2f}"
              f" | {cells} | {len(b.jobs)} | {b.job_seconds:.2f} |")  # fmt: skip
    by_query: dict[str, list[Batch]] = {}
    for b in shown:
        by_query.setdefault(b.query, []).append(b)
    for q, bs in by_query.items():
        total = sum(b.durations_ms.get("triggerExecution", 0) for b in bs) / 1000
        inside = sum(b.job_seconds for b in bs)
        med = statistics.median(b.durations_ms.get("triggerExecution", 0) for b in bs) / 1000
        print(f"{q}: {len(bs)} batches, {sum(b.rows for b in bs):,} rows in {total:.1f} s "
              f"(median {med:.2f} s); {inside:.1f} s in Spark jobs, {total - inside:.1f} s on "
              f"the driver alone")  # fmt: skip


def _print_jobs(app: Application, top: int) -> None:
    by_desc: dict[str, list[Job]] = {}
    for j in app.jobs:
        by_desc.setdefault(j.description.split("\n")[0][:80], []).append(j)
    ranked = sorted(by_desc.items(), key=lambda kv: -sum(j.seconds for j in kv[1]))[:top]
    print(f"\nthe jobs by description (top {top} by seconds):")
    print("| description | jobs | seconds | tasks | executor run s | executor CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for desc, js in ranked:
        print(f"| {desc} | {len(js)} | {sum(j.seconds for j in js):.2f} | "
              f"{sum(j.tasks for j in js)} | {sum(j.run_s for j in js):.2f} | "
              f"{sum(j.cpu_s for j in js):.2f} |")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", type=Path, help="an event log, or a directory of them (the newest)")
    p.add_argument("--batches", type=int, default=12, help="batches to list (then the last 3)")
    p.add_argument("--top", type=int, default=12, help="job descriptions to list")
    args = p.parse_args()
    log = newest_log(args.path)
    print(f"event log: {log}")
    app = read_application(log)
    _print_app(app)
    _print_batches(app, args.batches)
    _print_jobs(app, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
