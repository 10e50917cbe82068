"""The producer against the real broker and registry, read back by an independent consumer."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import defaultdict

import fastavro
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from txn_contract import packaged_contract, wire
from txn_contract.registry import register_contract, registry_client
from txn_producer.config import load_config
from txn_producer.producer import ProducerRun

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()
START = "2026-01-31T09:00:00Z"


@pytest.fixture(scope="module")
def make_topic(platform, registered_contract):
    """Factory of fresh 3-partition topics whose subject (<topic>-value) holds the contract, so
    tests never read each other's events; everything is deleted afterwards."""
    admin = AdminClient({"bootstrap.servers": platform.bootstrap_servers})
    client = registry_client(platform.registry_url)
    made: list[str] = []

    def make(prefix: str = "producer-it") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(
            30
        )
        # Creation is acknowledged by the controller before every broker's metadata has it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            topic = admin.list_topics(name, timeout=10).topics.get(name)
            if topic and topic.error is None and len(topic.partitions) == 3:
                break
            time.sleep(0.1)
        contract = dataclasses.replace(CONTRACT, subject=f"{name}-value", topic=name)
        register_contract(client, contract, platform.registry_url)
        made.append(name)
        return name

    yield make
    if made:
        for future in admin.delete_topics(made).values():
            future.result(30)
        for name in made:
            client.delete_subject(f"{name}-value")
            client.delete_subject(f"{name}-value", permanent=True)


def _produce(platform, topic: str, **flags):
    config = load_config(
        {"topic": topic, "progress": False, "customers": 2_000, **flags}, platform.env()
    )
    run = ProducerRun(config)
    run.start()
    return run.run()


def _read_all(platform, topic: str, expected: int) -> list:
    """Every message of ``topic`` (all partitions, from the start), in partition order."""
    consumer = Consumer(
        {
            "bootstrap.servers": platform.bootstrap_servers,
            "group.id": f"producer-it-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages, at_eof = [], set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for msg in consumer.consume(1_000, timeout=0.5):
                if msg.error():
                    at_eof.add(msg.partition())
                else:
                    messages.append(msg)
            if len(messages) >= expected and len(at_eof) == len(partitions):
                break
        return messages
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def seeded_runs(platform, make_topic):
    """The same seeded 10,000 events produced twice, to two topics."""
    out = []
    for _ in range(2):
        topic = make_topic()
        summary = _produce(platform, topic, count=10_000, seed=7, start_time=START)
        out.append((topic, summary, _read_all(platform, topic, 10_000)))
    return out


def test_ten_thousand_seeded_events_all_there_valid_and_keyed(
    platform, registered_contract, seeded_runs
):
    topic, summary, messages = seeded_runs[0]
    assert (summary.produced, summary.delivered, summary.failed) == (10_000, 10_000, 0)
    assert len(messages) == 10_000
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": platform.registry_url}))
    latest = CONTRACT.latest
    ids = set()
    for msg in messages:
        assert wire.split_header(msg.value())[0] == registered_contract[latest.version]
        record = deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE))
        assert fastavro.validate(record, latest.parsed, raise_errors=True)
        assert msg.key() == record["customer_id"].encode("utf-8")
        ids.add(record["transaction_id"])
    assert len(ids) == 10_000
    assert {m.partition() for m in messages} == {0, 1, 2}


def test_same_seed_gives_the_same_events(seeded_runs):
    def by_partition(messages):
        out = defaultdict(list)
        for m in messages:
            out[m.partition()].append((m.key(), m.value()))
        return dict(out)

    (_t1, _s1, first), (_t2, _s2, second) = seeded_runs
    # Same keys to the same partitions, in the same order, with byte-identical values.
    assert by_partition(first) == by_partition(second)


def test_contract_version_1_writes_v1_with_its_own_schema_id(
    platform, registered_contract, make_topic
):
    topic = make_topic()
    summary = _produce(platform, topic, count=1_000, seed=3, contract_version=1)
    assert summary.complete and summary.delivered == 1_000
    messages = _read_all(platform, topic, 1_000)
    assert len(messages) == 1_000
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": platform.registry_url}))
    v1 = CONTRACT.version(1)
    for msg in messages:
        assert wire.split_header(msg.value())[0] == registered_contract[1]
        record = deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE))
        assert tuple(record) == v1.field_names
        assert fastavro.validate(record, v1.parsed, raise_errors=True)


def test_rate_is_held_against_the_real_broker(platform, make_topic):
    topic = make_topic()
    summary = _produce(platform, topic, rate=5_000.0, duration=3.0, seed=1)
    assert summary.complete
    assert abs(summary.produced - 15_000) <= 15_000 * 0.05


def test_a_dirty_stream_reaches_the_broker_as_counted(platform, registered_contract, make_topic):
    """Poison, violators and conflicts go through the real client and broker unchanged: read
    back, the poison decodes to exactly the reasons counted (and the registry does not know the
    unregistered id, so bronze will call it UNKNOWN_SCHEMA_ID), conflicts re-send earlier ids."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from txn_contract.errors import DecodeError
    from txn_producer.faults import UNREGISTERED_SCHEMA_ID

    topic = make_topic()
    rates = {"poison_rate": 0.02, "violation_rate": 0.02, "conflict_rate": 0.02}
    summary = _produce(platform, topic, count=5_000, seed=5, start_time=START, **rates)
    assert summary.complete and summary.delivered == 5_000
    messages = _read_all(platform, topic, 5_000)
    assert len(messages) == 5_000
    schema_id = registered_contract[CONTRACT.latest.version]
    reasons: dict[str, int] = defaultdict(int)
    seen: dict[str, bytes] = {}
    conflicts = 0
    for msg in messages:
        value = msg.value() or b""
        try:
            record = wire.decode(value, CONTRACT.latest.parsed)
        except DecodeError as err:
            reasons[err.reason] += 1
            continue
        if wire.split_header(value)[0] != schema_id:
            assert wire.split_header(value)[0] == UNREGISTERED_SCHEMA_ID
            reasons[wire.UNKNOWN_SCHEMA_ID] += 1
            continue
        tid = record["transaction_id"]
        conflicts += tid in seen and seen[tid] != value
        seen.setdefault(tid, value)
    assert dict(reasons) == summary.poison and sum(reasons.values()) > 50
    assert conflicts == summary.conflicts > 50
    assert summary.violators > 50
    with pytest.raises(SchemaRegistryError) as err:
        registry_client(platform.registry_url).get_schema(UNREGISTERED_SCHEMA_ID)
    assert err.value.http_status_code == 404
