"""Alerts as the contract's :class:`~txn_contract.alerts.Alert`, as lake rows, and on Kafka.

Kafka gets each alert after the alerts table committed it: keyed by ``customer_id``,
Confluent-framed Avro under the registered schema id of the alert contract's latest version,
with an idempotent producer (acks=all). That is at least once: a batch redone after a crash
between the commit and the delivery publishes its alerts again, with the same ``alert_id``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from txn_contract.alerts import ENCODERS, LATEST_VERSION, Alert, Detector, Severity
from txn_contract.detectors import DetectorSet
from txn_contract.errors import TxnError

from .detect import Raised

__all__ = ["AlertPublisher", "alert_of", "alert_row", "alert_rows_to_alerts"]

_LAKE_ONLY = ("event_date", "batch_id")


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def alert_of(raised: Raised, detectors: DetectorSet, detected_at: datetime) -> Alert:
    """The contract's alert of ``raised``."""
    spec = detectors.by_id(raised.detector)
    return Alert(
        alert_id=raised.alert_id,
        detector=Detector(raised.detector),
        severity=Severity(spec.severity),
        customer_id=raised.customer_id,
        transaction_id=raised.trigger.transaction_id,
        transaction_ids=list(raised.evidence),
        event_time=_utc(raised.trigger.ts_ms),
        detected_at=detected_at,
        detectors_version=detectors.version,
        **raised.fields,
    )


def alert_row(alert: Alert, batch_id: int) -> dict[str, Any]:
    """The alerts table's row of ``alert``: its fields, the trigger's event date, the batch."""
    row = alert.to_avro(LATEST_VERSION)
    row["event_date"] = alert.event_time.date()
    row["batch_id"] = batch_id
    return row


def alert_rows_to_alerts(rows: Iterable[dict[str, Any]]) -> list[Alert]:
    """Alerts table rows back to alerts (to publish a committed batch again)."""
    out = []
    for row in rows:
        values = {k: v for k, v in row.items() if k not in _LAKE_ONLY}
        for key in ("event_time", "detected_at"):
            if values[key].tzinfo is None:
                values[key] = values[key].replace(tzinfo=UTC)
        out.append(Alert.from_avro(values))
    return out


class AlertPublisher:
    """An idempotent Kafka producer of framed alerts to ``topic`` under ``schema_id``."""

    def __init__(self, kafka_config: dict[str, Any], topic: str, schema_id: int) -> None:
        from confluent_kafka import Producer

        conf = {"enable.idempotence": True, "acks": "all", "linger.ms": 5, **kafka_config}
        self.producer = Producer(conf)
        self.topic = topic
        self.schema_id = schema_id
        self.encoder = ENCODERS[LATEST_VERSION]

    def publish(self, alerts: list[Alert], timeout_s: float = 30.0) -> int:
        """Send ``alerts`` and wait for every delivery; :class:`TxnError` when one failed."""
        errors: list[str] = []

        def delivered(err, _msg) -> None:
            if err is not None:
                errors.append(str(err))

        from confluent_kafka import KafkaException

        deadline = time.monotonic() + timeout_s
        try:
            for alert in alerts:
                value = self.encoder.frame(alert.to_avro(LATEST_VERSION), self.schema_id)
                key = alert.customer_id.encode()
                while True:
                    try:
                        self.producer.produce(
                            self.topic, key=key, value=value, on_delivery=delivered
                        )
                        break
                    except BufferError:
                        # The client's queue is full (a replay of a big batch): serve
                        # deliveries until there is room, within the same time limit.
                        if time.monotonic() > deadline:
                            raise
                        self.producer.poll(0.1)
                self.producer.poll(0)
        except (BufferError, KafkaException) as exc:
            raise TxnError(
                f"Alerts could not be handed to the Kafka client for topic {self.topic} "
                f"({exc}); they are in the alerts table, and a restart publishes the batch again."
            ) from exc
        left = self.producer.flush(max(0.0, deadline - time.monotonic()))
        if errors or left:
            raise TxnError(
                f"{len(errors) + left} of {len(alerts)} alert(s) were not delivered to topic "
                f"{self.topic} ({errors[0] if errors else f'{left} still queued after {timeout_s:g} s'});"
                " they are in the alerts table, and a restart publishes the batch again."
            )
        return len(alerts)
