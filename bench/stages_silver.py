"""Where one silver batch spends its time: ``silver-refine``'s plan, stage by stage.

A bronze table (``--lake``, e.g. one ``bench_silver.py --work DIR`` left behind) is read as one
batch in the session the job builds (``txn_lake.spark.build_session``, ``local[2]``), through
the job's own functions: ``SilverJob._evaluate`` (rules, content hash, event time),
``dedup.classify`` against an empty silver, ``SilverJob._stats``, and the silver write.

Stages 1-4 are cumulative one-pass plans to Spark's ``noop`` sink (every column computed,
nothing written; a stage's own cost is its time minus the previous stage's):

1. read bronze (every column);
2. + the quality rules (one column of violated ids per action);
3. + each rule alone, on top of stage 1 (which rule costs what);
4. + the content hash, the late flag and event date/hour (``_evaluate``, which the job applies
   to its stream);
5. + ``classify`` (Spark's path, a large batch's: ids counted, silver semi-joined, the ids
   needing a decision broadcast back), noop;
6. the job's path: ``classify`` (every row evaluated once and cached, the ids counted) +
   ``_stats``,
   then the silver rows written as a Delta append to a scratch table.

``bench/warm_silver.py`` times a small batch (the driver's path) through the job's query.

Example::

    .venv/bin/python bench/stages_silver.py --lake /tmp/bs1/lake --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]


def _timed(fn) -> float:
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--lake", type=Path, required=True)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--driver-memory", default="3g")
    args = p.parse_args()

    from pyspark.sql import functions as F

    from txn_contract.rules import packaged_rules
    from txn_lake import BRONZE, Lake
    from txn_lake.spark import build_session
    from txn_silver.config import SilverSettings
    from txn_silver.dedup import OUTCOME, classify
    from txn_silver.job import SilverJob, _contract_columns
    from txn_silver.quality import CompiledRules

    spark = build_session("stages-silver", "local[2]", args.driver_memory)
    lake = Lake(args.lake)
    bronze = spark.read.format("delta").load(str(lake.table_path(BRONZE)))
    rows = bronze.count()
    scratch = Path(tempfile.mkdtemp(prefix="stages-silver-"))
    cfg = SilverSettings(lake=scratch, available_now=True)
    job = SilverJob(cfg, spark, packaged_rules())
    rules = CompiledRules(packaged_rules())
    cols = _contract_columns(bronze.columns)
    empty_silver = spark.createDataFrame([], "transaction_id string, content_hash binary")

    def noop(df):
        df.write.format("noop").mode("overwrite").save()

    plans = {
        "1 read bronze": lambda: noop(bronze),
        "2 + rules": lambda: noop(rules.evaluate(bronze)),
        "4 + hash, late, event time": lambda: noop(job._evaluate(bronze).unpersist()),
        "5 + classify": lambda: noop(classify(job._evaluate(bronze), lambda: empty_silver).rows),
    }
    for rule in packaged_rules().rules:
        plans[f"3 rule {rule.id}"] = lambda r=rule: noop(bronze.where(F.expr(r.sql)))

    def job_path():
        t = {}
        batch = classify(job._evaluate(bronze), lambda: empty_silver)
        classified = batch.rows
        t["classify+stats"] = _timed(lambda: job._stats(classified))
        out = str(scratch / f"silver-{time.monotonic_ns()}")
        inserted = classified.where(F.col(OUTCOME) == "insert").select(*[f"`{c}`" for c in cols])
        t["write silver"] = _timed(lambda: inserted.write.format("delta").partitionBy().save(out))
        batch.release()
        return t

    job_path()  # warm-up
    times: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for name, plan in plans.items():
            times.setdefault(name, []).append(_timed(plan))
        for name, t in job_path().items():
            times.setdefault(f"6 {name}", []).append(t)
    print(f"\nsilver stages over {rows:,} bronze rows (local[2], median of {args.repeats}):")
    for name in sorted(times):
        v = times[name]
        print(f"  {name:<40} {statistics.median(v):7.2f} s  ({min(v):.2f}-{max(v):.2f})")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
