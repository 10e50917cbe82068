"""Latency benchmark (issue 19): event -> bronze, silver and alert, per row, from the Delta log.

``txn-producer --rate R --duration D`` writes to a fresh 3-partition topic (event time = the
wall clock) while the jobs run on a fresh lake, each with ``--trigger 1s``, in one of two ways:

- ``pipeline``: ``txn-pipeline run`` (bronze and silver as queries of one Spark application);
- ``separate``: ``bronze-ingest`` and ``silver-refine`` as two processes, as a new user runs them.

Once the producer is done and silver has read every event bronze holds (polled from the Delta
logs), the jobs get SIGTERM. Then each row's latency is read from the log
(:mod:`txn_lake.latency`): the commit time of the version that first added the row minus its
event ``timestamp`` (bronze rows are matched to the bronze-ingest commit whose Kafka offset range
holds them, silver rows to the silver-refine commit of their ``batch_id``; OPTIMIZE commits never
count). Events of the first W seconds (from the first event in bronze) are left out as warm-up.
Printed per mode: p50/p95/p99/max of event -> bronze and event -> silver, the rows measured,
the commits, the commands, the machine and its load.

Run it against a platform you started::

    .venv/bin/txn-platform up --state-dir /tmp/benchplat --kafka-port 19092 \\
        --controller-port 19093 --registry-port 18081
    set -a; . /tmp/benchplat/platform.env; set +a
    .venv/bin/python bench/bench_latency.py --mode both --rate 5000 --duration 150 --warmup 30
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench_bronze import (
    BIN,
    DRIVER_MEMORY,
    MASTER,
    Platform,
    Process,
    _log,
    bronze_cmd,
    lake_rows,
    produce_avro,
)
from bench_silver import silver_cmd
from kafka_alerts import kafka_alert_latencies
from machine import load_average, machine

from txn_lake import ALERTS, BRONZE, SILVER, Lake
from txn_lake.facts import committed_batch, is_delta_table, query
from txn_lake.latency import (
    RowLatencies,
    alert_row_latencies,
    bronze_row_latencies,
    silver_row_latencies,
)
from txn_lake.tables import SILVER_AUDIT_TABLE, SILVER_TABLE

__all__ = ["main"]

MODES = ("pipeline", "separate")
START_TIMEOUT_S = 240

# The legs measured, in flow order: (label, table, per-row latencies of that table). An alert's
# is its commit time minus the event time of the transaction that raised it; only the one-app
# run has gold, and only events of the producer's fraud scenarios (--fraud-rate) raise alerts.
LEGS: tuple[tuple[str, str, Callable[..., RowLatencies]], ...] = (
    ("bronze", BRONZE, bronze_row_latencies),
    ("silver", SILVER, silver_row_latencies),
    ("alert", ALERTS, alert_row_latencies),
)
# Fraud scenarios per event: enough alerts to measure their latency, few enough to stay rare.
FRAUD_RATE = 0.002


def pipeline_bin() -> str | None:
    """``txn-pipeline`` beside this Python, else on PATH; None when it is not installed."""
    here = BIN / "txn-pipeline"
    return str(here) if here.exists() else shutil.which("txn-pipeline")


def job_commands(
    mode: str,
    lake: Path,
    topic: str,
    trigger: str,
    silver_files: int | None = None,
    alerts_topic: str | None = None,
) -> list[list[str]]:
    """The processes of ``mode``, in the order they start (``silver_files``: silver's
    ``--max-files-per-trigger``, when given; ``alerts_topic``: where the one-app run's gold
    publishes)."""
    cap = [] if silver_files is None else ["--max-files-per-trigger", str(silver_files)]
    if alerts_topic is not None:
        cap += ["--alerts-topic", alerts_topic] if mode == "pipeline" else []
    if mode == "pipeline":
        exe = pipeline_bin() or "txn-pipeline"
        return [
            [
                exe,
                "run",
                "--topic",
                topic,
                "--trigger",
                trigger,
                "--lake",
                str(lake),
                "--master",
                MASTER,
                "--driver-memory",
                DRIVER_MEMORY,
                *cap,
            ]
        ]
    return [
        bronze_cmd(lake, topic, ["--trigger", trigger]),
        silver_cmd(lake, ["--trigger", trigger, *cap]),
    ]


def _wait_started(job: Process, ready: Callable[[], bool]) -> None:
    """Until ``job`` has printed its ``started:`` line and ``ready()`` holds."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (job.seen("started:") and ready()):
        if job.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{job.run.command} did not start:\n{job.run.tail()}")
        time.sleep(0.5)


