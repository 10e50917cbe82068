"""``silver-refine``: the bronze Delta table -> silver, silver_rejects and silver_audit, exactly
once."""

from __future__ import annotations

import logging
import sys

from txn_runtime.cli import entry_point, stderr_logger
from txn_runtime.options import (
    available_now_option,
    checkpoint_option,
    driver_memory_option,
    lake_option,
    master_option,
    metrics_port_option,
    option,
    settings_command,
    trigger_option,
)

from .config import SilverSettings

__all__ = ["cli", "main"]

PROG = "silver-refine"
_emit = stderr_logger(PROG)


@settings_command(SilverSettings)
@lake_option(
    help="Lake root: reads LAKE/bronze, writes LAKE/silver, LAKE/silver_rejects, "
    "LAKE/silver_audit, LAKE/_checkpoints/silver_refine."
)
@checkpoint_option(SilverSettings)
@trigger_option()
@available_now_option(help="Refine what bronze holds now, then exit 0.")
@option(SilverSettings, "allowed_lateness", metavar="DURATION")
@option(SilverSettings, "max_files_per_trigger", type=int, metavar="N")
@master_option()
@driver_memory_option()
@metrics_port_option()
def cli(**flags) -> None:
    """Refine the bronze Delta table into silver: the contract's quality rules (warn,
    quarantine to LAKE/silver_rejects with the rule ids, or fail), exact deduplication by
    transaction_id across all history (the same id with other content is a duplicate_conflict
    reject), event-date partitions and a late flag, and a per-batch audit that reconciles every
    row. Exactly once across restarts. SIGTERM/Ctrl-C stop after the current batch.

    Example: silver-refine --lake ./lake --available-now
    """
    cfg = SilverSettings.from_click(flags)
    logging.basicConfig(level=logging.INFO, format=f"[{PROG}] %(message)s", stream=sys.stderr)
    logging.getLogger("py4j").setLevel(logging.WARNING)

    from txn_contract.rules import packaged_rules

    from .preflight import preflight

    rules = packaged_rules()
    preflight(cfg)

    from txn_lake.spark import build_session
    from txn_runtime.metrics import serve_metrics

    from .job import SilverJob

    metrics = serve_metrics(cfg.metrics_port, _emit)
    _emit(f"starting Spark; rules version {rules.version} (sha256 {rules.digest})")
    spark = build_session(PROG, master=cfg.master, driver_memory=cfg.driver_memory)
    _emit(f"Spark {spark.version} on {spark.sparkContext.master}")
    job = SilverJob(cfg, spark, rules)
    job.metrics = metrics
    job.serve(
        _emit,
        lambda t: (
            f"{t['read']} bronze rows read, {t['inserted']} to silver, "
            f"{t['duplicates']} duplicates dropped, {t['rejected']} rejected"
        ),
    )
    spark.stop()


main = entry_point(cli, PROG)
