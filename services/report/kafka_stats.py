"""Topic figures from the broker: offsets per partition and, where readable, bytes on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from txn_runtime.connections import KafkaSettings
from txn_runtime.preflight import check_topic, watermarks

__all__ = ["TopicStats", "topic_stats"]

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


def topic_stats(kafka: KafkaSettings, topic: str, log_dir: Path | None) -> TopicStats:
    """Offsets from the broker; size from ``log_dir`` (the broker's ``log.dirs``) when given.

    The Kafka protocol's DescribeLogDirs is not exposed by confluent-kafka's Python client, so
    the size is read from the log directory of the local platform: the bytes of its segment
    (``.log``) files, what the project report called the topic's size.
    """
    from confluent_kafka import Consumer

    consumer = Consumer(
        kafka.kafka_config(
            **{
                "group.id": "txn-report",
                "enable.auto.commit": False,
                "socket.timeout.ms": int(TIMEOUT_S * 1000),
            }
        )
    )
    try:
        partitions = check_topic(consumer, topic, kafka.bootstrap_servers, TIMEOUT_S)
        offsets = watermarks(consumer, topic, partitions, TIMEOUT_S)
    finally:
        consumer.close()
    size = None
    if log_dir is not None and log_dir.is_dir():
        size = sum(
            f.stat().st_size
            for d in log_dir.glob(f"{topic}-*")
            if d.name.rsplit("-", 1)[-1].isdigit()
            # Segment data only: index files are preallocated (10 MB each) and would swamp it.
            for f in d.glob("*.log")
        )
    starts = {p: low for p, (low, _high) in offsets.items()}
    ends = {p: high for p, (_low, high) in offsets.items()}
    return TopicStats(starts, ends, size)
