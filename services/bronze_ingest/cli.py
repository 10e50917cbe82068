"""``bronze-ingest``: Kafka topic -> bronze and quarantine Delta tables, exactly once."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from txn_contract.errors import TxnError

from .config import BronzeConfig

__all__ = ["main"]


def _emit(msg: str) -> None:
    click.echo(f"[bronze-ingest] {msg}", err=True)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lake",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TXN_LAKE",
    default="lake",
    show_default=True,
    help="Lake root: writes LAKE/bronze, LAKE/quarantine, LAKE/_checkpoints. Env: TXN_LAKE.",
)
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    default="",
    help="Kafka bootstrap servers. Env: KAFKA_BOOTSTRAP_SERVERS.",
)
@click.option(
    "--schema-registry-url",
    envvar="SCHEMA_REGISTRY_URL",
    default="",
    help="Confluent-API schema registry URL. Env: SCHEMA_REGISTRY_URL.",
)
@click.option(
    "--topic",
    envvar="TXN_TOPIC",
    default="bank_txn_stream",
    show_default=True,
    help="Kafka topic to ingest. Env: TXN_TOPIC.",
)
@click.option(
    "--subject",
    envvar="TXN_SUBJECT",
    default=None,
    help="Registry subject whose versions may decode (default: TOPIC-value).",
)
@click.option(
    "--checkpoint",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TXN_CHECKPOINT",
    default=None,
    help="Checkpoint directory (default: LAKE/_checkpoints/bronze_ingest).",
)
@click.option(
    "--starting-offsets",
    default="earliest",
    show_default=True,
    help="Where a new checkpoint starts: earliest, latest or Spark's JSON form.",
)
@click.option(
    "--max-offsets-per-trigger",
    type=int,
    default=None,
    help="Cap on offsets per micro-batch (Kafka source maxOffsetsPerTrigger).",
)
@click.option(
    "--min-offsets-per-trigger",
    type=int,
    default=None,
    help="Wait for at least this many new offsets before a batch (fewer, larger files).",
)
@click.option(
    "--max-trigger-delay",
    default=None,
    help="With --min-offsets-per-trigger: run a batch anyway after this long, e.g. 5m.",
)
@click.option(
    "--max-records-per-file",
    type=int,
    default=None,
    help="Split output files above this many rows.",
)
@click.option(
    "--trigger",
    envvar="TXN_TRIGGER",
    default="10s",
    show_default=True,
    help="Processing-time trigger interval. Env: TXN_TRIGGER.",
)
@click.option("--available-now", is_flag=True, help="Drain what is in the topic now, then exit 0.")
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
    help="Driver memory in local mode, where executors share it; raise it with "
    "--max-offsets-per-trigger above ~300k. Env: TXN_DRIVER_MEMORY.",
)
@click.option(
    "--registry-timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds to keep retrying an unreachable registry before the job stops.",
)
def cli(
    lake,
    bootstrap_servers,
    schema_registry_url,
    topic,
    subject,
    checkpoint,
    starting_offsets,
    max_offsets_per_trigger,
    min_offsets_per_trigger,
    max_trigger_delay,
    max_records_per_file,
    trigger,
    available_now,
    master,
    driver_memory,
    registry_timeout,
) -> None:
    """Ingest Confluent-framed Avro transactions from Kafka into the bronze Delta table
    (Snappy Parquet), partitioned by date and hour of ingest (UTC). Each message is decoded with
    its own writer schema and projected onto the newest version registered under the subject;
    a newer version's fields become new bronze columns without a restart. Anything else goes to
    the quarantine table with its raw bytes and a reason. Exactly once across restarts.
    SIGTERM/Ctrl-C stop after the current batch.

    Example: bronze-ingest --lake ./lake --available-now
    """
    from txn_contract import packaged_contract

    cfg = BronzeConfig(
        lake=lake.resolve(),
        bootstrap_servers=bootstrap_servers,
        registry_url=schema_registry_url,
        topic=topic,
        subject=subject or f"{topic}-value",
        checkpoint=checkpoint.resolve() if checkpoint else None,
        starting_offsets=starting_offsets,
        max_offsets_per_trigger=max_offsets_per_trigger,
        min_offsets_per_trigger=min_offsets_per_trigger,
        max_trigger_delay=max_trigger_delay,
        max_records_per_file=max_records_per_file,
        trigger=trigger,
        available_now=available_now,
        master=master,
        registry_timeout_s=registry_timeout,
        driver_memory=driver_memory,
    ).validated()
    logging.basicConfig(level=logging.INFO, format="[bronze-ingest] %(message)s", stream=sys.stderr)
    for noisy in ("py4j", "httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from txn_lake.spark import build_session

    from .job import BronzeJob, install_signal_handlers
    from .preflight import preflight

    contract = packaged_contract()
    preflight(cfg, contract)

    _emit("starting Spark")
    spark = build_session("bronze-ingest", master=cfg.master, driver_memory=cfg.driver_memory)
    _emit(
        f"Spark {spark.version} on {spark.sparkContext.master}; Kafka {cfg.bootstrap_servers}, "
        f"registry {cfg.registry_url}"
    )
    job = BronzeJob(cfg, spark)
    install_signal_handlers(job, _emit)
    totals = job.run(_emit)
    _emit(
        f"stopped after {totals['batches']} batch(es): {totals['bronze']} rows to bronze, "
        f"{totals['quarantine']} to quarantine"
    )
    spark.stop()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors are one sentence and a non-zero exit."""
    try:
        cli(args=argv, standalone_mode=True)
    except TxnError as exc:
        click.echo(f"bronze-ingest: error: {exc}", err=True)
        sys.exit(exc.exit_code)
