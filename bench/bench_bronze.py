"""Benchmark of bronze-ingest in ``local[2]``: drain a backlog, then sustained ingest.

1. **Drain**: ``txn-producer --count N`` fills a fresh 3-partition topic (default 1,000,000
   events), then ``bronze-ingest --available-now`` drains it. Reported: rows/s over the whole run
   (Spark start included) and over the batches alone (from the job's per-batch log lines).
2. **Sustained** (``--sustained-rate R``): ``bronze-ingest`` with a processing-time trigger runs
   while ``txn-producer --rate R --duration D`` writes to another fresh topic; reported: the lag
   the job reported at each batch and how long after the producer stopped the lag reached zero.
3. **Size**: bytes per event in Kafka (segment files of the topic) versus bronze Parquet
   (committed files, via ``txn_report``).

Run it against a platform you started (it reads the topic size from the platform's log dir)::

    txn-platform up --state-dir /tmp/bench-platform --kafka-port 19092 \\
        --controller-port 19093 --registry-port 18081
    set -a; . /tmp/bench-platform/platform.env; set +a
    txn-contract register
    .venv/bin/python bench/bench_bronze.py --state-dir /tmp/bench-platform --events 1000000 \\
        --sustained-rate 20000 --sustained-seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

__all__ = ["main"]

BIN = Path(sys.executable).parent
_BATCH = re.compile(r"batch (\d+): (\d+) rows in ([\d.]+) s.*lag (\S+)")


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _create_topic(bootstrap: str, name: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the future
    admin.create_topics([NewTopic(name, 3, 1)])[name].result(30)


def _register(registry: str, topic: str) -> None:
    """The producer uses TopicNameStrategy: register the contract under ``<topic>-value``."""
    from txn_contract import packaged_contract
    from txn_contract.registry import register_contract, registry_client

    c = packaged_contract()
    contract = type(c)(f"{topic}-value", topic, c.compatibility, c.versions)
    register_contract(registry_client(registry), contract, registry)


def _produce(topic: str, extra: list[str]) -> dict:
    cmd = [str(BIN / "txn-producer"), "--topic", topic, "--seed", "1", "--no-progress", *extra]
    _log("$ " + shlex.join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# Local mode: the executors share the driver's heap; 500k-row batches want more than 2g.
DRIVER_MEMORY = "3g"


def _bronze_cmd(lake: Path, topic: str, extra: list[str]) -> list[str]:
    return [
        str(BIN / "bronze-ingest"),
        "--lake",
        str(lake),
        "--topic",
        topic,
        "--master",
        "local[2]",
        "--driver-memory",
        DRIVER_MEMORY,
        *extra,
    ]


def _batches(log_text: str) -> list[tuple[int, int, float, str]]:
    return [(int(b), int(r), float(s), lag) for b, r, s, lag in _BATCH.findall(log_text)]


def _sizes(bootstrap: str, topic: str, lake: Path, state_dir: Path | None) -> dict:
    from txn_report.report import build_report

    r = build_report(
        bootstrap=bootstrap,
        topic=topic,
        lake=lake,
        kafka_log_dir=state_dir / "kafka" / "data" if state_dir else None,
    ).as_json()
    rows = r["bronze_rows"] or 1
    return {
        "rows": r["bronze_rows"],
        "kafka_bytes_per_event": r["topic_bytes"] / rows if r["topic_bytes"] else None,
        "bronze_bytes_per_event": r["bronze_bytes"] / rows,
        "bronze_files": r["bronze_files"],
        "avg_file_bytes": r["avg_file_bytes"],
    }


def drain(
    bootstrap: str, events: int, max_offsets: int, state_dir: Path | None, work: Path
) -> dict:
    topic = f"bench-bronze-{uuid.uuid4().hex[:8]}"
    _create_topic(bootstrap, topic)
    _register(os.environ["SCHEMA_REGISTRY_URL"], topic)
    summary = _produce(topic, ["--count", str(events)])
    _log(f"backlog: {summary['delivered']:,} events at {summary['rate']:,.0f}/s")
    lake = work / "drain-lake"
    cmd = _bronze_cmd(
        lake, topic, ["--available-now", "--max-offsets-per-trigger", str(max_offsets)]
    )
    _log("$ " + shlex.join(cmd))
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - started
    if out.returncode != 0:
        raise SystemExit(f"bronze-ingest failed:\n{out.stderr[-3000:]}")
    batches = _batches(out.stderr)
    rows = sum(b[1] for b in batches)
    busy = sum(b[2] for b in batches)
    return {
        "command": shlex.join(cmd),
        "events": summary["delivered"],
        "rows": rows,
        "wall_s": wall,
        "rows_per_s_wall": rows / wall,
        "batch_s": busy,
        "rows_per_s_batches": rows / busy if busy else None,
        "batches": len(batches),
        "first_batch_s": batches[0][2] if batches else None,
        "steady_rows_per_s": (sum(b[1] for b in batches[1:]) / sum(b[2] for b in batches[1:]))
        if len(batches) > 1
        else None,
        **_sizes(bootstrap, topic, lake, state_dir),
    }


def sustained(bootstrap: str, rate: int, seconds: int, trigger: str, work: Path) -> dict:
    topic = f"bench-bronze-live-{uuid.uuid4().hex[:8]}"
    _create_topic(bootstrap, topic)
    _register(os.environ["SCHEMA_REGISTRY_URL"], topic)
    lake = work / "live-lake"
    log = work / "live.log"
    cmd = _bronze_cmd(lake, topic, ["--trigger", trigger])
    _log("$ " + shlex.join(cmd))
    job = subprocess.Popen(cmd, stderr=open(log, "w"), stdout=subprocess.DEVNULL)  # noqa: SIM115
    try:
        deadline = time.monotonic() + 180
        while "started: topic" not in log.read_text():
            if job.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bronze-ingest did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        summary = _produce(topic, ["--rate", str(rate), "--duration", str(seconds)])
        produced_at = time.monotonic()
        from txn_report.report import build_report

        while True:
            lag = build_report(bootstrap=bootstrap, topic=topic, lake=lake).as_json()["lag"]
            if lag["total"] == 0 and lag["checkpoint_found"]:
                break
            if time.monotonic() - produced_at > 600:
                raise SystemExit("lag did not return to zero within 10 minutes")
            time.sleep(1)
        catch_up = time.monotonic() - produced_at
    finally:
        job.terminate()
        job.wait(120)
    batches = _batches(log.read_text())
    return {
        "command": shlex.join(cmd),
        "rate": rate,
        "seconds": seconds,
        "delivered": summary["delivered"],
        "producer_rate": summary["rate"],
        "lag_per_batch": [b[3] for b in batches],
        "max_batch_s": max((b[2] for b in batches[1:]), default=None),
        "lag_zero_after_producer_s": catch_up,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--max-offsets-per-trigger", type=int, default=500_000)
    ap.add_argument("--state-dir", type=Path, default=None, help="txn-platform state dir")
    ap.add_argument("--sustained-rate", type=int, default=0)
    ap.add_argument("--sustained-seconds", type=int, default=60)
    ap.add_argument("--trigger", default="10s")
    ap.add_argument(
        "--driver-memory",
        default=DRIVER_MEMORY,
        help="bronze-ingest --driver-memory (local mode: executors share it)",
    )
    args = ap.parse_args()
    globals()["DRIVER_MEMORY"] = args.driver_memory
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    with tempfile.TemporaryDirectory(prefix="bench-bronze-") as tmp:
        work = Path(tmp)
        result = {
            "drain": drain(
                bootstrap, args.events, args.max_offsets_per_trigger, args.state_dir, work
            )
        }
        if args.sustained_rate:
            result["sustained"] = sustained(
                bootstrap, args.sustained_rate, args.sustained_seconds, args.trigger, work
            )
    d = result["drain"]
    print(
        f"drain: {d['rows']:,} rows in {d['wall_s']:.1f} s wall = {d['rows_per_s_wall']:,.0f} rows/s"
        f" (batches only: {d['rows_per_s_batches']:,.0f} rows/s over {d['batches']} batches; "
        f"first batch {d['first_batch_s']:.1f} s incl. JIT warm-up; "
        f"steady {d['steady_rows_per_s'] or 0:,.0f} rows/s)"
    )
    if d["kafka_bytes_per_event"]:
        print(
            f"size: Kafka {d['kafka_bytes_per_event']:.1f} B/event, bronze Parquet "
            f"{d['bronze_bytes_per_event']:.1f} B/event ({d['bronze_files']} files, "
            f"avg {d['avg_file_bytes'] / 1024:,.0f} KiB)"
        )
    if "sustained" in result:
        s = result["sustained"]
        print(
            f"sustained: {s['delivered']:,} events at {s['producer_rate']:,.0f}/s for "
            f"{s['seconds']} s; lag per batch {s['lag_per_batch']}; lag 0 "
            f"{s['lag_zero_after_producer_s']:.1f} s after the producer stopped"
        )
    print(json.dumps(result, indent=2))
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
