"""Topic figures from the broker: offsets per partition and, where readable, bytes on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from txn_runtime.connections import KafkaSettings
from txn_runtime.preflight import ClientErrors, check_topic, watermarks

__all__ = ["TopicStats", "topic_bytes", "topic_stats"]

TIMEOUT_S = 10.0


@dataclass
class TopicStats:
    """Start/end offsets per partition and the topic's size in the broker's log dirs."""

    start_offsets: dict[int, int]
    end_offsets: dict[int, int]
    bytes_on_disk: int | None

    @property
    def messages(self) -> dict[int, int]:
        return {p: self.end_offsets[p] - self.start_offsets[p] for p in self.end_offsets}


def topic_stats(kafka: KafkaSettings, topic: str, log_dirs: list[Path]) -> TopicStats:
    """Offsets from the broker; size from ``log_dirs`` (the brokers' ``log.dirs``) when given.

    The Kafka protocol's DescribeLogDirs is not exposed by confluent-kafka's Python client, so
    the size is read from the log directories of the local platform: the bytes of the segment
    (``.log``) files, what the project report called the topic's size. With replicas on several
    brokers it is the size of one copy: per partition, its largest replica.
    """
    from confluent_kafka import Consumer

    errors = ClientErrors()
    consumer = Consumer(
        kafka.kafka_config(
            **{
                "group.id": "txn-report",
                "enable.auto.commit": False,
                "socket.timeout.ms": int(TIMEOUT_S * 1000),
                "error_cb": errors,
            }
        )
    )
    try:
        partitions = check_topic(
            consumer,
            topic,
            kafka.bootstrap_servers,
            TIMEOUT_S,
            errors=errors,
            principal=kafka.kafka_sasl_username,
        )
        offsets = watermarks(consumer, topic, partitions, TIMEOUT_S)
    finally:
        consumer.close()
    size = topic_bytes(log_dirs, topic)
    starts = {p: low for p, (low, _high) in offsets.items()}
    ends = {p: high for p, (_low, high) in offsets.items()}
    return TopicStats(starts, ends, size)


def topic_bytes(log_dirs: list[Path], topic: str) -> int | None:
    """Bytes of one copy of ``topic`` in the brokers' ``log_dirs``: per partition, the segment
    (``.log``) bytes of its largest replica; None when no directory is there."""
    dirs = [d for d in log_dirs if d.is_dir()]
    if not dirs:
        return None
    replicas: dict[str, int] = {}
    for log_dir in dirs:
        for d in log_dir.glob(f"{topic}-*"):
            if not d.name.rsplit("-", 1)[-1].isdigit():
                continue
            # Segment data only: index files are preallocated (10 MB each) and would swamp it.
            n = sum(f.stat().st_size for f in d.glob("*.log"))
            replicas[d.name] = max(replicas.get(d.name, 0), n)
    return sum(replicas.values())
