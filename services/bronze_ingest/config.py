"""Typed, validated settings of the bronze job: flags > environment > defaults.

Validated before Spark starts (:mod:`txn_runtime.settings`), so a bad value costs a second and
reads as one sentence naming the flag or variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import field_validator, model_validator

from txn_lake import BRONZE, QUARANTINE, Lake, lake_table
from txn_lake.tables import BRONZE_INGEST
from txn_runtime.connections import KafkaSettings, RegistrySettings
from txn_runtime.durations import parse_duration, seconds
from txn_runtime.settings import Invalid, setting
from txn_runtime.shared import (
    LakeSettings,
    MetricsSettings,
    SparkSettings,
    StreamSettings,
    TopicSettings,
    absolute_path,
)

__all__ = ["BronzeSettings", "parse_duration"]  # parse_duration re-exported


class BronzeSettings(
    KafkaSettings,
    RegistrySettings,
    TopicSettings,
    LakeSettings,
    StreamSettings,
    SparkSettings,
    MetricsSettings,
):
    """Everything the job needs."""

    bronze_path = lake_table(BRONZE)
    quarantine_path = lake_table(QUARANTINE)

    subject: str = setting(None, env="TXN_SUBJECT", flag="--subject")
    """Registry subject whose versions may decode. Default: TOPIC-value."""
    checkpoint: Path | None = setting(None, env="TXN_CHECKPOINT", flag="--checkpoint")
    """Checkpoint directory. Default: LAKE/_checkpoints/bronze_ingest."""
    starting_offsets: str = setting("earliest", env=None, flag="--starting-offsets")
    """Where a new checkpoint starts: earliest, latest or Spark's JSON form."""
    max_offsets_per_trigger: int | None = setting(
        None, env=None, flag="--max-offsets-per-trigger", gt=0
    )
    """Cap on offsets per micro-batch (Kafka source maxOffsetsPerTrigger)."""
    min_offsets_per_trigger: int | None = setting(
        None, env=None, flag="--min-offsets-per-trigger", gt=0
    )
    """Wait for at least this many new offsets before a batch (fewer, larger files)."""
    max_trigger_delay: str | None = setting(None, env=None, flag="--max-trigger-delay")
    """With --min-offsets-per-trigger: run a batch anyway after this long, e.g. 5m."""
    max_records_per_file: int | None = setting(None, env=None, flag="--max-records-per-file", gt=0)
    """Split output files above this many rows."""
    registry_timeout: float = setting(300.0, env=None, flag="--registry-timeout", gt=0)
    """Seconds to keep retrying an unreachable registry before the job stops."""

    @model_validator(mode="before")
    @classmethod
    def _subject_of_topic(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("subject"):
            data = {
                **data,
                "subject": f"{data.get('topic') or cls.model_fields['topic'].default}-value",
            }
        return data

    @field_validator("starting_offsets")
    @classmethod
    def _offsets(cls, so: str) -> str:
        if so not in ("earliest", "latest") and not so.startswith("{"):
            raise ValueError(f"{so!r} must be earliest, latest or Spark's JSON offsets form")
        return so

    @field_validator("max_trigger_delay")
    @classmethod
    def _duration(cls, text: str | None) -> str | None:
        if text is not None:
            seconds(text)
        return text

    _absolute = field_validator("checkpoint")(absolute_path)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        low, high = self.min_offsets_per_trigger, self.max_offsets_per_trigger
        if low and high and low > high:
            raise Invalid("min_offsets_per_trigger", "must not exceed {max_offsets_per_trigger}")
        if self.max_trigger_delay is not None and low is None:
            raise Invalid(
                "max_trigger_delay", "only applies together with {min_offsets_per_trigger}"
            )
        if self.available_now and low:
            raise Invalid("min_offsets_per_trigger", "cannot be combined with {available_now}")
        return self

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or BRONZE_INGEST.checkpoint(Lake(self.lake))
