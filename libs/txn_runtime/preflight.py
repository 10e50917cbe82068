"""One start-up check of what a service needs from Kafka and the registry, one error type.

- :func:`check_topic`: the broker answers a bounded metadata request, the topic exists, and the
  principal may do what the service does with it (its ACLs); its partition count.
- :func:`watermarks`: low and high offsets of each partition of a topic.
(That the contract version is registered under the subject is
``txn_contract.registry.lookup_schema_id``'s to check: services never register.)

Every failure is a :class:`PreflightError` (exit 1): one sentence naming what to fix. A refused
login, an untrusted certificate or a TLS listener met without TLS ends the check as soon as the
client reports it (:mod:`txn_runtime.refusals`), not at the timeout.

Example::

    errors = ClientErrors(settings)
    admin = AdminClient(settings.kafka_config(**errors.client_settings()))
    partitions = check_topic(admin, settings.topic, settings.bootstrap_servers,
                             errors=errors, operation=reading(settings.topic))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from txn_contract.errors import TxnError
from txn_contract.model import TOPIC

from .refusals import ClientErrors, Operation, access_refusal, refusal

if TYPE_CHECKING:
    from .connections import KafkaSettings

__all__ = [
    "BROKER_TIMEOUT_S",
    "ClientErrors",
    "PreflightError",
    "TopicNotFoundError",
    "check_access",
    "check_topic",
    "refusal",
    "watermarks",
]

BROKER_TIMEOUT_S = 8.0
# How often a waiting check looks at what the client reported (a refused login is known within
# a round trip; a broker still starting answers the next request).
_SLICE_S = 0.5


class PreflightError(TxnError):
    """The broker, the topic or the registered contract a service needs is not there."""

    exit_code = 1

    def __init__(
        self, message: str, *, bootstrap_servers: str | None = None, topic: str | None = None
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        super().__init__(message)


class TopicNotFoundError(PreflightError):
    """The topic does not exist (the principal may describe it: the broker said so)."""


def _reason(exc: Exception) -> str:
    return _reason_of(exc.args[0] if exc.args else exc)


def _reason_of(err: Any) -> str:
    return err.str() if hasattr(err, "str") else str(err)


def check_access(
    settings: KafkaSettings,
    topic: str,
    operation: Operation,
    timeout_s: float,
    *,
    client_id: str | None = None,
    admin_factory: Callable[[dict[str, Any]], Any] | None = None,
) -> int:
    """:func:`check_topic` through a new ``AdminClient`` of ``settings`` (the service's Kafka
    settings) that reports to a :class:`ClientErrors`: the topic's partition count, or one
    sentence for a refused login, an untrusted CA, a TLS mismatch, a missing topic or ACL.
    ``admin_factory`` replaces ``AdminClient`` (a seam for tests)."""
    from confluent_kafka.admin import AdminClient

    errors = ClientErrors(settings)
    extra: dict[str, Any] = {"socket.timeout.ms": int(timeout_s * 1000)}
    if client_id is not None:
        extra["client.id"] = client_id
    admin = (admin_factory or AdminClient)(
        settings.kafka_config(**extra, **errors.client_settings())
    )
    return check_topic(
        admin, topic, settings.bootstrap_servers, timeout_s, errors=errors, operation=operation
    )


def check_topic(
    client: Any,
    topic: str,
    bootstrap_servers: str,
    timeout_s: float = BROKER_TIMEOUT_S,
    *,
    errors: ClientErrors | None = None,
    principal: str | None = None,
    operation: Operation | None = None,
) -> int:
    """Partition count of ``topic``; ``client`` is any confluent-kafka client (``list_topics``).

    ``errors`` is the client's ``error_cb`` (see :class:`ClientErrors`), ``principal`` its SASL
    user (default: the errors' settings'), ``operation`` what the service does with the topic
    (:func:`~txn_runtime.refusals.producing`, :func:`~txn_runtime.refusals.reading`; default:
    using it). An ``AdminClient`` is also asked for the principal's ACLs on the topic, so a
    missing permission is refused here rather than by the first fetch or produce.
    """
    operation = operation or Operation("using", topic)
    principal = principal or (errors.principal if errors is not None else None)
    metadata = _metadata(client, bootstrap_servers, timeout_s, errors, principal, operation)
    found = metadata.topics.get(topic)
    error = found.error if found is not None else None
    # Only these say the topic cannot be seen; another error on it (LEADER_NOT_AVAILABLE while
    # a broker is down and a leader is elected) is about a topic that exists.
    hidden = {"UNKNOWN_TOPIC_OR_PART", "TOPIC_AUTHORIZATION_FAILED"}
    missing = found is None or (error is not None and error.name() in hidden)
    refused = error if missing else None
    granted = None
    if missing or operation.acl:
        granted, answer = _authorized(client, topic, timeout_s)
        refused = refused or answer
    facts = {"bootstrap_servers": bootstrap_servers, "topic": topic}
    if refused is not None and refused.name() == "TOPIC_AUTHORIZATION_FAILED":
        raise PreflightError(access_refusal(principal, operation, "DESCRIBE", None), **facts)
    if missing:
        raise TopicNotFoundError(
            f"Topic {topic} does not exist on the broker at {bootstrap_servers}; check --topic "
            f"(or TXN_TOPIC), or create it (`txn-platform up` creates {TOPIC}; no service "
            "creates topics).",
            **facts,
        )
    if operation.acl and granted is not None and not {operation.acl, "ALL"} & set(granted):
        raise PreflightError(access_refusal(principal, operation, operation.acl, granted), **facts)
    return len(found.partitions)


def _metadata(
    client: Any,
    bootstrap_servers: str,
    timeout_s: float,
    errors: ClientErrors | None,
    principal: str | None,
    operation: Operation,
) -> Any:
    """The cluster's metadata, asked in slices until ``timeout_s``: between two, what the client
    reported may end the wait with its sentence."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout_s
    while True:
        started = time.monotonic()
        try:
            return client.list_topics(timeout=max(min(_SLICE_S, deadline - started), 0.01))
        except KafkaException as exc:
            failure = exc
        if errors is not None:
            if hasattr(client, "poll"):
                # librdkafka queues error_cb; a poll serves it (a consumer's, not subscribed to
                # anything, returns no message).
                client.poll(0)
            sentence = errors.diagnosis(bootstrap_servers, operation, principal)
            if sentence is not None:
                raise PreflightError(sentence, bootstrap_servers=bootstrap_servers) from failure
        now = time.monotonic()
        if now >= deadline:
            break
        time.sleep(max(0.0, min(_SLICE_S - (now - started), deadline - now)))
    raise PreflightError(
        f"The Kafka broker at {bootstrap_servers} could not be reached within {timeout_s:g} s "
        f"({_reason(failure)}){errors.unreachable_hint() if errors is not None else ''}; check "
        "KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers.",
        bootstrap_servers=bootstrap_servers,
    ) from failure


def _authorized(client: Any, topic: str, timeout_s: float) -> tuple[list[str] | None, Any]:
    """The ACL operations the client's principal has on ``topic`` (names; None when the client
    cannot ask or the broker does not say), and the error the broker answered instead."""
    if not hasattr(client, "describe_topics"):
        return None, None
    from confluent_kafka import KafkaException, TopicCollection

    futures = client.describe_topics(
        TopicCollection([topic]), include_authorized_operations=True, request_timeout=timeout_s
    )
    try:
        described = futures[topic].result(timeout=timeout_s + 1)
    except KafkaException as exc:
        return None, exc.args[0]
    except TimeoutError:
        return None, None
    ops = described.authorized_operations
    return ([op.name for op in ops] if ops is not None else None), None


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
