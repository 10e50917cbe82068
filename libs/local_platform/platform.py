"""``up`` / ``down`` / ``status`` of the local platform: the embedded default."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from txn_runtime.errors import PlatformError

from .services import KafkaService, RegistryService
from .settings import PlatformSettings
from .spark_cluster import SparkMasterService, SparkWorkerService

__all__ = ["PlatformStatus", "down", "status", "up"]

Log = Callable[[str], None]


def up(settings: PlatformSettings, log: Log) -> dict[str, float]:
    """Start broker and registry (if not running), create the topic, set the registry's global
    compatibility level and write ``platform.env``. Idempotent. Returns timings in seconds."""
    started = time.monotonic()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    kafka = KafkaService(settings)
    registry = RegistryService(settings)
    spark = [SparkMasterService(settings), SparkWorkerService(settings)] if settings.spark else []
    timings: dict[str, float] = {}
    # Only what this call starts is stopped on failure: a service an earlier `up` left running
    # stays up.
    ours = [svc for svc in (kafka, registry, *spark) if not svc.running()]
    try:
        timings["kafka_ready_s"] = kafka.start(log)
        log(f"kafka: serving on {settings.bootstrap_servers}")
        timings["registry_ready_s"] = registry.start(log)
        log(f"registry: serving on {settings.registry_url}")
        kafka.ensure_topic(settings.topic, settings.partitions, log)
        registry.set_global_compatibility(settings.compatibility)
        log(f"registry: global compatibility level set to {settings.compatibility}")
        if spark:
            master, worker = spark
            timings["spark_master_ready_s"] = master.start(log)
            log(f"spark-master: {settings.spark_master_url} (UI {settings.spark_master_webui_url})")
            timings["spark_worker_ready_s"] = worker.start(log)
            log(
                f"spark-worker: registered with {settings.spark_worker_cores} cores, "
                f"{settings.spark_worker_memory} for executors"
            )
    except BaseException:
        # A half-started platform is worse than none: stop what we started.
        for svc in ours:
            svc.stop()
        raise
    settings.env_file.write_text(
        "# Written by `txn-platform up`; source it or read it to reach the local platform.\n"
        f"KAFKA_BOOTSTRAP_SERVERS={settings.bootstrap_servers}\n"
        f"SCHEMA_REGISTRY_URL={settings.registry_url}\n"
        f"TXN_STATE_DIR={settings.state_dir.resolve()}\n"
        + (
            f"SPARK_MASTER_URL={settings.spark_master_url}\n"
            f"SPARK_MASTER_WEBUI_URL={settings.spark_master_webui_url}\n"
            if spark
            else ""
        )
    )
    timings["total_s"] = time.monotonic() - started
    return timings


def down(settings: PlatformSettings, log: Log, wipe: bool = False) -> None:
    """Stop every service, Spark's too if running (SIGTERM, then SIGKILL after a timeout);
    ``wipe`` deletes the state."""
    for svc in (
        SparkWorkerService(settings),
        SparkMasterService(settings),
        RegistryService(settings),
        KafkaService(settings),
    ):
        log(f"{svc.proc.name}: {svc.stop()}")
    settings.env_file.unlink(missing_ok=True)
    if wipe and settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)
        log(f"wiped {settings.state_dir}")


@dataclass
class PlatformStatus:
    """What ``status`` reports; ``healthy`` when both services serve requests."""

    kafka_pid: int | None
    kafka_serving: bool
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

    @property
    def healthy(self) -> bool:
        """Broker and registry serve; and Spark's master does too, if it was started."""
        spark_ok = self.spark_master_pid is None or bool(self.spark_master)
        return self.kafka_serving and self.registry_serving and spark_ok


def status(settings: PlatformSettings) -> PlatformStatus:
    """Health of each service, topics with partition end offsets, subjects with versions."""
    kafka = KafkaService(settings)
    registry = RegistryService(settings)
    st = PlatformStatus(
        kafka_pid=kafka.proc.pid(),
        kafka_serving=kafka.serving(),
        registry_pid=registry.proc.pid(),
        registry_serving=registry.serving(),
        kafka_rss_mb=kafka.proc.rss_mb(),
        registry_rss_mb=registry.proc.rss_mb(),
    )
    master = SparkMasterService(settings)
    st.spark_master_pid = master.proc.pid()
    st.spark_worker_pid = SparkWorkerService(settings).proc.pid()
    if st.spark_master_pid is not None:
        st.spark_master = master.state()
    if st.kafka_serving:
        st.topics = _end_offsets(settings.bootstrap_servers)
    if st.registry_serving:
        try:
            st.subjects, st.compatibility = registry.contents()
        except PlatformError:
            st.registry_serving = False
    return st


def _end_offsets(bootstrap: str) -> dict[str, list[int]]:
    from confluent_kafka import Consumer

    from txn_runtime.preflight import watermarks

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "txn-platform-status",
            "enable.auto.commit": False,
        }
    )
    try:
        md = consumer.list_topics(timeout=10)
        return {
            name: [
                high for _low, high in watermarks(consumer, name, list(topic.partitions)).values()
            ]
            for name, topic in sorted(md.topics.items())
            if not name.startswith("__")
        }
    finally:
        consumer.close()
