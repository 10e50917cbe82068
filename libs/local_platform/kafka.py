"""The platform's Kafka: one node, or three forming a cluster; plaintext, or SASL_SSL with ACLs.

:class:`KafkaService` is one node (a KRaft broker and controller in one JVM);
:class:`KafkaCluster` starts the nodes that are down together (a quorum of three elects no
leader until two run), waits for each, and is how the rest of the platform reaches Kafka: its
clients log in as ``admin`` on a secure platform.
"""

from __future__ import annotations

import base64
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from txn_runtime.connections import KafkaSettings
from txn_runtime.errors import PlatformError

from .artifacts import ensure_kafka
from .java import JavaRuntime, find_java
from .kafka_config import BrokerSecrets, KafkaNode, kafka_nodes, replication, server_properties
from .security import Credentials
from .service import Log, Service
from .settings import PlatformSettings, read_layout, write_layout
from .tls import ensure_tls, write_private

__all__ = ["KafkaCluster", "KafkaService", "client_config", "quiet_logger", "run_java"]


def client_config(settings: PlatformSettings, **extra: Any) -> dict[str, Any]:
    """librdkafka settings of the platform's own clients: every broker, and on a secure
    platform SASL_SSL as ``admin`` (built by :class:`txn_runtime.connections.KafkaSettings`,
    the same pass-through the services use)."""
    if not settings.secure:
        return {"bootstrap.servers": settings.bootstrap_servers, **extra}
    creds = Credentials(settings.state_dir / "credentials")
    kafka = KafkaSettings.load(
        {
            "bootstrap_servers": settings.bootstrap_servers,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": "admin",
            "kafka_sasl_password": creds.password("admin"),
            "kafka_ssl_ca_location": settings.state_dir / "tls" / "ca.pem",
        },
        env={},
    )
    return kafka.kafka_config(**extra)


