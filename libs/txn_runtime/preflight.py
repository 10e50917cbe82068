"""One start-up check of what a service needs from Kafka and the registry, one error type.

- :func:`check_topic`: the broker answers a bounded metadata request, the topic exists; its
  partition count.
- :func:`watermarks`: low and high offsets of each partition of a topic.
(That the contract version is registered under the subject is
``txn_contract.registry.lookup_schema_id``'s to check: services never register.)

Every failure is a :class:`PreflightError` (exit 1): one sentence naming what to fix.

Example::

    partitions = check_topic(AdminClient(settings.kafka_config()), settings.topic,
                             settings.bootstrap_servers)
"""

from __future__ import annotations

from typing import Any

from txn_contract.errors import TxnError
from txn_contract.model import TOPIC

__all__ = [
    "BROKER_TIMEOUT_S",
    "ClientErrors",
    "PreflightError",
    "check_topic",
    "refusal",
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


def _reason(exc: Exception) -> str:
    return _reason_of(exc.args[0] if exc.args else exc)


def _reason_of(err: Any) -> str:
    return err.str() if hasattr(err, "str") else str(err)


class ClientErrors:
    """The errors a confluent-kafka client reports through its ``error_cb``: librdkafka delivers
    a failed SASL authentication there, while the call that needed the broker only times out
    ("Broker transport failure"). Pass one as ``error_cb`` in the client's settings and to
    :func:`check_topic`, which then names the refused principal instead of an unreachable broker.
    """

    def __init__(self) -> None:
        self.seen: dict[int, Any] = {}
        """The first error reported of each kind (code): bounded however long the client runs."""

    def __call__(self, err: Any) -> None:
        self.seen.setdefault(err.code(), err)

    def authentication(self) -> Any | None:
        """The first authentication failure reported, if any."""
        from confluent_kafka import KafkaError

        return self.seen.get(KafkaError._AUTHENTICATION)


# What each Kafka authorization failure means for a writer: the permission the broker refused.
_REFUSED = {
    "CLUSTER_AUTHORIZATION_FAILED": (
        "the cluster's IdempotentWrite permission, which an idempotent producer needs"
    ),
    "TOPIC_AUTHORIZATION_FAILED": "Write on the topic",
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": "the transactional id",
}


def refusal(err: Any, principal: str | None, topic: str) -> str | None:
    """The sentence for a Kafka error that is an authorization refusal (None for any other):
    it names the principal, what it was doing, and the permission refused."""
    name = err.name() if hasattr(err, "name") else ""
    refused = _REFUSED.get(name)
    if refused is None:
        return None
    return (
        f"Kafka refused principal {principal or '(no SASL user)'} {refused} while producing to "
        f"topic {topic} ({name}); run as a principal with that ACL (`txn-platform up --secure`: "
        "the producer principal) or grant it (docs/security.md)."
    )


def check_topic(
    client: Any,
    topic: str,
    bootstrap_servers: str,
    timeout_s: float = BROKER_TIMEOUT_S,
    *,
    errors: ClientErrors | None = None,
    principal: str | None = None,
) -> int:
    """Partition count of ``topic``; ``client`` is any confluent-kafka client (``list_topics``).
    ``errors`` is the client's ``error_cb`` (see :class:`ClientErrors`) and ``principal`` its
    SASL user, for the sentence when the broker refuses it."""
    from confluent_kafka import KafkaException

    try:
        metadata = client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        if errors is not None and hasattr(client, "poll"):
            # librdkafka queues error_cb; a poll serves it (a consumer's, not subscribed to
            # anything, returns no message).
            client.poll(0)
        refused = errors.authentication() if errors is not None else None
        if refused is not None:
            raise PreflightError(
                f"The Kafka broker at {bootstrap_servers} refused principal "
                f"{principal or '(no SASL user)'}: authentication failed ({_reason_of(refused)}); "
                "check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (`txn-platform up --secure` "
                "writes each principal's to STATE/credentials/<principal>.env).",
                bootstrap_servers=bootstrap_servers,
            ) from exc
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
