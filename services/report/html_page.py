"""``txn-report --format html``: the report as one self-contained page.

The page is built from the report's JSON model (:meth:`txn_report.report.Report.as_json`), so it
shows exactly what ``--format json`` prints. Its charts are Vega-Lite specs (:mod:`.charts`)
drawn by vega-embed, whose JavaScript (vega, vega-lite, vega-embed) is inlined from
vl-convert's bundle: the page loads nothing from the network (its Content-Security-Policy
forbids it), so it opens the same on a laptop on a plane.

Example::

    page = render_html(build_report(settings).as_json())
    Path("report.html").write_text(page, encoding="utf-8")
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from html import escape
from typing import Any

from . import charts
from .reconcile import reconciliation

__all__ = ["CHARTS", "chart_specs", "render_html", "vega_bundle"]

CHARTS = ("volume", "latency", "quarantine", "rejects", "alerts", "reconciliation", "tables")
"""The page's charts, in page order (each is a ``<div data-chart=NAME>``)."""

# The page may run inline scripts and styles (vega compiles its expressions with Function, hence
# 'unsafe-eval') and show data: images (the export menu is off); it may fetch nothing.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data:; font-src data:"
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 980px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2.2rem; }
.meta, .note { color: #555; font-size: .9rem; }
.tiles { display: flex; flex-wrap: wrap; gap: .6rem; }
.tile { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .8rem; min-width: 8rem; }
.tile b { display: block; font-size: 1.2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .25rem .7rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #18794e; } .behind { color: #9a6700; } .bad { color: #b42318; }
"""

# vega-embed draws every chart as SVG; each chart's div says when it has drawn ("drawn") or
# failed ("failed", and the error goes to the console). window.txnCharts settles when all have.
_EMBED = """
const opts = {renderer: "svg", actions: false};
window.txnCharts = Promise.allSettled(Object.entries(specs).map(([name, spec]) => {
  const el = document.querySelector('[data-chart="' + name + '"]');
  return vegaEmbed(el, spec, opts).then(
    () => { el.dataset.state = "drawn"; },
    (err) => { el.dataset.state = "failed"; console.error("chart " + name + ": " + err); });
}));
"""


@functools.cache
def vega_bundle() -> str:
    """vega, vega-lite (the version Altair writes specs for) and vega-embed as one script that
    sets ``window.vegaEmbed``, from vl-convert (no network)."""
    import altair as alt
    import vl_convert

    # Altair's own inline HTML does the same: "v6.4.1" -> vl-convert's "v6_4".
    script = vl_convert.javascript_bundle(vl_version="_".join(alt.SCHEMA_VERSION.split(".")[:2]))
    if "</script" in script.lower():  # it would end the inline <script> early
        raise RuntimeError("the vega bundle contains </script>; it cannot be inlined")
    return script


def chart_specs(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The page's Vega-Lite specs, by :data:`CHARTS` name, from the report's JSON model."""
    volume = model.get("volume_per_hour") or {"hours": [], "earlier_rows": {}}
    silver, gold = model["silver"], model["gold"]
    return {
        "volume": charts.volume_chart(volume["hours"], list(volume["earlier_rows"])),
        "latency": charts.latency_chart(model["freshness"]),
        "quarantine": charts.counts_chart(
            model["quarantine_by_reason"], "reason", "quarantined rows"
        ),
        "rejects": charts.counts_chart(silver["rejects_by_rule"], "rule", "rejected rows")
        if silver["exists"]
        else charts.empty_chart("0 rejected rows: no silver table yet (run silver-refine)"),
        "alerts": charts.counts_chart(gold["alerts_by_detector"], "detector", "alerts")
        if gold["exists"]
        else charts.empty_chart("0 alerts: no gold table yet (run gold-signals)"),
        "reconciliation": charts.reconciliation_chart(reconciliation(model)),
        "tables": charts.sizes_chart(model.get("tables") or {}),
    }


def _script_json(value: Any) -> str:
    """JSON safe inside an inline ``<script>``: no ``</script>`` or ``<!--`` can appear."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _n(value: int | float | None) -> str:
    return "-" if value is None else f"{value:,}"


class _Markup(str):
    """A table cell that is already HTML (built here from escaped parts): not escaped again."""


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """An HTML table; every cell is escaped here, except :class:`_Markup` ones."""

    def cell(i: int, text: str) -> str:
        body = text if isinstance(text, _Markup) else escape(text)
        return f'<td class="n">{body}</td>' if i in numeric else f"<td>{body}</td>"

    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _tiles(m: dict[str, Any]) -> str:
    sv, g = m["silver"], m["gold"]
    tiles = [
        ("topic messages", m["topic_messages_total"]),
        ("bronze rows", m["bronze_rows"]),
        ("quarantined", m["quarantine_rows"]),
        ("silver rows", sv["rows"] if sv["exists"] else None),
        ("rejected", sv["rejected"] if sv["exists"] else None),
        ("duplicates dropped", sv["duplicates_dropped"] if sv["exists"] else None),
        ("alerts", g["alerts"] if g["exists"] else None),
        ("lag (offsets)", m["lag"]["total"]),
    ]
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile" data-tile="{escape(k)}"><b>{_n(v)}</b>{escape(k)}</div>'
            for k, v in tiles
        )
        + "</div>"
    )


def _reconciliation_table(m: dict[str, Any]) -> str:
    rows = []
    for s in reconciliation(m):
        verdict = _Markup(f'<span class="{s["state"]}">{escape(s["verdict"])}</span>')
        rows.append([s["step"], s["equation"], verdict])
    if not rows:
        return '<p class="note">No table yet: nothing to reconcile.</p>'
    return _table(["step", "rows in = rows accounted for", "verdict"], rows)


def _tables_table(m: dict[str, Any]) -> str:
    from txn_lake.describe import human_size

    rows = [
        [name, _n(t["rows"]), _n(t["files"]), human_size(t["bytes"]), human_size(average)]
        for name, t in (m.get("tables") or {}).items()
        for average in [t["bytes"] / t["files"] if t["files"] else None]
    ]
    if not rows:
        return ""
    return _table(["table", "rows", "files", "size", "average file"], rows, {1, 2, 3, 4})


def _merchants_table(g: dict[str, Any]) -> str:
    if not g["exists"] or not g["top_decline_merchants"]:
        return '<p class="note">No merchant with enough transactions yet.</p>'
    rows = [
        [
            str(r["merchant_id"]),
            _n(r["transactions"]),
            _n(r["declined"]),
            f"{r['decline_rate']:.1%}",
        ]
        for r in g["top_decline_merchants"]
    ]
    return _table(["merchant", "transactions", "declined", "decline rate"], rows, {1, 2, 3})


def _notes(m: dict[str, Any]) -> str:
    from txn_lake.describe import human_size

    notes = []
    earlier = (m.get("volume_per_hour") or {}).get("earlier_rows", {})
    if any(earlier.values()):
        older = ", ".join(f"{k} {v:,}" for k, v in earlier.items() if v)
        notes.append(f"Rows of earlier hours, not drawn: {older}.")
    if m["uncommitted_files"]:
        notes.append(
            f"Not counted: {m['uncommitted_files']:,} uncommitted file(s), "
            f"{human_size(m['uncommitted_bytes'])}, that no table version references."
        )
    if m["topic_bytes"] is None:
        notes.append("Topic size unknown: pass --kafka-log-dir or --state-dir.")
    return "".join(f'<p class="note">{escape(n)}</p>' for n in notes)


def _section(title: str, chart: str | None, caption: str, extra: str = "") -> str:
    div = f'<div class="chart" data-chart="{chart}"></div>' if chart else ""
    return f'<h2>{escape(title)}</h2><p class="note">{escape(caption)}</p>{div}{extra}'


def _body(m: dict[str, Any]) -> str:
    vol = m.get("volume_per_hour") or {}
    sections = [
        _section(
            "Volume per hour per layer",
            "volume",
            f"Rows per {vol.get('basis', 'event hour (UTC)')}, the last "
            f"{vol.get('window_hours', 48)} hours; gold counts the transactions it aggregated.",
        ),
        _section(
            "Latency and freshness",
            "latency",
            "Per table: the p95 of its recent batches' latency (commit time minus the batch's "
            "median event time) and the time since its writer's last commit.",
        ),
        _section("Quarantine reasons", "quarantine", "Bronze rows quarantined, by reason."),
        _section("Rejects by rule", "rejects", "Rows silver rejected, by quality rule."),
        _section("Alerts by detector", "alerts", "Alerts gold raised, by detector."),
        _section(
            "Reconciliation",
            "reconciliation",
            "Per layer, the rows in (left bar) and where each went (right bar).",
            _reconciliation_table(m),
        ),
        _section("Tables: files and size", "tables", "Committed files only.", _tables_table(m)),
        _section(
            "Highest decline rates",
            None,
            "Merchants by share of declined transactions.",
            _merchants_table(m["gold"]),
        ),
    ]
    return "".join(sections)


def render_html(model: dict[str, Any], *, generated_at: datetime | None = None) -> str:
    """The page for the report's JSON ``model``: summary tiles, :data:`CHARTS` and tables, with
    the charts' scripts inlined (no network)."""
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    title = f"txn-report: {model['topic']} -> {model['lake']}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_STYLE}</style>
<script>{vega_bundle()}</script>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="meta">Lake {escape(str(model["lake"]))} &middot; generated {when}</p>
{_tiles(model)}
{_notes(model)}
{_body(model)}
<script>
const specs = {_script_json(chart_specs(model))};
{_EMBED}
</script>
</body>
</html>
"""
