"""The local platform serves a real Kafka broker and a real Confluent-API registry."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from tests.conftest import create_topic
from txn_contract import TOPIC

pytestmark = pytest.mark.integration


def test_topic_has_three_partitions(platform):
    md = AdminClient({"bootstrap.servers": platform.bootstrap_servers}).list_topics(timeout=10)
    assert TOPIC in md.topics
    assert len(md.topics[TOPIC].partitions) == 3


def test_produce_and_consume_round_trip(platform):
    # its own topic: these plain bytes would be poison in the shared contract topic
    marker = uuid.uuid4().hex
    topic = f"platform-round-trip-{marker[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    producer = Producer({"bootstrap.servers": platform.bootstrap_servers, "acks": "all"})
    sent = [f"{marker}-{i}".encode() for i in range(20)]
    for value in sent:
        producer.produce(topic, key=marker.encode(), value=value)
    assert producer.flush(15) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": platform.bootstrap_servers,
            "group.id": f"t-{marker}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    got = []
    try:
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                if len(got) == len(sent):
                    break
                continue
            if msg.key() == marker.encode():
                got.append(msg.value())
    finally:
        consumer.close()
    # One key -> one partition -> order preserved.
    assert got == sent


def _record(name: str, fields: list[dict]) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "t", "fields": fields})


def test_registry_register_read_back_and_refuse_incompatible(platform):
    client = SchemaRegistryClient({"url": platform.registry_url})
    subject = f"platform-test-{uuid.uuid4().hex[:8]}-value"
    v1 = _record("Probe", [{"name": "a", "type": "int"}])
    schema_id = client.register_schema(subject, Schema(v1, "AVRO"))
    assert json.loads(client.get_schema(schema_id).schema_str) == json.loads(v1)
    # Same schema again: same id (registration is idempotent).
    assert client.register_schema(subject, Schema(v1, "AVRO")) == schema_id
    assert client.get_compatibility() == "FULL_TRANSITIVE"

    incompatible = _record("Probe", [{"name": "a", "type": "string"}])
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, Schema(incompatible, "AVRO"))
    assert refused.value.http_status_code == 409
    # An optional field with a default is fine under FULL_TRANSITIVE.
    v2 = _record(
        "Probe",
        [{"name": "a", "type": "int"}, {"name": "b", "type": ["null", "string"], "default": None}],
    )
    assert client.register_schema(subject, Schema(v2, "AVRO")) != schema_id
    assert client.get_versions(subject) == [1, 2]


def test_registry_service_reads_subjects_versions_and_level_with_the_public_client(
    platform, tmp_path
):
    # what `txn-platform status` shows; regression: it had its own urllib registry client
    from urllib.parse import urlsplit

    from local_platform.services import RegistryService
    from local_platform.settings import PlatformSettings

    where = urlsplit(platform.registry_url)
    service = RegistryService(
        PlatformSettings(state_dir=tmp_path, host=where.hostname, registry_port=where.port)
    )
    assert service.s.registry_url == platform.registry_url
    assert service.serving()
    subject = f"platform-status-{uuid.uuid4().hex[:8]}-value"
    SchemaRegistryClient({"url": platform.registry_url}).register_schema(
        subject, Schema(_record("Status", [{"name": "a", "type": "int"}]), "AVRO")
    )
    subjects, level = service.contents()
    assert subjects[subject] == [1]
    assert level == "FULL_TRANSITIVE"
