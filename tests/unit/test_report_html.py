"""txn-report's HTML page (no browser here: tests/integration/test_report_html.py opens it in
Chromium): built from the report's JSON model, self-contained, every chart present with the
model's figures or an explicit "0" message, data that cannot break out of the page; the
reconciliation per layer; the hourly volume and table sizes from delta-rs-made tables."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from deltalake import write_deltalake

from txn_lake import BRONZE, GOLD_MERCHANT_HOURLY, SILVER, Lake
from txn_lake.facts import TableFacts
from txn_lake.latency import Freshness
from txn_report import report
from txn_report.cli import cli
from txn_report.gold_stats import GoldStats
from txn_report.html_page import CHARTS, render_html
from txn_report.kafka_stats import TopicStats
from txn_report.reconcile import reconciliation
from txn_report.silver_stats import SilverStats
from txn_report.volume import HourlyVolume, hourly_volume, table_sizes

H0 = datetime(2026, 12, 7, 21, tzinfo=UTC)


def _facts(name: str, rows: int, files: int = 1, size: int = 4096) -> TableFacts:
    return TableFacts(name, Path(name), exists=True, version=3, rows=rows, files=files, bytes=size)


def _model(*, empty: bool = False, **silver_totals: int) -> dict:
    """The JSON model of a small lake that reconciles: 105 messages -> 100 bronze rows + 5
    quarantined; bronze 100 = silver 90 + 6 rejected + 4 duplicates; gold counted 90."""
    if empty:
        return report.Report(
            topic="t", lake=Path("lake"), kafka=TopicStats({0: 0}, {0: 0}, None),
            bronze=TableFacts(BRONZE, Path("b")), quarantine=TableFacts("quarantine", Path("q")),
            quarantine_by_reason={}, committed_offsets=None, silver=SilverStats(),
        ).as_json()  # fmt: skip
    totals = {"rows_read": 100, "inserted": 90, "duplicates_dropped": 4, "conflicts": 1}
    totals |= {"rejected": 6, "late": 2} | silver_totals
    silver = SilverStats(exists=True, rows=90, files=2, bytes=8192, batches=2, totals=totals,
                         rejects_by_rule={"amount_positive": 5, "duplicate_conflict": 1})  # fmt: skip
    gold = GoldStats(
        exists=True, alerts=3, alerts_by_detector={"velocity": 2, "card_testing": 1},
        top_decline_merchants=[{"merchant_id": "M1", "transactions": 40, "declined": 10,
                                "decline_rate": 0.25}],
    )  # fmt: skip
    volume = HourlyVolume(
        counts={
            "bronze": {H0 - timedelta(hours=1): 30, H0: 70},
            "silver": {H0 - timedelta(hours=1): 25, H0: 65},
            "gold": {H0 - timedelta(hours=1): 20, H0: 65},
        },
        earlier_rows={"bronze": 0, "silver": 0, "gold": 5},
    )
    return report.Report(
        topic="bank_txn_stream",
        lake=Path("/lake"),
        kafka=TopicStats({0: 0, 1: 0}, {0: 50, 1: 55}, 10_000),
        bronze=_facts(BRONZE, 100, 3),
        quarantine=_facts("quarantine", 5),
        quarantine_by_reason={"EMPTY_VALUE": 3, "BAD_MAGIC_BYTE": 2},
        committed_offsets={0: 50, 1: 55},
        silver=silver,
        gold=gold,
        freshness={"bronze": Freshness(4.0, 2.5, 2), "silver": Freshness(3.0, None, 0)},
        volume=volume,
        tables={BRONZE: _facts(BRONZE, 100, 3, 30_000), SILVER: _facts(SILVER, 90, 2, 2 << 20)},
    ).as_json()


def _specs(page: str) -> dict[str, dict]:
    found = re.search(r"const specs = (\{.*?\});\n", page, re.S)
    assert found, "no specs in the page"
    return json.loads(found.group(1))


def _values(spec: dict) -> list[dict]:
    """The inline data of a spec (top level or of its first layer)."""
    data = spec.get("data") or spec["layer"][0]["data"]
    return data["values"]


def _marks(spec: dict) -> set[str]:
    marks = [spec.get("mark")] + [layer.get("mark") for layer in spec.get("layer", [])]
    return {m["type"] if isinstance(m, dict) else m for m in marks if m}


class _Tags(HTMLParser):
    """Every start tag's name and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(_model(), generated_at=H0)


