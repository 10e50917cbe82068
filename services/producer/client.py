"""The producer's Kafka client settings, chosen by measurement (docs/performance.md)."""

from __future__ import annotations

from typing import Any

from .config import ProducerSettings

__all__ = ["KAFKA_SETTINGS", "kafka_config"]

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
