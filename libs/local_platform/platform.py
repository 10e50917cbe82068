"""``up`` / ``down`` / ``status`` of the local platform: the embedded default."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from txn_runtime.errors import PlatformError

from .kafka import KafkaCluster, KafkaService, client_config, quiet_logger
from .kafka_config import KafkaNode
from .security import ALERTS_TOPIC, Credentials, apply_acls, grants
from .services import RegistryService
from .settings import PlatformSettings
from .spark_cluster import SparkMasterService, SparkWorkerService

__all__ = ["BrokerStatus", "PlatformStatus", "down", "env_lines", "status", "up"]

Log = Callable[[str], None]


def up(settings: PlatformSettings, log: Log) -> dict[str, float]:
    """Start the brokers and the registry (what is not running), create the topic, apply the
    ACLs (``--secure``), set the registry's global compatibility level and write
    ``platform.env``. Idempotent. Returns timings in seconds."""
    started = time.monotonic()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    kafka = KafkaCluster(settings)
    registry = RegistryService(settings)
    spark = [SparkMasterService(settings), SparkWorkerService(settings)] if settings.spark else []
    timings: dict[str, float] = {}
    # Only what this call starts is stopped on failure: a service an earlier `up` left running
    # stays up.
    ours = [svc for svc in (*kafka.nodes, registry, *spark) if not svc.running()]
    try:
        timings["kafka_ready_s"] = kafka.start(log)
        log(f"kafka: serving on {settings.bootstrap_servers}")
        timings["registry_ready_s"] = registry.start(log)
        log(f"registry: serving on {settings.registry_url}")
        kafka.ensure_topic(settings.topic, settings.partitions, log)
        # gold-signals' output, keyed by customer_id like the stream (the ACLs already name it).
        kafka.ensure_topic(ALERTS_TOPIC, settings.partitions, log)
        if settings.secure:
            n = apply_acls(kafka.admin(), grants(settings.topic), log)
            log(f"kafka: {n} ACL bindings for the service principals (docs/security.md)")
        registry.set_global_compatibility(settings.compatibility)
        log(f"registry: global compatibility level set to {settings.compatibility}")
        if spark:
            timings |= _start_spark(settings, *spark, log=log)
    except BaseException:
        # A half-started platform is worse than none: stop what we started.
        for svc in ours:
            svc.stop()
        raise
    settings.env_file.write_text("".join(f"{line}\n" for line in env_lines(settings)))
    timings["total_s"] = time.monotonic() - started
    return timings


def _start_spark(
    settings: PlatformSettings,
    master: SparkMasterService,
    worker: SparkWorkerService,
    log: Log,
) -> dict[str, float]:
    timings = {"spark_master_ready_s": master.start(log)}
    log(f"spark-master: {settings.spark_master_url} (UI {settings.spark_master_webui_url})")
    timings["spark_worker_ready_s"] = worker.start(log)
    log(
        f"spark-worker: registered with {settings.spark_worker_cores} cores, "
        f"{settings.spark_worker_memory} for executors"
    )
    return timings


def env_lines(settings: PlatformSettings) -> list[str]:
    """The lines of ``platform.env``: how every client reaches the platform (no secrets: those
    are in ``credentials/<principal>.env``)."""
    lines = [
        "# Written by `txn-platform up`; source it or read it to reach the local platform.",
        f"KAFKA_BOOTSTRAP_SERVERS={settings.bootstrap_servers}",
    ]
    if settings.secure:
        creds = Credentials(settings.state_dir / "credentials")
        lines += [
            "KAFKA_SECURITY_PROTOCOL=SASL_SSL",
            "KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
            f"KAFKA_SSL_CA_LOCATION={settings.state_dir / 'tls' / 'ca.pem'}",
            "# Each service's KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and (if it reads schemas)",
            f"# SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: {creds.env_file('<principal>')} (mode 0600)",
            f"SCHEMA_REGISTRY_SSL_CA_LOCATION={settings.state_dir / 'tls' / 'ca.pem'}",
        ]
    lines += [
        f"SCHEMA_REGISTRY_URL={settings.registry_url}",
        f"TXN_STATE_DIR={settings.state_dir.resolve()}",
    ]
    if settings.spark:
        lines += [
            f"SPARK_MASTER_URL={settings.spark_master_url}",
            f"SPARK_MASTER_WEBUI_URL={settings.spark_master_webui_url}",
        ]
    return lines


def down(settings: PlatformSettings, log: Log, wipe: bool = False) -> None:
    """Stop every service, Spark's too if running (SIGTERM, then SIGKILL after a timeout);
    ``wipe`` deletes the state."""
    for svc in (
        SparkWorkerService(settings),
        SparkMasterService(settings),
        RegistryService(settings),
    ):
        log(f"{svc.proc.name}: {svc.stop()}")
    nodes = KafkaCluster(settings).nodes
    for name, outcome in _stop_together(nodes).items():
        log(f"{name}: {outcome}")
    # Nodes of another layout (a state dir whose platform.json was removed) stop too, quietly.
    names = {n.name for n in nodes}
    strays = [
        KafkaService(settings, KafkaNode(i, name, settings.state_dir / name, 0, 0))
        for i, name in enumerate(("kafka", "kafka-1", "kafka-2", "kafka-3"))
        if name not in names
    ]
    _stop_together(strays)
    settings.env_file.unlink(missing_ok=True)
    if wipe and settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)
        log(f"wiped {settings.state_dir}")


def _stop_together(nodes: list[KafkaService]) -> dict[str, str]:
    """Stop the nodes in parallel: one by one, the last ones would wait for a quorum that the
    first ones took away."""
    from concurrent.futures import ThreadPoolExecutor

    if not nodes:
        return {}
    with ThreadPoolExecutor(len(nodes)) as pool:
        outcomes = list(pool.map(lambda n: n.stop(), nodes))
    return {n.name: o for n, o in zip(nodes, outcomes, strict=True)}


@dataclass
class BrokerStatus:
    """One Kafka node as ``status`` sees it."""

    name: str
    address: str
    pid: int | None
    serving: bool
    rss_mb: float | None = None


@dataclass
class PlatformStatus:
    """What ``status`` reports; ``healthy`` when every service serves requests."""

    kafka_pid: int | None  # the first node's
    kafka_serving: bool  # every node serves
    registry_pid: int | None
    registry_serving: bool
    kafka_rss_mb: float | None = None
    registry_rss_mb: float | None = None
    topics: dict[str, list[int]] = field(default_factory=dict)
    subjects: dict[str, list[int]] = field(default_factory=dict)
    compatibility: str | None = None
    spark_master_pid: int | None = None
    spark_master: dict | None = None  # the master's /json/ when it serves
    spark_worker_pid: int | None = None
    brokers: list[BrokerStatus] = field(default_factory=list)
    secure: bool = False
    topics_error: str | None = None  # why the topics' offsets could not be read

    @property
    def healthy(self) -> bool:
        """Every broker and the registry serve; and Spark's master does too, if it was started."""
        spark_ok = self.spark_master_pid is None or bool(self.spark_master)
        return self.kafka_serving and self.registry_serving and spark_ok


