"""``txn_lake_maintenance``: compact, then vacuum, each lake table, one table at a time.

`plan` asks ``txn-lake compact --dry-run`` and ``txn-lake vacuum --dry-run`` (the Delta logs
and the files, no Spark) what each table needs. Then, table after table in flow order,
``compact_<table>`` runs ``txn-lake compact --table <table>`` unless the table's closed
partitions hold fewer than ``min_small_files`` small files, and ``vacuum_<table>`` runs
``txn-lake vacuum --table <table>`` with the table's own retention
(``delta.deletedFileRetentionDuration``; ``txn-lake vacuum`` refuses a shorter one) unless no
file outside its current version is older than that retention (VACUUM would delete nothing).
A skipped task says why in its log; a table that does not exist yet is skipped. One table at a
time and one run at a time: two OPTIMIZEs of one table conflict. A failure stops the tables
after it.

Params: ``lake`` (default ``TXN_LAKE``), ``min_age`` (partitions whose time window ended at
least this long ago; ``0`` = every partition), ``min_small_files``. The CLIs are found through
``TXN_BIN``; ``txn-lake`` has no Kafka principal (docs/operations.md, "Airflow").
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, TriggerRule, chain, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException
from txn_dags.checks import LAKE_TABLES, maintenance_plan
from txn_dags.cli import DAG_SETTINGS, lake_path, run_cli

__all__ = ["dag"]

log = logging.getLogger(__name__)

# Spark starts for each command; a compaction of a big backlog takes a while.
SPARK_TIMEOUT = timedelta(hours=2)


def _params() -> dict[str, Any]:
    return dict(get_current_context()["params"])


@task(task_id="plan", retries=0)
def plan() -> dict[str, dict[str, Any]]:
    """Which tables to compact and vacuum, from their logs; logs why the others are skipped."""
    params = _params()
    lake, min_age = lake_path(params["lake"]), params["min_age"]
    dry_run = ("--lake", lake, "--dry-run", "--format", "json")
    compactions = run_cli("txn-lake", "compact", *dry_run, "--min-age", min_age, echo=False)
    vacuums = run_cli("txn-lake", "vacuum", *dry_run, echo=False)
    decisions = maintenance_plan(
        json.loads(compactions), json.loads(vacuums), params["min_small_files"], min_age
    )
    for table, d in decisions.items():
        log.info("%s", d["compact"] or f"{table}: {d['small_files']} small file(s) to compact")
        log.info("%s", d["vacuum"] or f"{table}: old files to vacuum")
    return decisions


def _go_ahead(step: str, table: str, decisions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The table's decision; a skip, with its reason in the task log, when ``step`` is
    skipped."""
    decision = decisions[table]
    if decision[step]:
        raise AirflowSkipException(decision[step])
    return decision


# NONE_FAILED: after the previous table's tasks ran or were skipped; a failure stops the rest.
@task(execution_timeout=SPARK_TIMEOUT, trigger_rule=TriggerRule.NONE_FAILED)
def compact(table: str, decisions: dict[str, dict[str, Any]]) -> None:
    """``txn-lake compact`` of one table (its closed partitions), unless it is skipped."""
    _go_ahead("compact", table, decisions)
    params = _params()
    lake = lake_path(params["lake"])
    run_cli("txn-lake", "compact", "--lake", lake, "--table", table, "--min-age", params["min_age"])


@task(execution_timeout=SPARK_TIMEOUT, trigger_rule=TriggerRule.NONE_FAILED)
def vacuum(table: str, decisions: dict[str, dict[str, Any]]) -> None:
    """``txn-lake vacuum`` of one table with the retention its properties set, unless skipped."""
    hours = _go_ahead("vacuum", table, decisions)["retention_hours"]
    lake = lake_path(_params()["lake"])
    log.info("%s: vacuum keeps %g h (delta.deletedFileRetentionDuration)", table, hours)
    run_cli("txn-lake", *("vacuum", "--lake", lake, "--table", table, "--retain-hours", str(hours)))


with DAG(
    dag_id="txn_lake_maintenance",
    description="Compact, then vacuum, each lake table with enough small files, one at a time.",
    doc_md=__doc__,
    **DAG_SETTINGS,
    tags=["txn-pipeline", "lake", "maintenance"],
    params={
        "lake": Param(
            None,  # resolved on the worker (txn_dags.cli.lake_path), not when the file is parsed
            type=["null", "string"],
            description="Lake root; empty: TXN_LAKE of the workers.",
        ),
        "min_age": Param(
            "1h",
            type="string",
            description="Compact partitions whose time window ended at least this long ago "
            "(txn-lake compact --min-age); 0 = every partition.",
        ),
        "min_small_files": Param(
            10,
            type="integer",
            minimum=0,
            description="Skip a table whose closed partitions hold fewer small files.",
        ),
    },
) as dag:
    decisions = plan()
    # One table at a time, in flow order: plan >> compact_bronze >> vacuum_bronze >> ...
    chain(
        decisions,
        *(
            step.override(task_id=f"{what}_{name}")(name, decisions)
            for name in LAKE_TABLES
            for what, step in (("compact", compact), ("vacuum", vacuum))
        ),
    )