def start_jobs(
    mode: str,
    lake: Path,
    topic: str,
    trigger: str,
    work: Path,
    silver_files: int | None = None,
    alerts_topic: str | None = None,
) -> list[Process]:
    """Start the jobs and wait until silver's query runs (silver needs bronze's table first)."""
    silver_table = Lake(lake).table_path(SILVER)
    cmds = job_commands(mode, lake, topic, trigger, silver_files, alerts_topic)
    jobs: list[Process] = []
    try:
        for i, cmd in enumerate(cmds):
            jobs.append(Process(cmd, work / f"{mode}-{i}.log"))
            last = i == len(cmds) - 1
            _wait_started(jobs[-1], lambda last=last: not last or is_delta_table(silver_table))
    except BaseException:
        stop_jobs(jobs)
        raise
    return jobs


def stop_jobs(jobs: list[Process], timeout: float = 120) -> list[int | None]:
    """SIGTERM to every job (each stops after its batch in flight); their exit codes."""
    for job in jobs:
        if job.proc.poll() is None:
            job.proc.send_signal(signal.SIGTERM)
    for job in jobs:
        # Popen's own wait first: Process.wait reaps any child, and would take a job's status.
        try:
            job.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _log(f"{job.run.command} still running {timeout:.0f} s after SIGTERM: killed")
            job.proc.kill()
            job.proc.wait(30)
    return [job.wait(30).returncode for job in jobs]


def silver_read(lake: Path) -> int:
    """Bronze rows read by the silver batches committed to silver: the audit's ``rows_read``
    (silver-refine commits the audit before silver, so a batch counts once silver has it)."""
    lk = Lake(lake)
    last = committed_batch(SILVER_TABLE.path(lk), SILVER_TABLE.app_id)
    audit = SILVER_AUDIT_TABLE.path(lk)
    if last is None or not is_delta_table(audit):
        return 0
    sql = f"SELECT coalesce(sum(rows_read), 0) AS n FROM t WHERE batch_id <= {int(last)}"
    return int(query(audit, sql)[0]["n"])


def wait_caught_up(lake: Path, delivered: int, jobs: list[Process], timeout: float) -> float | None:
    """Seconds until bronze holds every delivered event and silver has committed every bronze
    row it read (the Delta logs); None after ``timeout``."""
    t0 = time.monotonic()
    bronze = quarantine = read = 0
    while time.monotonic() - t0 < timeout:
        bronze, quarantine = lake_rows(lake)
        read = silver_read(lake)
        if bronze + quarantine >= delivered and read >= bronze:
            return time.monotonic() - t0
        for job in jobs:
            if job.proc.poll() is not None:
                raise SystemExit(f"{job.run.command} stopped:\n{job.run.tail()}")
        time.sleep(1.0)
    _log(
        f"not caught up after {timeout:.0f} s: bronze {bronze:,} + quarantine {quarantine:,} "
        f"of {delivered:,}, silver read {read:,}"
    )
    return None


def first_event_ms(lake: Path) -> int | None:
    """The earliest event ``timestamp`` in bronze (epoch ms): where the warm-up starts."""
    path = Lake(lake).table_path(BRONZE)
    if not is_delta_table(path):
        return None
    (row,) = query(
        path, 'SELECT CAST(to_timestamp_millis(min("timestamp")) AS BIGINT) AS ms FROM t'
    )
    return row["ms"]


def run_mode(plat: Platform, mode: str, args: argparse.Namespace, work: Path) -> dict:
    """One run of ``mode`` on a fresh topic and lake; its figures."""
    topic = plat.topic(f"latency-{mode}", register=True)
    lake = work / f"lake-{mode}"
    load = load_average()
    alerts = plat.topic(f"alerts-{mode}", register=False) if mode == "pipeline" else None
    jobs = start_jobs(mode, lake, topic, args.trigger, work, args.silver_files, alerts)
    try:
        summary, producer = produce_avro(
            topic,
            [
                *("--rate", str(args.rate), "--duration", str(args.duration)),
                *("--fraud-rate", str(FRAUD_RATE)),
            ],
        )
        caught_up = wait_caught_up(lake, summary["delivered"], jobs, args.catch_up_timeout)
    finally:
        codes = stop_jobs(jobs)
    first = first_event_ms(lake)
    since = None if first is None else first + int(args.warmup * 1000)
    legs = {
        label: read(Lake(lake).table_path(table), since_ms=since).summary()
        for label, table, read in LEGS
    }
    if alerts is not None:  # the alerts on Kafka, issue 20's target
        legs["alert on Kafka"] = kafka_alert_latencies(plat.bootstrap, alerts, since).summary()
    return {
        "mode": mode,
        "jobs": [j.run.command for j in jobs],
        "exit_codes": codes,
        "producer": producer,
        "delivered": summary["delivered"],
        "producer_rate": summary["rate"],
        "warmup_until_ms": since,
        "caught_up_s": caught_up,
        "legs": legs,
        "load_before": load,
        "load_after": load_average(),
    }


