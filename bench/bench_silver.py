"""Benchmark of silver-refine in ``local[2]``: drain, cost against silver's size, latency, files.

1. **Drain**: ``txn-producer --count N --rate 0 --duplicate-rate D --late-rate L`` fills a fresh
   topic (default 1,000,000 events, 2 % re-sends, 1 % late), ``bronze-ingest --available-now``
   lands it in bronze (not timed), then ``silver-refine --available-now`` refines the whole
   backlog, as a whole process. Reported: rows/s over the batches' own durations (the job's
   ``batch N: R rows in S s`` lines) and over the whole process, and the first batch's time.
2. **Size** (``--scale``): one batch of ``--probe`` new events (default 100,000) refined against
   a silver of N rows, then silver is grown to ``--scale-to`` rows (default 4,000,000, through
   the same producer -> bronze -> silver path) and the same-sized probe is refined again. The
   ratio of the two probe batches' times is what "cost per batch must not grow with silver's
   size" is held to (target: within 1.5x).
3. **Latency** (``--sustained-rate R``): ``bronze-ingest --trigger T`` and ``silver-refine
   --trigger T`` run together on a fresh lake while ``txn-producer --rate R --duration S``
   writes; each silver row's event-to-silver latency is its silver commit's time (the Delta
   log) minus its Kafka timestamp. Reported: p50, p95 and max, and the silver files written.
4. **Files** (``--write-modes none,optimize-write,auto-compact``): the latency scenario once per
   Delta small-file setting of the silver process; silver's files, average file size and
   auto-compaction's OPTIMIZE commits after each, from the Delta log.

Run it against a platform you started::

    .venv/bin/txn-platform up --state-dir /tmp/benchplat --kafka-port 19092 \\
        --controller-port 19093 --registry-port 18081
    set -a; . /tmp/benchplat/platform.env; set +a
    .venv/bin/python bench/bench_silver.py --events 1000000 --scale \\
        --sustained-rate 20000 --sustained-seconds 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

from bench_bronze import (
    BIN,
    DRIVER_MEMORY,
    MASTER,
    Platform,
    Process,
    _log,
    bronze_cmd,
    produce_avro,
)
from machine import load_average, machine

__all__ = ["main"]


# Delta's two ways against small files, as session settings of the silver process (passed with
# PySpark's PYSPARK_SUBMIT_ARGS); "none" is what the job does by default.
WRITE_MODES = {
    "none": {},
    "optimize-write": {"spark.databricks.delta.optimizeWrite.enabled": "true"},
    "auto-compact": {"spark.databricks.delta.autoCompact.enabled": "true"},
}


def _write_mode_env(mode: str) -> None:
    confs = " ".join(f"--conf {k}={v}" for k, v in WRITE_MODES[mode].items())
    if confs:
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"{confs} pyspark-shell"
    else:
        os.environ.pop("PYSPARK_SUBMIT_ARGS", None)


def silver_cmd(lake: Path, extra: list[str]) -> list[str]:
    return [str(BIN / "silver-refine"), "--lake", str(lake), "--master", MASTER,
            "--driver-memory", DRIVER_MEMORY, *extra]  # fmt: skip


def _run(cmd: list[str], log: Path, timeout: float = 3600):
    run = Process(cmd, log).wait(timeout)
    if run.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({run.returncode}):\n{run.tail()}")
    return run


def land(
    plat: Platform, lake: Path, events: int, dirt: list[str], work: Path, tag: str, topic=None
) -> str:
    """Produce ``events`` to ``topic`` (a fresh one when None) and land them in ``lake``'s
    bronze (not timed). A lake's bronze checkpoint follows one topic: more events for the same
    lake go to the same topic."""
    topic = topic or plat.topic(tag, register=True)
    # Each load its own seed (the last --seed wins): new transaction ids, not re-sends of the
    # backlog's (the same seed would re-draw the same ids with new timestamps: conflicts).
    seed = ["--seed", str(zlib.crc32(tag.encode()))]
    summary, _ = produce_avro(topic, ["--count", str(events), "--rate", "0", *dirt, *seed])
    t = time.monotonic()
    extra = ["--available-now", "--max-offsets-per-trigger", "500000"]
    _run(bronze_cmd(lake, topic, extra), work / f"bronze-{tag}.log")
    _log(f"bronze landed {summary['delivered']:,} events in {time.monotonic() - t:.0f} s")
    return topic


def silver_files(lake: Path) -> tuple[int, int, int]:
    """(rows, files, average file bytes) of the silver table, from its Delta log."""
    from txn_lake import SILVER, Lake
    from txn_lake.facts import table_facts

    f = table_facts(SILVER, Lake(lake).table_path(SILVER), history=0)
    return f.rows, f.files, (f.bytes // f.files if f.files else 0)


def refine(lake: Path, work: Path, tag: str, extra: list[str] | None = None) -> dict:
    """One ``silver-refine --available-now`` as a whole process."""
    run = _run(silver_cmd(lake, ["--available-now", *(extra or [])]), work / f"silver-{tag}.log")
    batches = run.batches()
    rows = sum(b[1] for b in batches)
    busy = sum(b[2] for b in batches)
    return {
        "command": run.command,
        "rows": rows,
        "batches": [(b[0], b[1], b[2]) for b in batches],
        "batch_rate": rows / busy if busy else None,
        "wall_s": run.wall_s,
        "process_rate": rows / run.wall_s,
        "files": silver_files(lake),
    }


def latency(
    plat: Platform, rate: int, seconds: int, trigger: str, work: Path, mode: str = "none"
) -> dict:
    """Both jobs streaming with ``trigger`` while the producer writes at ``rate``; silver
    written with Delta's small-file setting ``mode``."""
    lake = work / f"lake-sustained-{mode}"
    topic = plat.topic("sustained", register=True)
    bronze = Process(
        bronze_cmd(lake, topic, ["--trigger", trigger]), work / f"bronze-sus-{mode}.log"
    )
    while not bronze.seen("started: topic"):
        if bronze.proc.poll() is not None:
            raise SystemExit(f"bronze-ingest failed:\n{bronze.run.tail()}")
        time.sleep(0.5)
    _write_mode_env(mode)
    silver = Process(silver_cmd(lake, ["--trigger", trigger]), work / f"silver-sus-{mode}.log")
    _write_mode_env("none")
    while not silver.seen("started:"):
        if silver.proc.poll() is not None:
            raise SystemExit(f"silver-refine failed:\n{silver.run.tail()}")
        time.sleep(0.5)
    summary, producer_cmd = produce_avro(
        topic, ["--rate", str(rate), "--duration", str(seconds), "--duplicate-rate", "0.02"]
    )
    deadline = time.monotonic() + 300
    while silver_rows_read(lake) < summary["delivered"] and time.monotonic() < deadline:
        time.sleep(2)
    for job in (silver, bronze):
        job.proc.send_signal(2)
        job.wait(120)
    lat = row_latencies(lake)
    from txn_lake import SILVER, Lake
    from txn_lake.facts import commits

    return {
        "mode": mode,
        "optimize_commits": sum(
            1
            for c in commits(Lake(lake).table_path(SILVER), -1, 10_000)[1]
            if c.operation == "OPTIMIZE"
        ),
        "rate": rate,
        "seconds": seconds,
        "trigger": trigger,
        "producer": producer_cmd,
        "delivered": summary["delivered"],
        "bronze_batches": [(b[1], b[2]) for b in bronze.run.batches()],
        "silver_batches": [(b[1], b[2]) for b in silver.run.batches()],
        "latency": lat,
        "files": silver_files(lake),
    }


