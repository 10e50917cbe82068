"""Typed settings of the local platform: flags > ``TXN_*`` environment > defaults
(:mod:`txn_runtime.settings`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Self

from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from txn_contract.levels import LEVELS
from txn_contract.model import TOPIC
from txn_runtime.settings import Invalid, Settings, setting

__all__ = ["COMPATIBILITY_LEVELS", "PlatformSettings", "default_state_dir"]

COMPATIBILITY_LEVELS = LEVELS
_PORTS = ("kafka_port", "controller_port", "registry_port", "registry_management_port")
_SPARK_PORTS = ("spark_master_port", "spark_master_webui_port", "spark_worker_webui_port")


def default_state_dir() -> Path:
    """``.local/`` at the repository root (the nearest parent holding ``pyproject.toml`` and
    ``contracts/``), else ``.local/`` under the current directory."""
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "contracts").is_dir():
            return d / ".local"
    return here / ".local"


def _port(default: int, env: str, flag: str, help: str) -> Any:
    return setting(default, env=env, flag=flag, help=help, ge=1, le=65535)


class _Endpoint:
    """A settings attribute: where a service is reached, ``template`` filled with the settings'
    host and the port field ``port``.

    ``bootstrap_servers = _Endpoint("kafka_port", "{host}:{port}")`` gives
    ``settings.bootstrap_servers == f"{settings.host}:{settings.kafka_port}"``.
    """

    def __init__(self, port: str, template: str) -> None:
        self.port = port
        self.template = template

    def __get__(self, settings: PlatformSettings | None, owner: type | None = None) -> Any:
        if settings is None:
            return self
        return self.template.format(host=settings.host, port=getattr(settings, self.port))


class PlatformSettings(Settings):
    """Where the platform keeps its state and which loopback ports it serves on."""

    model_config = SettingsConfigDict(ignored_types=(_Endpoint,))

    state_dir: Path = setting(None, env="TXN_STATE_DIR", flag="--state-dir")
    """Where pid files, logs, data and platform.env live. Default: .local/ at the repository root."""
    host: str = "127.0.0.1"
    kafka_port: int = _port(9092, "TXN_KAFKA_PORT", "--kafka-port", "Broker port.")
    controller_port: int = _port(
        9093, "TXN_CONTROLLER_PORT", "--controller-port", "KRaft controller port."
    )
    registry_port: int = _port(
        8081, "TXN_REGISTRY_PORT", "--registry-port", "Schema registry HTTP port."
    )
    # Apicurio (Quarkus) also serves health and metrics on a management port, on all
    # interfaces at 9000 unless told otherwise; we pin it to loopback, next to the API port.
    registry_management_port: int = setting(
        0, env="TXN_REGISTRY_MANAGEMENT_PORT", flag="--registry-management-port", ge=0, le=65535
    )
    """Registry health/metrics port. Default: registry port + 1."""
    topic: str = TOPIC
    partitions: int = setting(3, env=None, flag=None, ge=1)
    """Partitions of the topic."""
    compatibility: str = setting("FULL_TRANSITIVE", env="TXN_COMPATIBILITY", flag="--compatibility")
    """Registry-wide compatibility level to set."""
    kafka_heap_mb: int = 512
    registry_heap_mb: int = 384
    # The optional Spark standalone cluster (`up --spark`). The worker's web UI is not Spark's
    # default 8081, which the registry has. 2 cores and 6 GiB for executors fit beside the
    # broker, the registry and a 2-3 GiB driver on a 2-core, 24 GiB machine.
    spark: bool = setting(False, env="TXN_SPARK", flag="--spark")
    """Also start a Spark standalone master and one worker (from the installed pyspark); platform.env then has SPARK_MASTER_URL."""
    spark_master_port: int = _port(
        7077, "TXN_SPARK_MASTER_PORT", "--spark-master-port", "Spark master port (with --spark)."
    )
    spark_master_webui_port: int = _port(
        8080,
        "TXN_SPARK_MASTER_WEBUI_PORT",
        "--spark-master-webui-port",
        "Spark master web UI and /json/ API port.",
    )
    spark_worker_webui_port: int = _port(
        8083,
        "TXN_SPARK_WORKER_WEBUI_PORT",
        "--spark-worker-webui-port",
        "Spark worker web UI port.",
    )
    spark_worker_cores: int = setting(
        2, env="TXN_SPARK_WORKER_CORES", flag="--spark-worker-cores", ge=1
    )
    """Cores the worker offers."""
    spark_worker_memory: str = setting(
        "6g", env="TXN_SPARK_WORKER_MEMORY", flag="--spark-worker-memory"
    )
    """Memory the worker offers to executors."""

    @model_validator(mode="before")
    @classmethod
    def _derived(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("state_dir") is None:
            data["state_dir"] = default_state_dir()
        if not int(data.get("registry_management_port") or 0):
            data["registry_management_port"] = int(data.get("registry_port") or 8081) + 1
        return data

    @field_validator("state_dir")
    @classmethod
    def _resolved(cls, path: Path) -> Path:
        return path.expanduser().resolve()

    @field_validator("compatibility")
    @classmethod
    def _level(cls, level: str) -> str:
        if level not in COMPATIBILITY_LEVELS:
            raise ValueError(f"{level!r} is not one of {', '.join(COMPATIBILITY_LEVELS)}")
        return level

    @field_validator("spark_worker_memory")
    @classmethod
    def _memory(cls, size: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]*[mg]", size):
            raise ValueError(f"{size!r} is not a size such as 6g")
        return size

    @model_validator(mode="after")
    def _ports_differ(self) -> Self:
        seen: dict[int, str] = {}
        for name in _PORTS + (_SPARK_PORTS if self.spark else ()):
            port = getattr(self, name)
            if port in seen:
                raise Invalid(name, f"port {port} is also {{{seen[port]}}}'s; ports must differ")
            seen[port] = name
        return self

    bootstrap_servers = _Endpoint("kafka_port", "{host}:{port}")
    # The Confluent-compatible API root, usable as is by ``SchemaRegistryClient``.
    registry_url = _Endpoint("registry_port", "http://{host}:{port}/apis/ccompat/v7")
    spark_master_url = _Endpoint("spark_master_port", "spark://{host}:{port}")
    spark_master_webui_url = _Endpoint("spark_master_webui_port", "http://{host}:{port}")

    @property
    def env_file(self) -> Path:
        return self.state_dir / "platform.env"
