"""``txn-pipeline``: every layer of the lake as queries of one Spark application.

Databricks pipelines run every table of a pipeline in one application; on a small machine that
is one JVM, one scheduler and one warm-up instead of a JVM per layer fighting over the cores.
The queries are the separate jobs' own (``bronze_ingest``, ``silver_refine``), with the same
tables and the same checkpoints, so a lake moves between this run and the separate CLIs (what
a cluster deployment runs) without a migration.

This package is the composition root: the only one that imports the services whose queries it
runs (``pyproject.toml``'s import-linter contracts put it above them).
"""

__all__: list[str] = []