def silver_rows_read(lake: Path) -> int:
    from txn_lake import SILVER_AUDIT, Lake
    from txn_lake.facts import is_delta_table, query

    path = Lake(lake).table_path(SILVER_AUDIT)
    if not is_delta_table(path):
        return 0
    (row,) = query(path, "SELECT coalesce(sum(rows_read), 0) AS n FROM t")
    return int(row["n"])


def row_latencies(lake: Path) -> dict:
    """Each silver row's latency: its batch's commit time (Delta log) - its Kafka timestamp,
    from a 100 ms histogram per batch (DataFusion, no Spark)."""
    from txn_lake import SILVER, Lake
    from txn_lake.facts import commits, query

    path = Lake(lake).table_path(SILVER)
    _, log = commits(path, -1, 100_000)
    committed = {c.batch_id: c.timestamp_ms / 1000 for c in log if c.batch_id is not None}
    hist = query(
        path,
        "SELECT batch_id, floor(extract(epoch FROM kafka_timestamp) * 10) AS ds, count(*) AS n "
        "FROM t GROUP BY batch_id, floor(extract(epoch FROM kafka_timestamp) * 10)",
    )
    weighted = sorted(
        (committed[h["batch_id"]] - h["ds"] / 10, int(h["n"]))
        for h in hist
        if h["batch_id"] in committed
    )
    total = sum(n for _, n in weighted)

    def pct(p: float) -> float:
        seen = 0
        for value, n in weighted:
            seen += n
            if seen >= p * total:
                return value
        return weighted[-1][0]

    return {"rows": total, "p50": pct(0.5), "p95": pct(0.95), "max": weighted[-1][0]}


def scale(plat: Platform, lake: Path, args, dirt: list[str], work: Path, topic: str) -> dict:
    """Probe batch at silver's current size, grow silver, the same probe again."""
    out = {}
    for label, grow_to in (("before", None), ("after", args.scale_to)):
        if grow_to is not None:
            have = silver_files(lake)[0]
            if grow_to > have:
                land(plat, lake, grow_to - have, dirt, work, f"grow{grow_to}", topic)
                out["grow"] = refine(lake, work, f"grow{grow_to}")
        size = silver_files(lake)[0]
        land(plat, lake, args.probe, dirt, work, f"probe-{label}", topic)
        probe = refine(lake, work, f"probe-{label}")
        out[label] = {"silver_rows": size, **probe}
    return out


