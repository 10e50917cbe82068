"""The service runtime: what every service and CLI of this project repeats, defined once.

- :mod:`txn_runtime.cli`: the console entry wrapper (error -> one sentence -> exit code).
- :mod:`txn_runtime.settings`: typed settings (pydantic-settings), flags > environment >
  defaults, one sentence per bad value, secrets masked.
- :mod:`txn_runtime.connections`: Kafka (SASL/TLS) and registry (basic auth, CA) settings and
  their pass-through to librdkafka, Spark's Kafka source and the registry client.
- :mod:`txn_runtime.shared`: the topic, lake, Spark and trigger settings services share.
- :mod:`txn_runtime.options`: click options made from those settings, the shared ones defined once.
- :mod:`txn_runtime.preflight`: broker reachable, topic and its partitions, watermark offsets,
  contract version registered; one error type (:class:`~txn_runtime.preflight.PreflightError`).
- :mod:`txn_runtime.signals`: first SIGINT/SIGTERM finishes the unit of work, a second exits 130.
- :mod:`txn_runtime.streaming`: a Spark streaming query run until it ends or is asked to stop.
- :mod:`txn_runtime.durations`: ``10s``, ``5m`` as operators write them.
- :mod:`txn_runtime.maven`, :mod:`txn_runtime.jars`: the Spark jars at pinned versions.

Production jobs import this, never the development launcher (``local_platform``). Heavy
clients (confluent-kafka, pyspark) are imported where used.
"""

__all__: list[str] = []