def quiet_logger():
    """A logger that drops librdkafka's lines (a probe's refused connections are expected)."""
    import logging

    logger = logging.getLogger("txn.platform.librdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def run_java(argv: list[str]) -> str | None:
    """Run a short Java tool; None when it succeeds, else the last line it printed."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode == 0:
        return None
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def _cluster_id() -> str:
    """Kafka's cluster id: 16 random bytes, URL-safe base64 without padding; like Kafka's
    Uuid.randomUuid, never one starting with "-", which the tool would take for a flag."""
    cid = "-"
    while cid.startswith("-"):
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cid


class KafkaService(Service):
    """One node: a KRaft broker+controller whose data lives in its home (``STATE/kafka`` alone,
    ``STATE/kafka-N`` in a cluster)."""

    name = "kafka"
    ports = ("kafka_port", "controller_port")

    def __init__(self, settings: PlatformSettings, node: KafkaNode | None = None) -> None:
        self.node = node or kafka_nodes(settings)[0]
        self.name = self.node.name  # type: ignore[misc]  # per node: kafka, kafka-1, ...
        super().__init__(settings)
        self.home = self.node.home

    def check_ports(self) -> None:
        """Refuse this node's client or controller port when another process holds it."""
        self._check_port("kafka_port", self.node.port)
        self._check_port("controller_port", self.node.controller_port)

    def _launch(self, log: Log) -> float:
        """Fetch (first use), format (first use) and start the node; seconds to ready."""
        cluster = KafkaCluster(self.s)
        self.spawn(log, cluster.cluster_id(), cluster.secrets(log))
        return self.wait_ready()

    def _log4j(self) -> str:
        return str(resources.files("local_platform") / "conf" / "log4j2.properties")

    def spawn(self, log: Log, cluster_id: str, secrets: BrokerSecrets | None) -> None:
        """Write the properties, format the storage once and start the JVM (not waiting)."""
        java = find_java(17, purpose="Kafka")
        classpath = f"{ensure_kafka(log)}/*"
        self.home.mkdir(parents=True, exist_ok=True)
        write_private(self.node.properties_file, server_properties(self.s, self.node, secrets))
        self._format_once(java, classpath, cluster_id)
        argv = [
            java.path,
            f"-Xms{min(256, self.s.kafka_heap_mb)}m",
            f"-Xmx{self.s.kafka_heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self._log4j()}",
            self.proc.marker,
            "-cp",
            classpath,
            "kafka.Kafka",
            str(self.node.properties_file),
        ]
        self.proc.start(argv)

    def _quorum_key(self) -> str:
        if self.s.brokers == 1:
            return f"{self.s.host}:{self.node.controller_port}"
        return ",".join(
            f"{n.node_id}@{self.s.host}:{n.controller_port}" for n in kafka_nodes(self.s)
        )

    def _format_once(self, java: JavaRuntime, classpath: str, cluster_id: str) -> None:
        """Format the node's storage the first time (with the SCRAM credentials when secure);
        later, refuse ports other than the ones it was formatted for."""
        ports_file = self.home / "formatted-for"
        wanted = self._quorum_key()
        if (self.node.data_dir / "meta.properties").exists():
            if ports_file.exists() and ports_file.read_text().strip() != wanted:
                raise PlatformError(
                    f"The Kafka data in {self.home} was formatted for controller "
                    f"{ports_file.read_text().strip()}, not {wanted}; use the same ports or "
                    "`txn-platform down --wipe` first."
                )
            return
        words = [f"-Dlog4j2.configurationFile={self._log4j()}", "-cp", classpath]
        words += ["kafka.tools.StorageTool", "format", "-t", cluster_id]
        words += ["-c", str(self.node.properties_file)]
        if self.s.brokers == 1:
            words.append("--standalone")
        argfile = self.home / "format.args"
        if self.s.secure:
            Credentials(self.s.state_dir / "credentials").scram_argfile(argfile, words)
        else:
            write_private(argfile, "\n".join(f'"{w}"' for w in words) + "\n")
        try:
            out = run_java([java.path, f"@{argfile}"])
        finally:
            argfile.unlink(missing_ok=True)
        if out is not None:
            raise PlatformError(f"Formatting Kafka storage failed: {out}")
        ports_file.write_text(wanted)

    def wait_ready(self) -> float:
        """Seconds until the node answers a metadata request listing itself."""
        return self._wait_ready(
            f"The Kafka broker {self.node.name}", self.serving, 90, "did not serve requests"
        )

    def serving(self) -> bool:
        """True when this node answers a metadata request and lists itself as a live broker."""
        from confluent_kafka.admin import AdminClient

        try:
            conf = client_config(self.s, log_level=0, logger=quiet_logger())
            conf["bootstrap.servers"] = f"{self.s.host}:{self.node.port}"
            md = AdminClient(conf).list_topics(timeout=2)
            return self.node.node_id in md.brokers
        except Exception:  # noqa: BLE001 - any failure here only means "not serving yet"
            return False


class KafkaCluster:
    """Every node of the settings, started, probed and stopped together."""

    def __init__(self, settings: PlatformSettings) -> None:
        self.s = settings
        self.nodes = [KafkaService(settings, node) for node in kafka_nodes(settings)]

    def cluster_id(self) -> str:
        """The id the nodes are (or will be) formatted with, recorded with the layout."""
        layout = read_layout(self.s.state_dir)
        if "cluster_id" not in layout:
            layout = {
                "brokers": self.s.brokers,
                "secure": self.s.secure,
                "cluster_id": _cluster_id(),
            }
            self.s.state_dir.mkdir(parents=True, exist_ok=True)
            write_layout(self.s.state_dir, layout)
        return layout["cluster_id"]

    def secrets(self, log: Log) -> BrokerSecrets | None:
        """With ``--secure``: the passwords (made before the first format) and the TLS files
        (made on first use, renewed when close to expiry)."""
        if not self.s.secure:
            return None
        formatted = any((n.node.data_dir / "meta.properties").exists() for n in self.nodes)
        passwords = Credentials(self.s.state_dir / "credentials").ensure(may_create=not formatted)
        tls = ensure_tls(self.s.state_dir / "tls", self.s.host, log)
        return BrokerSecrets(
            passwords["broker"], passwords["controller"], tls.keystore, tls.ca_cert
        )

    def running(self) -> list[KafkaService]:
        """The nodes whose process runs."""
        return [n for n in self.nodes if n.running()]

    def start(self, log: Log) -> float:
        """Start every node that is down, then wait for each; seconds that took (0.0 when all
        were running). A node that runs is left alone."""
        todo = []
        for node in self.nodes:
            if node.running():
                log(f"{node.name}: already running (pid {node.proc.pid()})")
            else:
                node.check_ports()
                todo.append(node)
        if not todo:
            return 0.0
        started = time.monotonic()
        cluster_id, secrets = self.cluster_id(), self.secrets(log)
        ensure_kafka(log)  # fetched once, before the nodes start in parallel
        # In parallel: each node's first start runs the storage tool, a JVM of its own.
        with ThreadPoolExecutor(len(todo)) as pool:
            list(pool.map(lambda node: node.spawn(log, cluster_id, secrets), todo))
        for node in todo:
            node.wait_ready()
            if len(self.nodes) > 1:
                log(f"{node.name}: serving on {self.s.host}:{node.node.port}")
        return time.monotonic() - started

    def serving(self) -> bool:
        """True when every node serves."""
        return all(n.serving() for n in self.nodes)

    def admin(self):
        """An ``AdminClient`` on every broker (as ``admin`` on a secure platform)."""
        from confluent_kafka.admin import AdminClient

        return AdminClient(client_config(self.s, logger=quiet_logger()))

    def ensure_topic(self, name: str, partitions: int, log: Log) -> None:
        """Create ``name`` with ``partitions`` partitions, replicated as :func:`replication`
        says for the cluster's size; left alone if it exists."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import NewTopic

        admin = self.admin()
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
        rf, min_isr = replication(self.s.brokers)
        config = {"min.insync.replicas": str(min_isr)} if rf > 1 else {}
        topic = NewTopic(name, partitions, rf, config=config)
        futures = admin.create_topics([topic], operation_timeout=30)
        try:
            futures[name].result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise PlatformError(f"Could not create topic {name}: {exc}") from exc
        isr = f", min.insync.replicas {min_isr}" if rf > 1 else ""
        log(f"kafka: created topic {name} ({partitions} partitions, replication {rf}{isr})")
