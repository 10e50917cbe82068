"""``txn-report``: topic size, bronze size, files, rows, quarantine and lag, from live figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from txn_contract.errors import ConfigError, TxnError

__all__ = ["main"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lake",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TXN_LAKE",
    default="lake",
    show_default=True,
    help="Lake root of bronze-ingest. Env: TXN_LAKE.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the report's table; json: machine-readable keys.",
)
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    default="",
    help="Kafka bootstrap servers. Env: KAFKA_BOOTSTRAP_SERVERS.",
)
@click.option(
    "--topic",
    envvar="TXN_TOPIC",
    default="bank_txn_stream",
    show_default=True,
    help="Topic the bronze job reads. Env: TXN_TOPIC.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TXN_STATE_DIR",
    default=None,
    help="State dir of `txn-platform`, to read the topic's size from its log dir.",
)
@click.option(
    "--kafka-log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The broker's log.dirs, to read the topic's size (overrides --state-dir).",
)
def cli(lake, fmt, bootstrap_servers, topic, state_dir, kafka_log_dir) -> None:
    """Print the data-volume table of the project report from live figures: topic size and
    messages, bronze rows, bytes and Parquet files (min/avg/max), quarantined rows by reason,
    and lag per partition, all from the Delta logs: only committed files count, and lag is
    measured from the offsets bronze's last commit recorded.

    Example: txn-report --lake ./lake --format json
    """
    from .report import build_report, render_text

    if not bootstrap_servers:
        raise ConfigError(
            "--bootstrap-servers",
            "no Kafka bootstrap servers; pass --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS",
        )
    if not lake.is_dir():
        raise ConfigError(
            "--lake", f"{lake} does not exist; has bronze-ingest run with --lake {lake}?"
        )
    log_dir = kafka_log_dir or (state_dir / "kafka" / "data" if state_dir else None)
    report = build_report(
        bootstrap=bootstrap_servers,
        topic=topic,
        lake=lake.resolve(),
        kafka_log_dir=log_dir,
    )
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        click.echo(render_text(report))


def main() -> None:
    """Console entry point: user errors are one sentence and a non-zero exit."""
    try:
        cli(standalone_mode=True)
    except TxnError as exc:
        click.echo(f"txn-report: error: {exc}", err=True)
        sys.exit(exc.exit_code)
