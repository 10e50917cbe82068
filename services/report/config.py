"""The report's typed settings: flags > environment > defaults (:mod:`txn_runtime.settings`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from txn_runtime.connections import KafkaSettings
from txn_runtime.settings import setting
from txn_runtime.shared import LakeSettings, TopicSettings

__all__ = ["ReportSettings"]


class ReportSettings(KafkaSettings, TopicSettings, LakeSettings):
    """Where the figures come from: the broker, the topic bronze reads, the lake it writes."""

    state_dir: Path | None = setting(None, env="TXN_STATE_DIR", flag="--state-dir")
    """State dir of `txn-platform`, to read the topic's size from its log dir."""
    kafka_log_dir: Path | None = setting(None, env=None, flag="--kafka-log-dir")
    """The broker's log.dirs, to read the topic's size (overrides --state-dir)."""

    @field_validator("lake")
    @classmethod
    def _lake_exists(cls, lake: Path) -> Path:
        if not lake.is_dir():
            raise ValueError(f"{lake} does not exist; has bronze-ingest run with --lake {lake}?")
        return lake

    @property
    def log_dirs(self) -> list[Path]:
        """The brokers' log directories, when known: ``--kafka-log-dir``, else the platform's
        node (``STATE/kafka/data``) or nodes (``STATE/kafka-N/data`` with ``--brokers 3``)."""
        if self.kafka_log_dir is not None:
            return [self.kafka_log_dir]
        if self.state_dir is None:
            return []
        single = self.state_dir / "kafka" / "data"
        return [single] if single.is_dir() else sorted(self.state_dir.glob("kafka-*/data"))
