"""The service runtime: what every service and CLI of this project repeats, defined once.

- :mod:`txn_runtime.cli`: the console entry wrapper (error -> one sentence -> exit code).
- :mod:`txn_runtime.settings`: typed settings (pydantic-settings), flags > environment >
  defaults, one sentence per bad value, secrets masked.
- :mod:`txn_runtime.connections`: Kafka (SASL/TLS) and registry (basic auth, CA) settings and
  their pass-through to librdkafka, Spark's Kafka source and the registry client.
- :mod:`txn_runtime.shared`: the topic, lake, Spark and trigger settings services share.
- :mod:`txn_runtime.options`: click options made from those settings, the shared ones defined once.
- :mod:`txn_runtime.preflight`: broker reachable, topic and its partitions, watermark offsets;
  one error type (:class:`~txn_runtime.preflight.PreflightError`). Whether the contract version
  is registered is ``txn_contract.registry.lookup_schema_id``'s to say.
- :mod:`txn_runtime.signals`: first SIGINT/SIGTERM finishes the unit of work, a second exits 130.
- :mod:`txn_runtime.streaming`: the streaming-job skeleton (:class:`~txn_runtime.streaming.StreamingJob`)
  and its queries, run alone or together in one application until they end or are asked to stop.
- :mod:`txn_runtime.durations`: ``10s``, ``5m`` as operators write them.
- :mod:`txn_runtime.maven`, :mod:`txn_runtime.jars`: the Spark jars at pinned versions.
- :mod:`txn_runtime.errors`: :class:`~txn_runtime.errors.PlatformError`, under the root
  :class:`txn_contract.errors.TxnError`.
- :mod:`txn_runtime.contract_cli`: ``txn-contract`` (generate, check, register), with its live
  registry check :mod:`txn_runtime.live_check`; here because it needs the runtime's registry
  settings, and ``txn_contract`` imports none of the other libraries.

Production jobs import this, never the development launcher (``local_platform``). It imports
``txn_contract`` and no other library of ours (docs/architecture.md, "Packages"). Heavy
clients (confluent-kafka, pyspark) are imported where used.
"""

__all__: list[str] = []
