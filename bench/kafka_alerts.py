"""Event -> alert *on Kafka* (issue 20's latency target): each alert message's Kafka timestamp
minus the event time of the transaction that raised it.

The message timestamp is the topic's default ``CreateTime``: the time gold-signals' producer
called ``produce()`` for the alert, after the alerts' Delta commit. The broker's append and
acknowledgement follow within the producer's linger (5 ms) and a round trip, which this leaves
out; the job waits for every acknowledgement before its next batch. The alerts are decoded with
the packaged alerts contract (Confluent framing), the schema the job registered and published
with.
"""

from __future__ import annotations

from datetime import datetime

from txn_lake.latency import RowLatencies

__all__ = ["kafka_alert_latencies"]


def _messages(bootstrap: str, topic: str, timeout_s: float = 30) -> list:
    """Every message of ``topic``, each partition read from its start to its end offset."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-latency", "enable.auto.commit": False}
    )
    try:
        parts = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout_s) for p in parts
        }
        todo = {p: hi for p, (lo, hi) in ends.items() if hi > lo}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in todo])
        out = []
        while todo:
            msg = consumer.poll(timeout_s)
            if msg is None:
                raise SystemExit(f"alerts topic {topic}: no message in {timeout_s:g} s")
            if msg.error():
                raise SystemExit(f"alerts topic {topic}: {msg.error()}")
            out.append(msg)
            if msg.offset() + 1 >= todo.get(msg.partition(), 0):
                todo.pop(msg.partition(), None)
        return out
    finally:
        consumer.close()


def _ms(value: datetime | int) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)


def kafka_alert_latencies(bootstrap: str, topic: str, since_ms: int | None) -> RowLatencies:
    """Per alert on ``topic`` whose trigger's event time is at or after ``since_ms``: its
    message timestamp minus that event time. ``commits`` and ``writer_commits`` both count the
    distinct seconds the measured alerts were sent in (a Kafka topic has no commits); alerts of
    the warm-up are left out, as the Delta legs leave out their rows."""
    import pyarrow as pa

    from txn_contract import packaged_contract, wire
    from txn_contract.alerts import SUBJECT

    parsed = packaged_contract(SUBJECT).latest.parsed
    latencies, seconds = [], set()
    for msg in _messages(bootstrap, topic):
        event_ms = _ms(wire.decode(msg.value(), parsed)["event_time"])
        if since_ms is not None and event_ms < since_ms:
            continue
        sent_ms = msg.timestamp()[1]
        latencies.append(sent_ms - event_ms)
        seconds.add(sent_ms // 1000)
    return RowLatencies(pa.array(latencies, pa.int64()), len(seconds), len(seconds), 0)
