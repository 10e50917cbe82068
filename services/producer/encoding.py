"""Confluent-framed Avro values of drawn events, assembled from pre-encoded segments.

fastavro encodes about 85,000 whole records a second on the reference machine, which alone
would cap the producer below its target. But an Avro record is the concatenation of its fields
in schema order, and most fields of an event belong to an entity that repeats (the customer, the
merchant with its city, currency and category, the device). So every entity's fields are
encoded once, by fastavro itself through :class:`txn_contract.segments.FieldEncoder`, and each
event only encodes its transaction id, timestamp, amount and status. The tests prove the bytes
equal fastavro's encoding of the same record for every released contract version.

Layout of a value (v2; v1 stops after ``status``)::

    header(5) | transaction_id | timestamp | customer_id | merchant_id | amount
              | currency channel city country | device_id | status | mcc province
"""

from __future__ import annotations

from txn_contract import wire
from txn_contract.contract import ContractVersion
from txn_contract.errors import TxnError
from txn_contract.model import FIELDS_BY_VERSION
from txn_contract.segments import FieldEncoder, encode_long

from .generator import Draw
from .population import Population

__all__ = ["EventEncoder", "UnsupportedContractError"]

# The field order this encoder assembles: version 2's (the contract's, pinned here on purpose:
# a newer version is refused until the encoder learns it); released versions are prefixes of it.
_LAYOUT = FIELDS_BY_VERSION[2]
_MERCHANT_PLACE = ("currency", "channel", "city", "country")
_MERCHANT_TAIL = ("merchant_category_code", "province")


class UnsupportedContractError(TxnError):
    """The contract version's fields are not the ones this encoder knows how to assemble."""


class EventEncoder:
    """Encodes draws as framed values of contract version ``cv`` under ``schema_id``.

    Example::

        enc = EventEncoder(population, packaged_contract().version(2), schema_id=2)
        value = enc.value(draw, timestamp_ms)
    """

    def __init__(self, population: Population, cv: ContractVersion, schema_id: int) -> None:
        names = cv.field_names
        if names != _LAYOUT[: len(names)] or len(names) < _LAYOUT.index("status") + 1:
            raise UnsupportedContractError(
                f"Contract version {cv.version} has fields {list(names)}, which the producer's "
                f"encoder cannot assemble; it knows the field order {list(_LAYOUT)}."
            )
        self.version = cv.version
        self.schema_id = schema_id
        fields = FieldEncoder(cv.schema)
        tail = tuple(n for n in _MERCHANT_TAIL if n in names)
        # A transaction id is always 36 ASCII characters: its length prefix is a constant.
        self._head = wire.frame(schema_id, b"") + encode_long(36)
        self._customer = [fields.encode("customer_id", c.customer_id) for c in population.customers]
        self._device = [fields.encode("device_id", d.device_id) for d in population.devices]
        self._merchant_id: list[bytes] = []
        self._merchant_place: list[bytes] = []
        # Per merchant: (status APPROVED + tail, status DECLINED + tail), indexed by `declined`.
        self._merchant_tail: list[tuple[bytes, bytes]] = []
        for m in population.merchants:
            record = {
                "merchant_id": m.merchant_id,
                "currency": m.currency,
                "channel": m.channel.value,
                "city": m.city.name,
                "country": m.country,
                "merchant_category_code": m.mcc,
                "province": m.province,
            }
            self._merchant_id.append(fields.encode("merchant_id", m.merchant_id))
            self._merchant_place.append(fields.encode_fields(record, _MERCHANT_PLACE))
            extra = fields.encode_fields(record, tail)
            self._merchant_tail.append(
                (
                    fields.encode("status", "APPROVED") + extra,
                    fields.encode("status", "DECLINED") + extra,
                )
            )
        # A decimal is its byte length (a zig-zag varint, one byte below 64) then its bytes:
        # for widths up to 8 both are made by one to_bytes of (length << 8 * width | cents).
        self._amount_len = [(2 * w) << (8 * w) for w in range(9)]
        self._last_ms = -1
        self._last_ts = b""

    def value(self, draw: Draw, timestamp_ms: int) -> bytes:
        """The framed Avro value of ``draw`` at ``timestamp_ms`` (ms since the epoch, UTC)."""
        return self.messages([draw], [timestamp_ms])[0][1]

    def messages(
        self, draws: list[Draw], timestamps_ms: list[int] | None = None
    ) -> list[tuple[bytes, bytes]]:
        """``(key, value)`` of each draw: the key is the customer id in UTF-8. Timestamps are
        taken from ``timestamps_ms``, or from the wall clock as each event is encoded.

        Amounts must be positive, as the generator's bounds guarantee (the amount's bytes are
        built without a sign step).
        """
        from binascii import hexlify
        from time import time_ns

        head = self._head
        customers, devices = self._customer, self._device
        merchant_ids, places, tails = self._merchant_id, self._merchant_place, self._merchant_tail
        amount_len = self._amount_len
        to_bytes = int.to_bytes
        last_ms, last_ts = self._last_ms, self._last_ts
        out = []
        append = out.append
        for n, (customer, device, merchant, cents, declined, id_bits) in enumerate(draws):
            ms = time_ns() // 1_000_000 if timestamps_ms is None else timestamps_ms[n]
            if ms != last_ms:
                # At full speed a hundred events share a millisecond: encode it once.
                last_ms, last_ts = ms, encode_long(ms)
            # Hex in 2-byte groups, "aaaa-bbbb-cccc-dddd-eeee-ffff-gggg-hhhh", regrouped
            # below into the canonical 8-4-4-4-12 form (cheaper than formatting).
            h = hexlify(id_bits.to_bytes(16, "big"), b"-", -2)
            width = (cents.bit_length() + 8) >> 3
            i = merchant.index
            append(
                (
                    customer.key,
                    b"".join(
                        (
                            head,
                            h[:4],
                            h[5:25],
                            h[25:29],
                            h[30:34],
                            h[35:],
                            last_ts,
                            customers[customer.index],
                            merchant_ids[i],
                            # cents > 0 and width leaves its top bit clear: no sign to mask.
                            to_bytes(amount_len[width] | cents, width + 1, "big"),
                            places[i],
                            devices[device.index],
                            tails[i][declined],
                        )
                    ),
                )
            )
        self._last_ms, self._last_ts = last_ms, last_ts
        return out
