"""Hypothesis strategies for valid events of every released contract version.

Example::

    from hypothesis import given
    from txn_contract.strategies import events

    @given(events(version=1))
    def test_round_trip(event): ...
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # a runtime install (a service image) leaves hypothesis out
    raise ImportError(
        "txn_contract.strategies needs hypothesis, which the `testing` extra installs: "
        "pip install 'txn-pipeline[testing]'"
    ) from exc

from .contract import packaged_contract

__all__ = ["avro_records", "events"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _for_type(avro: Any) -> st.SearchStrategy:
    if isinstance(avro, list):
        return st.one_of(*[_for_type(b) for b in avro])
    if isinstance(avro, dict):
        logical = avro.get("logicalType")
        if logical == "decimal":
            precision, scale = avro["precision"], avro.get("scale", 0)
            bound = 10**precision - 1
            return st.integers(-bound, bound).map(lambda u: Decimal(u).scaleb(-scale))
        if logical == "timestamp-millis":
            # Whole milliseconds between 1970 and 2100: what the type can carry exactly.
            return st.integers(0, 4_102_444_800_000).map(
                lambda ms: _EPOCH + timedelta(milliseconds=ms)
            )
        if avro["type"] == "enum":
            return st.sampled_from(avro["symbols"])
        return _for_type(avro["type"])
    simple = {
        "null": st.none(),
        "string": st.text(max_size=40),
        "long": st.integers(-(2**63), 2**63 - 1),
        "int": st.integers(-(2**31), 2**31 - 1),
        "boolean": st.booleans(),
        "double": st.floats(allow_nan=False),
        "bytes": st.binary(max_size=40),
    }
    return simple[avro]


# Fields whose contract docs promise a shape: generate that shape, not arbitrary text.
_SHAPED = {
    "transaction_id": st.uuids().map(str),
    "currency": st.sampled_from(["CAD", "USD", "EUR", "GBP", "MXN"]),
    "country": st.sampled_from(["CA", "US", "GB", "FR", "MX"]),
    "merchant_category_code": st.none() | st.from_regex(r"\A[0-9]{4}\Z"),
    "province": st.none() | st.sampled_from(["CA-ON", "CA-QC", "CA-BC", "US-NY"]),
}


def avro_records(version: int | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts that fastavro writes with released ``version`` (default: latest)."""
    contract = packaged_contract()
    cv = contract.version(version) if version else contract.latest
    return st.fixed_dictionaries(
        {f["name"]: _SHAPED.get(f["name"], _for_type(f["type"])) for f in cv.schema["fields"]}
    )


def events(version: int | None = None) -> st.SearchStrategy:
    """Typed :class:`txn_contract.Transaction` events carrying only ``version``'s fields."""
    from .model import Transaction

    return avro_records(version).map(Transaction.from_avro)
