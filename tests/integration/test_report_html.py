"""`txn-report --format html` on a real lake, opened in a real headless Chromium (Debian's
`chromium`, driven by Playwright; `make chromium` installs it when it is missing).

The lake: one topic with every path of the flow non-zero (good events, late ones, rule
violators, an exact re-send, a conflicting re-send, poison messages that bronze quarantines,
customers fast enough for velocity alerts), landed by `txn-pipeline`'s layers in available-now
mode on the suite's Spark session. The page must draw every chart with marks, say every layer
reconciles, show the JSON model's figures, and leave the console clean with no request but
its own file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.conftest import REPO_ROOT, bronze_config, create_topic
from tests.records import produce_records, record
from txn_contract import packaged_contract
from txn_contract.alerts import SUBJECT as ALERTS_SUBJECT
from txn_contract.detectors import packaged_detectors
from txn_contract.rules import packaged_rules
from txn_report.html_page import CHARTS

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
REPORT = Path(sys.executable).parent / "txn-report"
NOW_MS = int(time.time() * 1000)
POISON = [b"", b"\x00\x01", b'{"a": 1}']  # EMPTY_VALUE, SHORT_HEADER, BAD_MAGIC_BYTE


def _events() -> list[dict]:
    """500 events of 97 customers within seconds (velocity), 5 three hours late, two rule
    violators, an exact re-send and a conflicting one."""
    good = [record(i, timestamp=NOW_MS - 60_000 + 10 * i) for i in range(1, 501)]
    late = [record(i, timestamp=NOW_MS - 3 * 3_600_000 + i) for i in range(501, 506)]
    violators = [record(0, timestamp=NOW_MS), record(506, timestamp=NOW_MS, currency="XYZ")]
    conflict = {**good[1], "amount": good[1]["amount"] + 1}
    return [*good, *late, *violators, good[0], conflict]


def _alert_schema_id(platform) -> int:
    """Register the alert contract (as `txn-contract register` does); its latest version's id."""
    from txn_contract.registry import lookup_schema_id, register_contract, registry_client

    contract = packaged_contract(ALERTS_SUBJECT)
    client = registry_client(platform.registry_url)
    register_contract(client, contract, platform.registry_url)
    return lookup_schema_id(client, contract, contract.latest.version, platform.registry_url)


def _run_layers(spark, platform, lake: Path, topic: str, alerts: str, schema_id: int) -> None:
    """bronze, silver and gold, available-now, one after the other (txn-pipeline's run)."""
    from txn_pipeline.config import PipelineSettings
    from txn_pipeline.runner import Pipeline

    dumped = bronze_config(platform, lake, topic, available_now=True).model_dump(
        exclude={"checkpoint"}
    )
    settings = PipelineSettings(**dumped, alerts_topic=alerts).validated()
    Pipeline(settings, spark, packaged_rules(), packaged_detectors(), schema_id).run(print)