def test_the_page_loads_nothing_from_anywhere(page):
    parser = _Tags()
    parser.feed(page)
    assert not [(t, a) for t, a in parser.tags if "src" in a or "href" in a or t == "link"]
    csp = [a["content"] for t, a in parser.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]
    assert "connect-src" not in csp[0]  # falls back to default-src: no fetch, no XHR
    # vega, vega-lite and vega-embed are inlined: the page is about 1 MB.
    assert "window.vegaEmbed" in page and len(page) > 500_000


def test_every_chart_has_its_place_and_the_models_figures(page):
    parser = _Tags()
    parser.feed(page)
    assert [a["data-chart"] for _, a in parser.tags if "data-chart" in a] == list(CHARTS)
    specs = _specs(page)
    assert list(specs) == list(CHARTS)
    assert {(v["reason"], v["n"]) for v in _values(specs["quarantine"])} == {
        ("EMPTY_VALUE", 3),
        ("BAD_MAGIC_BYTE", 2),
    }
    assert {(v["rule"], v["n"]) for v in _values(specs["rejects"])} == {
        ("amount_positive", 5),
        ("duplicate_conflict", 1),
    }
    assert {(v["detector"], v["n"]) for v in _values(specs["alerts"])} == {
        ("velocity", 2),
        ("card_testing", 1),
    }
    volume = {(v["hour"], v["layer"]): v["rows"] for v in _values(specs["volume"])}
    assert volume[("2026-12-07T21:00:00Z", "bronze")] == 70 and len(volume) == 6
    assert [v["table"] for v in _values(specs["tables"])] == [BRONZE, SILVER]
    assert {v["table"] for v in _values(specs["latency"])} == {"bronze", "silver"}
    for name in ("volume", "quarantine", "rejects", "alerts", "reconciliation", "tables"):
        assert "bar" in _marks(specs[name]), name


def test_the_tiles_and_tables_show_the_models_numbers(page):
    text = re.sub(r"<[^>]+>", " ", page.rsplit("<body>", 1)[1].split("const specs")[0])
    text = " ".join(text.split())
    for figure, label in [("105", "topic messages"), ("100", "bronze rows"),
                          ("5", "quarantined"), ("90", "silver rows"), ("3", "alerts")]:  # fmt: skip
        assert f"{figure} {label}" in text
    assert "bronze 100 = silver 90 + rejected 6 + duplicates 4 reconciled" in text
    assert "silver 90 = gold transactions 90 reconciled" in text  # 5 of earlier hours included
    assert "M1 40 10 25.0%" in text
    assert "Rows of earlier hours, not drawn: gold 5." in text


def test_an_empty_lake_says_0_in_every_chart():
    specs = _specs(render_html(_model(empty=True)))
    for name in ("volume", "latency", "quarantine", "rejects", "alerts", "tables"):
        assert _marks(specs[name]) == {"text"}, name
        assert _values(specs[name])[0]["message"].startswith("0 "), name
    assert "no silver table yet" in _values(specs["rejects"])[0]["message"]
    # Kafka -> bronze still reconciles: 0 messages = 0 + 0 + 0; a chart with nothing to stack.
    assert _marks(specs["reconciliation"]) == {"text"}


def test_the_data_cannot_break_out_of_the_page():
    model = _model()
    evil = "</script><script>alert(1)</script>"
    model["quarantine_by_reason"] = {evil: 1}
    model["gold"]["top_decline_merchants"][0]["merchant_id"] = "<span>M1</span>"
    html = render_html(model)
    assert evil not in html and "<span>M1</span>" not in html
    assert "&lt;span&gt;M1&lt;/span&gt;" in html
    assert _values(_specs(html)["quarantine"]) == [{"reason": evil, "n": 1}]


def test_reconciliation_per_layer():
    steps = {s["step"]: s for s in reconciliation(_model())}
    assert list(steps) == ["Kafka -> bronze", "bronze -> silver", "silver -> gold"]
    assert all(s["state"] == "ok" for s in steps.values())
    kafka = steps["Kafka -> bronze"]
    assert kafka["equation"] == "messages 105 = bronze 100 + quarantined 5 + lag 0"
    assert kafka["parts"][0] == ("in", "messages", 105)


def test_a_layer_behind_is_not_a_failure_and_a_gap_is():
    model = _model()
    model["silver"] |= {"reconciled": False, "bronze_rows_not_read": 10}
    model["silver"]["duplicates_dropped"] = 0  # 90 + 6 + 0 + 10 not read yet = 106 != 100
    silver = reconciliation(model)[1]
    assert silver["state"] == "behind"
    assert silver["verdict"] == "10 bronze rows not read by silver yet"
    assert ("out", "not read yet", 10) in silver["parts"]

    model = _model()
    model["silver"] |= {"reconciled": False, "bronze_rows_not_read": 0, "rejected": 2}
    assert reconciliation(model)[1]["state"] == "bad"
    assert reconciliation(model)[1]["verdict"] == "NOT reconciled: +4 rows"

    model = _model()
    model["topic_messages_total"] = 107  # two offsets that are not records (markers)
    kafka = reconciliation(model)[0]
    assert kafka["state"] == "bad" and "transaction markers" in kafka["verdict"]

    model = _model()
    model["volume_per_hour"]["earlier_rows"]["gold"] = 0  # gold counted 85 of silver's 90
    gold = reconciliation(model)[2]
    assert gold["state"] == "behind" and ("out", "not aggregated yet", 5) in gold["parts"]


