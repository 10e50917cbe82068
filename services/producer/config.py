"""The producer's typed settings, resolved once at start-up: flags > environment > defaults.

Every setting has one flag and one environment variable (:mod:`txn_runtime.settings`). The
broker and registry use the project-wide ``KAFKA_BOOTSTRAP_SERVERS`` and ``SCHEMA_REGISTRY_URL``
(with their SASL/TLS settings); the others are ``TXN_*``. Each value is type- and range-checked
here, and contradictory settings (``--count`` with ``--duration``) are refused here, so a
mistake is one sentence naming the flag or variable before anything connects anywhere.

Example::

    config = load_config({"rate": 5_000.0, "count": None}, os.environ)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import ValidationInfo, field_validator, model_validator

from txn_contract import LATEST_VERSION
from txn_contract.errors import ConfigError
from txn_runtime.connections import KafkaSettings, RegistrySettings
from txn_runtime.settings import Invalid, mask_url, setting, with_default
from txn_runtime.shared import MetricsSettings, TopicSettings

__all__ = [
    "DEFAULT_BOOTSTRAP_SERVERS",
    "DEFAULT_CUSTOMERS",
    "DEFAULT_REGISTRY_URL",
    "SIMULATED_RATE_WHEN_UNPACED",
    "ProducerSettings",
    "load_config",
    "mask_url",
]

# The local platform's defaults (`txn-platform up` without flags).
DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
DEFAULT_REGISTRY_URL = "http://127.0.0.1:8081/apis/ccompat/v7"
DEFAULT_CUSTOMERS = 10_000
DEFAULT_FLUSH_TIMEOUT_S = 30.0
# The simulated clock (--start-time) spaces events by 1/rate; at --rate 0 it uses this rate.
SIMULATED_RATE_WHEN_UNPACED = 1_000.0
# Customer ids have 9 digits, and injected scenarios use customers above the population.
MAX_CUSTOMERS = 500_000_000
MAX_FRAUD_RATE = 0.1
# The shares of the slots that something other than a new event takes.
SLOT_RATES = ("duplicate_rate", "conflict_rate", "poison_rate", "violation_rate")


class ProducerSettings(KafkaSettings, RegistrySettings, TopicSettings, MetricsSettings):
    """Validated settings of one producer run."""

    derived_fields: ClassVar[frozenset[str]] = frozenset({"seed_was_random"})

    bootstrap_servers: str = with_default(
        KafkaSettings, "bootstrap_servers", DEFAULT_BOOTSTRAP_SERVERS
    )
    schema_registry_url: str = with_default(
        RegistrySettings, "schema_registry_url", DEFAULT_REGISTRY_URL
    )
    rate: float = setting(0.0, env="TXN_RATE", flag="--rate", ge=0, allow_inf_nan=False)
    """Events per second; 0 = as fast as the broker takes them."""
    count: int | None = setting(None, env="TXN_COUNT", flag="--count", gt=0)
    """Stop after N events. Without --count or --duration: run until Ctrl-C."""
    duration: float | None = setting(
        None, env="TXN_DURATION", flag="--duration", gt=0, allow_inf_nan=False
    )
    """Stop after S seconds."""
    seed: int = setting(None, env="TXN_SEED", flag="--seed", ge=0)
    """Seed of the population and of the event stream: the same seed gives the same ids, amounts, channels and statuses. Default: random, printed on stderr."""
    # True when the seed was drawn at random (so it is worth printing for a re-run).
    seed_was_random: bool = False
    customers: int | None = setting(
        None, env="TXN_CUSTOMERS", flag="--customers", gt=0, le=MAX_CUSTOMERS
    )
    """Size of the customer population. Default: sized for the rate, so each customer pays a few times a day (rate x 86,400 / 3.35; at --rate 0, for 1,000 events/s). Fewer customers pay more often than real cardholders."""
    contract_version: int = setting(
        LATEST_VERSION, env="TXN_CONTRACT_VERSION", flag="--contract-version"
    )
    """Released contract version to write (older versions exercise schema evolution)."""
    progress: bool | None = setting(None, env="TXN_PROGRESS", flag="--progress/--no-progress")
    """Live progress line on stderr. Default: on when stderr is a terminal."""
    start_time: datetime | None = setting(None, env="TXN_START_TIME", flag="--start-time")
    """Simulated clock: event i is stamped START + i/rate (at --rate 0, 1000 events per simulated second), so timestamps are reproducible too. With --rate, an event is sent when its time has come: a START in the past is caught up at full speed, then the stream goes on live. Default: the wall clock."""
    duplicate_rate: float = setting(
        0.0, env="TXN_DUPLICATE_RATE", flag="--duplicate-rate", allow_inf_nan=False
    )
    """Share of messages (0-0.5) that re-send one of the last 1,000 events byte for byte, as a client retrying after a lost acknowledgement does."""
    late_rate: float = setting(0.0, env="TXN_LATE_RATE", flag="--late-rate", allow_inf_nan=False)
    """Share of the clean events (0-0.5; those no re-send, conflict, poison or violator replaced) stamped 65 min to 6 h before they are sent, as a device that was offline uploads them."""
    conflict_rate: float = setting(
        0.0, env="TXN_CONFLICT_RATE", flag="--conflict-rate", allow_inf_nan=False
    )
    """Share of messages (0-0.5) that re-send one of the last 1,000 clean, on-time events with the same transaction_id and key but another amount, as an upstream sending a correction does; silver rejects them as duplicate_conflict."""
    poison_rate: float = setting(
        0.0, env="TXN_POISON_RATE", flag="--poison-rate", allow_inf_nan=False
    )
    """Share of messages (0-1) that bronze cannot decode and quarantines, with a reason drawn at random: JSON text (BAD_MAGIC_BYTE), part of a header (SHORT_HEADER), no bytes (EMPTY_VALUE), an unregistered schema id (UNKNOWN_SCHEMA_ID), a cut body (CORRUPT_PAYLOAD), stray bytes after it (TRAILING_BYTES)."""
    violation_rate: float = setting(
        0.0, env="TXN_VIOLATION_RATE", flag="--violation-rate", allow_inf_nan=False
    )
    """Share of messages (0-1) that are well-formed events breaking one quality rule of the contract (expectations.yaml), drawn among the rules a violation is derived from; silver rejects them by rule id."""
    fraud_rate: float = setting(0.0, env="TXN_FRAUD_RATE", flag="--fraud-rate", allow_inf_nan=False)
    """Share of event slots (0-0.1) that start a labelled fraud scenario (velocity, card testing, impossible travel or amount outlier), seeded; scenarios are never marked in the events."""
    fraud_truth: Path | None = setting(None, env="TXN_FRAUD_TRUTH", flag="--fraud-truth")
    """Write the scenarios' ground truth to FILE as JSON lines (scenario, detector, customer_id, transaction_ids, trigger). Needs --fraud-rate."""
    flush_timeout: float = setting(
        DEFAULT_FLUSH_TIMEOUT_S, env="TXN_FLUSH_TIMEOUT", flag=None, ge=0, allow_inf_nan=False
    )
    """Seconds to wait for the last delivery reports at exit."""

    @classmethod
    def combine(cls, flags, env, origins):
        # The stop condition is one setting: flags decide it when they give either part.
        stop_flags = [k for k in ("count", "duration") if flags.get(k) is not None]
        if len(stop_flags) == 2:
            raise ConfigError("--count", "and --duration cannot be combined; give one or neither")
        if stop_flags:
            for key in {"count", "duration"} - set(stop_flags):
                origins.pop(key, None)
        elif "count" in origins and "duration" in origins:
            raise ConfigError(
                "TXN_COUNT", "and TXN_DURATION cannot both be set; set one or neither"
            )
        return super().combine(flags, env, origins)

    @model_validator(mode="before")
    @classmethod
    def _random_seed(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("seed") is None:
            data = {**data, "seed": secrets.randbits(31), "seed_was_random": True}
        return data

    @field_validator("contract_version")
    @classmethod
    def _released(cls, version: int) -> int:
        from txn_contract import packaged_contract

        released = [v.version for v in packaged_contract().versions]
        if version not in released:
            raise ValueError(
                f"contract version {version} is not released; released versions: "
                f"{', '.join(map(str, released))}"
            )
        return version

    @field_validator("start_time", mode="before")
    @classmethod
    def _iso_time(cls, raw: Any) -> Any:
        if raw is None or isinstance(raw, datetime):
            value = raw
        else:
            try:
                value = datetime.fromisoformat(str(raw).strip())
            except ValueError:
                raise ValueError(
                    f"must be an ISO 8601 date-time such as 2026-01-31T09:00:00Z, got {raw!r}"
                ) from None
        # A time without an offset is taken as UTC: event time is UTC throughout the contract.
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("fraud_rate")
    @classmethod
    def _fraud_share(cls, share: float) -> float:
        if not 0 <= share <= MAX_FRAUD_RATE:
            raise ValueError(f"must be a share from 0 to {MAX_FRAUD_RATE}, got {share!r}")
        return share

    @field_validator("fraud_truth")
    @classmethod
    def _truth_needs_fraud(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is not None and not info.data.get("fraud_rate"):
            raise ValueError("needs --fraud-rate above 0 (without scenarios there is no truth)")
        # Refused now, not after the population is built and Kafka reached.
        if path is not None and (path.is_dir() or not os.access(path.parent, os.W_OK)):
            where = "is a directory" if path.is_dir() else f"cannot be written in {path.parent}"
            raise ValueError(f"{path} {where}")
        return path

    @field_validator("duplicate_rate", "late_rate", "conflict_rate")
    @classmethod
    def _share(cls, share: float) -> float:
        if not 0 <= share <= 0.5:
            raise ValueError(f"must be a share from 0 to 0.5, got {share!r}")
        return share

    @field_validator("poison_rate", "violation_rate")
    @classmethod
    def _whole_share(cls, share: float) -> float:
        # Up to 1: a stream of nothing but poison (or violators) is a fair test of bronze (or
        # silver).
        if not 0 <= share <= 1:
            raise ValueError(f"must be a share from 0 to 1, got {share!r}")
        return share

    @model_validator(mode="after")
    def _slots_suffice(self) -> Self:
        # One slot, one message: the kinds that replace an event share the slots.
        total = sum(getattr(self, k) for k in SLOT_RATES)
        if total > 1:
            blame = max(SLOT_RATES, key=lambda k: getattr(self, k))
            others = ["{" + k + "}" for k in SLOT_RATES if k != blame]
            raise Invalid(
                blame,
                f"adds up to {total:g} with {', '.join(others[:-1])} and {others[-1]}; the "
                "shares of messages that replace a new event add up to at most 1",
            )
        return self

    @property
    def subject(self) -> str:
        """The registry subject of the topic's values (Confluent's TopicNameStrategy)."""
        return f"{self.topic}-value"

    @property
    def population_size(self) -> int:
        """``customers``, or the population sized for the event rate."""
        from .customers import customers_for_rate

        return self.customers or customers_for_rate(self.simulated_rate)

    @property
    def simulated_rate(self) -> float:
        """Events per simulated second when ``start_time`` is set."""
        return self.rate or SIMULATED_RATE_WHEN_UNPACED

    def describe(self) -> str:
        """One line for logs, with credentials masked."""
        if self.count is not None:
            stop = f"{self.count:,} events"
        else:
            stop = f"{self.duration:g} s" if self.duration is not None else "until interrupted"
        rate = f"{self.rate:g}/s" if self.rate else "full speed"
        clock = f"simulated from {self.start_time.isoformat()}" if self.start_time else "wall"
        shares = {
            "re-sent": self.duplicate_rate,
            "late": self.late_rate,
            "conflicting": self.conflict_rate,
            "poison": self.poison_rate,
            "violating a rule": self.violation_rate,
        }
        dirt = "".join(f", {share:.2%} {what}" for what, share in shares.items() if share)
        if self.fraud_rate:
            dirt += f", fraud scenarios in {self.fraud_rate:.3%} of slots"
        return (
            f"topic {self.topic} on {self.bootstrap_servers}, registry "
            f"{self.registry_display_url}, contract v{self.contract_version}, "
            f"{self.population_size:,} customers, seed {self.seed}, {rate}, {stop}, {clock} clock{dirt}"
        )


def load_config(flags: Mapping[str, Any], env: Mapping[str, str]) -> ProducerSettings:
    """Resolve every setting from ``flags`` (None = not given), then ``env``, then defaults;
    see :meth:`txn_runtime.settings.Settings.load`."""
    return ProducerSettings.load(flags, env)
