"""Start, probe and stop the two real services: a KRaft Kafka broker and Apicurio Registry."""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from txn_runtime.errors import PlatformError

from .artifacts import ensure_kafka, ensure_registry
from .java import find_java
from .service import Log, Service
from .settings import PlatformSettings

__all__ = [
    "KafkaService",
    "RegistryService",
]


class KafkaService(Service):
    """A single-node KRaft broker+controller whose data lives in ``<state>/kafka``."""

    name = "kafka"
    ports = ("kafka_port", "controller_port")

    def __init__(self, settings: PlatformSettings) -> None:
        super().__init__(settings)
        self.home = settings.state_dir / "kafka"

    def _properties(self) -> str:
        s = self.s
        return "\n".join(
            [
                "# Written by txn-platform; regenerated on every `up`.",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={s.host}:{s.controller_port}",
                f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.controller_port}",
                f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.controller_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.home / 'data'}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "log.retention.hours=168",
                "",
            ]
        )

    def _launch(self, log: Log) -> float:
        """Fetch (first use), format (first use) and start the broker; return seconds to ready."""
        java = find_java(17, purpose="Kafka")
        libs = ensure_kafka(log)
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        props.write_text(self._properties())
        ports_file = self.home / "formatted-for"
        wanted = f"{self.s.host}:{self.s.controller_port}"
        classpath = f"{libs}/*"
        log4j = str(resources.files("local_platform") / "conf" / "log4j2.properties")
        if not (self.home / "data" / "meta.properties").exists():
            # Kafka's cluster id: 16 random bytes, URL-safe base64 without padding; like Kafka's
            # Uuid.randomUuid, never one starting with "-", which the tool would take for a flag.
            cid = "-"
            while cid.startswith("-"):
                cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            out = _run_java(
                [
                    java.path,
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    cid,
                    "-c",
                    str(props),
                ],
            )
            if out is not None:
                raise PlatformError(f"Formatting Kafka storage failed: {out}")
            ports_file.write_text(wanted)
        elif ports_file.exists() and ports_file.read_text().strip() != wanted:
            raise PlatformError(
                f"The Kafka data in {self.home} was formatted for controller "
                f"{ports_file.read_text().strip()}, not {wanted}; use the same ports or "
                "`txn-platform down --wipe` first."
            )
        argv = [
            java.path,
            f"-Xms{min(256, self.s.kafka_heap_mb)}m",
            f"-Xmx{self.s.kafka_heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            self.proc.marker,
            "-cp",
            classpath,
            "kafka.Kafka",
            str(props),
        ]
        self.proc.start(argv)
        return self._wait_ready("The Kafka broker", self.serving, 90, "did not serve requests")

    def serving(self) -> bool:
        """True when the broker answers a metadata request."""
        from confluent_kafka.admin import AdminClient

        try:
            admin = AdminClient(
                {
                    "bootstrap.servers": self.s.bootstrap_servers,
                    "log_level": 0,
                    "logger": _quiet_logger(),
                }
            )
            md = admin.list_topics(timeout=2)
            return bool(md.brokers)
        except Exception:  # noqa: BLE001 - any failure here only means "not serving yet"
            return False

    def ensure_topic(self, name: str, partitions: int, log: Log) -> None:
        """Create ``name`` with ``partitions`` partitions, replication 1; harmless if it exists."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.s.bootstrap_servers})
        md = admin.list_topics(timeout=10)
        if name in md.topics:
            have = len(md.topics[name].partitions)
            if have != partitions:
                log(
                    f"kafka: topic {name} exists with {have} partitions (wanted {partitions}); left as is"
                )
            else:
                log(f"kafka: topic {name} exists ({have} partitions)")
            return
        futures = admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=30)
        try:
            futures[name].result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise PlatformError(f"Could not create topic {name}: {exc}") from exc
        log(f"kafka: created topic {name} ({partitions} partitions, replication 1)")


class RegistryService(Service):
    """Apicurio Registry serving the Confluent API at ``/apis/ccompat/v7``, stored in H2 files
    under ``<state>/registry`` so subjects and ids survive ``down``/``up``."""

    name = "registry"
    ports = ("registry_port", "registry_management_port")

    def __init__(self, settings: PlatformSettings) -> None:
        super().__init__(settings)
        self._probe = None  # the client serving() polls with

    def _launch(self, log: Log) -> float:
        java = find_java(21, purpose="Apicurio Registry")
        home = ensure_registry(log)
        db = self.s.state_dir / "registry" / "db"
        db.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            java.path,
            f"-Xmx{self.s.registry_heap_mb}m",
            "-XX:+UseSerialGC",
            self.proc.marker,
            "-jar",
            str(home / "quarkus-run.jar"),
        ]
        env = {
            "QUARKUS_HTTP_PORT": str(self.s.registry_port),
            "QUARKUS_HTTP_HOST": self.s.host,
            "QUARKUS_MANAGEMENT_PORT": str(self.s.registry_management_port),
            "QUARKUS_MANAGEMENT_HOST": self.s.host,
            "APICURIO_STORAGE_KIND": "sql",
            "APICURIO_STORAGE_SQL_KIND": "h2",
            "APICURIO_DATASOURCE_URL": f"jdbc:h2:file:{db};DB_CLOSE_ON_EXIT=FALSE",
            "APICURIO_DATASOURCE_USERNAME": "sa",
            "APICURIO_DATASOURCE_PASSWORD": "sa",
            # Quiet the per-request access log; errors still go to the log file.
            "QUARKUS_HTTP_ACCESS_LOG_ENABLED": "false",
        }
        self.proc.start(argv, env)
        return self._wait_ready("The schema registry", self.serving, 120, "did not serve requests")

    def client(self, *, timeout_s: float = 10.0, retries: int = 2):
        """confluent-kafka's ``SchemaRegistryClient`` for this registry."""
        from txn_contract.registry import registry_client

        return registry_client(self.s.registry_url, timeout_s=timeout_s, retries=retries)

    def serving(self) -> bool:
        """True when the registry answers a subjects listing (probed while it starts, so a
        short timeout and no retries: the caller polls)."""
        if self._probe is None:
            self._probe = self.client(timeout_s=2, retries=0)
        try:
            self._probe.get_subjects()
            return True
        except Exception:  # noqa: BLE001 - refused, 503 while Quarkus starts...: not serving yet
            return False

    def set_global_compatibility(self, level: str) -> None:
        self._ask(
            f"setting the global compatibility to {level}",
            lambda c: c.set_compatibility(level=level),
        )

    def contents(self) -> tuple[dict[str, list[int]], str | None]:
        """Every subject with its version numbers, and the global compatibility level."""

        def read(c) -> tuple[dict[str, list[int]], str | None]:
            subjects = {subject: c.get_versions(subject) for subject in c.get_subjects()}
            level = c.get_config().compatibility_level
            return subjects, None if level is None else level.value

        return self._ask("listing subjects", read)

    def _ask(self, what: str, fn: Callable[[Any], Any]) -> Any:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        from txn_contract.registry import transport_errors

        try:
            return fn(self.client())
        except (SchemaRegistryError, *transport_errors()) as exc:
            raise PlatformError(
                f"The schema registry at {self.s.registry_url} failed while {what}: {exc}"
            ) from exc


def _run_java(argv: list[str]) -> str | None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode == 0:
        return None
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def _quiet_logger():
    import logging

    logger = logging.getLogger("txn.platform.librdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file such as ``platform.env``."""
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out
