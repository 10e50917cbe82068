"""Typed, validated configuration of the bronze job: flags > environment > defaults.

Validated before Spark starts, so a bad value costs a second and reads as one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from txn_contract.errors import ConfigError
from txn_lake import BRONZE, QUARANTINE, Lake
from txn_runtime.durations import parse_duration

__all__ = ["BronzeConfig", "parse_duration"]  # parse_duration re-exported for callers


@dataclass(frozen=True)
class BronzeConfig:
    """Everything the job needs; construct through :meth:`validated`."""

    lake: Path
    bootstrap_servers: str
    registry_url: str
    topic: str = "bank_txn_stream"
    subject: str = "bank_txn_stream-value"
    checkpoint: Path | None = None
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    min_offsets_per_trigger: int | None = None
    max_trigger_delay: str | None = None
    max_records_per_file: int | None = None
    trigger: str = "10s"
    available_now: bool = False
    master: str | None = "local[*]"
    registry_timeout_s: float = 300.0
    driver_memory: str = "2g"

    @property
    def bronze_path(self) -> Path:
        return Lake(self.lake).table_path(BRONZE)

    @property
    def quarantine_path(self) -> Path:
        return Lake(self.lake).table_path(QUARANTINE)

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or Lake(self.lake).checkpoint("bronze_ingest")

    @property
    def trigger_seconds(self) -> float:
        return parse_duration("--trigger", self.trigger)

    def validated(self) -> BronzeConfig:
        """Return self after checking every value; raise :class:`ConfigError` naming the flag."""
        if not self.bootstrap_servers:
            raise ConfigError(
                "--bootstrap-servers",
                "no Kafka bootstrap servers; pass --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS",
            )
        if not self.registry_url:
            raise ConfigError(
                "--schema-registry-url",
                "no schema registry URL; pass --schema-registry-url or set SCHEMA_REGISTRY_URL",
            )
        if not self.registry_url.startswith(("http://", "https://")):
            raise ConfigError(
                "--schema-registry-url", f"{self.registry_url!r} is not an http(s) URL"
            )
        if not self.topic:
            raise ConfigError("--topic", "must not be empty")
        so = self.starting_offsets.strip()
        if so not in ("earliest", "latest") and not so.startswith("{"):
            raise ConfigError(
                "--starting-offsets",
                f"{so!r} must be earliest, latest or Spark's JSON offsets form",
            )
        for name, value in (
            ("--max-offsets-per-trigger", self.max_offsets_per_trigger),
            ("--min-offsets-per-trigger", self.min_offsets_per_trigger),
            ("--max-records-per-file", self.max_records_per_file),
        ):
            if value is not None and value < 1:
                raise ConfigError(name, f"must be a positive integer, got {value}")
        if (
            self.max_offsets_per_trigger
            and self.min_offsets_per_trigger
            and self.min_offsets_per_trigger > self.max_offsets_per_trigger
        ):
            raise ConfigError(
                "--min-offsets-per-trigger",
                "must not exceed --max-offsets-per-trigger",
            )
        if self.max_trigger_delay is not None:
            parse_duration("--max-trigger-delay", self.max_trigger_delay)
            if self.min_offsets_per_trigger is None:
                raise ConfigError(
                    "--max-trigger-delay", "only applies together with --min-offsets-per-trigger"
                )
        if not self.available_now and self.trigger_seconds <= 0:
            raise ConfigError("--trigger", "must be longer than zero")
        if self.available_now and self.min_offsets_per_trigger:
            raise ConfigError(
                "--min-offsets-per-trigger", "cannot be combined with --available-now"
            )
        if self.registry_timeout_s <= 0:
            raise ConfigError("--registry-timeout", "must be longer than zero")
        if self.lake.exists() and not self.lake.is_dir():
            raise ConfigError("--lake", f"{self.lake} exists and is not a directory")
        return self
