"""One start-up check of what a service needs from Kafka and the registry, one error type.

- :func:`check_topic`: the broker answers a bounded metadata request, the topic exists; its
  partition count.
- :func:`watermarks`: low and high offsets of each partition of a topic.
- :func:`registered_schema_id`: the contract version is registered under the subject (services
  never register).

Every failure is a :class:`PreflightError` (exit 1): one sentence naming what to fix.

Example::

    partitions = check_topic(AdminClient(settings.kafka_config()), settings.topic,
                             settings.bootstrap_servers)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from txn_contract.errors import ContractNotRegisteredError, TxnError
from txn_contract.model import TOPIC

__all__ = [
    "BROKER_TIMEOUT_S",
    "ContractNotRegisteredPreflightError",
    "PreflightError",
    "check_topic",
    "registered_schema_id",
    "watermarks",
]

BROKER_TIMEOUT_S = 8.0


class PreflightError(TxnError):
    """The broker, the topic or the registered contract a service needs is not there."""

    exit_code = 1

    def __init__(
        self, message: str, *, bootstrap_servers: str | None = None, topic: str | None = None
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        super().__init__(message)


class ContractNotRegisteredPreflightError(PreflightError, ContractNotRegisteredError):
    """The contract version is not registered under the service's subject."""

    def __init__(self, message: str, *, subject: str, version: int) -> None:
        ContractNotRegisteredError.__init__(self, message, subject=subject, version=version)
        self.bootstrap_servers = None
        self.topic = None


def _reason(exc: Exception) -> str:
    err = exc.args[0] if exc.args else exc
    return err.str() if hasattr(err, "str") else str(err)


def check_topic(
    client: Any, topic: str, bootstrap_servers: str, timeout_s: float = BROKER_TIMEOUT_S
) -> int:
    """Partition count of ``topic``; ``client`` is any confluent-kafka client (``list_topics``)."""
    from confluent_kafka import KafkaException

    try:
        metadata = client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise PreflightError(
            f"The Kafka broker at {bootstrap_servers} could not be reached within {timeout_s:g} s "
            f"({_reason(exc)}); check KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers.",
            bootstrap_servers=bootstrap_servers,
        ) from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        raise PreflightError(
            f"Topic {topic} does not exist on the broker at {bootstrap_servers}; check --topic "
            f"(or TXN_TOPIC), or create it (`txn-platform up` creates {TOPIC}; no service "
            "creates topics).",
            bootstrap_servers=bootstrap_servers,
            topic=topic,
        )
    return len(found.partitions)


def watermarks(
    consumer: Any, topic: str, partitions: int | list[int], timeout_s: float = 10.0
) -> dict[int, tuple[int, int]]:
    """``{partition: (low, high)}`` offsets; ``consumer`` is a confluent-kafka ``Consumer``."""
    from confluent_kafka import KafkaException, TopicPartition

    ids = range(partitions) if isinstance(partitions, int) else sorted(partitions)
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            for p in ids
        }
    except KafkaException as exc:
        raise PreflightError(
            f"The Kafka broker did not give the offsets of topic {topic} within {timeout_s:g} s "
            f"({_reason(exc)}).",
            topic=topic,
        ) from exc


def registered_schema_id(
    client: Any, contract: Any, version: int, *, subject: str, topic: str, url: str
) -> int:
    """The registry id of contract ``version`` under ``subject``; never registers.

    ``url`` is the registry's URL as safe to print. A missing version is one sentence naming
    ``txn-contract register`` and what else may be wrong (the subject, the URL).
    """
    from txn_contract.registry import lookup_schema_id

    ours = contract
    if subject != contract.subject:
        ours = dataclasses.replace(contract, subject=subject, topic=topic)
    try:
        return lookup_schema_id(client, ours, version, url)
    except ContractNotRegisteredError as exc:
        hint = (
            "; check that SCHEMA_REGISTRY_URL is the Confluent API root (for Apicurio it ends in "
            "/apis/ccompat/v7)"
        )
        if subject != contract.subject:
            hint += (
                f"; note that `txn-contract register` registers subject {contract.subject}, and "
                f"topic {topic} needs its own subject {subject}"
            )
        raise ContractNotRegisteredPreflightError(
            f"{str(exc).rstrip('.')}{hint}.", subject=subject, version=version
        ) from exc
