"""``silver-refine``: the bronze Delta table -> silver, silver_rejects and silver_audit, exactly
once."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from txn_contract.errors import TxnError

from .config import SilverConfig

__all__ = ["main"]


def _emit(msg: str) -> None:
    click.echo(f"[silver-refine] {msg}", err=True)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lake",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TXN_LAKE",
    default="lake",
    show_default=True,
    help="Lake root: reads LAKE/bronze, writes LAKE/silver, LAKE/silver_rejects, "
    "LAKE/silver_audit, LAKE/_checkpoints/silver_refine. Env: TXN_LAKE.",
)
@click.option(
    "--checkpoint",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TXN_SILVER_CHECKPOINT",
    default=None,
    help="Checkpoint directory (default: LAKE/_checkpoints/silver_refine).",
)
@click.option(
    "--trigger",
    envvar="TXN_TRIGGER",
    default="10s",
    show_default=True,
    help="Processing-time trigger interval. Env: TXN_TRIGGER.",
)
@click.option("--available-now", is_flag=True, help="Refine what bronze holds now, then exit 0.")
@click.option(
    "--allowed-lateness",
    envvar="TXN_ALLOWED_LATENESS",
    default="1h",
    show_default=True,
    help="A row whose timestamp is older than its ingest_ts by more than this is flagged "
    "is_late (and kept). Env: TXN_ALLOWED_LATENESS.",
)
@click.option(
    "--max-files-per-trigger",
    type=int,
    default=None,
    help="Cap on bronze files per micro-batch (Delta source maxFilesPerTrigger; default 1000).",
)
@click.option(
    "--master",
    envvar="TXN_SPARK_MASTER",
    default="local[*]",
    show_default=True,
    help="Spark master when not under spark-submit. Env: TXN_SPARK_MASTER.",
)
@click.option(
    "--driver-memory",
    envvar="TXN_DRIVER_MEMORY",
    default="2g",
    show_default=True,
    help="Driver memory in local mode, where executors share it. Env: TXN_DRIVER_MEMORY.",
)
def cli(
    lake,
    checkpoint,
    trigger,
    available_now,
    allowed_lateness,
    max_files_per_trigger,
    master,
    driver_memory,
) -> None:
    """Refine the bronze Delta table into silver: the contract's quality rules (warn,
    quarantine to LAKE/silver_rejects with the rule ids, or fail), exact deduplication by
    transaction_id across all history (the same id with other content is a duplicate_conflict
    reject), event-date partitions and a late flag, and a per-batch audit that reconciles every
    row. Exactly once across restarts. SIGTERM/Ctrl-C stop after the current batch.

    Example: silver-refine --lake ./lake --available-now
    """
    cfg = SilverConfig(
        lake=lake.resolve(),
        checkpoint=checkpoint.resolve() if checkpoint else None,
        trigger=trigger,
        available_now=available_now,
        master=master,
        driver_memory=driver_memory,
        allowed_lateness=allowed_lateness,
        max_files_per_trigger=max_files_per_trigger,
    ).validated()
    logging.basicConfig(level=logging.INFO, format="[silver-refine] %(message)s", stream=sys.stderr)
    logging.getLogger("py4j").setLevel(logging.WARNING)

    from txn_contract.rules import packaged_rules

    from .preflight import preflight

    rules = packaged_rules()
    preflight(cfg)

    from txn_lake.spark import build_session

    from .job import SilverJob, install_signal_handlers

    _emit(f"starting Spark; rules version {rules.version} (sha256 {rules.digest})")
    spark = build_session("silver-refine", master=cfg.master, driver_memory=cfg.driver_memory)
    _emit(f"Spark {spark.version} on {spark.sparkContext.master}")
    job = SilverJob(cfg, spark, rules)
    install_signal_handlers(job, _emit)
    totals = job.run(_emit)
    _emit(
        f"stopped after {totals['batches']} batch(es): {totals['read']} bronze rows read, "
        f"{totals['inserted']} to silver, {totals['duplicates']} duplicates dropped, "
        f"{totals['rejected']} rejected"
    )
    spark.stop()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors are one sentence and a non-zero exit."""
    try:
        cli(args=argv, standalone_mode=True)
    except TxnError as exc:
        click.echo(f"silver-refine: error: {exc}", err=True)
        sys.exit(exc.exit_code)
