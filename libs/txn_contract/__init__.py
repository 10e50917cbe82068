"""The transaction data contract, as every producer and consumer imports it.

- :class:`Transaction`, :class:`Channel`, :class:`Status`: the typed event (generated from
  ``contracts/``; see :mod:`txn_contract.model`).
- :func:`packaged_contract`: every released version's schema and the subject's policy (the
  transaction stream's by default; :func:`packaged_contracts`: every packaged subject's).
- :mod:`txn_contract.alerts`: the alerts' contract (``contracts/bank_txn_alerts-value``),
  generated like the stream's: the typed ``Alert``, its enums and encoders;
  :mod:`txn_contract.detectors`: the detectors declared beside it and the alerts' ids.
- :mod:`txn_contract.wire`: Confluent framing, encode/decode with fastavro.
- :data:`ENCODERS`: every released version's Avro encoder, generated from ``contracts/`` (see
  :mod:`txn_contract.encoders`): fastavro's bytes without fastavro.
- :mod:`txn_contract.segmented`: a producer's fast path, framed values joined from pre-encoded
  entity segments with a version's generated encoder.
- :mod:`txn_contract.registry`: register the contract, look up a compiled version's id.
- :mod:`txn_contract.strategies`: hypothesis strategies for valid events of each version.
- :mod:`txn_contract.compatibility`: the offline compatibility checker behind
  ``txn-contract check``.

Example::

    from txn_contract import Transaction, packaged_contract, wire
    contract = packaged_contract()
    frame = wire.encode(event.to_avro(1), contract.version(1).parsed, schema_id)
"""

from .contract import (
    Contract,
    ContractVersion,
    load_contract,
    load_contracts,
    packaged_contract,
    packaged_contracts,
)
from .encoders import ENCODERS
from .errors import TxnError
from .model import LATEST_VERSION, SUBJECT, TOPIC, Channel, Status, Transaction

__all__ = [
    "ENCODERS",
    "LATEST_VERSION",
    "SUBJECT",
    "TOPIC",
    "Channel",
    "Contract",
    "ContractVersion",
    "Status",
    "Transaction",
    "TxnError",
    "load_contract",
    "load_contracts",
    "packaged_contract",
    "packaged_contracts",
]
