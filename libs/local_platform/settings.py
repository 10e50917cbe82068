"""Typed settings of the local platform: flags > ``TXN_*`` environment > defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from txn_contract.errors import ConfigError
from txn_contract.levels import LEVELS

__all__ = ["COMPATIBILITY_LEVELS", "PlatformSettings", "default_state_dir"]

COMPATIBILITY_LEVELS = LEVELS


def default_state_dir() -> Path:
    """``.local/`` at the repository root (the nearest parent holding ``pyproject.toml`` and
    ``contracts/``), else ``.local/`` under the current directory."""
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "contracts").is_dir():
            return d / ".local"
    return here / ".local"


@dataclass(frozen=True)
class PlatformSettings:
    """Where the platform keeps its state and which loopback ports it serves on."""

    state_dir: Path
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    controller_port: int = 9093
    registry_port: int = 8081
    # Apicurio (Quarkus) also serves health and metrics on a management port, on all
    # interfaces at 9000 unless told otherwise; we pin it to loopback, next to the API port.
    registry_management_port: int = 0
    topic: str = "bank_txn_stream"
    partitions: int = 3
    compatibility: str = "FULL_TRANSITIVE"
    kafka_heap_mb: int = 512
    registry_heap_mb: int = 384
    # The optional Spark standalone cluster (`up --spark`). The worker's web UI is not Spark's
    # default 8081, which the registry has. 2 cores and 6 GiB for executors fit beside the
    # broker, the registry and a 2-3 GiB driver on a 2-core, 24 GiB machine.
    spark: bool = False
    spark_master_port: int = 7077
    spark_master_webui_port: int = 8080
    spark_worker_webui_port: int = 8083
    spark_worker_cores: int = 2
    spark_worker_memory: str = "6g"

    def __post_init__(self) -> None:
        if not self.registry_management_port:
            object.__setattr__(self, "registry_management_port", self.registry_port + 1)
        ports = {
            "--kafka-port": self.kafka_port,
            "--controller-port": self.controller_port,
            "--registry-port": self.registry_port,
            "--registry-management-port": self.registry_management_port,
        }
        if self.spark:
            ports |= {
                "--spark-master-port": self.spark_master_port,
                "--spark-master-webui-port": self.spark_master_webui_port,
                "--spark-worker-webui-port": self.spark_worker_webui_port,
            }
        for name, port in ports.items():
            if not 1 <= port <= 65535:
                raise ConfigError(name, f"port {port} is outside 1-65535")
        if len(set(ports.values())) != len(ports):
            raise ConfigError("/".join(ports), "ports must differ")
        if self.spark_worker_cores < 1:
            raise ConfigError("--spark-worker-cores", "must be at least 1")
        if not re.fullmatch(r"[1-9][0-9]*[mg]", self.spark_worker_memory):
            raise ConfigError(
                "--spark-worker-memory", f"{self.spark_worker_memory!r} is not a size such as 6g"
            )
        if self.compatibility not in COMPATIBILITY_LEVELS:
            raise ConfigError(
                "--compatibility",
                f"{self.compatibility!r} is not one of {', '.join(COMPATIBILITY_LEVELS)}",
            )
        if self.partitions < 1:
            raise ConfigError("--partitions", "must be at least 1")

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def registry_url(self) -> str:
        """The Confluent-compatible API root, usable as is by ``SchemaRegistryClient``."""
        return f"http://{self.host}:{self.registry_port}/apis/ccompat/v7"

    @property
    def spark_master_url(self) -> str:
        return f"spark://{self.host}:{self.spark_master_port}"

    @property
    def spark_master_webui_url(self) -> str:
        return f"http://{self.host}:{self.spark_master_webui_port}"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "platform.env"
