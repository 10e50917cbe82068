"""txn_lake.delta_source: which errors restart a query over a Delta table, and how often."""

from __future__ import annotations

import pytest

from txn_contract.errors import TxnError
from txn_lake.delta_source import MAX_SCHEMA_RESTARTS, SCHEMA_CHANGED, SchemaRestarts


def test_only_a_schema_change_restarts_and_not_for_ever():
    restarts = SchemaRestarts("silver")
    assert restarts.after(RuntimeError("[STREAM_FAILED] disk full")) is False
    changed = RuntimeError(f"[{SCHEMA_CHANGED}] Detected schema change: bronze gained v3")
    assert all(restarts.after(changed) for _ in range(MAX_SCHEMA_RESTARTS))
    with pytest.raises(TxnError, match=r"^The silver query restarted 20 times on schema"):
        restarts.after(changed)
