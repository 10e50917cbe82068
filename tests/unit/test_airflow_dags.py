"""The Airflow DAGs (``orchestration/airflow/dags/``): each imports in Airflow's own venv with an
owner, tags and no cycle, in the shape the issue asks for; and the decisions their tasks take
(which tables maintenance skips, the batch refresh's gate) and how they run the CLIs.

Airflow is never installed in the project's venv: :func:`airflow_venv` runs ``make airflow``,
which builds its venv from the lock file when it is missing or stale, outside the clone.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from deltalake import write_deltalake

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "orchestration" / "airflow" / "dags"
sys.path.insert(0, str(DAGS))

from txn_dags import checks, cli  # noqa: E402

MAINTENANCE, REFRESH = "txn_lake_maintenance", "txn_batch_refresh"


def airflow_venv() -> Path:
    """Airflow's venv: ``make airflow`` builds it from the lock file when it is missing or the
    lock changed (one builder at a time: the other Pythons' unit runs call this too)."""
    from txn_runtime.maven import cache_dir

    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / "airflow-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        res = subprocess.run(
            ["make", "-s", "--no-print-directory", "airflow"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    assert res.returncode == 0, f"make airflow failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    venv = Path(res.stdout.strip().splitlines()[-1])
    assert (venv / "bin" / "airflow").is_file(), res.stdout
    return venv


def airflow_env(home: Path) -> dict[str, str]:
    """The environment of an Airflow process of the tests: its home (and SQLite DB) in
    ``home``, the project's DAG folder, no examples."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


# Run by Airflow's python: the DagBag as the DAG processor fills it (a BundleDagBag puts the
# folder on sys.path, as the processor and the workers do), each DAG's shape as JSON.
INSPECT = r"""
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag

folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")
out = {"errors": bag.import_errors, "files": sorted(s.file for s in bag.dagbag_stats), "dags": {}}
for dag_id, dag in bag.dags.items():
    dag.check_cycle()  # raises AirflowDagCycleException
    out["dags"][dag_id] = {
        "owners": sorted({t.owner for t in dag.tasks}),
        "tags": sorted(dag.tags),
        "order": [t.task_id for t in dag.topological_sort()],
        "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
        "params": dag.params.dump(),
        "max_active_runs": dag.max_active_runs,
    }
print("DAGS " + json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def dags(tmp_path_factory) -> dict:
    venv = airflow_venv()
    res = subprocess.run(
        [str(venv / "bin" / "python"), "-c", INSPECT, str(DAGS)],
        capture_output=True,
        text=True,
        env=airflow_env(tmp_path_factory.mktemp("airflow")),
        timeout=300,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    line = next(x for x in res.stdout.splitlines() if x.startswith("DAGS "))
    return json.loads(line.removeprefix("DAGS "))


def test_every_dag_imports_with_an_owner_tags_and_no_cycle(dags):
    assert dags["errors"] == {}
    assert dags["files"] == [f"{REFRESH}.py", f"{MAINTENANCE}.py"]  # txn_dags/ is ignored
    assert sorted(dags["dags"]) == [REFRESH, MAINTENANCE]
    for dag_id, dag in dags["dags"].items():
        assert dag["owners"] == ["data-platform"], dag_id
        assert "txn-pipeline" in dag["tags"] and len(dag["tags"]) > 1, dag_id
        assert dag["max_active_runs"] == 1, dag_id  # two OPTIMIZEs of one table conflict


def test_maintenance_compacts_then_vacuums_one_table_at_a_time(dags):
    dag = dags["dags"][MAINTENANCE]
    steps = [f"{step}_{t}" for t in checks.LAKE_TABLES for step in ("compact", "vacuum")]
    assert dag["order"] == ["plan", *steps]
    for before, task in zip(dag["order"], dag["order"][1:], strict=False):
        assert before in dag["upstream"][task], f"{task} does not wait for {before}"
    assert set(dag["params"]) == {"lake", "min_age", "min_small_files"}
    assert dag["params"]["min_age"] == "1h" and dag["params"]["min_small_files"] == 10


def test_batch_refresh_runs_silver_then_gold_then_the_gate(dags):
    dag = dags["dags"][REFRESH]
    assert dag["order"] == ["silver_refine", "gold_signals", "gate"]
    assert dag["upstream"] == {
        "silver_refine": [],
        "gold_signals": ["silver_refine"],
        "gate": ["gold_signals"],
    }
    assert set(dag["params"]) == {"lake", "max_quarantine_ratio", "max_reject_ratio"}


def test_the_dags_know_every_lake_table_in_flow_order():
    from txn_lake import TABLE_NAMES

    assert checks.LAKE_TABLES == TABLE_NAMES


def test_the_lock_file_pins_the_airflow_extra_and_the_jobs_never_get_airflow():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    (pin,) = extras["airflow"]
    lock = (ROOT / "orchestration" / "airflow" / "requirements.lock").read_text()
    assert re.search(rf"^{re.escape(pin)}$", lock, re.M), f"{pin} is not in the lock file"
    others = [
        *project["dependencies"],
        *(d for k, v in extras.items() if k != "airflow" for d in v),
    ]
    assert not [d for d in others if d.startswith("apache-airflow")]


# -- which tables maintenance skips: txn-lake compact --dry-run (no Spark) and the plan ------


def _partitioned(path: Path, writes: int) -> None:
    for _ in range(writes):
        data = pa.table(
            {"x": [1, 2], "date": ["2026-12-01"] * 2, "hour": pa.array([8, 9], pa.int32())}
        )
        write_deltalake(str(path), data, partition_by=["date", "hour"], mode="append")


def test_the_dry_runs_count_what_maintenance_would_do_and_the_plan_skips_the_rest(tmp_path):
    from txn_lake.cli import cli as txn_lake

    _partitioned(tmp_path / "bronze", writes=3)  # hours 8 and 9: three files each
    write_deltalake(str(tmp_path / "silver_audit"), pa.table({"x": [1]}))  # not partitioned
    compact = ["compact", "--lake", str(tmp_path), "--min-age", "0", "--dry-run"]
    res = CliRunner().invoke(txn_lake, [*compact, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert "starting Spark" not in res.output
    compactions = json.loads(res.stdout)
    bronze = compactions[0]
    assert [p["table"] for p in compactions] == ["bronze", "silver_audit"]
    assert bronze["small_files"] == 6 and bronze["retention_hours"] == 168
    assert [p["files"] for p in bronze["partitions"]] == [3, 3]
    res = CliRunner().invoke(txn_lake, [*compact, "--table", "bronze"])
    assert res.stdout.startswith("bronze: 2 partition(s) to compact, 6 small file(s): ")
    res = CliRunner().invoke(txn_lake, [*compact[:-1], "--format", "json"])
    assert "add --dry-run" in str(res.exception)  # json is the plan's format, refused alone

    # A file no version references (a killed attempt's), 8 days old: vacuum could delete it.
    vacuum = ["vacuum", "--lake", str(tmp_path), "--dry-run", "--format", "json"]
    assert [v["files"] for v in json.loads(CliRunner().invoke(txn_lake, vacuum).stdout)] == [0, 0]
    leftover = next((tmp_path / "bronze").rglob("*.parquet")).with_name("part-9-left.parquet")
    leftover.write_bytes(b"PAR1")
    os.utime(leftover, (0, time.time() - 8 * 86400))
    vacuums = json.loads(CliRunner().invoke(txn_lake, vacuum).stdout)
    assert vacuums[0] == {"table": "bronze", "retention_hours": 168, "files": 1}

    plan = checks.maintenance_plan(compactions, vacuums, min_small_files=6, min_age="0")
    assert plan["bronze"] == {
        "compact": None,
        "vacuum": None,
        "retention_hours": 168,
        "small_files": 6,
    }
    assert plan["silver_audit"] == {
        "compact": "silver_audit: compaction skipped: its partitions closed for at least 0 hold "
        "0 small file(s) (0 partition(s) with several files), fewer than min_small_files=6",
        "vacuum": "silver_audit: vacuum skipped: no file on disk outside its current version is "
        "older than its retention, 168 h, so VACUUM would delete nothing",
        "retention_hours": 168,
        "small_files": 0,
    }
    missing = "gold_customer_daily: skipped: no Delta table in the lake yet"
    assert (
        plan["gold_customer_daily"]["compact"] == plan["gold_customer_daily"]["vacuum"] == missing
    )
    # Too few small files but an old file to delete: vacuumed without being compacted.
    bronze = checks.maintenance_plan(compactions, vacuums, min_small_files=7, min_age="1h")
    assert "hold 6 small file(s)" in bronze["bronze"]["compact"]
    assert bronze["bronze"]["vacuum"] is None


# -- the batch refresh's gate ------------------------------------------------------------------


def _report(read=100, silver=95, rejected=3, duplicates=2, bronze=100, quarantined=1) -> dict:
    return {
        "bronze_rows": bronze,
        "quarantine_rows": quarantined,
        "silver": {
            "exists": True,
            "rows": silver,
            "rejected": rejected,
            "duplicates_dropped": duplicates,
            "bronze_rows_read": read,
            "bronze_rows_not_read": bronze - read,
        },
    }


def test_the_gate_passes_a_reconciled_lake_even_while_bronze_streams_ahead():
    assert checks.gate_failure(_report(), 0.05, 0.05) is None
    assert checks.gate_failure(_report(bronze=180), 0.05, 0.05) is None  # silver read 100 of 180


def test_the_gate_fails_in_one_sentence_when_silver_does_not_reconcile():
    failure = checks.gate_failure(_report(silver=94), 0.05, 0.05)
    assert failure == (
        "The batch refresh gate failed: silver does not reconcile: it read 100 bronze rows "
        "(its audit) but holds 94 rows + 3 rejects + 2 duplicates = 99."
    )


def test_the_gate_fails_when_a_ratio_exceeds_its_threshold():
    failure = checks.gate_failure(_report(quarantined=10, rejected=8, silver=90), 0.05, 0.05)
    assert failure == (
        "The batch refresh gate failed: bronze quarantined 9.09% of the messages it landed "
        "(10 of 110), above max_quarantine_ratio 5.00%; silver rejected 8.00% of the rows it "
        "read (8 of 100), above max_reject_ratio 5.00%."
    )
    assert checks.gate_failure(_report(quarantined=10, rejected=8, silver=90), 0.1, 0.1) is None
    no_silver = checks.gate_failure({"silver": {"exists": False}}, 0.05, 0.05)
    assert no_silver is not None and "no silver table" in no_silver


# -- how a task runs a CLI: TXN_BIN, the principal's credentials, the error sentence ----------


def test_a_task_gets_exactly_its_principals_credentials(tmp_path):
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "gold.env").write_text("KAFKA_SASL_USERNAME=gold\nKAFKA_SASL_PASSWORD=g0ld\n")
    worker = {"PATH": "/bin", "KAFKA_SASL_USERNAME": "admin", "KAFKA_SASL_PASSWORD": "adm1n"}
    # No credentials directory (an unsecured platform): the worker's environment as it is.
    assert cli.task_env("gold", worker) == worker
    for where in ({"TXN_CREDENTIALS_DIR": str(creds)}, {"TXN_STATE_DIR": str(tmp_path)}):
        env = worker | where
        assert cli.task_env("gold", env) == {"PATH": "/bin", **where} | {
            "KAFKA_SASL_USERNAME": "gold",
            "KAFKA_SASL_PASSWORD": "g0ld",
        }
        assert cli.task_env(None, env) == {"PATH": "/bin", **where}  # silver, txn-lake: none
    with pytest.raises(cli.CliFailed, match=r"no credentials for principal report: .*report\.env"):
        cli.task_env("report", worker | {"TXN_CREDENTIALS_DIR": str(creds)})


def test_run_cli_finds_the_clis_through_txn_bin_and_fails_with_their_sentence(
    tmp_path, monkeypatch
):
    script = tmp_path / "txn-thing"
    script.write_text(
        '#!/bin/sh\necho "args: $*"\n[ "$1" = ok ] && exit 0\n'
        "echo 'txn-thing: error: --lake: /x does not exist' >&2\nexit 2\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("TXN_BIN", str(tmp_path))
    assert cli.run_cli("txn-thing", "ok", "a b") == "args: ok a b\n"
    with pytest.raises(cli.CliFailed) as err:
        cli.run_cli("txn-thing", "bad")
    assert str(err.value) == "txn-thing exited with 2: txn-thing: error: --lake: /x does not exist"
    with pytest.raises(cli.CliFailed, match="set TXN_BIN"):
        cli.run_cli("txn-nothing")
    monkeypatch.delenv("TXN_BIN")
    assert cli.txn_bin() == ROOT / ".venv" / "bin"
    assert cli.lake_path(None, {"TXN_LAKE": "/data/lake"}) == "/data/lake"
    with pytest.raises(cli.CliFailed, match="lake param"):
        cli.lake_path("", {})
