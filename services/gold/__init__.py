"""``gold-signals``: silver's Delta table, read as a stream -> per-merchant hourly and per-customer
daily aggregates (``LAKE/gold_merchant_hourly``, ``LAKE/gold_customer_daily``, exact and late-
tolerant) and the alerts of the detectors of ``contracts/bank_txn_alerts-value/detectors.yaml``
(``LAKE/alerts``, exactly once, and Kafka topic ``bank_txn_alerts``, at least once). See
``docs/gold.md``.
"""

__all__: list[str] = []
