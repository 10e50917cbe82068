"""What every service repeats, defined once: fetching and caching the jars a Spark job needs.

- :mod:`txn_runtime.maven`: Maven Central through Maven, cached outside the clone.
- :mod:`txn_runtime.jars`: Spark's Kafka and Avro connectors and Delta Lake, at pinned versions.

Production jobs import this, never the development launcher (``local_platform``).
"""

__all__: list[str] = []
