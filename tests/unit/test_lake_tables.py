"""The lake's table specs (txn_lake.tables) and the checkpoint checks defined once on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from txn_contract.errors import ConfigError
from txn_lake import TABLE_NAMES, Lake
from txn_lake.gold_tables import GOLD_SIGNALS
from txn_lake.outputs import StreamOutput, check_new_checkpoint, rerun_of_committed
from txn_lake.tables import BRONZE_INGEST, SILVER_REFINE, TABLES


def test_app_ids_and_checkpoints_are_what_existing_lakes_hold():
    # Delta's txnAppId is the key of exactly-once: a changed one would write batches twice.
    assert {n: t.app_id for n, t in TABLES.items()} == {
        "bronze": "txn-pipeline.bronze_ingest.bronze",
        "quarantine": "txn-pipeline.bronze_ingest.quarantine",
        "silver": "txn-pipeline.silver_refine.silver",
        "silver_rejects": "txn-pipeline.silver_refine.silver_rejects",
        "silver_audit": "txn-pipeline.silver_refine.silver_audit",
        "gold_merchant_hourly": "txn-pipeline.gold_signals.gold_merchant_hourly",
        "gold_customer_daily": "txn-pipeline.gold_signals.gold_customer_daily",
        "alerts": "txn-pipeline.gold_signals.alerts",
    }
    lake = Lake(Path("/lake"))
    assert BRONZE_INGEST.checkpoint(lake) == Path("/lake/_checkpoints/bronze_ingest")
    assert SILVER_REFINE.checkpoint(lake) == Path("/lake/_checkpoints/silver_refine")
    assert GOLD_SIGNALS.checkpoint(lake) == Path("/lake/_checkpoints/gold_signals")


def test_every_table_has_one_spec_whose_partitions_are_its_columns():
    assert tuple(TABLES) == TABLE_NAMES
    for spec in TABLES.values():
        names = spec.column_names
        assert len(set(names)) == len(names), spec.name
        assert set(spec.partition_by) <= set(names), spec.name
        assert all(c.comment for c in spec.columns), spec.name


def test_a_row_must_name_every_column_and_no_other():
    spec = TABLES["silver_audit"]
    values = dict.fromkeys(spec.column_names, 0)
    assert list(spec.row(values)) == list(spec.column_names)
    with pytest.raises(KeyError, match=r"missing \['seconds'\]"):
        spec.row({k: v for k, v in values.items() if k != "seconds"})
    with pytest.raises(KeyError, match=r"unknown \['bogus'\]"):
        spec.row({**values, "bogus": 1})


def _committed(path: Path, app_id: str, batch: int) -> None:
    """A Delta table (delta-rs) on which ``app_id`` committed ``batch``."""
    import pyarrow as pa
    from deltalake import CommitProperties, Transaction, write_deltalake

    props = CommitProperties(app_transactions=[Transaction(app_id, batch)])
    write_deltalake(str(path), pa.table({"x": [1]}), mode="append", commit_properties=props)


def test_a_checkpoint_behind_the_tables_is_refused_and_the_last_batch_is_a_rerun(tmp_path):
    lake = Lake(tmp_path)
    outputs = (StreamOutput(lake, TABLES["bronze"]), StreamOutput(lake, TABLES["quarantine"]))
    assert rerun_of_committed(outputs, 0) is False  # nothing committed: every batch is new
    _committed(outputs[0].path, TABLES["bronze"].app_id, 3)
    _committed(outputs[1].path, TABLES["quarantine"].app_id, 4)
    assert rerun_of_committed(outputs, 5) is False
    assert rerun_of_committed(outputs, 4) is True  # the newest across both outputs
    with pytest.raises(ConfigError, match=r"--checkpoint.*up to 4 of bronze_ingest.*batch 3"):
        rerun_of_committed(outputs, 3)


def test_a_new_checkpoint_beside_committed_tables_is_refused(tmp_path):
    lake = Lake(tmp_path)
    silver = StreamOutput(lake, TABLES["silver"])
    checkpoint = SILVER_REFINE.checkpoint(lake)
    assert check_new_checkpoint((silver,), checkpoint) is None  # no table yet
    _committed(silver.path, TABLES["silver"].app_id, 0)
    with pytest.raises(ConfigError, match=r"silver already holds batches up to 0 of silver_refine"):
        check_new_checkpoint((silver,), checkpoint)
    (checkpoint / "offsets").mkdir(parents=True)
    assert check_new_checkpoint((silver,), checkpoint) is None  # its first batch is checked
