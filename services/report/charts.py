"""The HTML report's charts: Vega-Lite specs built with Altair from the report's JSON model.

Every function takes parts of :meth:`txn_report.report.Report.as_json` and returns a Vega-Lite
spec (a dict). A chart with nothing to show is a text mark saying so ("0 quarantined rows"), so
that it still draws and says why it is empty instead of leaving a blank axis.

Example::

    spec = counts_chart({"EMPTY_VALUE": 2}, "reason", "quarantined rows")
    # {"$schema": ".../vega-lite/v6...json", "mark": {"type": "bar"}, ...}
"""

from __future__ import annotations

from typing import Any

from txn_lake.describe import human_size

__all__ = [
    "LAYER_COLORS",
    "WIDTH",
    "counts_chart",
    "empty_chart",
    "latency_chart",
    "reconciliation_chart",
    "sizes_chart",
    "volume_chart",
]

WIDTH = 560
"""Every chart's width in pixels (the page is one column)."""

LAYER_COLORS = {"bronze": "#b0793b", "silver": "#8d99a6", "gold": "#d4a017"}
"""The layers' colours, the same in every chart."""

# The reconciliation's parts: a layer's rows in its colour, what left the flow in warm colours,
# what is still on its way in greys.
_PART_COLORS = {
    "messages": "#4c78a8",
    "bronze": LAYER_COLORS["bronze"],
    "quarantined": "#e45756",
    "lag": "#c9c9c9",
    "silver": LAYER_COLORS["silver"],
    "rejected": "#9e2a2b",
    "duplicates": "#f2a65a",
    "not read yet": "#dcdcdc",
    "gold transactions": LAYER_COLORS["gold"],
    "not aggregated yet": "#e6e6e6",
}
_BAR_HEIGHT = 22


def _alt():
    import altair as alt  # heavy (jsonschema, narwhals): only when a page is built

    return alt


def _spec(chart) -> dict[str, Any]:
    return chart.properties(width=WIDTH).to_dict()


def empty_chart(message: str) -> dict[str, Any]:
    """A chart whose only mark is ``message`` (for a figure that is 0 or absent)."""
    alt = _alt()
    chart = (
        alt.Chart(alt.Data(values=[{"message": message}]))
        .mark_text(fontSize=15, color="#555")
        .encode(text="message:N")
        .properties(height=60)
    )
    return _spec(chart)


def counts_chart(counts: dict[str, int], key: str, what: str) -> dict[str, Any]:
    """Horizontal bars, one per ``key`` value (a reason, a rule, a detector), labelled with its
    count of ``what``; :func:`empty_chart` ("0 ``what``") when every count is 0 or none."""
    rows = [{key: k, "n": int(v)} for k, v in counts.items() if v]
    if not rows:
        return empty_chart(f"0 {what}")
    alt = _alt()
    rows.sort(key=lambda r: (-r["n"], str(r[key])))
    top = rows[0]["n"]
    # An explicit order: sort="-x" in both layers makes vega-lite warn on the console.
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y(f"{key}:N", sort=[r[key] for r in rows], title=None),
        # Counts are whole: at most one tick per unit (no 0.5 when every count is 1).
        x=alt.X("n:Q", title=what, axis=alt.Axis(tickCount=min(top, 5), format=",d")),
        tooltip=[alt.Tooltip(f"{key}:N"), alt.Tooltip("n:Q", format=",", title=what)],
    )
    bars = base.mark_bar(color="#4c78a8")
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("n:Q", format=","))
    return _spec((bars + labels).properties(height=_BAR_HEIGHT * len(rows)))


