"""One plain, valid contract v2 record for tests that need many events that differ only in a
field or two (ids, amounts), and a helper that frames and produces them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["V2_RECORD", "produce_records", "record"]

V2_RECORD: dict[str, Any] = {
    "transaction_id": "t-0",
    "timestamp": 1_764_000_000_000,
    "customer_id": "C1",
    "merchant_id": "M1",
    "amount": Decimal("1.00"),
    "currency": "CAD",
    "channel": "POS",
    "city": "Toronto",
    "country": "CA",
    "device_id": "D1",
    "status": "APPROVED",
    "merchant_category_code": "5411",
    "province": "CA-ON",
}


def record(i: int, **overrides: Any) -> dict[str, Any]:
    """Record number ``i``: its own transaction_id, one of 97 customers, amount i/100."""
    return {
        **V2_RECORD,
        "transaction_id": f"t-{i}",
        "customer_id": f"C{i % 97}",
        "amount": Decimal(i) / 100,
        **overrides,
    }


def produce_records(bootstrap: str, topic: str, schema_id: int, records) -> int:
    """Frame each record with contract v2 and ``schema_id``, produce it keyed by customer;
    returns how many were delivered (all of them, or the assertion fails)."""
    from confluent_kafka import Producer

    from txn_contract import packaged_contract, wire

    parsed = packaged_contract().latest.parsed
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    n = 0
    for rec in records:
        producer.produce(
            topic, key=rec["customer_id"].encode(), value=wire.encode(rec, parsed, schema_id)
        )
        n += 1
        if n % 5000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return n
