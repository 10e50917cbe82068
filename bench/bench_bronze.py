"""Benchmark of bronze-ingest (Delta Lake outputs) in ``local[2]``, against the report's job.

1. **Drain**: ``txn-producer --count N --rate 0`` fills a fresh 3-partition topic with framed
   Avro (default 1,000,000 events), then ``bronze-ingest --available-now`` drains it, as a
   whole process. From the bronze table's Delta log (each commit's ``numOutputRows``,
   ``timestamp`` and ``userMetadata.batch_id``) and the job's own per-batch lines:

   - steady rows/s: the rows of every batch after the first over the time from the first
     batch's commit to the last one's (and, from the log lines, over the batches' durations);
   - first batch: from the job's ``started:`` line to the first batch's commit.
2. **Baseline**: the same events (same generator, same seed, same producer settings) as JSON on
   a second topic, drained by ``bench/report_bronze_job.py`` (the project report's job:
   ``from_json`` -> Snappy Parquet by date/hour, checkpoint, AvailableNow), also as a whole
   process, in the same run, with the same master, driver memory and max offsets per trigger.
   Reported: rows/s of each whole process (rows / wall time from spawn to exit) and the ratio
   ours/baseline; ``--rounds R`` alternates them R times and reports medians.
3. **Sustained** (``--sustained-rate R``): ``bronze-ingest --trigger 10s`` runs while
   ``txn-producer --rate R --duration D`` writes to another fresh topic; reported: every
   batch's duration (the job's lines) and when the table caught up after the producer stopped.
4. **Stages** (``--stages``): ``bench/stages_bronze.py`` on the drain topic, in its own process:
   the per-stage breakdown of one batch (see that script).
5. **Size**: bytes per event in Kafka (segment files of each topic) versus each job's output.
6. **Before and now** (``--before-ref REF``): the drain also runs the job as it was at git
   ``REF`` (``bronze_ingest`` and ``txn_lake`` exported from git and put first on PYTHONPATH),
   in rotated order with the other two, on the same backlog; reported against the baseline of
   the same round. ``--first-commit-events N`` times process start -> first commit of both on a
   fresh backlog of N events (one batch), ``--rounds`` times.

Every figure is printed with the command that produced it, with the machine and its load.
Run it against a platform you started (it reads topic sizes from the platform's log dir)::

    .venv/bin/txn-platform up --state-dir /tmp/benchplat --kafka-port 19092 \\
        --controller-port 19093 --registry-port 18081
    set -a; . /tmp/benchplat/platform.env; set +a
    .venv/bin/txn-contract register
    .venv/bin/python bench/bench_bronze.py --state-dir /tmp/benchplat --events 1000000 \\
        --sustained-rate 20000 --sustained-seconds 60 --stages
    .venv/bin/python bench/bench_bronze.py --state-dir /tmp/benchplat --events 1000000 \\
        --rounds 3 --before-ref HEAD --first-commit-events 5000
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from machine import load_average, machine

__all__ = ["main"]

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
_BATCH = re.compile(r"batch (\d+): (\d+) rows in ([\d.]+) s")
_LAG = re.compile(r"lag (\S+)")

# Local mode: the executors share the driver's heap; 500k-row batches want more than 2g.
DRIVER_MEMORY = "3g"
MASTER = "local[2]"


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the platform


class Platform:
    """Topics (3 partitions) with their subject registered; deleted again by :meth:`cleanup`."""

    def __init__(self, bootstrap: str, registry_url: str, state_dir: Path | None) -> None:
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.state_dir = state_dir
        self.topics: list[str] = []
        self.subjects: list[str] = []

    def topic(self, label: str, register: bool) -> str:
        from confluent_kafka.admin import AdminClient, NewTopic

        name = f"bench-bronze-{label}-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": self.bootstrap})  # must outlive the future
        admin.create_topics([NewTopic(name, 3, 1)])[name].result(30)
        self.topics.append(name)
        if register:
            self._register(name)
        return name

    def _register(self, topic: str) -> None:
        """The producer uses TopicNameStrategy: register the contract under ``<topic>-value``."""
        from txn_contract import packaged_contract
        from txn_contract.registry import register_contract, registry_client

        c = packaged_contract()
        contract = type(c)(f"{topic}-value", topic, c.compatibility, c.versions)
        register_contract(registry_client(self.registry_url), contract, self.registry_url)
        self.subjects.append(f"{topic}-value")

    def bytes_on_disk(self, topic: str) -> int | None:
        """Bytes of the topic's segment files in the platform's log dir (lz4 record batches)."""
        if self.state_dir is None:
            return None
        data = self.state_dir / "kafka" / "data"
        return sum(p.stat().st_size for d in data.glob(f"{topic}-*") for p in d.glob("*.log"))

    def cleanup(self) -> None:
        from confluent_kafka.admin import AdminClient

        from txn_contract.registry import registry_client

        if self.topics:
            admin = AdminClient({"bootstrap.servers": self.bootstrap})
            for name, fut in admin.delete_topics(self.topics).items():
                try:
                    fut.result(30)
                except Exception as exc:  # noqa: BLE001 - cleanup reports and goes on
                    _log(f"could not delete topic {name}: {exc}")
        client = registry_client(self.registry_url)
        for subject in self.subjects:
            try:
                client.delete_subject(subject)
                client.delete_subject(subject, permanent=True)
            except Exception:  # noqa: BLE001 - best effort
                pass


def produce_avro(topic: str, extra: list[str]) -> tuple[dict, str]:
    """Run the real ``txn-producer``; its JSON summary and the command."""
    cmd = [str(BIN / "txn-producer"), "--topic", topic, "--seed", "1", "--no-progress", *extra]
    _log("$ " + shlex.join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), shlex.join(cmd)


def produce_json(bootstrap: str, topic: str, count: int, seed: int = 1) -> dict:
    """The producer's events (same population, generator and seed as ``txn-producer --seed``),
    as the report's JSON (eleven fields, ``amount`` a float, ``timestamp`` an ISO string),
    keyed by customer id, with the producer's own Kafka settings: only the value format differs.
    """
    from confluent_kafka import Producer

    from txn_producer.generator import EventGenerator
    from txn_producer.population import build_population
    from txn_producer.producer import KAFKA_SETTINGS

    gen = EventGenerator(build_population(10_000, seed), seed)
    failed = [0]

    def report(err, _msg) -> None:
        if err is not None:
            failed[0] += 1

    producer = Producer({"bootstrap.servers": bootstrap, **KAFKA_SETTINGS, "on_delivery": report})
    dumps, produce, poll = json.dumps, producer.produce, producer.poll
    started = time.monotonic()
    sent = 0
    while sent < count:
        draws = gen.draws(min(2_000, count - sent))
        now_ms = time.time_ns() // 1_000_000
        for d in draws:
            t = gen.transaction(d, now_ms)
            value = dumps(
                {
                    "transaction_id": t.transaction_id,
                    "timestamp": t.timestamp.isoformat(),
                    "customer_id": t.customer_id,
                    "merchant_id": t.merchant_id,
                    "amount": float(t.amount),
                    "currency": t.currency,
                    "channel": t.channel.value,
                    "city": t.city,
                    "country": t.country,
                    "device_id": t.device_id,
                    "status": t.status.value,
                }
            ).encode()
            while True:
                try:
                    produce(topic, value, t.customer_id.encode())
                    break
                except BufferError:
                    poll(0.05)
        sent += len(draws)
        poll(0)
    left = producer.flush(60)
    seconds = time.monotonic() - started
    return {
        "delivered": sent - failed[0] - left,
        "failed": failed[0] + left,
        "seconds": seconds,
        "rate": sent / seconds,
    }


# ---------------------------------------------------------------------- whole processes


def _become_subreaper() -> bool:
    """Orphans of our children (Spark's JVM outlives its Python parent by a moment) are
    re-parented to this process, so their CPU time is counted when we reap them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap_orphans(timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() > deadline:
                _log("a child process is still running; its CPU time is not counted")
                return
            time.sleep(0.05)


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass
class Run:
    """One whole process: wall seconds from spawn to exit, CPU seconds of its process tree,
    its stderr lines with the wall-clock time each was read."""

    command: str
    wall_s: float = 0.0
    cpu_s: float | None = None
    spawned_at: float = 0.0
    lines: list[tuple[float, str]] = field(default_factory=list)
    returncode: int | None = None

    def first(self, needle: str) -> float | None:
        return next((t for t, line in self.lines if needle in line), None)

    def batches(self) -> list[tuple[int, int, float, float]]:
        """``(batch id, rows, seconds, time the line was read)`` of each batch line."""
        out = []
        for t, line in self.lines:
            m = _BATCH.search(line)
            if m:
                out.append((int(m[1]), int(m[2]), float(m[3]), t))
        return out

    def tail(self, n: int = 40) -> str:
        return "\n".join(line for _, line in self.lines[-n:])


class Process:
    """Spawn ``cmd`` with stderr read line by line (and copied to ``log``)."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.run = Run(shlex.join(cmd))
        _log("$ " + self.run.command)
        self._cpu0 = _cpu_children()
        self._log = open(log, "w")  # noqa: SIM115 - closed in wait()
        self.run.spawned_at = time.time()
        self._t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.run.lines.append((time.time(), line.rstrip("\n")))
            self._log.write(line)
            self._log.flush()

    def seen(self, needle: str) -> bool:
        return any(needle in line for _, line in self.run.lines)

    def wait(self, timeout: float | None = None) -> Run:
        self.run.returncode = self.proc.wait(timeout)
        self.run.wall_s = time.monotonic() - self._t0
        self._reader.join(30)
        self._log.close()
        _reap_orphans()
        self.run.cpu_s = _cpu_children() - self._cpu0
        return self.run


def export_ref(ref: str, dest: Path) -> Path:
    """``bronze_ingest`` and ``txn_lake`` as they were at git ``ref``, as packages in ``dest``
    (put first on PYTHONPATH, they shadow the installed ones): the job before a change, run
    beside the job after it on the same backlog and machine."""
    import io
    import tarfile

    root = HERE.parent
    for src in ("services/bronze_ingest", "libs/txn_lake"):
        data = subprocess.run(
            ["git", "-C", str(root), "archive", ref, src], capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest / "archive", filter="data")
        (dest / "archive" / src).rename(dest / Path(src).name)
    return dest


def bronze_cmd(lake: Path, topic: str, extra: list[str], before: Path | None = None) -> list[str]:
    """``bronze-ingest`` (or, with ``before``, the job exported by :func:`export_ref`)."""
    command = [sys.executable, "-m", "bronze_ingest"] if before else [str(BIN / "bronze-ingest")]
    return [
        *command,
        "--lake",
        str(lake),
        "--topic",
        topic,
        "--master",
        MASTER,
        "--driver-memory",
        DRIVER_MEMORY,
        *extra,
    ]


def baseline_cmd(bootstrap: str, out: Path, topic: str, max_offsets: int) -> list[str]:
    return [
        sys.executable,
        str(HERE / "report_bronze_job.py"),
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        topic,
        "--output",
        str(out),
        "--master",
        MASTER,
        "--driver-memory",
        DRIVER_MEMORY,
        "--max-offsets-per-trigger",
        str(max_offsets),
    ]


# ---------------------------------------------------------------------- the Delta log


def bronze_commits(lake: Path, operation: str = "WRITE") -> list[dict]:
    """The bronze table's commits of ``operation``, oldest first: batch id (for the job's
    writes), rows, commit time (ms) and metrics. ``OPTIMIZE``: Delta's auto-compaction."""
    from txn_lake import BRONZE, Lake
    from txn_lake.facts import table_facts

    facts = table_facts(BRONZE, Lake(lake).table_path(BRONZE), history=10_000)
    out = [
        {
            "batch_id": c.batch_id,
            "version": c.version,
            "rows": int(c.metrics.get("numOutputRows", 0)),
            "timestamp_ms": c.timestamp_ms,
            "metrics": c.metrics,
        }
        for c in facts.recent
        if c.operation == operation and (c.batch_id is not None or operation != "WRITE")
    ]
    return sorted(out, key=lambda c: c["version"])


def lake_rows(lake: Path) -> tuple[int, int]:
    """Rows committed to (bronze, quarantine), from the log's add actions."""
    from txn_lake import BRONZE, QUARANTINE, Lake
    from txn_lake.facts import table_facts

    lk = Lake(lake)
    return (
        table_facts(BRONZE, lk.table_path(BRONZE), history=0).rows,
        table_facts(QUARANTINE, lk.table_path(QUARANTINE), history=0).rows,
    )


def _parquet_facts(root: Path) -> tuple[int, int, int]:
    """Rows, bytes and files of the baseline's committed Parquet (its sink's log lists them)."""
    import pyarrow.parquet as pq

    meta = root / "_spark_metadata"
    files: set[str] = set()
    for log in sorted(meta.glob("*")):
        if log.name.startswith(".") or log.suffix == ".crc":
            continue
        for line in log.read_text().splitlines()[1:]:
            entry = json.loads(line)
            if entry.get("action") == "add":
                files.add(entry["path"].removeprefix("file://"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    size = sum(Path(f).stat().st_size for f in files)
    return rows, size, len(files)


# ---------------------------------------------------------------------- the measurements


def ours_drain(
    topic: str, lake: Path, max_offsets: int, work: Path, tag: str, before: Path | None = None
) -> dict:
    from txn_lake import BRONZE, Lake
    from txn_lake.facts import table_facts

    extra = ["--available-now"]
    if max_offsets:
        extra += ["--max-offsets-per-trigger", str(max_offsets)]
    cmd = bronze_cmd(lake, topic, extra, before)
    load = load_average()
    env = {"PYTHONPATH": str(before)} if before else None
    run = Process(cmd, work / f"ours-{tag}.log", env).wait()
    if run.returncode != 0:
        raise SystemExit(f"bronze-ingest failed ({run.returncode}):\n{run.tail()}")
    commits = bronze_commits(lake)
    compactions = bronze_commits(lake, "OPTIMIZE")
    rows_bronze, rows_quarantine = lake_rows(lake)
    started = run.first("] started:")
    lines = run.batches()
    first_commit = commits[0]["timestamp_ms"] / 1000 if commits else None
    steady = commits[1:]
    steady_s = (steady[-1]["timestamp_ms"] - commits[0]["timestamp_ms"]) / 1000 if steady else 0
    facts = table_facts(BRONZE, Lake(lake).table_path(BRONZE), history=0)
    return {
        "command": run.command,
        "load_before": load,
        "wall_s": run.wall_s,
        "cpu_s": run.cpu_s,
        "rows": rows_bronze + rows_quarantine,
        "quarantine_rows": rows_quarantine,
        "rows_per_s_wall": (rows_bronze + rows_quarantine) / run.wall_s,
        "spark_start_to_started_s": (started - run.spawned_at) if started else None,
        "first_batch_commit_s": (first_commit - started) if started and first_commit else None,
        "process_to_first_commit_s": (first_commit - run.spawned_at) if first_commit else None,
        "commits": commits,
        "steady_rows_per_s_log": sum(c["rows"] for c in steady) / steady_s if steady_s else None,
        "batch_lines": [(b, r, s) for b, r, s, _ in lines],
        "steady_rows_per_s_lines": (
            sum(b[1] for b in lines[1:]) / sum(b[2] for b in lines[1:]) if len(lines) > 1 else None
        ),
        # Seconds after 'started:' of each batch's bronze commit and of its progress line: the
        # gap is what a batch does after its commit (the stream's own commit, the next plan).
        "timeline": [
            {
                "batch": c["batch_id"],
                "commit_s": c["timestamp_ms"] / 1000 - started,
                "line_s": next((t - started for b, _, _, t in lines if b == c["batch_id"]), None),
            }
            for c in commits
        ]
        if started
        else [],
        "compactions": [
            {
                "version": c["version"],
                "commit_s": c["timestamp_ms"] / 1000 - started if started else None,
                "removed_files": int(c["metrics"].get("numRemovedFiles", 0)),
                "removed_bytes": int(c["metrics"].get("numRemovedBytes", 0)),
                "added_files": int(c["metrics"].get("numAddedFiles", 0)),
            }
            for c in compactions
        ],
        "bronze_bytes": facts.bytes,
        "bronze_files": facts.files,
    }


def baseline_drain(
    bootstrap: str, topic: str, out: Path, max_offsets: int, work: Path, tag: int
) -> dict:
    cmd = baseline_cmd(bootstrap, out, topic, max_offsets)
    load = load_average()
    run = Process(cmd, work / f"baseline-{tag}.log").wait()
    if run.returncode != 0:
        raise SystemExit(f"report_bronze_job.py failed ({run.returncode}):\n{run.tail()}")
    rows, size, files = _parquet_facts(out / "bronze")
    started = run.first("] started:")
    lines = run.batches()
    return {
        "command": run.command,
        "load_before": load,
        "wall_s": run.wall_s,
        "cpu_s": run.cpu_s,
        "rows": rows,
        "rows_per_s_wall": rows / run.wall_s,
        "spark_start_to_started_s": (started - run.spawned_at) if started else None,
        # The file sink commits before the progress event: the line is the commit, +~ms.
        "first_batch_commit_s": (lines[0][3] - started) if started and lines else None,
        "batch_lines": [(b, r, s) for b, r, s, _ in lines],
        "steady_rows_per_s_lines": (
            sum(b[1] for b in lines[1:]) / sum(b[2] for b in lines[1:]) if len(lines) > 1 else None
        ),
        "parquet_bytes": size,
        "parquet_files": files,
    }


def sustained(plat: Platform, rate: int, seconds: int, trigger: str, work: Path) -> dict:
    topic = plat.topic("live", register=True)
    lake = work / "live-lake"
    cmd = bronze_cmd(lake, topic, ["--trigger", trigger])
    load = load_average()
    job = Process(cmd, work / "live.log")
    try:
        deadline = time.monotonic() + 240
        while not job.seen("] started:"):
            if job.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bronze-ingest did not start:\n{job.run.tail()}")
            time.sleep(0.2)
        summary, producer_cmd = produce_avro(
            topic, ["--rate", str(rate), "--duration", str(seconds)]
        )
        produced_at = time.monotonic()
        while True:
            bronze, quarantine = lake_rows(lake)
            if bronze + quarantine >= summary["delivered"]:
                break
            if job.proc.poll() is not None:
                raise SystemExit(f"bronze-ingest stopped:\n{job.run.tail()}")
            if time.monotonic() - produced_at > 300:
                raise SystemExit("bronze did not catch up within 5 minutes")
            time.sleep(0.5)
        caught_up = time.monotonic() - produced_at
    finally:
        if job.proc.poll() is None:
            job.proc.send_signal(signal.SIGTERM)
        run = job.wait(180)
    started = run.first("] started:") or 0.0
    compactions = [
        {
            "commit_s": c["timestamp_ms"] / 1000 - started,
            "removed_files": int(c["metrics"].get("numRemovedFiles", 0)),
            "removed_bytes": int(c["metrics"].get("numRemovedBytes", 0)),
        }
        for c in bronze_commits(lake, "OPTIMIZE")
    ]
    commits = [
        {"batch": c["batch_id"], "rows": c["rows"], "commit_s": c["timestamp_ms"] / 1000 - started}
        for c in bronze_commits(lake)
    ]
    lines = run.batches()
    durations = [s for _, _, s, _ in lines]
    first_data = next((i for i, b in enumerate(lines) if b[1] > 0), len(lines))
    lags = [_LAG.search(line)[1] for _, line in run.lines if _BATCH.search(line) and "lag" in line]
    return {
        "command": run.command,
        "producer_command": producer_cmd,
        "load_before": load,
        "rate": rate,
        "seconds": seconds,
        "delivered": summary["delivered"],
        "producer_rate": summary["rate"],
        "batches": [{"batch": b, "rows": r, "seconds": s} for b, r, s, _ in lines],
        "lag_per_batch": lags,
        "max_batch_s": max(durations, default=None),
        "max_batch_s_after_first": max(durations[first_data + 1 :], default=None),
        "first_data_batch": lines[first_data][0] if first_data < len(lines) else None,
        "batches_over_3s": sum(1 for s in durations if s > 3.0),
        "caught_up_after_producer_s": caught_up,
        "commits": commits,
        "compactions": compactions,
    }


def first_commits(plat: Platform, args, work: Path, before: Path | None) -> dict:
    """Process start -> first commit of ``bronze-ingest --available-now`` (and of the job at
    ``--before-ref``) on a fresh backlog of ``--first-commit-events`` events, per round."""
    topic = plat.topic("first", register=True)
    produce_avro(topic, ["--count", str(args.first_commit_events), "--rate", "0"])
    runs: dict[str, list[dict]] = {"now": [], **({"before": []} if before else {})}
    for i in range(args.rounds):
        for label in list(runs)[i % len(runs) :] + list(runs)[: i % len(runs)]:
            code = before if label == "before" else None
            lake = work / f"first-{label}-{i}"
            runs[label].append(ours_drain(topic, lake, 0, work, f"first-{label}-{i}", code))
    return {"events": args.first_commit_events, "runs": runs}


def stages(topic: str, rows: int, repeats: int, work: Path) -> dict:
    cmd = [
        sys.executable,
        str(HERE / "stages_bronze.py"),
        "--topic",
        topic,
        "--rows",
        str(rows),
        "--repeats",
        str(repeats),
        "--driver-memory",
        DRIVER_MEMORY,
        "--master",
        MASTER,
        "--work",
        str(work / "stages"),
    ]
    _log("$ " + shlex.join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True)
    (work / "stages.log").write_text(out.stderr)
    if out.returncode != 0:
        raise SystemExit(f"stages_bronze.py failed:\n{out.stderr[-3000:]}")
    return {"command": shlex.join(cmd), "output": out.stdout}


# ---------------------------------------------------------------------- report


def _med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(v, spec=",.0f", none="n/a"):
    return none if v is None else format(v, spec)


def _print_drain(result: dict) -> None:
    ours, base = result["ours"], result["baseline"]
    n = len(ours)
    print(f"\n== 1. drain of {result['events']:,} events (Avro backlog), {MASTER} ==")
    for i, o in enumerate(ours):
        print(
            f"round {i + 1}: {o['rows']:,} rows; steady {_fmt(o['steady_rows_per_s_log'])} rows/s "
            f"(Delta log, batches 1..{len(o['commits']) - 1}) / "
            f"{_fmt(o['steady_rows_per_s_lines'])} rows/s (job's batch lines); batches "
            + ", ".join(f"{b}: {r:,} in {s:.1f} s" for b, r, s in o["batch_lines"])
            + f"; load before {o['load_before']}"
        )
        print(
            "  after 'started:': "
            + "; ".join(
                f"batch {t['batch']} committed +{t['commit_s']:.1f} s, its line +"
                + _fmt(t["line_s"], ".1f")
                + " s"
                for t in o["timeline"]
            )
        )
        for c in o["compactions"]:
            print(
                f"  auto-compaction: OPTIMIZE (auto) committed +{_fmt(c['commit_s'], '.1f')} s "
                f"after 'started:', rewrote {c['removed_files']} files "
                f"({c['removed_bytes'] / 2**20:.1f} MiB) into {c['added_files']}"
            )
    print(
        f"steady drain (excluding the first batch): "
        f"{_fmt(_med(o['steady_rows_per_s_log'] for o in ours))} rows/s "
        f"(median of {n}; target >= 250,000)"
    )
    print(f"  command: {ours[0]['command']}")
    print("\n== 2. first batch ==")
    for i, o in enumerate(ours):
        print(
            f"round {i + 1}: process start -> 'started:' "
            f"{_fmt(o['spark_start_to_started_s'], '.1f')} s; "
            f"'started:' -> batch 0 committed (Delta commit timestamp) "
            f"{_fmt(o['first_batch_commit_s'], '.1f')} s"
        )
    print(
        f"first batch: {_fmt(_med(o['first_batch_commit_s'] for o in ours), '.1f')} s from "
        f"'started:' to the first commit (median of {n}; target <= 5 s)"
    )
    print(f"  command: {ours[0]['command']}")
    print(
        "\n== 4. whole process: bronze-ingest (Avro -> Delta) vs the report's job "
        "(JSON -> Parquet) =="
    )
    print(
        "| round | ours wall s | ours rows/s | ours CPU s | baseline wall s | baseline rows/s "
        "| baseline CPU s | ratio |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratios = []
    for i, (o, b) in enumerate(zip(ours, base, strict=True)):
        ratio = o["rows_per_s_wall"] / b["rows_per_s_wall"]
        ratios.append(ratio)
        print(
            f"| {i + 1} | {o['wall_s']:.1f} | {o['rows_per_s_wall']:,.0f} "
            f"| {_fmt(o['cpu_s'], '.1f')} "
            f"| {b['wall_s']:.1f} | {b['rows_per_s_wall']:,.0f} | {_fmt(b['cpu_s'], '.1f')} "
            f"| {ratio:.2f}x |"
        )
    om, bm = _med(o["rows_per_s_wall"] for o in ours), _med(b["rows_per_s_wall"] for b in base)
    print(
        f"whole process, median of {n}: ours {om:,.0f} rows/s, baseline {bm:,.0f} rows/s; "
        f"ratio ours/baseline {_med(ratios):.2f}x (pair by pair; target >= 1.5x)"
    )
    for i, b in enumerate(base):
        print(
            f"baseline round {i + 1}: {b['rows']:,} rows; process start -> 'started:' "
            f"{_fmt(b['spark_start_to_started_s'], '.1f')} s; first batch "
            f"{_fmt(b['first_batch_commit_s'], '.1f')} s after 'started:'; steady "
            f"{_fmt(b['steady_rows_per_s_lines'])} rows/s (its batch lines); batches "
            + ", ".join(f"{bb}: {r:,} in {s:.1f} s" for bb, r, s in b["batch_lines"])
            + f"; load before {b['load_before']}"
        )
    print(f"  ours:     {ours[0]['command']}")
    print(f"  baseline: {base[0]['command']}")
    print(f"  events:   {result['avro_command']}  (Avro, {result['avro']['rate']:,.0f} events/s)")
    print(
        f"            JSON: the same events from txn_producer's generator (seed 1), json.dumps, "
        f"confluent_kafka with txn-producer's settings ({result['json']['rate']:,.0f} events/s)"
    )
    sizes = result["sizes"]
    print("\n== 5. size ==")
    print(
        f"Kafka: Avro {_fmt(sizes['kafka_avro_b'], '.1f')} B/event, JSON "
        f"{_fmt(sizes['kafka_json_b'], '.1f')} B/event (segment files, lz4 batches); "
        f"bronze Delta {sizes['bronze_b']:.1f} B/event ({sizes['bronze_files']} files); "
        f"baseline Parquet {sizes['baseline_b']:.1f} B/event ({sizes['baseline_files']} files)"
    )


def drain_rounds(args, topics: tuple[str, str], work: Path, before: Path | None) -> dict:
    """``--rounds`` drains of the Avro backlog by bronze-ingest (and by the job at
    ``--before-ref``) and of the JSON backlog by the report's job, in rotated order."""
    avro_topic, json_topic = topics
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    variants = ["ours", "baseline", *(["before"] if before else [])]
    result: dict[str, list] = {v: [] for v in ("ours", "baseline", "before")}
    for i in range(args.rounds):
        # Rotated: none always runs first on a machine whose load drifts.
        for which in variants[i % len(variants) :] + variants[: i % len(variants)]:
            mo = args.max_offsets_per_trigger
            if which == "baseline":
                run = baseline_drain(bootstrap, json_topic, work / f"report-{i}", mo, work, i)
            else:
                code = before if which == "before" else None
                lake = work / f"lake-{which}-{i}"
                run = ours_drain(avro_topic, lake, mo, work, f"{which}-{i}", code)
            result[which].append(run)
    return result


def _print_ab(result: dict) -> None:
    """The job before (``--before-ref``) and now, each against the baseline of its round."""
    before, ours, base = result["before"], result["ours"], result["baseline"]
    print(f"\n== 4b. the job at {result['before_ref']} and now, same backlog, same rounds ==")
    print(
        "| round | before wall s (CPU s) | now wall s (CPU s) | baseline wall s (CPU s) "
        "| before/baseline | now/baseline | process start -> first commit, before / now |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = zip(before, ours, base, strict=True)
    for i, (b, o, r) in enumerate(rows):
        print(
            f"| {i + 1} | {b['wall_s']:.1f} ({_fmt(b['cpu_s'], '.1f')}) "
            f"| {o['wall_s']:.1f} ({_fmt(o['cpu_s'], '.1f')}) "
            f"| {r['wall_s']:.1f} ({_fmt(r['cpu_s'], '.1f')}) "
            f"| {r['wall_s'] / b['wall_s']:.2f}x | {r['wall_s'] / o['wall_s']:.2f}x "
            f"| {_fmt(b['process_to_first_commit_s'], '.1f')} / "
            f"{_fmt(o['process_to_first_commit_s'], '.1f')} s |"
        )
    ratio = _med(r["wall_s"] / o["wall_s"] for o, r in zip(ours, base, strict=True))
    old = _med(r["wall_s"] / b["wall_s"] for b, r in zip(before, base, strict=True))
    print(
        f"whole process, median: now {ratio:.2f}x the baseline's rate, before {old:.2f}x "
        "(target >= 1.2x)"
    )
    print(f"  before: PYTHONPATH=<{result['before_ref']} export> {before[0]['command']}")


def _print_first_commits(first: dict) -> None:
    print(f"\n== 6. process start -> first commit, a backlog of {first['events']:,} events ==")
    for label, runs in first["runs"].items():
        starts = ", ".join(_fmt(r["process_to_first_commit_s"], ".1f") for r in runs)
        walls = ", ".join(f"{r['wall_s']:.1f}" for r in runs)
        print(
            f"{label}: first commit {starts} s after spawn (median "
            f"{_fmt(_med(r['process_to_first_commit_s'] for r in runs), '.1f')} s); whole "
            f"process {walls} s; loads {', '.join(str(r['load_before']) for r in runs)}"
        )
    for label, runs in first["runs"].items():
        print(f"  {label}: {runs[0]['command']}")


def _print_sustained(s: dict) -> None:
    print(f"\n== 3. sustained: {s['rate']:,} events/s for {s['seconds']} s ==")
    print(
        f"producer delivered {s['delivered']:,} at {s['producer_rate']:,.0f}/s; load before "
        f"{s['load_before']}"
    )
    print(
        "batch durations (s): "
        + ", ".join(f"{b['batch']}: {b['seconds']:.1f} ({b['rows']:,} rows)" for b in s["batches"])
    )
    print(f"lag at each batch end: {s['lag_per_batch']}")
    print(
        "bronze commits after 'started:': "
        + ", ".join(f"batch {c['batch']} +{c['commit_s']:.1f} s" for c in s["commits"])
    )
    for c in s["compactions"]:
        print(
            f"auto-compaction: OPTIMIZE (auto) committed +{c['commit_s']:.1f} s after 'started:', "
            f"rewrote {c['removed_files']} files ({c['removed_bytes'] / 2**20:.1f} MiB)"
        )
    print(
        f"max batch {_fmt(s['max_batch_s'], '.1f')} s (after the first batch with rows, "
        f"batch {s['first_data_batch']}: "
        f"{_fmt(s['max_batch_s_after_first'], '.1f')} s); {s['batches_over_3s']} of "
        f"{len(s['batches'])} batches over 3 s (target: every batch <= 3 s); bronze held every "
        f"event {s['caught_up_after_producer_s']:.1f} s after the producer stopped"
    )
    print(f"  job:      {s['command']}")
    print(f"  producer: {s['producer_command']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--max-offsets-per-trigger", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=1, help="ours/baseline pairs, alternated")
    ap.add_argument("--state-dir", type=Path, default=None, help="txn-platform state dir")
    ap.add_argument("--sustained-rate", type=int, default=0)
    ap.add_argument("--sustained-seconds", type=int, default=60)
    ap.add_argument("--trigger", default="10s")
    ap.add_argument("--stages", action="store_true", help="run bench/stages_bronze.py too")
    ap.add_argument("--stage-rows", type=int, default=500_000)
    ap.add_argument("--stage-repeats", type=int, default=2)
    ap.add_argument("--keep-topics", action="store_true")
    ap.add_argument(
        "--before-ref",
        default=None,
        help="also run bronze-ingest as it was at this git ref (e.g. HEAD), alternated",
    )
    ap.add_argument(
        "--first-commit-events",
        type=int,
        default=0,
        help="time process start -> first commit on a fresh backlog of N events, --rounds times",
    )
    ap.add_argument(
        "--driver-memory",
        default=DRIVER_MEMORY,
        help="--driver-memory of both jobs (local mode: executors share it)",
    )
    args = ap.parse_args()
    globals()["DRIVER_MEMORY"] = args.driver_memory
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    reaper = _become_subreaper()
    print(f"machine: {machine()}")
    print(f"load at start: {load_average()}")
    if not reaper:
        print("note: could not become a child subreaper; CPU seconds exclude the JVMs")
    plat = Platform(bootstrap, os.environ["SCHEMA_REGISTRY_URL"], args.state_dir)
    t_start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-bronze-") as tmp:
            work = Path(tmp)
            avro_topic = plat.topic("avro", register=True)
            json_topic = plat.topic("json", register=False)
            avro, avro_cmd = produce_avro(avro_topic, ["--count", str(args.events), "--rate", "0"])
            _log(f"Avro backlog: {avro['delivered']:,} events at {avro['rate']:,.0f}/s")
            js = produce_json(bootstrap, json_topic, args.events)
            _log(f"JSON backlog: {js['delivered']:,} events at {js['rate']:,.0f}/s")
            if avro["delivered"] != args.events or js["delivered"] != args.events:
                raise SystemExit(f"backlogs incomplete: Avro {avro}, JSON {js}")
            result: dict = {
                "events": args.events,
                "avro": avro,
                "avro_command": avro_cmd,
                "json": js,
            }
            topics = (avro_topic, json_topic)
            before = export_ref(args.before_ref, work / "before") if args.before_ref else None
            result.update(before_ref=args.before_ref, **drain_rounds(args, topics, work, before))
            o, b = result["ours"][0], result["baseline"][0]
            ka, kj = plat.bytes_on_disk(avro_topic), plat.bytes_on_disk(json_topic)
            result["sizes"] = {
                "kafka_avro_b": ka / args.events if ka else None,
                "kafka_json_b": kj / args.events if kj else None,
                "bronze_b": o["bronze_bytes"] / o["rows"],
                "bronze_files": o["bronze_files"],
                "baseline_b": b["parquet_bytes"] / b["rows"],
                "baseline_files": b["parquet_files"],
            }
            _print_drain(result)
            if before:
                _print_ab(result)
            if args.first_commit_events:
                result["first"] = first_commits(plat, args, work, before)
                _print_first_commits(result["first"])
            sys.stdout.flush()
            if args.sustained_rate:
                result["sustained"] = sustained(
                    plat, args.sustained_rate, args.sustained_seconds, args.trigger, work
                )
                _print_sustained(result["sustained"])
                sys.stdout.flush()
            if args.stages:
                result["stages"] = stages(avro_topic, args.stage_rows, args.stage_repeats, work)
                print("\n== stages of one batch (bench/stages_bronze.py) ==")
                print(result["stages"]["output"].rstrip())
    finally:
        if args.keep_topics:
            _log(f"topics kept: {', '.join(plat.topics)}")
        else:
            plat.cleanup()
    print(f"\nload at end: {load_average()}; bench took {time.monotonic() - t_start:.0f} s")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
