"""gold-signals' alert publisher with an in-process stand-in for the Kafka client: a full client
queue is waited out, and what cannot be handed over becomes one sentence (the alerts stay in
the alerts table; a restart publishes the batch again)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from confluent_kafka import KafkaError, KafkaException

from txn_contract.detectors import packaged_detectors
from txn_contract.errors import TxnError
from txn_gold.detect import Raised, Txn
from txn_gold.publish import AlertPublisher, alert_of

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _alerts(n: int):
    detectors = packaged_detectors()
    out = []
    for i in range(n):
        trigger = Txn(f"t{i}", 1_700_000_000_000 + i, "APPROVED", "POS", "Toronto", "CA",
                      Decimal("1.00"), "CAD")  # fmt: skip
        raised = Raised("velocity", f"c{i}", trigger, (f"t{i}",),
                        {"transaction_count": 5, "window_seconds": 600})  # fmt: skip
        out.append(alert_of(raised, detectors, NOW))
    return out


class _Client:
    """A Kafka client whose queue is full for the first ``full`` produce calls."""

    def __init__(self, full: int = 0, refuse: bool = False) -> None:
        self.full, self.refuse, self.sent, self.polls = full, refuse, [], 0

    def produce(self, topic, key, value, on_delivery):
        if self.refuse:
            raise KafkaException(KafkaError(KafkaError._UNKNOWN_TOPIC))
        if self.full:
            self.full -= 1
            raise BufferError("Local: Queue full")
        self.sent.append((topic, key))
        on_delivery(None, None)

    def poll(self, timeout):
        self.polls += 1

    def flush(self, timeout):
        return 0


def _publisher(client: _Client) -> AlertPublisher:
    pub = AlertPublisher({"bootstrap.servers": "127.0.0.1:9"}, "alerts", 7)
    pub.producer = client
    return pub


def test_a_full_queue_is_waited_out_and_every_alert_sent():
    client = _Client(full=3)
    assert _publisher(client).publish(_alerts(2)) == 2
    assert client.sent == [("alerts", b"c0"), ("alerts", b"c1")]
    assert client.polls >= 3


def test_a_refused_alert_is_one_sentence_naming_the_topic():
    with pytest.raises(TxnError) as err:
        _publisher(_Client(refuse=True)).publish(_alerts(1))
    assert str(err.value).startswith("Alerts could not be handed to the Kafka client for topic")
    assert "a restart publishes the batch again" in str(err.value)


def test_a_queue_that_stays_full_gives_up_at_the_time_limit():
    with pytest.raises(TxnError, match="topic alerts"):
        _publisher(_Client(full=10**9)).publish(_alerts(1), timeout_s=0.3)
