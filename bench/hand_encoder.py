"""The producer's encoder before issue 18, kept as a benchmark baseline (imported by the bench
scripts, which run as ``python bench/<name>.py`` and so find this module beside them).

Issue 18 replaced it with the generated encoder (``txn_contract.encoders``) joined by
``txn_contract.segmented``; ``bench/bench_codec.py`` measures both in the same run.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HandEncoder"]


class HandEncoder:
    """``txn_producer.encoding.EventEncoder`` as it was before issue 18 (commit ae13e17): the
    field order pinned by hand to version 2. Kept here only as the baseline the generated
    encoder and ``txn_contract.segmented``'s join are measured against; do not use it."""

    def __init__(self, population: Any, cv: Any, schema_id: int) -> None:
        from txn_contract import wire
        from txn_contract.model import FIELDS_BY_VERSION
        from txn_contract.segments import FieldEncoder, encode_long

        if cv.field_names != FIELDS_BY_VERSION[2]:
            raise ValueError("the hand encoder knows version 2's field order only")
        fields = FieldEncoder(cv.schema)
        place, tail = (
            ("currency", "channel", "city", "country"),
            ("merchant_category_code", "province"),
        )
        self._encode_long = encode_long
        self._head = wire.frame(schema_id, b"") + encode_long(36)
        self._customer = [fields.encode("customer_id", c.customer_id) for c in population.customers]
        self._device = [fields.encode("device_id", d.device_id) for d in population.devices]
        self._merchant_id: list[bytes] = []
        self._merchant_place: list[bytes] = []
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
            self._merchant_place.append(fields.encode_fields(record, place))
            extra = fields.encode_fields(record, tail)
            self._merchant_tail.append(
                (
                    fields.encode("status", "APPROVED") + extra,
                    fields.encode("status", "DECLINED") + extra,
                )
            )
        self._amount_len = [(2 * w) << (8 * w) for w in range(9)]
        self._last_ms = -1
        self._last_ts = b""

    def messages(
        self, draws: list[Any], timestamps_ms: list[int] | None = None
    ) -> list[tuple[bytes, bytes]]:
        """The loop of the hand encoder, unchanged."""
        from binascii import hexlify
        from time import time_ns

        encode_long = self._encode_long
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
                last_ms, last_ts = ms, encode_long(ms)
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
