"""Gold's drain rate: ``gold-signals --available-now`` (the CLI, ``local[2]``) over a silver table
of ``--rows`` rows (default 1,000,000); the target is at least 50,000 rows/s.

The silver table is created as silver-refine creates it (its spec, on Spark), then filled with
``--batches`` silver batches appended as silver-refine's driver-side append does (delta-rs, its
``txn`` action): synthetic but shaped like the producer's clean stream, i.e. ``--customers``
customers (about 20 transactions each over ``--days`` days, each in its home city), 5,000
merchants, 3 % declined. ``--max-files-per-trigger`` (default: the files of one silver batch) makes gold take
about one silver batch per micro-batch, so the per-batch seconds mean something.

Prints the figures with the command that produced them: rows/s over the batches' own seconds
(the job's progress lines: reads, aggregates' MERGEs, detectors, alerts' commit) and over the
process's wall time (JVM start and table creation included), and each batch's seconds.

Needs a platform (``set -a; . .local/platform.env; set +a``): the alerts go to a new topic.

Example::

    .venv/bin/python bench/bench_gold.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from machine import load_average, machine

__all__ = ["main"]

BIN = Path(sys.executable).parent
CITIES = [
    ("Toronto", "CA"), ("Montréal", "CA"), ("Vancouver", "CA"), ("Calgary", "CA"),
    ("Ottawa", "CA"), ("Edmonton", "CA"), ("Winnipeg", "CA"), ("Halifax", "CA"),
    ("New York City", "US"), ("Chicago", "US"), ("London", "GB"), ("Paris", "FR"),
]  # fmt: skip
CHANNELS = ("POS", "ONLINE", "ATM", "MOBILE")
_BATCH_LINE = re.compile(r"batch (\d+): silver batches (\S+), (\d+) rows .* in ([\d.]+) s;")
_ALERTS = re.compile(r"alerts \+(\d+)")


def _log(message: str) -> None:
    print(f"[bench_gold] {message}", file=sys.stderr, flush=True)


def _rows(n: int, first: int, args, rng: random.Random) -> list[dict]:
    """``n`` silver rows numbered from ``first``, in event-time order across the whole run."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    span_s = args.days * 86_400
    out = []
    for i in range(first, first + n):
        ts = start + timedelta(seconds=span_s * i / args.rows)
        customer = rng.randrange(args.customers)
        city, country = CITIES[customer % len(CITIES)]  # at home: no travel
        out.append(
            {
                "transaction_id": f"t{i:09d}",
                "timestamp": ts,
                "customer_id": f"C{customer:07d}",
                "merchant_id": f"M{rng.randrange(5000):05d}",
                "amount": Decimal(rng.randrange(100, 20_000)) / 100,
                "currency": "CAD",
                "channel": CHANNELS[rng.randrange(len(CHANNELS))],
                "city": city,
                "country": country,
                "device_id": f"d{i % 100_000}",
                "status": "DECLINED" if rng.random() < 0.03 else "APPROVED",
                "event_date": ts.date(),
                "event_hour": ts.hour,
                "is_late": False,
                "rule_warnings": [],
            }
        )
    return out


