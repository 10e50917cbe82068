"""Confluent-framed Avro values of drawn events, joined from pre-encoded segments.

fastavro encodes about 85,000 whole records a second on the reference machine, which alone
would cap the producer below its target. But an Avro record is the concatenation of its fields
in schema order, and most fields of an event belong to an entity that repeats (the customer, the
merchant with its city, currency and category, the device). So the producer declares which
contract fields each entity supplies and in which form the per-event ones come (transaction id,
timestamp, amount, status), and :class:`txn_contract.segmented.SegmentLayout` joins them for
whichever released version runs, with that version's generated encoder
(:mod:`txn_contract.encoders`): its schema decides the field order, and a field the producer does
not know takes its Avro default. So a new contract version needs ``txn-contract generate``, not
an edit here. The tests prove the bytes equal fastavro's encoding of the same record for every
released contract version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from txn_contract import Status
from txn_contract.contract import ContractVersion
from txn_contract.encoders import ENCODERS
from txn_contract.errors import TxnError
from txn_contract.segmented import (
    ENCODED,
    MILLIS,
    UUID_BITS,
    Form,
    OneOf,
    SegmentLayout,
    Unscaled,
)
from txn_contract.segments import RecordEncoder

from .generator import Draw
from .population import Population

__all__ = ["ENTITY_FIELDS", "PER_EVENT", "EventEncoder", "UnsupportedContractError"]

# The contract fields each entity of the population supplies, and how to read each off the
# entity. Their order does not matter: the contract version's schema decides it. Customers and
# their devices are derived lazily (tens of millions of them), so they are not pre-encoded
# tables: each carries its id already encoded as an Avro string (``avro_id``).
ENTITY_FIELDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "merchant": {
        "merchant_id": attrgetter("merchant_id"),
        "currency": attrgetter("currency"),
        "channel": attrgetter("channel"),
        "city": attrgetter("city.name"),
        "country": attrgetter("country"),
        "merchant_category_code": attrgetter("mcc"),
        "province": attrgetter("province"),
    },
}
# The fields drawn per event, in the form the hot loop hands them over (a draw's id bits, the
# timestamp in ms, the amount in cents, `declined` as the index of the status).
PER_EVENT: dict[str, Form] = {
    "customer_id": ENCODED,
    "device_id": ENCODED,
    "transaction_id": UUID_BITS,
    "timestamp": MILLIS,
    "amount": Unscaled(2),
    "status": OneOf((Status.APPROVED, Status.DECLINED)),
}


class UnsupportedContractError(TxnError):
    """The contract version is not one :mod:`txn_contract.encoders` was generated from."""


class EventEncoder:
    """Encodes draws as framed values of contract version ``cv`` under ``schema_id``.

    ``encoders`` are the generated encoders by version (default: :mod:`txn_contract.encoders`'s);
    ``cv`` must be exactly the schema its version's encoder was generated from.

    Example::

        enc = EventEncoder(population, packaged_contract().version(2), schema_id=2)
        value = enc.value(draw, timestamp_ms)
    """

    def __init__(
        self,
        population: Population,
        cv: ContractVersion,
        schema_id: int,
        *,
        encoders: Mapping[int, RecordEncoder] | None = None,
    ) -> None:
        record = (ENCODERS if encoders is None else encoders).get(cv.version)
        if record is None or not record.describes(cv.schema):
            raise UnsupportedContractError(
                f"Contract version {cv.version} ({cv.path}) is not the schema txn_contract.encoders "
                "was generated from for that version; run `txn-contract generate`."
            )
        for name in ("customer_id", "device_id"):
            if name in record.field_names and record.field(name).avro_type != "string":
                raise UnsupportedContractError(
                    f"Field {name!r} of contract version {cv.version} is "
                    f"{record.field(name).avro_type}; the producer pre-encodes it as a string."
                )
        self.version = cv.version
        self.schema_id = schema_id
        layout = SegmentLayout(record, ENTITY_FIELDS, PER_EVENT)
        rows = {"merchant": population.merchants}
        # Called as join(merchant, customer_id, device_id, transaction_id, timestamp, amount,
        # status): the merchant's index, then the per-event fields, in the declarations' order.
        self._join = layout.compile(schema_id, rows)

    def value(self, draw: Draw, timestamp_ms: int) -> bytes:
        """The framed Avro value of ``draw`` at ``timestamp_ms`` (ms since the epoch, UTC)."""
        return self.messages([draw], [timestamp_ms])[0][1]

    def messages(
        self, draws: list[Draw], timestamps_ms: list[int] | None = None
    ) -> list[tuple[bytes, bytes]]:
        """``(key, value)`` of each draw: the key is the customer id in UTF-8. Timestamps are
        taken from ``timestamps_ms``, or from the wall clock as each event is encoded."""
        from time import time_ns

        join = self._join
        out = []
        append = out.append
        for n, (customer, device, merchant, cents, declined, id_bits) in enumerate(draws):
            ms = time_ns() // 1_000_000 if timestamps_ms is None else timestamps_ms[n]
            value = join(
                merchant.index, customer.avro_id, device.avro_id, id_bits, ms, cents, declined
            )
            append((customer.key, value))
        return out
