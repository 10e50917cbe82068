"""Typed, validated configuration of the silver job: flags > environment > defaults.

Validated before Spark starts, so a bad value costs a second and reads as one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from txn_contract.errors import ConfigError
from txn_lake.layout import BRONZE, SILVER, SILVER_AUDIT, SILVER_REJECTS, Lake
from txn_runtime.durations import parse_duration

__all__ = ["JOB", "SilverConfig"]

JOB = "silver_refine"


@dataclass(frozen=True)
class SilverConfig:
    """Everything the job needs; construct through :meth:`validated`."""

    lake: Path
    checkpoint: Path | None = None
    trigger: str = "10s"
    available_now: bool = False
    master: str | None = "local[*]"
    driver_memory: str = "2g"
    allowed_lateness: str = "1h"
    max_files_per_trigger: int | None = None

    @property
    def bronze_path(self) -> Path:
        return Lake(self.lake).table_path(BRONZE)

    @property
    def silver_path(self) -> Path:
        return Lake(self.lake).table_path(SILVER)

    @property
    def rejects_path(self) -> Path:
        return Lake(self.lake).table_path(SILVER_REJECTS)

    @property
    def audit_path(self) -> Path:
        return Lake(self.lake).table_path(SILVER_AUDIT)

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or Lake(self.lake).checkpoint(JOB)

    @property
    def trigger_seconds(self) -> float:
        return parse_duration("--trigger", self.trigger)

    @property
    def lateness_seconds(self) -> float:
        return parse_duration("--allowed-lateness", self.allowed_lateness)

    def validated(self) -> SilverConfig:
        """Return self after checking every value; raise :class:`ConfigError` naming the flag."""
        if not self.available_now and self.trigger_seconds <= 0:
            raise ConfigError("--trigger", "must be longer than zero")
        if self.lateness_seconds <= 0:
            raise ConfigError("--allowed-lateness", "must be longer than zero")
        if self.max_files_per_trigger is not None and self.max_files_per_trigger < 1:
            raise ConfigError(
                "--max-files-per-trigger",
                f"must be a positive integer, got {self.max_files_per_trigger}",
            )
        if self.lake.exists() and not self.lake.is_dir():
            raise ConfigError("--lake", f"{self.lake} exists and is not a directory")
        return self
