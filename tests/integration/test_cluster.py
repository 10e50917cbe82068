"""The jobs as cluster applications on a Spark standalone cluster the suite starts: the driver
runs here, the executors on the worker, and the jars reach them from the driver (no network).

Also through `spark-submit --master spark://... --jars ...` with the `__main__.py` entry point,
as docker-compose runs it. Exactly once holds when the executor is SIGKILLed mid-batch (Spark
retries its tasks on a new executor) and when the driver is SIGKILLed and restarted (it resumes
from its checkpoint).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, create_topic
from tests.records import produce_records, record
from txn_lake.facts import committed_batch, is_delta_table

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

BIN = Path(sys.executable).parent


def _fill(platform, schema_id: int, n: int) -> str:
    topic = f"cluster_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    produce_records(platform.bootstrap_servers, topic, schema_id, (record(i) for i in range(n)))
    return topic


def _coords(lake: Path) -> list[tuple[int, int]]:
    from deltalake import DeltaTable

    out = []
    for table in ("bronze", "quarantine"):
        if is_delta_table(lake / table):
            t = DeltaTable(str(lake / table)).to_pyarrow_table(
                columns=["kafka_partition", "kafka_offset"]
            )
            out += list(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))
    return out


def _apps(cluster, name: str) -> list[dict]:
    st = cluster.state()
    return [
        a for a in st.get("activeapps", []) + st.get("completedapps", []) if a.get("name") == name
    ]


def _bronze(args: list[str], env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "bronze-ingest"), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),
        start_new_session=True,
    )


def test_bronze_by_spark_submit_and_silver_on_the_cluster_land_every_event(
    platform, registered_contract, spark_cluster, tmp_path
):
    """Bronze as docker-compose runs it (`spark-submit` of `__main__.py` with the jars), then
    `silver-refine --master spark://...` from that bronze table; the bronze CLI's own
    `--master spark://...` is the SIGKILL test's."""
    from local_platform.spark_cluster import spark_home
    from txn_lake.facts import count_by, query
    from txn_runtime.jars import spark_jars

    topic = _fill(platform, registered_contract[2], 3000)
    # As with an activated venv: spark-submit finds Spark (pip's pyspark) and the interpreter.
    env = {
        **os.environ,
        **platform.env(),
        "SPARK_HOME": str(spark_home()),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
    }
    res = subprocess.run(
        [str(BIN / "spark-submit"), "--master", spark_cluster.master_url, "--name", "bronze-submitted",
         "--jars", ",".join(str(p) for p in spark_jars()),
         str(REPO_ROOT / "services" / "bronze_ingest" / "__main__.py"),
         "--lake", str(tmp_path), "--topic", topic, "--subject", "bank_txn_stream-value",
         "--available-now"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    coords = _coords(tmp_path)
    assert len(coords) == 3000 and len(set(coords)) == 3000
    # The master ran it as an application with executors on the worker.
    (app,) = _apps(spark_cluster, "bronze-submitted")
    assert app["cores"] > 0 and app["state"] == "FINISHED"
    assert list((spark_cluster.work_dir / app["id"]).iterdir()), "bronze ran no executor"

    # Silver on the same cluster, from that bronze table: record 0 has amount 0.00 (rejected by
    # amount_positive), every other one lands once.
    res = subprocess.run(
        [str(BIN / "silver-refine"), "--lake", str(tmp_path), "--master", spark_cluster.master_url,
         "--available-now"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    per_id = count_by(tmp_path / "silver", "transaction_id")
    assert per_id.keys() == {f"t-{i}" for i in range(1, 3000)} and set(per_id.values()) == {1}
    (audit,) = query(
        tmp_path / "silver_audit", "SELECT sum(rows_read) AS n, sum(rejected) AS r FROM t"
    )
    assert (audit["n"], audit["r"]) == (3000, 1)
    (silver_app,) = [a for a in _apps(spark_cluster, "silver-refine") if a["state"] == "FINISHED"][
        -1:
    ]
    assert silver_app["cores"] > 0
    assert list((spark_cluster.work_dir / silver_app["id"]).iterdir()), "silver ran no executor"


def _executor_pids(app_id: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"CoarseGrainedExecutorBackend" in cmd and app_id.encode() in cmd:
                pids.append(int(entry.name))
    return pids


def _wait(cond, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_executor_and_driver_sigkill_keep_exactly_once(
    platform, registered_contract, spark_cluster, tmp_path
):
    total = 30_000
    topic = _fill(platform, registered_contract[2], total)
    lake, log = tmp_path / "lake", tmp_path / "bronze.log"
    env = {**os.environ, **platform.env()}
    args = ["--lake", str(lake), "--topic", topic, "--subject", "bank_txn_stream-value",
            "--master", spark_cluster.master_url, "--max-offsets-per-trigger", "3000",
            "--trigger", "1s"]  # fmt: skip
    app = "txn-pipeline.bronze_ingest.bronze"
    first = _bronze(args, env, log)
    try:
        _wait(
            lambda: (committed_batch(lake / "bronze", app) or -1) >= 1,
            300,
            "two batches",
            first,
            log,
        )
        # 1. The executor dies mid-batch: Spark reruns its tasks on a replacement executor.
        app_id = next(
            a["id"] for a in spark_cluster.state()["activeapps"] if a["name"] == "bronze-ingest"
        )
        victims = _executor_pids(app_id)
        assert victims, "no executor process of the running application"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        before = committed_batch(lake / "bronze", app)
        _wait(
            lambda: committed_batch(lake / "bronze", app) > before + 1,
            300,
            "batches after the executor died",
            first,
            log,
        )
        assert first.poll() is None, "the driver must survive an executor's death"
        assert f"on {spark_cluster.master_url}" in log.read_text()  # the session's real master
        # 2. The driver dies: the application ends; a restart resumes from the checkpoint.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    # The restart redoes the batch the killed driver had planned (from its checkpoint), then
    # drains the rest in one batch: no per-trigger cap, available-now.
    restart = [a for a in args if a not in ("--max-offsets-per-trigger", "3000", "--trigger", "1s")]
    second = _bronze([*restart, "--available-now"], env, log)
    try:
        assert second.wait(600) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    coords = _coords(lake)
    assert len(coords) == total and len(set(coords)) == total
    assert (
        len(_apps(spark_cluster, "bronze-ingest")) >= 2
    )  # the killed driver's app and the restart's
