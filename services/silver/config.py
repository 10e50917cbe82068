"""Typed, validated settings of the silver job: flags > environment > defaults.

Validated before Spark starts (:mod:`txn_runtime.settings`), so a bad value costs a second and
reads as one sentence naming the flag or variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from txn_lake.layout import BRONZE, SILVER, SILVER_AUDIT, SILVER_REJECTS, Lake, lake_table
from txn_lake.tables import SILVER_REFINE
from txn_runtime.durations import seconds
from txn_runtime.settings import setting
from txn_runtime.shared import (
    LakeSettings,
    MetricsSettings,
    SparkSettings,
    StreamSettings,
    absolute_path,
)

__all__ = ["SilverSettings"]


class SilverSettings(LakeSettings, StreamSettings, SparkSettings, MetricsSettings):
    """Everything the job needs."""

    bronze_path = lake_table(BRONZE)
    silver_path = lake_table(SILVER)
    rejects_path = lake_table(SILVER_REJECTS)
    audit_path = lake_table(SILVER_AUDIT)

    checkpoint: Path | None = setting(None, env="TXN_SILVER_CHECKPOINT", flag="--checkpoint")
    """Checkpoint directory. Default: LAKE/_checkpoints/silver_refine."""
    allowed_lateness: str = setting("1h", env="TXN_ALLOWED_LATENESS", flag="--allowed-lateness")
    """A row whose timestamp is older than its ingest_ts by more than this is flagged is_late (and kept)."""
    max_files_per_trigger: int | None = setting(
        None, env=None, flag="--max-files-per-trigger", gt=0
    )
    """Cap on bronze files per micro-batch (Delta source maxFilesPerTrigger; default 1000)."""

    @field_validator("allowed_lateness")
    @classmethod
    def _lateness(cls, text: str) -> str:
        if seconds(text) <= 0:
            raise ValueError("must be longer than zero")
        return text

    _absolute = field_validator("checkpoint")(absolute_path)

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or SILVER_REFINE.checkpoint(Lake(self.lake))

    @property
    def lateness_seconds(self) -> float:
        return seconds(self.allowed_lateness)
