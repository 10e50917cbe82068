"""Typed settings of the one-application run: bronze's settings, silver's and gold's own, and
each layer's checkpoint under a layer prefix (``--bronze-checkpoint``, ``--silver-checkpoint``,
``--gold-checkpoint``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from bronze_ingest.config import BronzeSettings
from txn_gold.config import GoldSettings
from txn_runtime.settings import setting, with_default
from txn_runtime.shared import absolute_path
from txn_silver.config import SilverSettings

__all__ = ["PipelineSettings"]


class PipelineSettings(BronzeSettings):
    """Everything every layer needs; the shared flags (``--lake``, ``--trigger``,
    ``--available-now``, ``--master``, ``--driver-memory``) apply to every query."""

    checkpoint: Path | None = setting(None, env="TXN_CHECKPOINT", flag="--bronze-checkpoint")
    """Bronze's checkpoint directory. Default: LAKE/_checkpoints/bronze_ingest (bronze-ingest's)."""
    silver_checkpoint: Path | None = setting(
        None, env="TXN_SILVER_CHECKPOINT", flag="--silver-checkpoint"
    )
    """Silver's checkpoint directory. Default: LAKE/_checkpoints/silver_refine (silver-refine's)."""
    gold_checkpoint: Path | None = setting(
        None, env="TXN_GOLD_CHECKPOINT", flag="--gold-checkpoint"
    )
    """Gold's checkpoint directory. Default: LAKE/_checkpoints/gold_signals (gold-signals')."""
    allowed_lateness: str = with_default(SilverSettings, "allowed_lateness", "1h")
    max_files_per_trigger: int | None = with_default(SilverSettings, "max_files_per_trigger", None)
    alerts_topic: str = with_default(
        GoldSettings, "alerts_topic", GoldSettings.model_fields["alerts_topic"].default
    )
    alerts_subject: str = with_default(
        GoldSettings, "alerts_subject", GoldSettings.model_fields["alerts_subject"].default
    )

    _absolute_layer = field_validator("silver_checkpoint", "gold_checkpoint")(absolute_path)

    def silver(self) -> SilverSettings:
        """silver-refine's settings for this run (validated as silver-refine validates them)."""
        return SilverSettings.load(
            {
                "lake": self.lake,
                "checkpoint": self.silver_checkpoint,
                "trigger": self.trigger,
                "available_now": self.available_now,
                "allowed_lateness": self.allowed_lateness,
                "max_files_per_trigger": self.max_files_per_trigger,
                "master": self.master,
                "driver_memory": self.driver_memory,
            },
            {},
        )

    def gold(self) -> GoldSettings:
        """gold-signals' settings for this run: the shared ones (Kafka, registry, lake, trigger,
        Spark) and the alerts' topic and subject, validated as gold-signals validates them."""
        own = {"checkpoint", "max_files_per_trigger"}
        shared = (set(GoldSettings.model_fields) & set(type(self).model_fields)) - own
        flags = {name: getattr(self, name) for name in shared - GoldSettings.derived_fields}
        return GoldSettings.load({**flags, "checkpoint": self.gold_checkpoint}, {})
