"""Typed, validated settings of the gold job: flags > environment > defaults.

Validated before Spark starts (:mod:`txn_runtime.settings`), so a bad value costs a second and
reads as one sentence naming the flag or variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from txn_contract.alerts import SUBJECT as ALERTS_SUBJECT
from txn_contract.alerts import TOPIC as ALERTS_TOPIC
from txn_lake.gold_tables import GOLD_SIGNALS
from txn_lake.layout import (
    ALERTS,
    GOLD_CUSTOMER_DAILY,
    GOLD_MERCHANT_HOURLY,
    SILVER,
    Lake,
    lake_table,
)
from txn_runtime.connections import KafkaSettings, RegistrySettings
from txn_runtime.settings import setting
from txn_runtime.shared import (
    LakeSettings,
    MetricsSettings,
    SparkSettings,
    StreamSettings,
    absolute_path,
    kafka_topic_name,
)

__all__ = ["GoldSettings"]


class GoldSettings(
    KafkaSettings, RegistrySettings, LakeSettings, StreamSettings, SparkSettings, MetricsSettings
):
    """Everything the job needs."""

    silver_path = lake_table(SILVER)
    merchant_hourly_path = lake_table(GOLD_MERCHANT_HOURLY)
    customer_daily_path = lake_table(GOLD_CUSTOMER_DAILY)
    alerts_path = lake_table(ALERTS)

    alerts_topic: str = setting(ALERTS_TOPIC, env="TXN_ALERTS_TOPIC", flag="--alerts-topic")
    """Kafka topic the alerts are published to (keyed by customer_id)."""
    alerts_subject: str = setting(ALERTS_SUBJECT, env="TXN_ALERTS_SUBJECT", flag="--alerts-subject")
    """Registry subject of the alert contract; its latest version must be registered."""
    checkpoint: Path | None = setting(None, env="TXN_GOLD_CHECKPOINT", flag="--checkpoint")
    """Checkpoint directory. Default: LAKE/_checkpoints/gold_signals."""
    max_files_per_trigger: int | None = setting(
        None, env=None, flag="--max-files-per-trigger", gt=0
    )
    """Cap on silver files per micro-batch (Delta source maxFilesPerTrigger; default 1000)."""

    _topic_name = field_validator("alerts_topic")(kafka_topic_name)
    _absolute = field_validator("checkpoint")(absolute_path)

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or GOLD_SIGNALS.checkpoint(Lake(self.lake))
