"""Bronze ingest: Kafka -> Spark Structured Streaming (``from_avro`` with each message's writer
schema) -> Snappy Parquet bronze and quarantine, exactly once.

Modules: :mod:`.config` (validated settings), :mod:`.writer_schemas` (registry lookups),
:mod:`.decode` (per-message classification), :mod:`.sink` (Spark's exactly-once file sink per
output), :mod:`.job` (the streaming query), :mod:`.cli` (``bronze-ingest``).
"""

__all__: list[str] = []
