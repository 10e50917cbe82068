"""``txn-report``: topic size, bronze size, files, rows, quarantine, lag and each table's
freshness, from live figures."""

from __future__ import annotations

import json

import click

from txn_runtime.cli import entry_point
from txn_runtime.options import (
    bootstrap_servers_option,
    format_option,
    lake_option,
    option,
    settings_command,
    topic_option,
)

from .config import ReportSettings

__all__ = ["cli", "main"]

PROG = "txn-report"


@settings_command(ReportSettings)
@lake_option(help="Lake root of bronze-ingest.")
@format_option(help="text: the report's table; json: machine-readable keys.")
@bootstrap_servers_option()
@topic_option(help="Topic the bronze job reads.")
@option(ReportSettings, "state_dir", type=click.Path(file_okay=False))
@option(ReportSettings, "kafka_log_dir", type=click.Path(file_okay=False))
def cli(fmt: str, **flags) -> None:
    """Print the data-volume table of the project report from live figures: topic size and
    messages, bronze rows, bytes and Parquet files (min/avg/max), quarantined rows by reason,
    lag per partition, silver's reconciliation, gold's alerts per detector and the merchants
    with the highest decline rate, and each table's freshness (time since its last commit, p95 of event ->
    commit over its recent batches), all from the Delta logs: only committed files count, and
    lag is measured from the offsets bronze's last commit recorded.

    Example: txn-report --lake ./lake --format json
    """
    from .report import build_report, render_text

    settings = ReportSettings.from_click(flags)
    report = build_report(settings)
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        click.echo(render_text(report))


main = entry_point(cli, PROG)