def _print(result: dict, args) -> None:
    print(f"\nmachine: {result['machine']}; load before: {result['load_before']}")
    d = result.get("drain")
    if d:
        first = d["batches"][0] if d["batches"] else None
        print(f"\n== 1. drain: {d['rows']:,} bronze rows, {MASTER} ==")
        print(f"  {d['command']}")
        print(f"  batches: {len(d['batches'])}; first: {first}")
        print(
            f"  rows/s over the batches' durations: {d['batch_rate'] or 0:,.0f}  (target 150,000)"
        )
        print(f"  rows/s over the whole process ({d['wall_s']:.1f} s): {d['process_rate']:,.0f}")
        print(f"  silver rows, files, avg bytes: {d['files']}")
    s = result.get("scale")
    if s:
        b, a = s["before"], s["after"]
        tb, ta = sum(x[2] for x in b["batches"]), sum(x[2] for x in a["batches"])
        print(f"\n== 2. size: a {args.probe:,}-event probe batch ==")
        print(f"  at {b['silver_rows']:,} silver rows: {tb:.1f} s {b['batches']}")
        print(f"  at {a['silver_rows']:,} silver rows: {ta:.1f} s {a['batches']}")
        print(f"  ratio: {ta / tb:.2f}x  (target within 1.5x)")
        if "grow" in s:
            g = s["grow"]
            print(f"  growing silver: {g['rows']:,} rows at {g['batch_rate'] or 0:,.0f} rows/s")
    for t in result.get("sustained", []):
        lat = t["latency"]
        print(
            f"\n== 3. latency: {t['rate']:,} events/s for {t['seconds']} s, trigger "
            f"{t['trigger']}, silver small-file mode {t['mode']} =="
        )
        print(f"  {t['producer']}")
        print(f"  bronze batches (rows, s): {t['bronze_batches']}")
        print(f"  silver batches (rows, s): {t['silver_batches']}")
        print(f"  event-to-silver latency over {lat['rows']:,} rows: p50 {lat['p50']:.1f} s, "
              f"p95 {lat['p95']:.1f} s, max {lat['max']:.1f} s  (target p95 <= 25 s)")  # fmt: skip
        print(f"  silver rows, files, avg bytes: {t['files']}; OPTIMIZE commits: "
              f"{t['optimize_commits']}")  # fmt: skip
    print(f"\nload after: {result.get('load_after', load_average())}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="bronze backlog to drain")
    p.add_argument("--duplicate-rate", default="0.02")
    p.add_argument("--late-rate", default="0.01")
    p.add_argument("--scale", action="store_true", help="also the 1M-vs-4M probe (slow)")
    p.add_argument("--scale-to", type=int, default=4_000_000)
    p.add_argument("--probe", type=int, default=100_000)
    p.add_argument("--sustained-rate", type=int, default=0)
    p.add_argument("--sustained-seconds", type=int, default=60)
    p.add_argument("--trigger", default="10s")
    p.add_argument(
        "--write-modes",
        default="none",
        help=f"silver's small-file settings to run the latency scenario with, comma-separated: "
        f"{', '.join(WRITE_MODES)}",
    )
    p.add_argument("--no-drain", action="store_true")
    p.add_argument("--work", type=Path, help="keep logs and lakes here [default: a temp dir]")
    args = p.parse_args()
    plat = Platform(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["SCHEMA_REGISTRY_URL"], None)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-silver-"))
    work.mkdir(parents=True, exist_ok=True)
    _log(f"work dir {work}")
    dirt = ["--duplicate-rate", args.duplicate_rate, "--late-rate", args.late_rate]
    result: dict = {"machine": machine(), "load_before": load_average()}
    try:
        lake = work / "lake"
        if not args.no_drain or args.scale:
            topic = land(plat, lake, args.events, dirt, work, "backlog")
            result["drain"] = refine(lake, work, "drain")
            _print(result, args)  # each scenario's figures as soon as they exist
        if args.scale:
            result["scale"] = scale(plat, lake, args, dirt, work, topic)
            _print(result, args)
        if args.sustained_rate:
            result["sustained"] = [
                latency(plat, args.sustained_rate, args.sustained_seconds, args.trigger, work, m)
                for m in args.write_modes.split(",")
            ]
    finally:
        plat.cleanup()
    result["load_after"] = load_average()
    _print(result, args)
    batches = [x[2] for x in result.get("drain", {}).get("batches", [])]
    if batches:
        _log(f"median drain batch {statistics.median(batches):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
