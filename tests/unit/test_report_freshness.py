"""txn-report's freshness section: per existing table, from the writer's commits (a lake of
delta-rs-made tables with the jobs' userMetadata; the broker's figures stubbed, no Kafka)."""

from __future__ import annotations

import json
import time

import pyarrow as pa
from click.testing import CliRunner
from deltalake import CommitProperties, write_deltalake

from txn_lake import BRONZE, QUARANTINE, SILVER, Lake
from txn_lake.tables import BRONZE_TABLE, QUARANTINE_TABLE, SILVER_TABLE
from txn_report import report
from txn_report.cli import cli
from txn_report.kafka_stats import TopicStats


def _commit(path, meta: dict, data: pa.Table | None = None) -> None:
    write_deltalake(
        str(path),
        pa.table({"x": [1]}) if data is None else data,
        mode="append",
        commit_properties=CommitProperties(custom_metadata={"userMetadata": json.dumps(meta)}),
    )


def _event_time(rows: int, p50_ms: int | None) -> dict:
    return {"rows": rows, "min_ms": p50_ms, "p50_ms": p50_ms, "max_ms": p50_ms}


def _lake(tmp_path) -> Lake:
    """Tables whose batches' events were 3 s (bronze) and 8 s (silver) old when written (the
    clock read here, not at import: a slow suite must not age them)."""
    now_ms = time.time_ns() // 1_000_000
    lake = Lake(tmp_path / "lake")
    bronze = lake.table_path(BRONZE)
    offsets = {"t": {"0": 5}}
    for batch in range(3):
        _commit(
            bronze,
            {
                "app_id": BRONZE_TABLE.app_id,
                "batch_id": batch,
                "end_offsets": offsets,
                "event_time": _event_time(10, now_ms - 3_000),
            },
        )
    # Written before the jobs recorded event times: freshness, but no latency.
    _commit(
        lake.table_path(QUARANTINE),
        {"app_id": QUARANTINE_TABLE.app_id, "batch_id": 0},
        pa.table({"reason": ["not_framed"]}),
    )
    _commit(
        lake.table_path(SILVER),
        {
            "app_id": SILVER_TABLE.app_id,
            "batch_id": 0,
            "event_time": _event_time(4, now_ms - 8_000),
        },
    )
    return lake


def _run(tmp_path, monkeypatch, fmt: str) -> str:
    lake = _lake(tmp_path)
    kafka = TopicStats({0: 0}, {0: 5}, None)
    monkeypatch.setattr(report, "topic_stats", lambda *_args: kafka)
    args = ["--lake", str(lake.root), "--topic", "t", "--format", fmt]
    args += ["--bootstrap-servers", "127.0.0.1:1"]  # never reached: topic_stats is stubbed
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_json_has_freshness_per_existing_table_and_keeps_the_other_keys(tmp_path, monkeypatch):
    out = json.loads(_run(tmp_path, monkeypatch, "json"))
    fresh = out["freshness"]
    assert list(fresh) == ["bronze", "quarantine", "silver"]  # flow order; no silver_rejects
    for table in fresh.values():
        assert set(table) == {"seconds_since_commit", "p95_latency_seconds", "batches"}
        assert 0 <= table["seconds_since_commit"] < 60
    assert fresh["bronze"]["batches"] == 3
    assert 3 <= fresh["bronze"]["p95_latency_seconds"] < 60
    assert 8 <= fresh["silver"]["p95_latency_seconds"] < 60
    assert fresh["quarantine"]["p95_latency_seconds"] is None
    assert fresh["quarantine"]["batches"] == 0
    # Everything the report had before is still there.
    assert out["lag"]["total"] == 0 and out["lag"]["checkpoint_found"] is True
    assert out["bronze_rows"] == 3 and out["silver"]["exists"] is True


def test_text_has_a_freshness_block(tmp_path, monkeypatch):
    text = _run(tmp_path, monkeypatch, "text")
    block = text[text.index("Freshness:") :].splitlines()
    assert "over the last 20 batches" in block[0]
    lines = {line.split()[0]: line for line in block[1:4]}
    assert "last commit" in lines["bronze"] and "over 3 batches" in lines["bronze"]
    assert "no batch recorded its event times" in lines["quarantine"]
    assert "over 1 batch" in lines["silver"] and "batches" not in lines["silver"]


def test_text_says_when_a_table_has_no_writer_commit():
    lines = report._freshness_lines(
        {"silver_rejects": {"seconds_since_commit": None, "p95_latency_seconds": None}}
    )
    assert " ".join(lines[-1].split()) == "silver_rejects no batch has written to it yet"
    assert report._freshness_lines({}) == []
