"""``txn-lake``: describe, compact, vacuum and migrate the lake's Delta tables."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import click

from txn_contract.errors import ConfigError
from txn_runtime.cli import entry_point, stderr_logger
from txn_runtime.options import (
    CONTEXT_SETTINGS,
    driver_memory_option,
    format_option,
    lake_option,
    master_option,
    uses_settings,
)
from txn_runtime.shared import LakeSettings, SparkSettings

from .layout import TABLE_NAMES, Lake

__all__ = ["LakeCliSettings", "cli", "main"]

PROG = "txn-lake"
_emit = stderr_logger(PROG)


class LakeCliSettings(LakeSettings, SparkSettings):
    """The lake and, for the commands that run Spark, where it runs."""


def _lake_option(f):
    return lake_option(help="Lake root (LAKE/bronze, LAKE/quarantine, ...).")(f)


def _tables_option(f):
    return click.option(
        "--table",
        "tables",
        multiple=True,
        type=click.Choice(TABLE_NAMES),
        help="A table to act on (repeat for several). Default: every table that exists.",
    )(f)


def _spark_options(f):
    return master_option()(driver_memory_option()(f))


def _selected(lake: Lake, tables: tuple[str, ...]) -> list[str]:
    if not lake.root.is_dir():
        raise ConfigError("--lake", f"{lake.root} does not exist")
    existing = lake.existing_tables()
    chosen = list(tables) or existing
    missing = [t for t in chosen if t not in existing]
    if missing:
        raise ConfigError("--table", f"no Delta table {', '.join(missing)} under {lake.root} yet")
    return chosen


def _settings(**flags) -> LakeCliSettings:
    return LakeCliSettings.from_click(flags)


@contextmanager
def _spark_on_tables(flags, tables: tuple[str, ...], check=None):
    """(Spark session, lake, chosen tables) for a maintenance command; Spark stops after it.
    ``check(path)`` runs on each chosen table first: a refusal costs no Spark start-up."""
    settings = _settings(**flags)
    root = Lake(settings.lake)
    chosen = _selected(root, tables)
    for t in chosen if check else ():
        check(root.table_path(t))
    spark = _session(settings)
    try:
        yield spark, root, chosen
    finally:
        spark.stop()


def _session(settings: LakeCliSettings):
    from .spark import build_session

    _emit("starting Spark")
    return build_session(PROG, master=settings.master, driver_memory=settings.driver_memory)


@click.group(no_args_is_help=True, context_settings=CONTEXT_SETTINGS)
def cli() -> None:
    """Maintain the lake's Delta tables: describe them from their logs, compact closed
    partitions, vacuum replaced files, and migrate a plain-Parquet lake to Delta.

    Example: txn-lake describe --lake ./lake
    """


@uses_settings(LakeSettings)
@cli.command()
@_lake_option
@_tables_option
@format_option()
@click.option("--history", type=int, default=5, show_default=True, help="Recent commits to show.")
@click.option(
    "--columns/--no-columns", default=True, show_default=True, help="List columns and comments."
)
def describe(lake: Path | None, tables, fmt: str, history: int, columns: bool) -> None:
    """Each table's version, rows, files, average file size, properties, columns with their
    comments, and recent operations, read from the Delta log (no Spark).

    Example: txn-lake describe --lake ./lake --table bronze --format json
    """
    from .describe import facts_json, render_facts
    from .facts import table_facts

    root = Lake(LakeSettings.from_click({"lake": lake}).lake)
    facts = [table_facts(t, root.table_path(t), history=history) for t in _selected(root, tables)]
    if fmt == "json":
        click.echo(json.dumps([facts_json(f) for f in facts], indent=2))
    else:
        click.echo("\n\n".join(render_facts(f, columns=columns) for f in facts))


@uses_settings(LakeCliSettings)
@cli.command()
@_lake_option
@_tables_option
@click.option(
    "--min-age",
    default="1h",
    show_default=True,
    help="Compact partitions whose time window ended at least this long ago; 0 = all.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print, from the log (no Spark), the partitions that would be compacted and their "
    "small files, per table, and compact nothing.",
)
@format_option("How --dry-run prints its plan: text for people, json for machines.")
@_spark_options
def compact(tables, min_age: str, dry_run: bool, fmt: str, **flags) -> None:
    """OPTIMIZE (bin-packing) the partitions whose hour (bronze, quarantine) or day (silver)
    ended at least MIN_AGE ago. Safe while the jobs write: rows do not change, and streaming
    readers skip the commit.

    Example: txn-lake compact --lake ./lake --table bronze --min-age 2h
    """
    from txn_runtime.durations import parse_duration

    from .maintenance import compact_table

    min_age_s = 0.0 if min_age.strip() == "0" else parse_duration("--min-age", min_age)
    if fmt != "text" and not dry_run:
        raise ConfigError("--format", f"{fmt} is the format of --dry-run's plan; add --dry-run")
    if dry_run:
        _compaction_plans(_settings(**flags), tables, min_age_s, fmt)
        return
    with _spark_on_tables(flags, tables) as (spark, root, chosen):
        for t in chosen:
            r = compact_table(spark, t, root.table_path(t), min_age_s, _emit)
            _emit(
                f"{t}: compacted {r.partitions} partition(s), {r.files_removed} file(s) -> "
                f"{r.files_added}" + (f", {r.retries} retried conflict(s)" if r.retries else "")
            )


def _compaction_plans(settings: LakeCliSettings, tables, min_age_s: float, fmt: str) -> None:
    from .maintenance import compaction_plan

    root = Lake(settings.lake)
    plans = [compaction_plan(t, root.table_path(t), min_age_s) for t in _selected(root, tables)]
    if fmt == "json":
        click.echo(json.dumps([p.as_json() for p in plans], indent=2))
        return
    for p in plans:
        where = ", ".join(
            "/".join(f"{k}={v}" for k, v in values.items()) + f" ({small} small of {files})"
            for values, files, small in p.partitions
        )
        click.echo(
            f"{p.table}: {len(p.partitions)} partition(s) to compact, {p.small_files} small "
            f"file(s)" + (f": {where}" if where else "") + f"; retention {p.retention_hours:g} h"
        )


def _vacuum_candidates(settings: LakeCliSettings, tables, fmt: str) -> None:
    from .maintenance import vacuum_candidates

    root = Lake(settings.lake)
    counts = [(t, *vacuum_candidates(root.table_path(t))) for t in _selected(root, tables)]
    if fmt == "json":
        rows = [{"table": t, "retention_hours": h, "files": n} for t, h, n in counts]
        click.echo(json.dumps(rows, indent=2))
        return
    for t, hours, n in counts:
        click.echo(f"{t}: vacuum could delete {n} file(s) older than its retention, {hours:g} h")


@uses_settings(LakeCliSettings)
@cli.command()
@_lake_option
@_tables_option
@click.option(
    "--retain-hours",
    type=float,
    default=None,
    help="Must equal the table's retention (delta.deletedFileRetentionDuration, default 168): "
    "Delta 4.4 vacuums with that. Shorter is refused (Delta's retention check stays on).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print, from the log and the files (no Spark), how many files per table vacuum could "
    "delete (not in the current version, older than the retention), and delete nothing.",
)
@format_option("How --dry-run prints its counts: text for people, json for machines.")
@_spark_options
def vacuum(tables, retain_hours, dry_run: bool, fmt: str, **flags) -> None:
    """Delete files that no table version within the retention period references.

    Example: txn-lake vacuum --lake ./lake --retain-hours 168
    """
    from .maintenance import check_retain_hours, vacuum_table

    if fmt != "text" and not dry_run:
        raise ConfigError("--format", f"{fmt} is the format of --dry-run's counts; add --dry-run")
    if dry_run:
        _vacuum_candidates(_settings(**flags), tables, fmt)
        return

    check = lambda path: check_retain_hours(path, retain_hours)  # noqa: E731
    with _spark_on_tables(flags, tables, check) as (spark, root, chosen):
        for t in chosen:
            removed = vacuum_table(spark, root.table_path(t), retain_hours)
            _emit(f"{t}: vacuum removed {removed} file(s)")


@uses_settings(LakeCliSettings)
@cli.command()
@_lake_option
@_spark_options
def migrate(**flags) -> None:
    """Convert a lake written by the plain-Parquet bronze-ingest (before Delta) in place:
    CONVERT TO DELTA reads the committed file list of each output's _spark_metadata, so files
    of killed attempts are left out, and the job's checkpoint is kept, so it resumes where it
    stopped with nothing lost or read twice.

    Example: txn-lake migrate --lake ./lake
    """
    from .migrate import migrate_lake

    settings = _settings(**flags)
    root = Lake(settings.lake)
    spark = _session(settings)
    try:
        migrate_lake(spark, root, _emit)
    finally:
        spark.stop()


main = entry_point(cli, PROG)
