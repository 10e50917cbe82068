"""Fixtures shared by several integration modules (the session-wide ones are in tests/conftest.py)."""

# The gold lake of test_gold_signals.py and test_gold_restarts.py, built once per session.
from tests.integration.gold_lake import alert_schema_id, gold  # noqa: F401

# The operations lake of test_airflow_dags.py and test_report_html.py: Airflow, the lake its
# batch refresh fills, and the HTML page written from it.
from tests.integration.ops_lake import (  # noqa: F401
    airflow,
    ops_lake,
    ops_page,
    refreshed,
    workers_env,
)