def volume_chart(hours: list[dict[str, Any]], layers: list[str]) -> dict[str, Any]:
    """Rows per event hour, one bar per layer side by side (``hours``: ``{"hour": ISO,
    "layer", "rows"}``); empty: a message naming the layers that exist."""
    rows = [h for h in hours if h["rows"]]
    if not rows:
        where = ", ".join(layers) if layers else "no bronze, silver or gold table yet"
        return empty_chart(f"0 rows per hour ({where})")
    alt = _alt()
    order = [layer for layer in LAYER_COLORS if layer in {h["layer"] for h in rows}]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("hour:O", timeUnit="utcyearmonthdatehours", title="event hour (UTC)"),
            xOffset=alt.XOffset("layer:N", sort=order),
            y=alt.Y("rows:Q", title="rows"),
            color=_layer_color(order),
            tooltip=[
                alt.Tooltip("hour:T", timeUnit="utcyearmonthdatehours", title="hour (UTC)"),
                alt.Tooltip("layer:N"),
                alt.Tooltip("rows:Q", format=","),
            ],
        )
        .properties(height=240)
    )
    return _spec(chart)


def _layer_color(order: list[str]):
    alt = _alt()
    scale = alt.Scale(domain=order, range=[LAYER_COLORS[layer] for layer in order])
    return alt.Color("layer:N", scale=scale, sort=order, title="layer")


def latency_chart(freshness: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per table, the p95 of its recent batches' event -> commit latency and the time since its
    writer's last commit, in seconds; tables with neither are left out."""
    measures = {
        "p95_latency_seconds": "p95 latency (event -> commit)",
        "seconds_since_commit": "since the last commit",
    }
    rows = [
        {"table": table, "measure": label, "seconds": f[key]}
        for table, f in freshness.items()
        for key, label in measures.items()
        if f.get(key) is not None
    ]
    if not rows:
        return empty_chart("0 batches committed: no latency to show yet")
    alt = _alt()
    tables = list(dict.fromkeys(r["table"] for r in rows))
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("table:N", sort=tables, title=None),
        yOffset=alt.YOffset("measure:N", sort=list(measures.values())),
        x=alt.X("seconds:Q", title="seconds"),
        tooltip=["table:N", "measure:N", alt.Tooltip("seconds:Q", format=",.1f")],
    )
    bars = base.mark_bar().encode(
        color=alt.Color("measure:N", sort=list(measures.values()), title=None)
    )
    labels = base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text("seconds:Q", format=",.1f")
    )
    height = 2 * _BAR_HEIGHT * len(tables)
    return _spec((bars + labels).properties(height=height))


def reconciliation_chart(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Per step (``{"step", "parts": [(side, part, rows)]}``), the rows in beside the rows
    accounted for, stacked by part: the two bars of a reconciled step are equally tall."""
    rows = [
        {"step": s["step"], "side": side, "part": part, "rows": n}
        for s in steps
        for side, part, n in s["parts"]
        if n
    ]
    if not rows:
        return empty_chart("0 rows in any layer yet")
    alt = _alt()
    order = list(dict.fromkeys(s["step"] for s in steps))
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("side:N", sort=["in", "out"]),
        y=alt.Y("sum(rows):Q", title="rows", stack="zero"),
        tooltip=["step:N", "side:N", "part:N", alt.Tooltip("rows:Q", format=",")],
    )
    parts = list(dict.fromkeys(r["part"] for r in rows))
    scale = alt.Scale(domain=parts, range=[_PART_COLORS.get(p, "#999999") for p in parts])
    bars = base.mark_bar(stroke="white", strokeWidth=0.5).encode(
        color=alt.Color("part:N", title="rows", sort=parts, scale=scale)
    )
    return _spec(bars.properties(height=260))


def sizes_chart(tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Bytes per table (bars), labelled with its files and size; empty without a table."""
    rows = [
        {"table": name, "bytes": t["bytes"], "files": t["files"], "label": label}
        for name, t in tables.items()
        for label in [f"{t['files']:,} files, {human_size(t['bytes'])}"]
    ]
    if not rows:
        return empty_chart("0 tables in the lake yet")
    alt = _alt()
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("table:N", sort=list(tables), title=None),
        x=alt.X("bytes:Q", title="size (bytes)", axis=alt.Axis(format="~s")),
        tooltip=["table:N", alt.Tooltip("files:Q", format=","), alt.Tooltip("bytes:Q", format=",")],
    )
    bars = base.mark_bar(color="#72b7b2")
    labels = base.mark_text(align="left", dx=4).encode(text="label:N")
    return _spec((bars + labels).properties(height=_BAR_HEIGHT * len(rows)))