def _report(platform, lake: Path, topic: str, *args: str) -> str:
    cmd = [str(REPORT), "--lake", str(lake), "--topic", topic, *args]
    if platform.state_dir:
        cmd += ["--state-dir", str(platform.state_dir)]
    env = {**os.environ, **platform.env()}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def _model(platform, lake: Path, topic: str) -> dict:
    """What `txn-report --format json` prints, read in process (one CLI start less)."""
    from txn_report.config import ReportSettings
    from txn_report.report import build_report

    settings = ReportSettings(
        lake=lake, topic=topic, bootstrap_servers=platform.bootstrap_servers,
        state_dir=platform.state_dir,
    )  # fmt: skip
    return build_report(settings).as_json()


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium, installed by `make chromium` when it is missing (never skipped)."""
    if not CHROMIUM.exists():
        make = shutil.which("make")
        assert make, "make is needed to install chromium (make chromium)"
        subprocess.run([make, "chromium"], cwd=REPO_ROOT, check=True, timeout=1200)
    assert CHROMIUM.exists(), "make chromium did not install /usr/bin/chromium"
    return CHROMIUM


@pytest.fixture(scope="module")
def reported(spark, platform, registered_contract, tmp_path_factory) -> dict:
    """The page and the JSON model of one lake with every path non-zero."""
    topic, alerts = f"html_{uuid.uuid4().hex[:8]}", f"html_alerts_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    create_topic(platform.bootstrap_servers, alerts)
    schema_id = registered_contract[packaged_contract().latest.version]
    produce_records(platform.bootstrap_servers, topic, schema_id, _events())
    producer = Producer({"bootstrap.servers": platform.bootstrap_servers})
    for value in POISON:
        producer.produce(topic, key=b"k", value=value)
    assert producer.flush(30) == 0
    lake = tmp_path_factory.mktemp("html") / "lake"
    _run_layers(spark, platform, lake, topic, alerts, _alert_schema_id(platform))

    page = lake.parent / "report.html"
    printed = _report(platform, lake, topic, "--format", "html", "--output", str(page))
    return {"printed": printed.strip(), "page": page, "model": _model(platform, lake, topic)}


# Per chart: its state, its SVG's bars and every data mark drawn (bars, labels, a "0" message;
# vega gives data marks the class role-mark, axes and legends other roles).
_CHART_MARKS = """els => els.map(el => ({
  name: el.dataset.chart,
  state: el.dataset.state || null,
  svg: el.querySelectorAll("svg").length,
  bars: el.querySelectorAll("svg g.mark-rect.role-mark > path").length,
  marks: el.querySelectorAll("svg g.role-mark > path, svg g.role-mark > text").length,
}))"""


def _open(chromium: Path, page_path: Path, shot: Path) -> dict:
    """Load the page offline in headless Chromium; what it drew and what it said."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
            page = context.new_page()
            console, requests = [], []
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_function("window.txnCharts !== undefined", timeout=30_000)
            page.evaluate("window.txnCharts.then(() => true)")
            charts = page.eval_on_selector_all("[data-chart]", _CHART_MARKS)
            tiles = page.eval_on_selector_all(
                "[data-tile]",
                "els => els.map(e => [e.dataset.tile, e.querySelector('b').innerText])",
            )
            verdicts = page.eval_on_selector_all(
                "table td span", "els => els.map(e => [e.className, e.innerText])"
            )
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return {"console": console, "requests": requests, "charts": charts,
            "tiles": dict(tiles), "verdicts": verdicts}  # fmt: skip


def test_the_page_draws_every_chart_in_chromium_with_a_clean_console(chromium, reported):
    page = reported["page"]
    assert reported["printed"] == str(page.resolve())
    seen = _open(chromium, page, page.with_suffix(".png"))

    assert seen["console"] == []  # no error, no warning, no log
    assert seen["requests"] == [page.resolve().as_uri()]  # its own file, nothing else
    charts = {c["name"]: c for c in seen["charts"]}
    assert list(charts) == list(CHARTS)
    for c in charts.values():
        assert c["state"] == "drawn" and c["svg"] == 1 and c["marks"] > 0, c

    # Every path is non-zero on this lake: each chart draws bars, not its "0" message.
    m = reported["model"]
    assert charts["quarantine"]["bars"] == len(m["quarantine_by_reason"]) == 3
    rules = m["silver"]["rejects_by_rule"]
    assert set(rules) == {"amount_positive", "currency_iso4217", "duplicate_conflict"}
    assert charts["rejects"]["bars"] == 3
    assert m["gold"]["alerts_by_detector"].get("velocity", 0) > 0
    assert charts["alerts"]["bars"] == len(m["gold"]["alerts_by_detector"])
    hours = m["volume_per_hour"]["hours"]
    assert {h["layer"] for h in hours} == {"bronze", "silver", "gold"}
    assert len({h["hour"] for h in hours}) >= 2  # the late events' hour too
    assert charts["volume"]["bars"] == len(hours)
    assert charts["tables"]["bars"] == len(m["tables"]) == 8
    assert charts["latency"]["bars"] > 0 and charts["reconciliation"]["bars"] >= 6

    # The figures are the JSON model's, and every layer reconciles.
    assert seen["tiles"]["bronze rows"] == f"{m['bronze_rows']:,}" == "509"
    assert seen["tiles"]["quarantined"] == "3"
    assert seen["tiles"]["silver rows"] == f"{m['silver']['rows']:,}"
    assert seen["tiles"]["alerts"] == f"{m['gold']['alerts']:,}"
    sv = m["silver"]
    assert (sv["rows"], sv["rejected"], sv["duplicates_dropped"]) == (505, 3, 1)
    assert seen["verdicts"] == [["ok", "reconciled"]] * 3
