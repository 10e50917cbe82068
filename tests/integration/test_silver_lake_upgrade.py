"""A lake that silver-refine wrote before issue 19 (its tables created without the statistics
and checkpoint properties, its batches classified by Spark alone and appended by Delta's own
writer with txnAppId/txnVersion, a Spark checkpoint in each log) gets the new table properties
when the job starts, and takes the job's next batches (committed by delta-rs from the driver)
after its old ones: nothing lost or doubled, every row read by Spark and by delta-rs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.records import record
from txn_contract import packaged_contract
from txn_contract.rules import packaged_rules
from txn_lake import Lake
from txn_lake.facts import is_delta_table
from txn_lake.outputs import StreamOutput
from txn_lake.tables import (
    BRONZE_TABLE,
    PROP_LAYER,
    PROP_SUBJECT,
    SILVER_AUDIT_TABLE,
    SILVER_REJECTS_TABLE,
    SILVER_TABLE,
    TableSpec,
)
from txn_lake.writes import ensure_table
from txn_silver.config import SilverSettings
from txn_silver.job import SilverJob

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()
SUBJECT = CONTRACT.subject
NEW = ("delta.dataSkippingStatsColumns", "delta.checkpointInterval")
SPECS = (SILVER_TABLE, SILVER_REJECTS_TABLE, SILVER_AUDIT_TABLE)
PER_BATCH = 4  # three good events and one that breaks amount_positive


def _land(spark, lake: Lake, batch: int) -> None:
    """One bronze commit as bronze-ingest makes it: its rows, its offsets in userMetadata."""
    from txn_lake.columns import contract_columns

    schema = BRONZE_TABLE.schema(contract_columns(spark, CONTRACT.latest.schema_str))
    path = BRONZE_TABLE.path(lake)
    if not is_delta_table(path):
        props = {PROP_LAYER: BRONZE_TABLE.name, PROP_SUBJECT: SUBJECT}
        comment = BRONZE_TABLE.comment(SUBJECT)
        ensure_table(spark, path, schema, BRONZE_TABLE.partition_by, props, comment)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for i in range(PER_BATCH):
        n = batch * PER_BATCH + i
        rec = record(n, amount=Decimal("-1.00") if i == 0 else Decimal(n + 1))
        rows.append(
            {
                **rec,
                "timestamp": now,
                "kafka_topic": "t",
                "kafka_partition": 0,
                "kafka_offset": n,
                "kafka_timestamp": now,
                "kafka_key": rec["customer_id"],
                "schema_id": 2,
                "ingest_ts": now,
                "date": now.strftime("%Y-%m-%d"),
                "hour": now.hour,
            }
        )
    df = spark.createDataFrame([[r.get(f.name) for f in schema.fields] for r in rows], schema)
    offsets = {"t": {"0": [batch * PER_BATCH, (batch + 1) * PER_BATCH]}}
    StreamOutput(lake, BRONZE_TABLE).append(df.coalesce(1), batch, {"offsets": offsets})


def _refine(spark, lake: Lake) -> dict:
    cfg = SilverSettings(lake=lake.root, available_now=True)
    return SilverJob(cfg, spark, packaged_rules()).run(emit=print)


@pytest.fixture
def old_lake(spark, tmp_path, monkeypatch):
    """A batch refined as silver-refine did until issue 19: tables without the new properties
    (and a Spark checkpoint at every commit, so that each log has one), classification and
    appends by Spark."""
    from txn_silver import dedup, outputs

    table_properties = TableSpec.table_properties

    def old_properties(self, **runtime):
        props = {k: v for k, v in table_properties(self, **runtime).items() if k not in NEW}
        return props | ({"delta.checkpointInterval": "1"} if self in SPECS else {})

    monkeypatch.setattr(TableSpec, "table_properties", old_properties)
    monkeypatch.setattr(dedup, "DRIVER_ROWS", -1)
    monkeypatch.setattr(outputs, "DRIVER_WRITE_ROWS", -1)
    lake = Lake(tmp_path)
    _land(spark, lake, 0)
    assert _refine(spark, lake)["batches"] == 1
    monkeypatch.undo()
    return lake


def _engines(path) -> list[str]:
    """The engine of each commit after the table's creation, oldest first."""
    logs = sorted(path.glob("_delta_log/*.json"))[1:]
    infos = [json.loads(log.read_text().splitlines()[0])["commitInfo"] for log in logs]
    return ["delta-rs" if "delta-rs" in i.get("engineInfo", "") else "spark" for i in infos]


def test_an_old_lake_gets_the_new_properties_and_the_new_commits_after_its_batches(spark, old_lake):
    from deltalake import DeltaTable

    lake = old_lake
    for spec in SPECS:
        path = spec.path(lake)
        config = DeltaTable(str(path)).metadata().configuration
        assert "delta.dataSkippingStatsColumns" not in config, spec.name
        assert list((path / "_delta_log").glob("*.checkpoint.parquet")), spec.name
    for batch in (1, 2):
        _land(spark, lake, batch)
    assert _refine(spark, lake)["batches"] == 1

    for spec in SPECS:
        path = spec.path(lake)
        table = DeltaTable(str(path))
        config = table.metadata().configuration
        for key in NEW:
            assert config[key] == spec.properties[key], (spec.name, key)
        assert config["txn.rules.version"] == str(packaged_rules().version)  # run-time kept
        assert table.transaction_version(spec.app_id) == 1, spec.name
        assert _engines(path)[-1] == "delta-rs", spec.name  # the new batch, from the driver
        assert "spark" in _engines(path), spec.name  # after the old ones
    silver = SILVER_TABLE.path(lake)
    valid = 3 * 3  # three good events per bronze commit
    assert DeltaTable(str(silver)).count() == valid
    assert spark.read.format("delta").load(str(silver)).count() == valid
    rejects = spark.read.format("delta").load(str(SILVER_REJECTS_TABLE.path(lake)))
    assert rejects.count() == 3 and {r.rules[0] for r in rejects.collect()} == {"amount_positive"}
    audit = spark.read.format("delta").load(str(SILVER_AUDIT_TABLE.path(lake))).collect()
    assert sorted(a.batch_id for a in audit) == [0, 1]
    assert sum(a.rows_read for a in audit) == 3 * PER_BATCH and all(a.reconciled for a in audit)
    # The new commit's files carry statistics on the configured columns only.
    newest = sorted(silver.glob("_delta_log/*.json"))[-1].read_text().splitlines()
    adds = [json.loads(line)["add"] for line in newest if line.startswith('{"add"')]
    stats = set().union(*(json.loads(a["stats"])["minValues"] for a in adds))
    assert adds and stats <= set(SILVER_TABLE.properties[NEW[0]].split(","))
    # A second start changes nothing and refines nothing.
    versions = [DeltaTable(str(spec.path(lake))).version() for spec in SPECS]
    assert _refine(spark, lake)["batches"] == 0
    assert [DeltaTable(str(spec.path(lake))).version() for spec in SPECS] == versions