def _s(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def print_run(r: dict, args: argparse.Namespace) -> None:
    """One mode's figures, with its commands."""
    how = "txn-pipeline run" if r["mode"] == "pipeline" else "bronze-ingest + silver-refine"
    print(
        f"\n== {r['mode']}: {how}, --trigger {args.trigger}, {MASTER}; "
        f"{args.rate:,} events/s for {args.duration} s =="
    )
    until = r["warmup_until_ms"]
    warm = datetime.fromtimestamp(until / 1000, UTC).strftime("%H:%M:%S") if until else "n/a"
    print(
        f"producer delivered {r['delivered']:,} events at {r['producer_rate']:,.0f}/s; events "
        f"of the first {args.warmup:g} s left out (event time before {warm} UTC)"
    )
    print(
        "| event -> | rows measured | commits (with measured rows / all) | p50 s | p95 s "
        "| p99 s | max s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, leg in r["legs"].items():
        print(
            f"| {label} | {leg['rows']:,} | {leg['commits']} / {leg['writer_commits']} | "
            f"{_s(leg['p50_s'])} | {_s(leg['p95_s'])} | {_s(leg['p99_s'])} | "
            f"{_s(leg['max_s'])} |"
        )
    for label, leg in r["legs"].items():
        if leg["unmatched"]:
            print(f"note: {leg['unmatched']:,} {label} rows matched no writer commit in the log")
    caught = r["caught_up_s"]
    print(
        f"silver had read every event {caught:.1f} s after the producer stopped"
        if caught is not None
        else f"silver had NOT read every event {args.catch_up_timeout:g} s after the producer "
        "stopped: the figures leave out the rows not committed by then"
    )
    print(
        f"jobs' exit codes after SIGTERM: {r['exit_codes']}; load {r['load_before']} before, "
        f"{r['load_after']} after"
    )
    for cmd in r["jobs"]:
        print(f"  job:      {cmd}")
    print(f"  producer: {r['producer']}")
    sys.stdout.flush()


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=[*MODES, "both"], default="both")
    p.add_argument("--rate", type=int, default=5000, help="events/s [5000]")
    p.add_argument("--duration", type=int, default=150, help="seconds of producing [150]")
    p.add_argument("--warmup", type=float, default=30, help="seconds of events left out [30]")
    p.add_argument("--trigger", default="1s", help="both jobs' --trigger [1s]")
    p.add_argument(
        "--catch-up-timeout",
        type=float,
        default=300,
        help="seconds to wait for silver after the producer stops [300]",
    )
    p.add_argument(
        "--silver-files",
        type=int,
        help="silver's --max-files-per-trigger (bronze writes a file per partition per batch)",
    )
    p.add_argument("--work", type=Path, help="lakes and job logs [a new temp dir, kept]")
    return p.parse_args()


def main() -> int:
    args = _args()
    modes = MODES if args.mode == "both" else (args.mode,)
    if "pipeline" in modes and pipeline_bin() is None:
        raise SystemExit(
            f"--mode {args.mode} needs txn-pipeline, which is not installed in "
            f"{BIN} nor on PATH; run --mode separate."
        )
    env = {k: os.environ.get(k) for k in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL")}
    if not all(env.values()):
        raise SystemExit(
            "Set KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL: after "
            "`txn-platform up`, `set -a; . STATE/platform.env; set +a`."
        )
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-latency-"))
    work.mkdir(parents=True, exist_ok=True)
    _log(f"work dir {work}")
    print(f"machine: {machine()}")
    plat = Platform(env["KAFKA_BOOTSTRAP_SERVERS"], env["SCHEMA_REGISTRY_URL"], None)
    try:
        for mode in modes:
            print_run(run_mode(plat, mode, args, work), args)
    finally:
        plat.cleanup()
    print(f"\ncommand: {shlex.join([sys.executable, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
