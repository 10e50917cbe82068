"""What the pipeline's Airflow DAGs share: running the project's CLIs and the pure checks.

- :mod:`txn_dags.cli`: where the CLIs are (``TXN_BIN``), the environment of the principal a
  task runs as (``TXN_CREDENTIALS_DIR``), and running one into the task log.
- :mod:`txn_dags.checks`: which tables maintenance skips, and the batch refresh's gate.

Neither imports Airflow, so both are unit-tested in the project's venv; the DAG files
(``txn_lake_maintenance.py``, ``txn_batch_refresh.py``) import Airflow and these.
"""

__all__: list[str] = []
