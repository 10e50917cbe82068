"""Per-core throughput of bronze and silver as applications on a Spark standalone cluster, with
one and with two 1-core executors on the local worker (the figures docs/scaling.md builds on).

One topic is filled once (``txn-producer --count N --rate 0``, 2 % re-sends); then, for each
executor count, ``bronze-ingest --available-now`` lands it in a fresh lake and
``silver-refine --available-now`` refines that lake, both with ``--master $SPARK_MASTER_URL``
and ``--total-executor-cores E --executor-cores 1`` (through PySpark's ``PYSPARK_SUBMIT_ARGS``).
Reported per run: rows/s over the batches' own durations (the jobs' ``batch N: R rows in S s``
lines), per executor core, and the whole process's rows/s. The driver, the broker and the
registry share the same two cores, so two executors cannot show a clean 2x here: the point is
the per-core figure and where it stops scaling.

Run it against a platform started with a cluster::

    .venv/bin/txn-platform up --spark --state-dir /tmp/benchclu --kafka-port 19192 \\
        --controller-port 19193 --registry-port 18181 --registry-management-port 18182
    set -a; . /tmp/benchclu/platform.env; set +a
    .venv/bin/python bench/bench_cluster.py --events 500000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench_bronze import BIN, Platform, Process, _log, produce_avro
from machine import load_average, machine

__all__ = ["main"]


def _job(cmd: list[str], executors: int, log: Path) -> dict:
    submit = f"--total-executor-cores {executors} --executor-cores 1 --executor-memory 2g"
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"{submit} pyspark-shell"
    try:
        run = Process(cmd, log).wait(3600)
    finally:
        os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
    if run.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({run.returncode}):\n{run.tail()}")
    batches = run.batches()
    rows = sum(b[1] for b in batches)
    busy = sum(b[2] for b in batches)
    return {
        "command": f"PYSPARK_SUBMIT_ARGS='{submit} pyspark-shell' {run.command}",
        "rows": rows,
        "batches": len(batches),
        "batch_rate": rows / busy if busy else 0.0,
        "process_rate": rows / run.wall_s,
        "wall_s": run.wall_s,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--executors", default="1,2", help="executor counts to run, comma-separated")
    p.add_argument("--work", type=Path)
    args = p.parse_args()
    master = os.environ.get("SPARK_MASTER_URL")
    if not master:
        raise SystemExit("SPARK_MASTER_URL is not set: start the platform with --spark first")
    plat = Platform(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["SCHEMA_REGISTRY_URL"], None)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "load_before": load_average(), "runs": []}
    try:
        topic = plat.topic("cluster", register=True)
        produce_avro(
            topic, ["--count", str(args.events), "--rate", "0", "--duplicate-rate", "0.02"]
        )
        for executors in [int(e) for e in args.executors.split(",")]:
            lake = work / f"lake-{executors}"
            common = ["--lake", str(lake), "--master", master, "--available-now"]
            bronze = _job(
                [str(BIN / "bronze-ingest"), *common, "--topic", topic,
                 "--max-offsets-per-trigger", "250000"],
                executors, work / f"bronze-{executors}.log",
            )  # fmt: skip
            silver = _job(
                [str(BIN / "silver-refine"), *common], executors, work / f"silver-{executors}.log"
            )
            result["runs"].append({"executors": executors, "bronze": bronze, "silver": silver})
            _log(f"{executors} executor(s): bronze {bronze['batch_rate']:,.0f} rows/s, "
                 f"silver {silver['batch_rate']:,.0f} rows/s")  # fmt: skip
    finally:
        plat.cleanup()
    print(f"\nmachine: {result['machine']}; load before: {result['load_before']}, "
          f"after: {load_average()}; master {master}; {args.events:,} events")  # fmt: skip
    print("| executors (1 core each) | job | rows | batches | rows/s (batches) | per core "
          "| rows/s (whole process) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in result["runs"]:
        for name in ("bronze", "silver"):
            j = r[name]
            print(f"| {r['executors']} | {name} | {j['rows']:,} | {j['batches']} "
                  f"| {j['batch_rate']:,.0f} | {j['batch_rate'] / r['executors']:,.0f} "
                  f"| {j['process_rate']:,.0f} |")  # fmt: skip
    for r in result["runs"]:
        for name in ("bronze", "silver"):
            print(f"  {r[name]['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
