"""Settings several services share: the topic, the lake, where Spark runs, the stream trigger."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Self

from pydantic import field_validator, model_validator

from txn_contract.model import TOPIC

from .durations import seconds
from .settings import Invalid, Settings, setting

__all__ = [
    "DEFAULT_DRIVER_MEMORY",
    "DEFAULT_MASTER",
    "LakeSettings",
    "MetricsSettings",
    "SparkSettings",
    "StreamSettings",
    "TopicSettings",
    "absolute_path",
    "kafka_topic_name",
]

DEFAULT_MASTER = "local[*]"
# One default for every Spark CLI: local mode shares the driver's memory with the executors.
DEFAULT_DRIVER_MEMORY = "2g"
# Kafka's legal topic names.
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_SIZE = re.compile(r"^[1-9][0-9]*[kmgt]$", re.I)


def kafka_topic_name(topic: str) -> str:
    """``topic`` when it is a legal Kafka topic name (a field validator's body)."""
    if not _TOPIC_NAME.match(topic) or topic in (".", ".."):
        raise ValueError(f"{topic!r} is not a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -)")
    return topic


def absolute_path(path: Path | None) -> Path | None:
    """``path`` with ``~`` expanded and made absolute (a field validator's body: checkpoints)."""
    return path.expanduser().resolve() if path is not None else None


class TopicSettings(Settings):
    """The Kafka topic a service reads or writes."""

    topic: str = setting(TOPIC, env="TXN_TOPIC", flag="--topic")
    """Kafka topic."""

    _topic_name = field_validator("topic")(kafka_topic_name)


class LakeSettings(Settings):
    """The lake root every table lives under (``txn_lake.layout.lake_table`` gives a table's
    path as a property of a model built on this)."""

    lake: Path = setting(Path("lake"), env="TXN_LAKE", flag="--lake")
    """Lake root (LAKE/bronze, ...)."""

    @field_validator("lake")
    @classmethod
    def _lake_dir(cls, lake: Path) -> Path:
        lake = lake.expanduser().resolve()
        if lake.exists() and not lake.is_dir():
            raise ValueError(f"{lake} exists and is not a directory")
        return lake


class MetricsSettings(Settings):
    """Where a long-running job serves its Prometheus metrics (:mod:`txn_runtime.metrics`)."""

    metrics_port: int | None = setting(None, env="TXN_METRICS_PORT", flag="--metrics-port")
    """Serve Prometheus metrics on http://0.0.0.0:PORT/metrics. Default: off."""

    @field_validator("metrics_port")
    @classmethod
    def _port(cls, port: int | None) -> int | None:
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(f"{port} is not a TCP port (1-65535)")
        return port


class SparkSettings(Settings):
    """Where a Spark job runs when not under spark-submit (which then owns both)."""

    master: str = setting(DEFAULT_MASTER, env="TXN_SPARK_MASTER", flag="--master", min_length=1)
    """Spark master when not under spark-submit."""
    driver_memory: str = setting(
        DEFAULT_DRIVER_MEMORY, env="TXN_DRIVER_MEMORY", flag="--driver-memory"
    )
    """Spark driver memory in local mode, where executors share it."""

    @field_validator("driver_memory")
    @classmethod
    def _size(cls, size: str) -> str:
        if not _SIZE.match(size):
            raise ValueError(f"{size!r} is not a size such as 512m or 2g")
        return size


class StreamSettings(Settings):
    """When a streaming job runs its micro-batches: on a processing-time trigger, or once over
    what is there now."""

    trigger: str = setting("10s", env="TXN_TRIGGER", flag="--trigger")
    """Processing-time trigger interval."""
    available_now: bool = setting(False, env=None, flag="--available-now")
    """Process what the source holds now, then exit 0."""

    @field_validator("trigger")
    @classmethod
    def _trigger_duration(cls, text: str) -> str:
        seconds(text)
        return text

    @model_validator(mode="after")
    def _trigger_positive(self) -> Self:
        if not self.available_now and self.trigger_seconds <= 0:
            raise Invalid("trigger", "must be longer than zero")
        return self

    @property
    def trigger_seconds(self) -> float:
        return seconds(self.trigger)
