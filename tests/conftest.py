"""Session-wide fixtures: one real local platform (Kafka + registry) per test session.

Set ``TXN_TEST_PLATFORM_ENV=/path/to/platform.env`` to reuse a platform you started with
``txn-platform up``; otherwise the fixture starts one on free ports in a temporary state
directory and always stops it, even when tests fail.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The production-shaped platforms (three brokers; SASL_SSL), started only by tests that use them.
from tests.platforms import secure_platform, three_brokers  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]

# Every JVM of the suite (the platform's, the shared Spark session, the CLIs the tests run)
# lives seconds to a minute over a few thousand rows: the JIT's first tier alone starts and
# runs them sooner on 2 cores (bronze's e2e module: 82 s -> 68 s). Production keeps the JVM's
# default; a value already in the environment wins.
SHORT_JVM = "-XX:TieredStopAtLevel=1"
os.environ.setdefault("JAVA_TOOL_OPTIONS", SHORT_JVM)


@dataclass(frozen=True)
class PlatformEndpoints:
    """How tests reach the running platform."""

    bootstrap_servers: str
    registry_url: str
    state_dir: Path | None

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "SCHEMA_REGISTRY_URL": self.registry_url,
        }


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that were free a moment ago."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformEndpoints]:
    """A running broker + registry for the whole session."""
    from local_platform import platform as lp
    from local_platform.services import read_env_file
    from local_platform.settings import PlatformSettings

    reuse = os.environ.get("TXN_TEST_PLATFORM_ENV")
    if reuse:
        env = read_env_file(Path(reuse))
        yield PlatformEndpoints(env["KAFKA_BOOTSTRAP_SERVERS"], env["SCHEMA_REGISTRY_URL"], None)
        return
    kafka, controller, registry, management = free_ports(4)
    settings = PlatformSettings(
        state_dir=tmp_path_factory.mktemp("platform"),
        kafka_port=kafka,
        controller_port=controller,
        registry_port=registry,
        registry_management_port=management,
    )
    try:
        lp.up(settings, log=lambda m: print(f"[platform] {m}"))
        yield PlatformEndpoints(
            settings.bootstrap_servers, settings.registry_url, settings.state_dir
        )
    finally:
        lp.down(settings, log=lambda m: print(f"[platform] {m}"))


@dataclass(frozen=True)
class SparkCluster:
    """A running standalone master and worker."""

    master_url: str
    webui_url: str
    work_dir: Path

    def state(self) -> dict:
        from local_platform.spark_cluster import master_state

        st = master_state(self.webui_url)
        assert st is not None, "the Spark master stopped serving"
        return st


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    """A Spark standalone master and one worker (2 cores) for the session, started only when a
    cluster test asks for it, and always stopped (with its executors)."""
    from local_platform.settings import PlatformSettings
    from local_platform.spark_cluster import SparkMasterService, SparkWorkerService

    ports = free_ports(7)
    settings = PlatformSettings(
        state_dir=tmp_path_factory.mktemp("spark-cluster"),
        kafka_port=ports[0],
        controller_port=ports[1],
        registry_port=ports[2],
        registry_management_port=ports[3],
        spark=True,
        spark_master_port=ports[4],
        spark_master_webui_port=ports[5],
        spark_worker_webui_port=ports[6],
    )
    master, worker = SparkMasterService(settings), SparkWorkerService(settings)
    try:
        master.start(print)
        worker.start(print)
        yield SparkCluster(
            settings.spark_master_url, settings.spark_master_webui_url, worker.work_dir
        )
    finally:
        print(f"[spark] worker: {worker.stop()}, master: {master.stop()}")


@pytest.fixture(scope="session")
def registered_contract(platform: PlatformEndpoints) -> dict[int, int]:
    """Register every released contract version (as `txn-contract register` does).

    Returns ``{contract version: schema id}``.
    """
    from txn_contract import packaged_contract
    from txn_contract.registry import register_contract, registry_client

    contract = packaged_contract()
    steps = register_contract(
        registry_client(platform.registry_url), contract, platform.registry_url
    )
    ids = {}
    for step in steps:
        if step.schema_id is not None:
            ids[len(ids) + 1] = step.schema_id
    assert sorted(ids) == [v.version for v in contract.versions]
    return ids


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession (2 cores) with Delta and Spark's Kafka and Avro connectors."""
    from txn_lake.spark import build_session

    session = build_session("txn-tests", master="local[2]", driver_memory="2g")
    yield session
    session.stop()


def create_topic(bootstrap: str, name: str, partitions: int = 3) -> None:
    """Create a topic for one test (replication 1); fails if it exists."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)


def bronze_config(platform: PlatformEndpoints, lake: Path, topic: str, **settings):
    """The bronze job's validated config for ``topic`` into ``lake`` on the suite's platform;
    ``settings`` adds or overrides fields (``trigger``, ``available_now``, ...)."""
    from bronze_ingest.config import BronzeSettings
    from txn_contract import SUBJECT

    return BronzeSettings(
        lake=lake,
        bootstrap_servers=platform.bootstrap_servers,
        schema_registry_url=platform.registry_url,
        topic=topic,
        subject=SUBJECT,
        **settings,
    ).validated()


def bronze_available_now(spark, platform: PlatformEndpoints, lake: Path, topic: str) -> dict:
    """Land ``topic`` in ``lake`` with the bronze job (available-now) on the suite's session;
    returns the job's totals."""
    from bronze_ingest.job import BronzeJob

    cfg = bronze_config(platform, lake, topic, available_now=True)
    return BronzeJob(cfg, spark).run(emit=print)
