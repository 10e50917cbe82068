"""``silver-refine``: the bronze Delta table, read as a stream -> quality rules from the contract,
exact deduplication by ``transaction_id`` with no time limit, event time and late flags ->
``LAKE/silver``, ``LAKE/silver_rejects`` and the per-batch audit ``LAKE/silver_audit``, exactly
once. See ``docs/silver.md``.
"""

__all__: list[str] = []
