"""The lake: every table of the pipeline as a Delta table, and the one library that knows them.

- :mod:`txn_lake.layout`: table names and paths under ``LAKE``, checkpoints.
- :mod:`txn_lake.tables`: each table's schema (from the contract), comments, partitioning.
- :mod:`txn_lake.spark`: the SparkSession with Delta, Kafka and Avro.
- :mod:`txn_lake.writes` and :mod:`txn_lake.outputs`: creating tables and exactly-once appends.
- :mod:`txn_lake.facts`: version, rows, files, bytes, history and committed offsets, from the log.
- :mod:`txn_lake.latency`: per-row latency (commit time minus event time) and each table's
  freshness, from the log.
- :mod:`txn_lake.maintenance`: compaction and vacuum; :mod:`txn_lake.cli` is ``txn-lake``.

Example::

    from txn_lake import BRONZE, Lake
    from txn_lake.facts import table_facts
    facts = table_facts(BRONZE, Lake(Path("lake")).table_path(BRONZE))
    print(facts.rows, facts.files, facts.avg_file_bytes)
"""

# The package's public names are the layout's (tables, paths, checkpoints).
from .layout import *  # noqa: F403
from .layout import __all__ as __all__
