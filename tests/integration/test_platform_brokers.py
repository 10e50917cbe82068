"""`txn-platform up --brokers 3`: three KRaft nodes on loopback, topics replicated three times
with min.insync.replicas=2, so acks=all producing goes on while one broker is SIGKILLed, and
`up` on the same state dir brings back only that broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from txn_contract import TOPIC

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _pids(platform) -> dict[str, int | None]:
    from local_platform.kafka import KafkaCluster

    return {n.name: n.proc.pid() for n in KafkaCluster(platform.settings).nodes}


def _produce(bootstrap: str, topic: str, values: list[bytes], timeout: float) -> int:
    """Produce with acks=all and idempotence; the number not delivered within ``timeout``."""
    failed = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for v in values:
        producer.produce(topic, value=v, on_delivery=lambda err, _m: err and failed.append(err))
    left = producer.flush(timeout)
    return left + len(failed)


def _consume(bootstrap: str, topic: str, want: int) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < want and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                got.append(msg.value())
    finally:
        consumer.close()
    return got


def test_three_brokers_serve_a_replicated_topic(three_brokers):
    s = three_brokers.settings
    env = three_brokers.env()
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == ",".join(
        f"127.0.0.1:{s.kafka_port + 2 * i}" for i in range(3)
    )
    admin = AdminClient({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"]})
    md = admin.list_topics(timeout=10)
    assert sorted(md.brokers) == [1, 2, 3]
    partitions = md.topics[TOPIC].partitions
    assert len(partitions) == 3
    assert all(sorted(p.replicas) == [1, 2, 3] for p in partitions.values())
    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    config = admin.describe_configs([res])[res].result(timeout=10)
    assert config["min.insync.replicas"].value == "2"

    status = subprocess.run(
        [str(BIN / "txn-platform"), "status", *three_brokers.settings_flags()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    for i in range(3):
        assert f"kafka-{i + 1}   127.0.0.1:{s.kafka_port + 2 * i}" in status.stdout
    assert status.stdout.count("serving (pid") == 4  # three brokers and the registry


def test_acks_all_goes_on_with_one_broker_killed_and_up_restarts_only_it(three_brokers):
    bootstrap = three_brokers.env()["KAFKA_BOOTSTRAP_SERVERS"]
    topic = f"brokers-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(topic, 3, 3, config={"min.insync.replicas": "2"})
    admin.create_topics([new])[topic].result(timeout=30)
    before = [f"before-{i}".encode() for i in range(1000)]
    assert _produce(bootstrap, topic, before, 30) == 0

    pids = _pids(three_brokers)
    os.killpg(pids["kafka-2"], signal.SIGKILL)
    killed_at = time.monotonic()
    # Every partition has three replicas: two stay in sync, which is min.insync.replicas.
    during = [f"during-{i}".encode() for i in range(1000)]
    assert _produce(bootstrap, topic, during, 60) == 0
    outage_write_s = time.monotonic() - killed_at
    assert _pids(three_brokers)["kafka-2"] is None

    up = subprocess.run(
        [str(BIN / "txn-platform"), "up", *three_brokers.settings_flags()],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert up.returncode == 0, up.stderr
    assert "kafka-1: already running" in up.stderr
    assert "kafka-3: already running" in up.stderr
    assert "registry: already running" in up.stderr
    assert "kafka-2: serving on" in up.stderr
    after = _pids(three_brokers)
    assert after["kafka-1"] == pids["kafka-1"] and after["kafka-3"] == pids["kafka-3"]
    assert after["kafka-2"] not in (None, pids["kafka-2"])

    got = _consume(bootstrap, topic, 2000)
    assert sorted(got) == sorted(before + during)  # each once
    print(f"acks=all batch of 1000 with kafka-2 killed: delivered in {outage_write_s:.1f} s")
