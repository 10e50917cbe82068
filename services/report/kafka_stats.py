"""Topic figures from the broker: offsets per partition and, where readable, bytes on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from txn_contract.errors import TxnError

__all__ = ["TopicStats", "topic_stats"]


@dataclass
class TopicStats:
    """Start/end offsets per partition and the topic's size in the broker's log dirs."""

    start_offsets: dict[int, int]
    end_offsets: dict[int, int]
    bytes_on_disk: int | None

    @property
    def messages(self) -> dict[int, int]:
        return {p: self.end_offsets[p] - self.start_offsets[p] for p in self.end_offsets}


def topic_stats(bootstrap: str, topic: str, log_dir: Path | None) -> TopicStats:
    """Offsets from the broker; size from ``log_dir`` (the broker's ``log.dirs``) when given.

    The Kafka protocol's DescribeLogDirs is not exposed by confluent-kafka's Python client, so
    the size is read from the log directory of the local platform: the bytes of its segment
    (``.log``) files, what the project report called the topic's size.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "txn-report",
            "enable.auto.commit": False,
            "socket.timeout.ms": 10000,
        }
    )
    try:
        md = consumer.list_topics(topic, timeout=10)
        if topic not in md.topics or md.topics[topic].error is not None:
            raise TxnError(f"Topic {topic} does not exist on the broker at {bootstrap}.")
        starts, ends = {}, {}
        for p in sorted(md.topics[topic].partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            starts[p], ends[p] = low, high
    except KafkaException as exc:
        raise TxnError(
            f"The Kafka broker at {bootstrap} could not be reached ({exc}); check "
            "KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers."
        ) from exc
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
    return TopicStats(starts, ends, size)