def status(settings: PlatformSettings) -> PlatformStatus:
    """Health of each service, topics with partition end offsets, subjects with versions."""
    registry = RegistryService(settings)
    brokers = [
        BrokerStatus(
            n.name, f"{settings.host}:{n.node.port}", n.proc.pid(), n.serving(), n.proc.rss_mb()
        )
        for n in KafkaCluster(settings).nodes
    ]
    st = PlatformStatus(
        kafka_pid=brokers[0].pid,
        kafka_serving=all(b.serving for b in brokers),
        registry_pid=registry.proc.pid(),
        registry_serving=registry.serving(),
        kafka_rss_mb=brokers[0].rss_mb,
        registry_rss_mb=registry.proc.rss_mb(),
        brokers=brokers,
        secure=settings.secure,
    )
    master = SparkMasterService(settings)
    st.spark_master_pid = master.proc.pid()
    st.spark_worker_pid = SparkWorkerService(settings).proc.pid()
    if st.spark_master_pid is not None:
        st.spark_master = master.state()
    if any(b.serving for b in brokers):
        from txn_contract.errors import TxnError

        try:
            st.topics = _end_offsets(settings)
        except TxnError as exc:
            # A broker just killed still leads partitions until the controller fences it.
            st.topics_error = str(exc)
    if st.registry_serving:
        try:
            st.subjects, st.compatibility = registry.contents()
        except PlatformError:
            st.registry_serving = False
    return st


def _end_offsets(settings: PlatformSettings) -> dict[str, list[int]]:
    from confluent_kafka import Consumer

    from txn_runtime.preflight import watermarks

    conf = {"group.id": "txn-platform-status", "enable.auto.commit": False}
    consumer = Consumer(client_config(settings, logger=quiet_logger(), **conf))
    try:
        md = consumer.list_topics(timeout=10)
        return {
            name: [
                high
                for _low, high in watermarks(consumer, name, list(topic.partitions), 5).values()
            ]
            for name, topic in sorted(md.topics.items())
            if not name.startswith("__")
        }
    finally:
        consumer.close()