def _write(lake: Lake, table: str, columns: dict[str, pa.Array]) -> None:
    write_deltalake(str(lake.table_path(table)), pa.table(columns), mode="append")


def _ts(hours: list[datetime]) -> pa.Array:
    return pa.array(hours, pa.timestamp("us", tz="UTC"))


def test_hourly_volume_per_layer_from_the_tables(tmp_path):
    lake = Lake(tmp_path / "lake")
    old = H0 - timedelta(days=3)
    bronze = [H0 + timedelta(minutes=5)] * 3 + [H0 - timedelta(minutes=1)] * 2 + [old]
    _write(lake, BRONZE, {"timestamp": _ts(bronze)})
    _write(lake, SILVER, {"timestamp": _ts(bronze[:4])})
    _write(
        lake,
        GOLD_MERCHANT_HOURLY,
        {
            "event_date": pa.array([date(2026, 12, 7)] * 2, pa.date32()),
            "event_hour": pa.array([21, 20], pa.int32()),
            "transactions": pa.array([3, 1], pa.int64()),
        },
    )
    vol = hourly_volume(lake, window_hours=24).as_json()
    got = {(h["hour"], h["layer"]): h["rows"] for h in vol["hours"]}
    assert got == {
        ("2026-12-07T20:00:00Z", "bronze"): 2,
        ("2026-12-07T21:00:00Z", "bronze"): 3,
        ("2026-12-07T20:00:00Z", "silver"): 1,
        ("2026-12-07T21:00:00Z", "silver"): 3,
        ("2026-12-07T20:00:00Z", "gold"): 1,
        ("2026-12-07T21:00:00Z", "gold"): 3,
    }
    assert [h["hour"] for h in vol["hours"]] == sorted(h["hour"] for h in vol["hours"])
    assert vol["earlier_rows"] == {"bronze": 1, "silver": 0, "gold": 0}


def test_hourly_volume_skips_what_is_missing(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert hourly_volume(lake).as_json()["hours"] == []
    _write(lake, BRONZE, {"x": pa.array([1])})  # no event time: not a layer to count
    _write(lake, SILVER, {"timestamp": _ts([])})
    vol = hourly_volume(lake).as_json()
    assert vol["hours"] == [] and vol["earlier_rows"] == {"silver": 0}


def test_table_sizes_reuse_the_facts_already_read(tmp_path):
    lake = Lake(tmp_path / "lake")
    _write(lake, BRONZE, {"timestamp": _ts([H0, H0])})
    _write(lake, SILVER, {"timestamp": _ts([H0])})
    known = _facts(BRONZE, rows=12345)
    sizes = table_sizes(lake, {BRONZE: known})
    assert list(sizes) == [BRONZE, SILVER]
    assert sizes[BRONZE] is known
    assert (sizes[SILVER].rows, sizes[SILVER].files) == (1, 1) and sizes[SILVER].bytes > 0


def test_the_cli_writes_the_page_and_prints_its_path(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "lake")
    _write(lake, BRONZE, {"timestamp": _ts([H0, H0 + timedelta(minutes=1)])})
    monkeypatch.setattr(report, "topic_stats", lambda *_: TopicStats({0: 0}, {0: 2}, None))
    base = ["--lake", str(lake.root), "--topic", "t", "--bootstrap-servers", "127.0.0.1:1"]
    out = tmp_path / "report.html"
    res = CliRunner().invoke(cli, [*base, "--format", "html", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(out.resolve())
    specs = _specs(out.read_text(encoding="utf-8"))
    assert _values(specs["volume"]) == [
        {"hour": "2026-12-07T21:00:00Z", "layer": "bronze", "rows": 2}
    ]
    res = CliRunner().invoke(cli, [*base, "--format", "json"])
    model = json.loads(res.output)
    assert model["tables"] == {"bronze": {"rows": 2, "files": 1, "bytes": model["bronze_bytes"],
                                          "version": 0}}  # fmt: skip
    assert model["volume_per_hour"]["earlier_rows"] == {"bronze": 0}
