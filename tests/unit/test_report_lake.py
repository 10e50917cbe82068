"""Reading Spark's file-sink log without Spark: batches, compaction, deletes."""

from __future__ import annotations

import json
from pathlib import Path

from txn_report.lake import checkpoint_offsets, committed_files


def _log(d: Path, name: str, entries: list[tuple[str, int, str]]) -> None:
    lines = ["v1"] + [
        json.dumps({"path": f"file://{p}", "size": s, "isDir": False, "action": a})
        for p, s, a in entries
    ]
    (d / name).write_text("\n".join(lines))


def test_batches_after_the_latest_compaction_are_applied_in_order(tmp_path):
    log = tmp_path / "_spark_metadata"
    log.mkdir()
    _log(log, "8", [("/x/old.parquet", 1, "add")])  # superseded by 9.compact
    _log(log, "9.compact", [("/x/a.parquet", 10, "add"), ("/x/b.parquet", 20, "add")])
    _log(log, "10", [("/x/c.parquet", 30, "add"), ("/x/a.parquet", 10, "delete")])
    (log / ".10.crc").write_text("x")
    (log / "11.tmp").write_text("half written")
    files = committed_files(tmp_path)
    assert files == {Path("/x/b.parquet"): 20, Path("/x/c.parquet"): 30}


def test_no_log_means_no_committed_files(tmp_path):
    assert committed_files(tmp_path) == {}


def test_checkpoint_offsets_come_from_the_last_committed_batch(tmp_path):
    (tmp_path / "offsets").mkdir()
    (tmp_path / "commits").mkdir()
    for batch, offs in ((0, 10), (1, 20), (2, 30)):
        (tmp_path / "offsets" / str(batch)).write_text(
            'v1\n{"batchWatermarkMs":0}\n' + json.dumps({"t": {"0": offs, "1": offs + 1}})
        )
    (tmp_path / "commits" / "0").write_text("v1\n{}")
    (tmp_path / "commits" / "1").write_text("v1\n{}")
    # Batch 2 was planned but not committed (the job died): its offsets are still lag.
    assert checkpoint_offsets(tmp_path) == {"t": {0: 20, 1: 21}}
    assert checkpoint_offsets(tmp_path / "missing") is None
