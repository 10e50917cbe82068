"""Fixtures shared by several integration modules (the session-wide ones are in tests/conftest.py)."""

# The gold lake of test_gold_signals.py and test_gold_restarts.py, built once per session.
from tests.integration.gold_lake import alert_schema_id, gold  # noqa: F401
