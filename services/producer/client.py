"""The producer's Kafka client settings, chosen by measurement (docs/performance.md), and its
start-up check of the broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from txn_runtime.preflight import check_access
from txn_runtime.refusals import producing

from .config import ProducerSettings

__all__ = ["BROKER_CHECK_TIMEOUT_S", "KAFKA_SETTINGS", "check_broker", "kafka_config"]

# Together with start-up (~1.5 s) and the registry look-up, well inside the promised 15 s. A
# refused login or an untrusted certificate ends the check as soon as the client reports it.
BROKER_CHECK_TIMEOUT_S = 8.0

# Chosen by measurement on the reference machine (docs/performance.md, "Producer"): lz4 costs
# the least CPU per byte saved here, and 64 KiB batches lingering 20 ms keep the producer's
# one Python thread, not the broker, the bottleneck at full speed while adding at most 20 ms of
# latency at low rates.
KAFKA_SETTINGS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 20,
    "batch.size": 262_144,
    # Java-compatible key hashing: a customer lands on the same partition whichever client
    # (Java, librdkafka) produced the event.
    "partitioner": "murmur2_random",
    # Room for a couple of seconds of full-speed output before produce() pushes back.
    "queue.buffering.max.messages": 500_000,
}


def kafka_config(config: ProducerSettings) -> dict[str, Any]:
    """The confluent-kafka Producer settings for ``config`` (without callbacks)."""
    return config.kafka_config(**{"client.id": "txn-producer", **KAFKA_SETTINGS})


def check_broker(
    config: ProducerSettings,
    admin_factory: Callable[[dict[str, Any]], Any] | None = None,
    timeout_s: float | None = None,
) -> int:
    """The topic's partition count, once the broker has accepted the principal and said that
    the topic exists and that the principal may write it; else a ``PreflightError`` sentence.

    Asked through an ``AdminClient`` (``admin_factory``, a seam for tests), the client that can
    describe the principal's ACLs on the topic: a missing Write is refused before any event.
    ``timeout_s`` defaults to :data:`BROKER_CHECK_TIMEOUT_S`.
    """
    return check_access(
        config,
        config.topic,
        producing(config.topic),
        timeout_s or BROKER_CHECK_TIMEOUT_S,
        client_id="txn-producer",
        admin_factory=admin_factory,
    )
