"""The lake the operations tests share (``test_airflow_dags.py``, ``test_report_html.py``),
built once per session: one topic with every path of the flow non-zero (good events, late
ones, rule violators, an exact re-send, a conflicting re-send, poison messages that bronze
quarantines, customers fast enough for velocity alerts), landed by bronze on the suite's
Spark session, then refreshed (silver, then gold, as their CLIs) by Airflow's
``txn_batch_refresh`` under ``dag.test()``. The HTML page is written from that lake before
any test moves it on (:func:`ops_page`).

One Airflow process serves every run of the session (:class:`Driver`): Airflow's import and
its in-process execution API cost about 10 s once, not per run. ``airflow db migrate`` runs
once, while the lake is built.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.conftest import SHORT_JVM, bronze_available_now, create_topic
from tests.records import produce_records, record
from tests.unit import test_airflow_dags as dags_unit

BIN = Path(sys.executable).parent
NOW_MS = int(time.time() * 1000)
POISON = [b"", b"\x00\x01", b'{"a": 1}']  # EMPTY_VALUE, SHORT_HEADER, BAD_MAGIC_BYTE

# Run by Airflow's python: `airflow db migrate`, one DagBag, then one dag.test() per JSON line
# on stdin, answered by one JSON line on the original stdout; Airflow's and the CLIs' logs go
# to the log file.
DRIVER = r"""
import json, os, subprocess, sys, time, traceback
from pathlib import Path

answer = os.fdopen(os.dup(1), "w", buffering=1)
log = open(sys.argv[2], "ab", buffering=0)
os.dup2(log.fileno(), 1)
os.dup2(log.fileno(), 2)
subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True)

from airflow.dag_processing.dagbag import BundleDagBag

folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")
answer.write("ready\n")
for line in sys.stdin:
    cmd = json.loads(line)
    os.environ.update(cmd["env"])
    start = time.monotonic()
    try:
        run = bag.dags[cmd["dag"]].test(run_conf=cmd["conf"], mark_success_pattern=cmd["mark"])
        tis = run.get_task_instances()
        out = {"state": str(run.state), "tasks": {ti.task_id: str(ti.state) for ti in tis}}
    except Exception:
        out = {"error": traceback.format_exc()}
    out["seconds"] = round(time.monotonic() - start, 1)
    answer.write(json.dumps(out) + "\n")
