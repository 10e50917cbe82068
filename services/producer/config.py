"""The producer's typed configuration, resolved once at start-up: flags > environment > defaults.

Every setting has one flag and one environment variable. The broker and registry use the
project-wide ``KAFKA_BOOTSTRAP_SERVERS`` and ``SCHEMA_REGISTRY_URL``; the others are ``TXN_*``.
Each value is type-checked and range-checked here, and contradictory settings (``--count`` with
``--duration``) are refused here, so a mistake is one sentence naming the flag or variable before
anything connects anywhere.

Example::

    config = load_config({"rate": 5_000.0, "count": None}, os.environ)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from txn_contract import LATEST_VERSION, TOPIC
from txn_contract.errors import ConfigError

__all__ = [
    "DEFAULT_BOOTSTRAP_SERVERS",
    "DEFAULT_CUSTOMERS",
    "DEFAULT_REGISTRY_URL",
    "ENV_VARS",
    "SIMULATED_RATE_WHEN_UNPACED",
    "ProducerConfig",
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
MAX_CUSTOMERS = 5_000_000

# Setting -> (flag, environment variable).
ENV_VARS: dict[str, tuple[str, str]] = {
    "bootstrap_servers": ("--bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS"),
    "schema_registry_url": ("--schema-registry-url", "SCHEMA_REGISTRY_URL"),
    "topic": ("--topic", "TXN_TOPIC"),
    "rate": ("--rate", "TXN_RATE"),
    "count": ("--count", "TXN_COUNT"),
    "duration": ("--duration", "TXN_DURATION"),
    "seed": ("--seed", "TXN_SEED"),
    "customers": ("--customers", "TXN_CUSTOMERS"),
    "contract_version": ("--contract-version", "TXN_CONTRACT_VERSION"),
    "progress": ("--progress/--no-progress", "TXN_PROGRESS"),
    "start_time": ("--start-time", "TXN_START_TIME"),
    "duplicate_rate": ("--duplicate-rate", "TXN_DUPLICATE_RATE"),
    "late_rate": ("--late-rate", "TXN_LATE_RATE"),
    "flush_timeout": ("(no flag)", "TXN_FLUSH_TIMEOUT"),
}

# Kafka's legal topic names.
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


@dataclass(frozen=True)
class ProducerConfig:
    """Validated settings of one producer run."""

    bootstrap_servers: str
    schema_registry_url: str
    topic: str = TOPIC
    # Events per second; 0 = as fast as the broker takes them.
    rate: float = 0.0
    # Stop after this many events, or after this many seconds; neither: until a signal.
    count: int | None = None
    duration: float | None = None
    seed: int = 0
    # True when the seed was drawn at random (so it is worth printing for a re-run).
    seed_was_random: bool = False
    customers: int = DEFAULT_CUSTOMERS
    contract_version: int = LATEST_VERSION
    # None = on when stderr is a terminal.
    progress: bool | None = None
    # Simulated clock start (UTC); None = wall clock.
    start_time: datetime | None = None
    # Shares of messages that re-send a recent event, and of events stamped hours late.
    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    flush_timeout: float = DEFAULT_FLUSH_TIMEOUT_S

    @property
    def subject(self) -> str:
        """The registry subject of the topic's values (Confluent's TopicNameStrategy)."""
        return f"{self.topic}-value"

    @property
    def simulated_rate(self) -> float:
        """Events per simulated second when ``start_time`` is set."""
        return self.rate or SIMULATED_RATE_WHEN_UNPACED

    def describe(self) -> str:
        """One line for logs, with credentials in URLs masked."""
        stop = (
            f"{self.count:,} events"
            if self.count is not None
            else f"{self.duration:g} s"
            if self.duration is not None
            else "until interrupted"
        )
        rate = f"{self.rate:g}/s" if self.rate else "full speed"
        clock = f"simulated from {self.start_time.isoformat()}" if self.start_time else "wall"
        dirt = ""
        if self.duplicate_rate or self.late_rate:
            dirt = f", {self.duplicate_rate:.2%} re-sent, {self.late_rate:.2%} late"
        return (
            f"topic {self.topic} on {self.bootstrap_servers}, registry "
            f"{mask_url(self.schema_registry_url)}, contract v{self.contract_version}, "
            f"{self.customers:,} customers, seed {self.seed}, {rate}, {stop}, {clock} clock{dirt}"
        )


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _name(key: str, from_env: bool) -> str:
    flag, env = ENV_VARS[key]
    return env if from_env else flag


def _number(key: str, raw: Any, from_env: bool, kind: type, *, minimum: float, strict: bool):
    name = _name(key, from_env)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise ConfigError(name, f"must be {what}, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(name, f"must be a finite number, got {raw!r}")
    if (strict and value <= minimum) or (not strict and value < minimum):
        sign = ">" if strict else ">="
        raise ConfigError(name, f"must be {sign} {minimum:g}, got {raw!r}")
    return value


def _bool(key: str, raw: Any, from_env: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(_name(key, from_env), f"must be true or false, got {raw!r}")


def _start_time(raw: Any, from_env: bool) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    else:
        text = str(raw).strip()
        try:
            # Accept a trailing Z, which datetime.fromisoformat takes from 3.11 on anyway.
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(
                _name("start_time", from_env),
                f"must be an ISO 8601 date-time such as 2026-01-31T09:00:00Z, got {raw!r}",
            ) from None
    # A time without an offset is taken as UTC: event time is UTC throughout the contract.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_config(flags: Mapping[str, Any], env: Mapping[str, str]) -> ProducerConfig:
    """Resolve every setting from ``flags`` (None = not given), then ``env``, then defaults.

    Unknown keys in ``flags`` are refused, as are out-of-range values and contradictions;
    the :class:`~txn_contract.errors.ConfigError` names the flag or the environment variable
    the bad value came from.
    """
    from txn_contract import packaged_contract

    unknown = sorted(set(flags) - set(ENV_VARS))
    if unknown:
        raise ConfigError("config", f"unrecognized settings: {', '.join(unknown)}")

    def pick(key: str) -> tuple[Any, bool]:
        """(raw value, came from the environment?) or (None, False) when unset."""
        value = flags.get(key)
        if value is not None:
            return value, False
        raw = env.get(ENV_VARS[key][1])
        if raw is not None and raw.strip() != "":
            return raw.strip(), True
        return None, False

    out: dict[str, Any] = {}

    raw, from_env = pick("bootstrap_servers")
    servers = DEFAULT_BOOTSTRAP_SERVERS if raw is None else str(raw).strip()
    if not servers:
        raise ConfigError(_name("bootstrap_servers", from_env), "must not be empty")
    out["bootstrap_servers"] = servers

    raw, from_env = pick("schema_registry_url")
    url = DEFAULT_REGISTRY_URL if raw is None else str(raw).strip().rstrip("/")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigError(
            _name("schema_registry_url", from_env),
            f"must be an http:// or https:// URL, got {mask_url(url)!r}",
        )
    out["schema_registry_url"] = url

    raw, from_env = pick("topic")
    if raw is not None:
        if not _TOPIC_NAME.match(str(raw)) or str(raw) in (".", ".."):
            raise ConfigError(
                _name("topic", from_env),
                f"{raw!r} is not a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -)",
            )
        out["topic"] = str(raw)

    raw, from_env = pick("rate")
    if raw is not None:
        out["rate"] = _number("rate", raw, from_env, float, minimum=0, strict=False)

    # The stop condition is one setting: flags decide it when they give either part.
    count_flag, duration_flag = flags.get("count"), flags.get("duration")
    if count_flag is not None and duration_flag is not None:
        raise ConfigError("--count", "and --duration cannot be combined; give one or neither")
    if count_flag is None and duration_flag is None:
        count_env, duration_env = pick("count"), pick("duration")
        if count_env[0] is not None and duration_env[0] is not None:
            raise ConfigError(
                "TXN_COUNT", "and TXN_DURATION cannot both be set; set one or neither"
            )
        raw_count, count_from_env = count_env
        raw_duration, duration_from_env = duration_env
    else:
        raw_count, count_from_env = count_flag, False
        raw_duration, duration_from_env = duration_flag, False
    if raw_count is not None:
        out["count"] = _number("count", raw_count, count_from_env, int, minimum=0, strict=True)
    if raw_duration is not None:
        out["duration"] = _number(
            "duration", raw_duration, duration_from_env, float, minimum=0, strict=True
        )

    raw, from_env = pick("seed")
    if raw is None:
        out["seed"] = secrets.randbits(31)
        out["seed_was_random"] = True
    else:
        out["seed"] = _number("seed", raw, from_env, int, minimum=0, strict=False)

    raw, from_env = pick("customers")
    if raw is not None:
        customers = _number("customers", raw, from_env, int, minimum=0, strict=True)
        if customers > MAX_CUSTOMERS:
            raise ConfigError(
                _name("customers", from_env), f"must be at most {MAX_CUSTOMERS:,}, got {raw!r}"
            )
        out["customers"] = customers

    raw, from_env = pick("contract_version")
    if raw is not None:
        version = _number("contract_version", raw, from_env, int, minimum=0, strict=True)
        released = [v.version for v in packaged_contract().versions]
        if version not in released:
            raise ConfigError(
                _name("contract_version", from_env),
                f"contract version {version} is not released; released versions: "
                f"{', '.join(map(str, released))}",
            )
        out["contract_version"] = version

    raw, from_env = pick("progress")
    if raw is not None:
        out["progress"] = _bool("progress", raw, from_env)

    raw, from_env = pick("start_time")
    if raw is not None:
        out["start_time"] = _start_time(raw, from_env)

    for key in ("duplicate_rate", "late_rate"):
        raw, from_env = pick(key)
        if raw is not None:
            share = _number(key, raw, from_env, float, minimum=0, strict=False)
            if share > 0.5:
                raise ConfigError(
                    _name(key, from_env), f"must be a share from 0 to 0.5, got {raw!r}"
                )
            out[key] = share

    raw, from_env = pick("flush_timeout")
    if raw is not None:
        out["flush_timeout"] = _number(
            "flush_timeout", raw, from_env, float, minimum=0, strict=False
        )

    return ProducerConfig(**out)
