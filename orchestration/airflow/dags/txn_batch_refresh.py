"""``txn_batch_refresh``: silver, then gold, in available-now mode, then a gate.

For deployments that do not stream the later layers: ``silver-refine --available-now`` refines
what bronze holds now, ``gold-signals --available-now`` (as principal ``gold``) turns it into
aggregates and alerts, and ``gate`` reads ``txn-report --format json`` (as principal
``report``) and fails the run, in one sentence, when the rows silver read up to the bronze
version it consumed (its audit) are not silver + rejects + duplicates, or when the share of
quarantined messages or rejected rows exceeds ``max_quarantine_ratio`` / ``max_reject_ratio``.
Bronze rows silver has not read yet (bronze still streaming ahead) are not a failure.

Params: ``lake`` (default ``TXN_LAKE``) and the two ratios. The CLIs are found through
``TXN_BIN``; Kafka and the registry through the workers' environment (docs/operations.md,
"Airflow").
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from txn_dags.checks import gate_failure, reconciliation
from txn_dags.cli import DAG_SETTINGS, lake_path, run_cli

__all__ = ["dag"]

log = logging.getLogger(__name__)

SPARK_TIMEOUT = timedelta(hours=3)


def _params() -> dict[str, Any]:
    return dict(get_current_context()["params"])


@task(execution_timeout=SPARK_TIMEOUT)
def silver_refine() -> None:
    """``silver-refine --available-now``: no Kafka principal (it reads the lake only)."""
    run_cli("silver-refine", "--lake", lake_path(_params()["lake"]), "--available-now")


@task(execution_timeout=SPARK_TIMEOUT)
def gold_signals() -> None:
    """``gold-signals --available-now`` as principal ``gold`` (it publishes alerts)."""
    lake = lake_path(_params()["lake"])
    run_cli("gold-signals", "--lake", lake, "--available-now", principal="gold")


@task(retries=0)
def gate() -> dict[str, Any]:
    """Fail the run in one sentence unless silver reconciles and the ratios are within bounds;
    returns the figures it judged."""
    params = _params()
    lake = lake_path(params["lake"])
    report = json.loads(
        run_cli("txn-report", "--lake", lake, "--format", "json", principal="report", echo=False)
    )
    failure = gate_failure(report, params["max_quarantine_ratio"], params["max_reject_ratio"])
    if failure:
        raise AirflowFailException(failure)
    read, accounted = reconciliation(report)
    ahead = report["silver"]["bronze_rows_not_read"]
    log.info("silver reconciles: %s bronze rows read = %s accounted", read, accounted)
    if ahead:
        log.info("bronze holds %s rows silver has not read yet (still streaming ahead)", ahead)
    return {"bronze_rows_read": read, "accounted": accounted, "bronze_rows_not_read": ahead}


def _ratio_param(what: str) -> Param:
    return Param(0.05, type="number", minimum=0, maximum=1, description=f"Fail above this {what}.")


with DAG(
    dag_id="txn_batch_refresh",
    description="silver-refine and gold-signals in available-now mode, then a reconciliation gate.",
    doc_md=__doc__,
    **DAG_SETTINGS,
    tags=["txn-pipeline", "silver", "gold", "batch"],
    params={
        "lake": Param(
            None,  # resolved on the worker (txn_dags.cli.lake_path), not when the file is parsed
            type=["null", "string"],
            description="Lake root; empty: TXN_LAKE of the workers.",
        ),
        "max_quarantine_ratio": _ratio_param("share of landed messages quarantined by bronze"),
        "max_reject_ratio": _ratio_param("share of read rows rejected by silver"),
    },
) as dag:
    silver_refine() >> gold_signals() >> gate()
