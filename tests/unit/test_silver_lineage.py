"""Which bronze versions a silver batch read: bronze commits whose offset ranges meet the
batch's offset spans (a real Delta table written by delta-rs, no JVM)."""

from __future__ import annotations

import json

import pyarrow as pa
from deltalake import CommitProperties, write_deltalake

from txn_silver.lineage import BronzeVersions

APP = "txn-pipeline.bronze_ingest.bronze"


def _commit(path, offsets, app=APP):
    meta = {"userMetadata": json.dumps({"app_id": app, "batch_id": 0, "offsets": offsets})}
    write_deltalake(
        str(path),
        pa.table({"x": [1]}),
        mode="append",
        commit_properties=CommitProperties(custom_metadata=meta),
    )


def test_versions_are_the_commits_whose_ranges_meet_the_batch(tmp_path):
    _commit(tmp_path, {"t": {"0": [0, 10], "1": [0, 5]}})  # version 0
    _commit(tmp_path, {"t": {"0": [10, 20]}})  # version 1
    _commit(tmp_path, {"t": {"1": [5, 9]}}, app="someone-else")  # version 2: not bronze's
    _commit(tmp_path, {"t": {"0": [20, 30], "1": [9, 12]}})  # version 3
    lineage = BronzeVersions(tmp_path, APP)
    assert lineage.versions({("t", 0): (0, 9)}) == [0]
    assert lineage.versions({("t", 0): (12, 25)}) == [1, 3]
    assert lineage.versions({("t", 1): (10, 11)}) == [3]
    assert lineage.versions({}) == []
    _commit(tmp_path, {"t": {"0": [30, 40]}})  # version 4, read incrementally
    assert lineage.versions({("t", 0): (35, 35)}) == [4]
