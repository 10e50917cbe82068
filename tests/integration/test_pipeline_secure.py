"""The whole pipeline on the secured platform (`txn-platform up --secure`), each CLI as its own
principal: `txn-contract register` as admin, `txn-producer` as producer, `txn-pipeline run
--available-now` (bronze, silver, gold in one application) as pipeline, `txn-report` as report.
Counts are exact, and no secret of any principal is in a byte the run wrote: the lake (tables,
properties, commit info), the checkpoints, Spark's event log (its environment and plans: the
Kafka source's JAAS string holds a password), the CLIs' output and the report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from txn_lake import ALERTS, BRONZE, GOLD_CUSTOMER_DAILY, SILVER, Lake
from txn_lake.facts import query

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
EVENTS = 300


def _run(cmd: str, *args: str, env: dict[str, str], timeout: float = 600):
    res = subprocess.run(
        [str(BIN / cmd), *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert res.returncode == 0, f"{cmd} failed:\n{res.stderr[-3000:]}"
    return res


def _secrets(state: Path) -> list[str]:
    """Every password of every principal (Kafka SCRAM and registry basic auth)."""
    out = []
    for f in (state / "credentials").glob("*.env"):
        for line in f.read_text().splitlines():
            if line.startswith(("KAFKA_SASL_PASSWORD=", "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO=")):
                out.append(line.split("=", 1)[1].split(":")[-1])
    return [s for s in out if s]


def _ends(secure_platform) -> str:
    """Spark's JSON form of the stream topic's end offsets (as admin): the pipeline starts
    there, so other tests' events on the session's topic are not this run's."""
    from confluent_kafka import Consumer

    from local_platform.kafka import client_config
    from txn_contract import TOPIC
    from txn_runtime.preflight import watermarks

    consumer = Consumer(client_config(secure_platform.settings, **{"group.id": "t-pipeline"}))
    try:
        ends = {str(p): high for p, (_low, high) in watermarks(consumer, TOPIC, 3).items()}
    finally:
        consumer.close()
    return json.dumps({TOPIC: ends})


def _rows(lake: Path, table: str) -> int:
    return query(Lake(lake).table_path(table), "SELECT count(*) AS n FROM t")[0]["n"]


@pytest.fixture(scope="module")
def secured_run(secure_platform, tmp_path_factory):
    """One run of the whole pipeline; its lake, event log dir and everything the CLIs printed."""
    work = tmp_path_factory.mktemp("secure_pipeline")
    lake, events, conf = work / "lake", work / "events", work / "spark-conf"
    events.mkdir()
    conf.mkdir()
    # spark-submit reads SPARK_CONF_DIR: the event log, as an operator would turn it on.
    (conf / "spark-defaults.conf").write_text(
        f"spark.eventLog.enabled true\nspark.eventLog.dir {events.as_uri()}\n"
        "spark.eventLog.compress false\n"
    )
    env = secure_platform.cli_env
    printed = [_run("txn-contract", "register", env=env("admin"))]
    start = _ends(secure_platform)
    printed.append(
        _run("txn-producer", "--count", str(EVENTS), "--seed", "11", env=env("producer"))
    )
    pipeline_env = env("pipeline") | {"SPARK_CONF_DIR": str(conf)}
    printed.append(
        _run(
            "txn-pipeline", "run", "--available-now", "--lake", str(lake),
            "--master", "local[2]", "--driver-memory", "1g", "--starting-offsets", start,
            env=pipeline_env,
        )
    )  # fmt: skip
    report = _run("txn-report", "--lake", str(lake), "--format", "json", env=env("report"))
    printed.append(report)
    return {
        "lake": lake,
        "events": events,
        "printed": "".join(r.stdout + r.stderr for r in printed),
        "report": json.loads(report.stdout),
        "state": secure_platform.state_dir,
    }


def test_every_layer_holds_exactly_what_was_produced(secured_run):
    lake, report = secured_run["lake"], secured_run["report"]
    assert _rows(lake, BRONZE) == EVENTS
    assert _rows(lake, SILVER) == EVENTS
    assert report["bronze_rows"] == EVENTS and report["quarantine_rows"] == 0
    assert report["silver"]["rows"] == EVENTS and report["silver"]["reconciled"] is True
    daily = Lake(lake).table_path(GOLD_CUSTOMER_DAILY)
    assert query(daily, "SELECT sum(transactions) AS n FROM t")[0]["n"] == EVENTS
    assert (Lake(lake).table_path(ALERTS) / "_delta_log").is_dir()


def test_no_secret_in_any_byte_the_run_wrote(secured_run):
    secrets = _secrets(secured_run["state"])
    assert len(secrets) >= 5  # the principals' passwords were found to look for
    logs = list(secured_run["events"].iterdir())
    assert logs, "Spark wrote no event log"
    written = [p for root in (secured_run["lake"], secured_run["events"]) for p in root.rglob("*")]
    blobs = [p.read_bytes() for p in written if p.is_file()]
    blobs.append(secured_run["printed"].encode())
    blobs.append(json.dumps(secured_run["report"]).encode())
    leaked = sorted({s[:3] + "..." for s in secrets for b in blobs if s.encode() in b})
    assert not leaked, f"secrets found in what the run wrote: {leaked}"