"""


@dataclass
class Run:
    """One ``dag.test()``: the run's state, each task's, and the log lines it wrote."""

    state: str
    tasks: dict[str, str]
    log: str
    seconds: float


class Driver:
    """An Airflow process that runs ``dag.test()`` on request (see :data:`DRIVER`)."""

    def __init__(self, python: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [str(python), "-c", DRIVER, str(dags_unit.DAGS), str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ready = False

    def _answer(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        assert line, f"no answer from Airflow in {timeout:g} s; its log ends:\n{self._tail()}"
        return line.strip()

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def run(self, dag_id: str, conf: dict, env: dict[str, str], mark: str | None = None) -> Run:
        """``dag.test(run_conf=conf)`` of ``dag_id`` with the workers' ``env`` added; ``mark``:
        task ids marked successful instead of run."""
        if not self.ready:
            assert self._answer(300) == "ready"
            self.ready = True
        start = self.log.stat().st_size
        cmd = {"dag": dag_id, "conf": conf, "env": env, "mark": mark}
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self._answer(600))
        assert "error" not in out, out["error"] + self._tail()
        with self.log.open("rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        print(f"[airflow] {dag_id} {out['state']} in {out['seconds']} s: {out['tasks']}")
        return Run(out["state"], out["tasks"], text, out["seconds"])

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def airflow(tmp_path_factory) -> Iterator[Driver]:
    """The Airflow process (its venv from ``make airflow`` when missing, a SQLite home); it
    migrates its DB and warms up while the lake is built."""
    venv, env = dags_unit.airflow_venv(), dags_unit.airflow_env(tmp_path_factory.mktemp("airflow"))
    log = tmp_path_factory.mktemp("airflow_log") / "log"
    driver = Driver(venv / "bin" / "python", env, log)
    yield driver
    driver.close()


@dataclass(frozen=True)
class OpsLake:
    """The shared lake, its bronze topic and the topic gold publishes alerts to."""

    root: Path
    topic: str
    alerts_topic: str


def ops_events() -> list[dict]:
    """500 events of 97 customers within seconds (velocity), 5 three hours late, two rule
    violators (amount_positive, currency_iso4217), an exact re-send and a conflicting one."""
    good = [record(i, timestamp=NOW_MS - 60_000 + 10 * i) for i in range(1, 501)]
    late = [record(i, timestamp=NOW_MS - 3 * 3_600_000 + i) for i in range(501, 506)]
    violators = [record(0, timestamp=NOW_MS), record(506, timestamp=NOW_MS, currency="XYZ")]
    conflict = {**good[1], "amount": good[1]["amount"] + 1}
    return [*good, *late, *violators, good[0], conflict]


@pytest.fixture(scope="session")
def ops_lake(airflow, spark, platform, registered_contract, tmp_path_factory) -> OpsLake:
    """:func:`ops_events` and the :data:`POISON` messages, landed by bronze (509 rows, 3
    quarantined); the alerts contract registered."""
    from txn_contract import packaged_contract
    from txn_contract.alerts import SUBJECT as ALERTS_SUBJECT
    from txn_contract.registry import register_contract, registry_client

    topic, alerts = f"ops_{uuid.uuid4().hex[:8]}", f"ops_alerts_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    create_topic(platform.bootstrap_servers, alerts)
    register_contract(
        registry_client(platform.registry_url),
        packaged_contract(ALERTS_SUBJECT),
        platform.registry_url,
    )
    schema_id = registered_contract[packaged_contract().latest.version]
    produce_records(platform.bootstrap_servers, topic, schema_id, ops_events())
    producer = Producer({"bootstrap.servers": platform.bootstrap_servers})
    for value in POISON:
        producer.produce(topic, key=b"k", value=value)
    assert producer.flush(30) == 0
    root = tmp_path_factory.mktemp("ops") / "lake"
    totals = bronze_available_now(spark, platform, root, topic)
    assert (totals["bronze"], totals["quarantine"]) == (509, 3), totals
    return OpsLake(root, topic, alerts)


@pytest.fixture(scope="session")
def workers_env(platform, ops_lake) -> dict[str, str]:
    """What a deployment gives the Airflow workers: the platform, the CLIs, the topics."""
    env = platform.env() | {"TXN_BIN": str(BIN), "TXN_TOPIC": ops_lake.topic}
    # The task's CLIs are short JVMs, like every other of the suite (tests/conftest.py).
    env |= {"TXN_ALERTS_TOPIC": ops_lake.alerts_topic, "JAVA_TOOL_OPTIONS": SHORT_JVM}
    if platform.state_dir:  # txn-report's topic size; no credentials/ on this platform
        env["TXN_STATE_DIR"] = str(platform.state_dir)
    return env


@pytest.fixture(scope="session")
def refreshed(airflow, ops_lake, workers_env) -> Run:
    """``txn_batch_refresh`` run once on the shared lake: silver, then gold, then the gate."""
    return airflow.run(dags_unit.REFRESH, {"lake": str(ops_lake.root)}, workers_env)


def txn_report(platform, lake: Path, topic: str, *args: str) -> str:
    """What ``txn-report --lake LAKE --topic TOPIC ARGS`` prints, run as a user runs it."""
    cmd = [str(BIN / "txn-report"), "--lake", str(lake), "--topic", topic, *args]
    if platform.state_dir:
        cmd += ["--state-dir", str(platform.state_dir)]
    env = {**os.environ, **platform.env()}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.fixture(scope="session")
def ops_page(refreshed, platform, ops_lake) -> dict:
    """The HTML page and the JSON model of the refreshed lake, written before any test lands
    more in bronze or compacts it (those fixtures request this one first)."""
    from txn_report.config import ReportSettings
    from txn_report.report import build_report

    assert refreshed.state == "success", refreshed.log[-6000:]
    page = ops_lake.root.parent / "report.html"
    args = ("--format", "html", "--output", str(page))
    printed = txn_report(platform, ops_lake.root, ops_lake.topic, *args)
    settings = ReportSettings(
        lake=ops_lake.root, topic=ops_lake.topic,
        bootstrap_servers=platform.bootstrap_servers, state_dir=platform.state_dir,
    )  # fmt: skip
    # What `txn-report --format json` prints, read in process (one CLI start less).
    return {"printed": printed.strip(), "page": page, "model": build_report(settings).as_json()}
