"""Checks before Spark starts: bronze exists as a Delta table, and the checkpoint matches the
silver tables. Each failure is one sentence; none costs a JVM start."""

from __future__ import annotations

from txn_contract.errors import ConfigError
from txn_lake import Lake
from txn_lake.facts import is_delta_table
from txn_lake.outputs import StreamOutput, check_new_checkpoint
from txn_lake.tables import SILVER_TABLE

from .config import SilverSettings

__all__ = ["check_bronze_exists", "check_checkpoint_matches_silver", "preflight"]


def preflight(cfg: SilverSettings) -> None:
    """Raise a :class:`ConfigError` naming what to fix when the job could not run."""
    check_bronze_exists(cfg)
    check_checkpoint_matches_silver(cfg)


def check_bronze_exists(cfg: SilverSettings) -> None:
    """silver-refine streams from the bronze Delta table; without it there is nothing to read."""
    if not is_delta_table(cfg.bronze_path):
        raise ConfigError(
            "--lake",
            f"{cfg.bronze_path} is not a Delta table; start bronze-ingest on this lake first "
            "(or pass the --lake that bronze-ingest writes)",
        )


def check_checkpoint_matches_silver(cfg: SilverSettings) -> None:
    """Refuse a missing or emptied checkpoint when silver already holds committed batches: a
    new checkpoint would read bronze from the start again under batch ids Delta skips."""
    check_new_checkpoint((StreamOutput(Lake(cfg.lake), SILVER_TABLE),), cfg.checkpoint_path)
