"""`txn-report --format html` on a real lake, opened in a real headless Chromium (Debian's
`chromium`, driven by Playwright; `make chromium` installs it when it is missing).

The lake is the operations lake (``tests/integration/ops_lake.py``): one topic with every path
of the flow non-zero (good events, late ones, rule violators, an exact re-send, a conflicting
re-send, poison messages that bronze quarantines, customers fast enough for velocity alerts),
landed by bronze, then refreshed by Airflow (silver-refine, gold-signals). The page must draw
every chart with marks, say every layer reconciles, show the JSON model's figures, and leave
the console clean with no request but its own file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from txn_report.html_page import CHARTS

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium, installed by `make chromium` when it is missing (never skipped)."""
    if not CHROMIUM.exists():
        make = shutil.which("make")
        assert make, "make is needed to install chromium (make chromium)"
        subprocess.run([make, "chromium"], cwd=REPO_ROOT, check=True, timeout=1200)
    assert CHROMIUM.exists(), "make chromium did not install /usr/bin/chromium"
    return CHROMIUM


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
            # Bounded: the charts' promise settles into a flag the wait polls for 30 s at most.
            page.evaluate(
                "() => { window.txnCharts.then(() => { window.txnChartsDone = 'drawn'; },"
                " e => { window.txnChartsDone = String(e); }); }"
            )
            page.wait_for_function("window.txnChartsDone !== undefined", timeout=30_000)
            assert page.evaluate("window.txnChartsDone") == "drawn"
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


def test_the_page_draws_every_chart_in_chromium_with_a_clean_console(chromium, ops_page):
    page = ops_page["page"]
    assert ops_page["printed"] == str(page.resolve())
    seen = _open(chromium, page, page.with_suffix(".png"))

    assert seen["console"] == []  # no error, no warning, no log
    assert seen["requests"] == [page.resolve().as_uri()]  # its own file, nothing else
    charts = {c["name"]: c for c in seen["charts"]}
    assert list(charts) == list(CHARTS)
    for c in charts.values():
        assert c["state"] == "drawn" and c["svg"] == 1 and c["marks"] > 0, c

    # Every path is non-zero on this lake: each chart draws bars, not its "0" message.
    m = ops_page["model"]
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
