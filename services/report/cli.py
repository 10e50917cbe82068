"""``txn-report``: topic size, bronze size, files, rows, quarantine, lag and each table's
freshness, from live figures."""

from __future__ import annotations

import json
from pathlib import Path

import click

from txn_runtime.cli import entry_point
from txn_runtime.options import (
    bootstrap_servers_option,
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
# txn_runtime's format_option offers text|json; the report alone also has a page.
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="text: the report's table; json: machine-readable keys; html: one self-contained page "
    "with charts (no network needed to open it), best with --output.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the report to this file (created or replaced) and print its path, instead of "
    "printing the report.",
)
@bootstrap_servers_option()
@topic_option(help="Topic the bronze job reads.")
@option(ReportSettings, "state_dir", type=click.Path(file_okay=False))
@option(ReportSettings, "kafka_log_dir", type=click.Path(file_okay=False))
def cli(fmt: str, output: Path | None, **flags) -> None:
    """Print the data-volume table of the project report from live figures: topic size and
    messages, bronze rows, bytes and Parquet files (min/avg/max), quarantined rows by reason,
    lag per partition, silver's reconciliation, gold's alerts per detector and the merchants
    with the highest decline rate, and each table's freshness (time since its last commit, p95 of event ->
    commit over its recent batches), all from the Delta logs: only committed files count, and
    lag is measured from the offsets bronze's last commit recorded. --format html draws the same
    figures, plus rows per hour per layer and each table's files and size, as one page.

    Example: txn-report --lake ./lake --format html --output report.html
    """
    from .report import build_report, render_text

    settings = ReportSettings.from_click(flags)
    report = build_report(settings)
    if fmt == "json":
        text = json.dumps(report.as_json(), indent=2)
    elif fmt == "html":
        from .html_page import render_html

        text = render_html(report.as_json())
    else:
        text = render_text(report)
    if output is None:
        click.echo(text)
        return
    output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    click.echo(str(output.resolve()))


main = entry_point(cli, PROG)
