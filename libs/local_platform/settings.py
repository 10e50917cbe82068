"""Typed settings of the local platform: flags > ``TXN_*`` environment > defaults
(:mod:`txn_runtime.settings`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Self

from pydantic import ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from txn_contract.levels import LEVELS
from txn_contract.model import TOPIC
from txn_runtime.settings import Invalid, Settings, setting

__all__ = [
    "BROKER_COUNTS",
    "COMPATIBILITY_LEVELS",
    "PlatformSettings",
    "default_state_dir",
    "read_layout",
    "write_layout",
]

COMPATIBILITY_LEVELS = LEVELS
_PORTS = ("kafka_port", "controller_port", "registry_port", "registry_management_port")
_SPARK_PORTS = ("spark_master_port", "spark_master_webui_port", "spark_worker_webui_port")
BROKER_COUNTS = (1, 3)
# What a state dir was first started with: a later `up` without --brokers/--secure uses it.
_LAYOUT = "platform.json"


def read_layout(state_dir: Path) -> dict[str, Any]:
    """``{"brokers": N, "secure": bool}`` a state dir's Kafka was formatted for, or ``{}``
    for a fresh one (a state dir older than the file holds one plaintext broker)."""
    try:
        return json.loads((state_dir / _LAYOUT).read_text())
    except (OSError, ValueError):
        pass
    if (state_dir / "kafka" / "data" / "meta.properties").exists():
        return {"brokers": 1, "secure": False}
    return {}


def write_layout(state_dir: Path, layout: dict[str, Any]) -> None:
    """Record what the state dir's Kafka is formatted for (see :func:`read_layout`)."""
    (state_dir / _LAYOUT).write_text(json.dumps(layout, sort_keys=True) + "\n")


def default_state_dir() -> Path:
    """``.local/`` at the repository root (the nearest parent holding ``pyproject.toml`` and
    ``contracts/``), else ``.local/`` under the current directory."""
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "contracts").is_dir():
            return d / ".local"
    return here / ".local"


def _same(given: Any, recorded: Any) -> bool | None:
    """Whether a flag's raw value (``3``, ``"3"``, ``True``, ``"true"``) is the recorded one;
    None when it does not parse (the field's validator then names the problem)."""
    text = str(given).strip().lower()
    if isinstance(recorded, bool):
        if text in ("1", "true", "yes", "on"):
            return recorded
        if text in ("0", "false", "no", "off"):
            return not recorded
        return None
    return text == str(recorded) if text.isdigit() else None


def _port(default: int, env: str, flag: str, help: str) -> Any:
    return setting(default, env=env, flag=flag, help=help, ge=1, le=65535)


class _Endpoint:
    """A settings attribute: where a service is reached, ``template`` filled with the settings'
    host and the port field ``port``.

    ``spark_master_url = _Endpoint("spark_master_port", "spark://{host}:{port}")`` gives
    ``settings.spark_master_url == f"spark://{settings.host}:{settings.spark_master_port}"``.
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
    brokers: int = setting(None, env="TXN_BROKERS", flag="--brokers")
    """Kafka nodes, each a KRaft broker and controller: 1, or 3 (topics with replication 3 and min.insync.replicas=2). Broker N serves on KAFKA_PORT + 2(N-1), its controller on CONTROLLER_PORT + 2(N-1). Default: what the state dir was started with, else 1."""
    secure: bool = setting(None, env="TXN_SECURE", flag="--secure")
    """SASL_SSL with SCRAM-SHA-512, a local CA and one principal per service with its ACLs (docs/security.md); credentials in STATE_DIR/credentials. Default: what the state dir was started with, else off."""
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
        layout = read_layout(Path(data["state_dir"]).expanduser().resolve())
        for name, default in (("brokers", 1), ("secure", False)):
            given = data.get(name)
            if given is None:
                data[name] = layout.get(name, default)
            elif name in layout and _same(given, layout[name]) is False:
                was = "secure" if layout["secure"] else "plaintext"
                raise Invalid(
                    name,
                    f"the state dir {data['state_dir']} holds a {was} Kafka cluster of "
                    f"{layout['brokers']} broker(s); leave out {{{name}}} or run "
                    "`txn-platform down --wipe` first",
                )
        return data

    @field_validator("state_dir")
    @classmethod
    def _resolved(cls, path: Path) -> Path:
        return path.expanduser().resolve()

    @field_validator("compatibility", "brokers")
    @classmethod
    def _one_of(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = {"compatibility": COMPATIBILITY_LEVELS, "brokers": BROKER_COUNTS}[info.field_name]
        if value not in allowed:
            choices = " or ".join(", ".join(map(str, allowed)).rsplit(", ", 1))
            raise ValueError(f"must be {choices}, got {value!r}")
        return value

    @field_validator("spark_worker_memory")
    @classmethod
    def _memory(cls, size: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]*[mg]", size):
            raise ValueError(f"{size!r} is not a size such as 6g")
        return size

    @model_validator(mode="after")
    def _ports_differ(self) -> Self:
        seen: dict[int, str] = {}
        named = [(name, getattr(self, name)) for name in _PORTS]
        named += [(name, getattr(self, name)) for name in _SPARK_PORTS if self.spark]
        for i, (port, controller) in enumerate(self.node_ports[1:], start=2):
            named += [("kafka_port", port), ("controller_port", controller)]
            if max(port, controller) > 65535:
                raise Invalid("kafka_port", f"broker {i}'s ports must be at most 65535")
        for name, port in named:
            if port in seen:
                raise Invalid(name, f"port {port} is also {{{seen[port]}}}'s; ports must differ")
            seen[port] = name
        return self

    @property
    def node_ports(self) -> list[tuple[int, int]]:
        """(client port, controller port) of each Kafka node, node 1 first."""
        return [
            (self.kafka_port + 2 * i, self.controller_port + 2 * i) for i in range(self.brokers)
        ]

    @property
    def registry_url(self) -> str:
        """The Confluent-compatible API root, usable as is by ``SchemaRegistryClient``; https
        only with ``--secure``."""
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.host}:{self.registry_port}/apis/ccompat/v7"

    @property
    def bootstrap_servers(self) -> str:
        """Every broker, HOST:PORT[,HOST:PORT...]."""
        return ",".join(f"{self.host}:{port}" for port, _ in self.node_ports)

    spark_master_url = _Endpoint("spark_master_port", "spark://{host}:{port}")
    spark_master_webui_url = _Endpoint("spark_master_webui_port", "http://{host}:{port}")

    @property
    def env_file(self) -> Path:
        return self.state_dir / "platform.env"
