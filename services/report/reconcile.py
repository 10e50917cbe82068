"""The reconciliation of each layer, from the report's JSON model: rows in = rows accounted for.

- **Kafka -> bronze**: the topic's messages = bronze rows + quarantined rows + lag (messages
  bronze has not committed yet).
- **bronze -> silver**: bronze rows = silver rows + rejected + exact duplicates dropped (+ rows
  silver has not read yet, which the report counts apart: :mod:`.silver_stats`).
- **silver -> gold**: silver rows = the transactions gold's merchant-hour aggregate counts (the
  sum over every hour of ``volume_per_hour``'s gold layer, earlier hours included).

Example::

    reconciliation(report.as_json())[1]["equation"]
    # "bronze 68 = silver 53 + rejected 9 + duplicates 6"
"""

from __future__ import annotations

from typing import Any

__all__ = ["reconciliation"]


def _step(
    name: str, source: str, rows_in: int, parts: list[tuple[str, int]], verdict: str | None
) -> dict[str, Any]:
    """One step: ``parts`` are ``(what, rows)`` accounted for; ``verdict`` None: say it from
    the sums (reconciled when they are equal)."""
    accounted = sum(n for _, n in parts)
    ok = rows_in == accounted
    if verdict is None:
        verdict = "reconciled" if ok else f"NOT reconciled: {rows_in - accounted:+,} rows"
    terms = " + ".join(f"{what} {n:,}" for what, n in parts)
    return {
        "step": name,
        "rows_in": rows_in,
        "parts": [("in", source, rows_in)] + [("out", what, n) for what, n in parts],
        "equation": f"{source} {rows_in:,} = {terms}",
        "state": "ok" if ok else "bad",
        "verdict": verdict,
    }


def _kafka(m: dict[str, Any]) -> dict[str, Any]:
    parts = [
        ("bronze", m["bronze_rows"]),
        ("quarantined", m["quarantine_rows"]),
        ("lag", m["lag"]["total"]),
    ]
    step = _step("Kafka -> bronze", "messages", m["topic_messages_total"], parts, None)
    if step["state"] != "ok":
        step["verdict"] += (
            " (offsets that hold no record, such as transaction markers, and records retention "
            "deleted from the topic count here)"
        )
    return step


def _silver(m: dict[str, Any]) -> dict[str, Any]:
    sv = m["silver"]
    parts = [
        ("silver", sv["rows"]),
        ("rejected", sv["rejected"]),
        ("duplicates", sv["duplicates_dropped"]),
    ]
    verdict = None
    behind = sv["bronze_rows_not_read"]
    if not sv["reconciled"] and behind > 0:
        parts.append(("not read yet", behind))
        verdict = f"{behind:,} bronze rows not read by silver yet"
    step = _step("bronze -> silver", "bronze", m["bronze_rows"], parts, verdict)
    step["state"] = "ok" if sv["reconciled"] else "behind" if verdict else "bad"
    return step


def _gold(m: dict[str, Any]) -> dict[str, Any] | None:
    vol = m.get("volume_per_hour") or {}
    if "gold" not in vol.get("earlier_rows", {}):
        return None
    transactions = vol["earlier_rows"]["gold"] + sum(
        h["rows"] for h in vol["hours"] if h["layer"] == "gold"
    )
    rows = m["silver"]["rows"]
    parts = [("gold transactions", transactions)]
    verdict = None
    if rows > transactions:
        parts.append(("not aggregated yet", rows - transactions))
        verdict = f"{rows - transactions:,} silver rows not aggregated by gold yet"
    step = _step("silver -> gold", "silver", rows, parts, verdict)
    step["state"] = "ok" if rows == transactions else "behind" if verdict else "bad"
    return step


def reconciliation(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of the layers that exist, in flow order: each ``{"step", "rows_in", "parts":
    [(side "in"|"out", what, rows)], "equation", "state", "verdict"}``; ``state`` is "ok"
    (reconciled), "behind" (the next layer has not read everything yet: not a failure) or
    "bad"."""
    steps = [_kafka(model)]
    if model["silver"]["exists"]:
        steps.append(_silver(model))
        if model["gold"]["exists"] and (gold := _gold(model)) is not None:
            steps.append(gold)
    return steps