def build_silver(lake: Path, args) -> int:
    """Create silver (Spark, its spec) and append ``args.batches`` batches; files per batch."""
    import pyarrow as pa
    from deltalake import DeltaTable

    from txn_contract import SUBJECT, packaged_contract
    from txn_lake.columns import contract_columns
    from txn_lake.layout import Lake
    from txn_lake.outputs import StreamOutput
    from txn_lake.spark import build_session
    from txn_lake.tables import SILVER_TABLE
    from txn_lake.writes import append_arrow

    spark = build_session("bench-gold-silver", master="local[1]", driver_memory="1g")
    schema = SILVER_TABLE.schema(contract_columns(spark, packaged_contract().latest.schema_str))
    StreamOutput(Lake(lake), SILVER_TABLE).ensure(spark, schema, SUBJECT)
    spark.stop()
    path = SILVER_TABLE.path(Lake(lake))
    rng = random.Random(args.seed)
    per = -(-args.rows // args.batches)
    files_before = 0
    for batch in range(args.batches):
        first = batch * per
        rows = _rows(min(per, args.rows - first), first, args, rng)
        table = DeltaTable(str(path))
        arrow_schema = pa.schema(table.schema().to_arrow())
        now = datetime.now(UTC)
        full = [{**r, "batch_id": batch, "refined_ts": now, "ingest_ts": now} for r in rows]
        meta = {"app_id": SILVER_TABLE.app_id, "batch_id": batch}
        append_arrow(
            table, pa.Table.from_pylist(full, schema=arrow_schema), app_id=SILVER_TABLE.app_id,
            batch_id=batch, user_metadata=meta,
        )  # fmt: skip
        files_before = files_before or len(DeltaTable(str(path)).file_uris())
        _log(f"silver batch {batch}: {len(rows):,} rows")
    return files_before


def _prepare_platform() -> str:
    """Register the alert contract (idempotent) and create a new alerts topic; its name."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from txn_contract import packaged_contract
    from txn_contract.alerts import SUBJECT as ALERTS_SUBJECT
    from txn_contract.registry import register_contract, registry_client

    url = os.environ["SCHEMA_REGISTRY_URL"]
    register_contract(registry_client(url), packaged_contract(ALERTS_SUBJECT), url)
    topic = f"bench_gold_alerts_{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(timeout=30)
    return topic


def drain(lake: Path, topic: str, files: int, args) -> dict:
    """Run the CLI; the batches' (rows, seconds) and alerts, and the wall seconds."""
    cmd = [
        str(BIN / "gold-signals"), "--lake", str(lake), "--available-now",
        "--master", args.master, "--driver-memory", args.driver_memory,
        "--alerts-topic", topic, "--max-files-per-trigger", str(args.max_files_per_trigger or files),
    ]  # fmt: skip
    _log("$ " + shlex.join(cmd))
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"gold-signals failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    batches, alerts = [], 0
    for line in proc.stderr.splitlines():
        m = _BATCH_LINE.search(line)
        if m:
            batches.append((int(m.group(3)), float(m.group(4))))
            alerts += int(_ALERTS.search(line).group(1)) if _ALERTS.search(line) else 0
    return {"batches": batches, "alerts": alerts, "wall": wall}


def report(result: dict, args) -> None:
    rows = sum(r for r, _ in result["batches"])
    seconds = sum(s for _, s in result["batches"])
    per_batch = [s for _, s in result["batches"]]
    print(f"command: .venv/bin/python bench/bench_gold.py {shlex.join(sys.argv[1:])}")
    print(f"machine: {machine()}; load {result['load_before']} before, {load_average()} after")
    print(
        f"gold drained {rows:,} silver rows in {len(per_batch)} batch(es): "
        f"{rows / seconds:,.0f} rows/s over the batches' {seconds:.1f} s "
        f"(target >= 50,000), {rows / result['wall']:,.0f} rows/s over the process's "
        f"{result['wall']:.1f} s (JVM start, preflight, table creation included)"
    )
    if per_batch:
        print(
            f"per batch: median {statistics.median(per_batch):.2f} s, max {max(per_batch):.2f} s "
            f"({', '.join(f'{s:.1f}' for s in per_batch)})"
        )
    print(
        f"alerts raised: {result['alerts']} ({result['alerts'] * 10_000 / max(rows, 1):.2f} per 10,000)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="silver rows to drain")
    p.add_argument("--batches", type=int, default=10, help="silver batches they come in")
    p.add_argument("--customers", type=int, help="default: rows / 20")
    p.add_argument("--days", type=int, default=2, help="event-time span of the rows")
    p.add_argument("--max-files-per-trigger", type=int, help="default: one silver batch's files")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="2g")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--work", type=Path, help="scratch dir [default: a temp dir]")
    args = p.parse_args()
    args.customers = args.customers or max(1, args.rows // 20)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-gold-"))
    lake = work / "lake"
    files = build_silver(lake, args)
    topic = _prepare_platform()
    result = {"load_before": load_average()}
    result.update(drain(lake, topic, files, args))
    report(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
