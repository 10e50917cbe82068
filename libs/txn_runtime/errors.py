"""The runtime's errors: failures of what it fetches and runs (Maven, the local platform).

They sit one level above the root of the tree, :class:`txn_contract.errors.TxnError`, which
the bottom library owns with the contract and registry errors; every CLI's entry wrapper
(:func:`txn_runtime.cli.entry_point`) turns any of them into one sentence and a non-zero exit.
"""

from __future__ import annotations

from txn_contract.errors import TxnError

__all__ = ["PlatformError"]


class PlatformError(TxnError):
    """The local platform (Kafka broker, schema registry) or a Maven artifact could not be
    fetched, started or reached."""
