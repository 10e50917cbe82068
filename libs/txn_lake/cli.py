"""``txn-lake``: describe, compact, vacuum and migrate the lake's Delta tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from txn_contract.errors import ConfigError, TxnError

from .layout import TABLE_NAMES, Lake

__all__ = ["main"]


def _emit(msg: str) -> None:
    click.echo(f"[txn-lake] {msg}", err=True)


def _lake_option(f):
    return click.option(
        "--lake",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="TXN_LAKE",
        default="lake",
        show_default=True,
        help="Lake root (LAKE/bronze, LAKE/quarantine, ...). Env: TXN_LAKE.",
    )(f)


def _tables_option(f):
    return click.option(
        "--table",
        "tables",
        multiple=True,
        type=click.Choice(TABLE_NAMES),
        help="A table to act on (repeat for several). Default: every table that exists.",
    )(f)


def _spark_options(f):
    f = click.option(
        "--master",
        envvar="TXN_SPARK_MASTER",
        default="local[2]",
        show_default=True,
        help="Spark master when not under spark-submit. Env: TXN_SPARK_MASTER.",
    )(f)
    return click.option(
        "--driver-memory",
        envvar="TXN_DRIVER_MEMORY",
        default="2g",
        show_default=True,
        help="Spark driver memory. Env: TXN_DRIVER_MEMORY.",
    )(f)


def _selected(lake: Lake, tables: tuple[str, ...]) -> list[str]:
    if not lake.root.is_dir():
        raise ConfigError("--lake", f"{lake.root} does not exist")
    existing = lake.existing_tables()
    chosen = list(tables) or existing
    missing = [t for t in chosen if t not in existing]
    if missing:
        raise ConfigError("--table", f"no Delta table {', '.join(missing)} under {lake.root} yet")
    return chosen


def _session(master: str, driver_memory: str):
    from .spark import build_session

    _emit("starting Spark")
    return build_session("txn-lake", master=master, driver_memory=driver_memory)


@click.group(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Maintain the lake's Delta tables: describe them from their logs, compact closed
    partitions, vacuum replaced files, and migrate a plain-Parquet lake to Delta.

    Example: txn-lake describe --lake ./lake
    """


@cli.command()
@_lake_option
@_tables_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for machines.",
)
@click.option("--history", type=int, default=5, show_default=True, help="Recent commits to show.")
@click.option(
    "--columns/--no-columns", default=True, show_default=True, help="List columns and comments."
)
def describe(lake: Path, tables, fmt: str, history: int, columns: bool) -> None:
    """Each table's version, rows, files, average file size, properties, columns with their
    comments, and recent operations, read from the Delta log (no Spark).

    Example: txn-lake describe --lake ./lake --table bronze --format json
    """
    from .describe import facts_json, render_facts
    from .facts import table_facts

    root = Lake(lake.resolve())
    facts = [table_facts(t, root.table_path(t), history=history) for t in _selected(root, tables)]
    if fmt == "json":
        click.echo(json.dumps([facts_json(f) for f in facts], indent=2))
    else:
        click.echo("\n\n".join(render_facts(f, columns=columns) for f in facts))


@cli.command()
@_lake_option
@_tables_option
@click.option(
    "--min-age",
    default="1h",
    show_default=True,
    help="Compact partitions whose time window ended at least this long ago; 0 = all.",
)
@_spark_options
def compact(lake: Path, tables, min_age: str, master: str, driver_memory: str) -> None:
    """OPTIMIZE (bin-packing) the partitions whose hour (bronze, quarantine) or day (silver)
    ended at least MIN_AGE ago. Safe while the jobs write: rows do not change, and streaming
    readers skip the commit.

    Example: txn-lake compact --lake ./lake --table bronze --min-age 2h
    """
    from txn_runtime.durations import parse_duration

    from .maintenance import compact_table

    min_age_s = 0.0 if min_age.strip() == "0" else parse_duration("--min-age", min_age)
    root = Lake(lake.resolve())
    chosen = _selected(root, tables)
    spark = _session(master, driver_memory)
    try:
        for t in chosen:
            r = compact_table(spark, t, root.table_path(t), min_age_s, _emit)
            _emit(
                f"{t}: compacted {r.partitions} partition(s), {r.files_removed} file(s) -> "
                f"{r.files_added}" + (f", {r.retries} retried conflict(s)" if r.retries else "")
            )
    finally:
        spark.stop()


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
@_spark_options
def vacuum(lake: Path, tables, retain_hours, master: str, driver_memory: str) -> None:
    """Delete files that no table version within the retention period references.

    Example: txn-lake vacuum --lake ./lake --retain-hours 168
    """
    from .maintenance import vacuum_table

    root = Lake(lake.resolve())
    chosen = _selected(root, tables)
    spark = _session(master, driver_memory)
    try:
        for t in chosen:
            try:
                removed = vacuum_table(spark, root.table_path(t), retain_hours)
            except Exception as exc:
                from pyspark.errors import IllegalArgumentException

                # Delta's own retention check (RETAIN 0 HOURS): its message, as one sentence.
                if isinstance(exc, IllegalArgumentException) and "retention" in str(exc).lower():
                    raise ConfigError(
                        "--retain-hours",
                        f"Delta's retention check refuses to vacuum {t} with {retain_hours:g} h: "
                        "files a reader or a running job may still need would be deleted",
                    ) from exc
                raise
            _emit(f"{t}: vacuum removed {removed} file(s)")
    finally:
        spark.stop()


@cli.command()
@_lake_option
@_spark_options
def migrate(lake: Path, master: str, driver_memory: str) -> None:
    """Convert a lake written by the plain-Parquet bronze-ingest (before Delta) in place:
    CONVERT TO DELTA reads the committed file list of each output's _spark_metadata, so files
    of killed attempts are left out, and the job's checkpoint is kept, so it resumes where it
    stopped with nothing lost or read twice.

    Example: txn-lake migrate --lake ./lake
    """
    from .migrate import migrate_lake

    root = Lake(lake.resolve())
    spark = _session(master, driver_memory)
    try:
        migrate_lake(spark, root, _emit)
    finally:
        spark.stop()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors are one sentence and a non-zero exit."""
    try:
        cli(args=argv, standalone_mode=True)
    except TxnError as exc:
        click.echo(f"txn-lake: error: {exc}", err=True)
        sys.exit(exc.exit_code)
