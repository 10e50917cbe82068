"""A lake that bronze-ingest wrote before issue 19 (tables created without the statistics
property, batches appended by Delta's own writer with txnAppId/txnVersion, a Spark checkpoint
in the log) gets the new table properties when the job starts, and takes the job's new commits
(Parquet files committed by delta-rs) after its old ones: Spark and delta-rs read every row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bronze_ingest.files import STATS_PROPERTY
from bronze_ingest.outputs import BronzeOutputs
from tests.records import record
from txn_contract import packaged_contract
from txn_lake import Lake
from txn_lake.outputs import StreamOutput
from txn_lake.tables import (
    BRONZE_TABLE,
    PROP_CONTRACT_VERSIONS,
    PROP_LAYER,
    PROP_SUBJECT,
    QUARANTINE_TABLE,
)
from txn_lake.writes import ensure_table

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()
SUBJECT = "bank_txn_stream-value"
OLD_BATCHES = 12  # past Delta's checkpoint at version 10


def _bronze_rows(spark, schema, batch: int, n: int = 3):
    """``n`` bronze rows of ``batch`` with the table's columns (the contract's, then bronze's)."""
    now = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    rows = []
    for i in range(n):
        rec = record(batch * 100 + i)
        offset = batch * n + i
        rows.append(
            {
                **rec,
                "timestamp": datetime.fromtimestamp(rec["timestamp"] / 1000, UTC),
                "kafka_topic": "t",
                "kafka_partition": 0,
                "kafka_offset": offset,
                "kafka_timestamp": now,
                "kafka_key": rec["customer_id"],
                "schema_id": 2,
                "ingest_ts": now,
                "date": "2026-12-01",
                "hour": 17,
            }
        )
    return spark.createDataFrame([[r.get(f.name) for f in schema.fields] for r in rows], schema)


@pytest.fixture
def old_lake(spark, tmp_path):
    """The tables as the job created them until issue 19, and its batches, as it wrote them."""
    from txn_lake.columns import contract_columns

    lake = Lake(tmp_path)
    contract = contract_columns(spark, CONTRACT.latest.schema_str)
    for spec, leading, runtime in (
        (BRONZE_TABLE, contract, {PROP_CONTRACT_VERSIONS: "2"}),
        (QUARANTINE_TABLE, None, {}),
    ):
        # What StreamOutput.ensure passed then: the layer and the run-time properties only.
        properties = {PROP_LAYER: spec.name, PROP_SUBJECT: SUBJECT, **runtime}
        ensure_table(
            spark,
            spec.path(lake),
            spec.schema(leading),
            spec.partition_by,
            properties,
            spec.comment(SUBJECT),
        )
    bronze = StreamOutput(lake, BRONZE_TABLE)
    schema = BRONZE_TABLE.schema(contract)
    for batch in range(OLD_BATCHES):
        meta = {"offsets": {"t": {"0": [batch * 3, batch * 3 + 3]}}, "verdicts": {"2": None}}
        bronze.append(_bronze_rows(spark, schema, batch), batch, {**meta, "reader_schema_id": 2})
    return lake, schema


def test_the_job_sets_the_new_properties_on_an_old_lake_and_commits_after_its_batches(
    spark, old_lake
):
    from deltalake import DeltaTable

    lake, schema = old_lake
    bronze_path = BRONZE_TABLE.path(lake)
    assert STATS_PROPERTY not in DeltaTable(str(bronze_path)).metadata().configuration
    messages: list[str] = []
    outputs = BronzeOutputs(spark, lake, SUBJECT)
    outputs.ensure(CONTRACT.latest.schema_str, CONTRACT.latest.version, messages.append)

    for spec in (BRONZE_TABLE, QUARANTINE_TABLE):
        config = DeltaTable(str(spec.path(lake))).metadata().configuration
        assert config[STATS_PROPERTY] == spec.properties[STATS_PROPERTY], spec.name
        assert config[PROP_SUBJECT] == SUBJECT  # run-time properties are kept
    assert DeltaTable(str(bronze_path)).metadata().configuration[PROP_CONTRACT_VERSIONS] == "2"
    assert any(STATS_PROPERTY in m for m in messages), messages
    assert outputs.end_offsets == {}  # the old commits recorded no end offsets

    # The job's next batch: files written by Spark, committed by delta-rs after the old ones.
    staged = outputs.stage(BRONZE_TABLE.name, OLD_BATCHES, {"date": "2026-12-01", "hour": "17"})
    staged.write(_bronze_rows(spark, schema, OLD_BATCHES, n=5))
    committed = outputs.files[BRONZE_TABLE.name].commit(staged, OLD_BATCHES, {"verdicts": {}})
    assert committed is not None and committed[0] == 5
    table = DeltaTable(str(bronze_path))
    assert table.transaction_version(BRONZE_TABLE.app_id) == OLD_BATCHES
    assert table.count() == OLD_BATCHES * 3 + 5
    df = spark.read.format("delta").load(str(bronze_path))
    assert df.count() == OLD_BATCHES * 3 + 5
    assert df.where("date = '2026-12-01' AND hour = 17").count() == OLD_BATCHES * 3 + 5
    # A re-run of the batch commits nothing again (Delta's transaction version).
    again = outputs.stage(BRONZE_TABLE.name, OLD_BATCHES, {"date": "2026-12-01", "hour": "17"})
    again.write(_bronze_rows(spark, schema, OLD_BATCHES, n=5))
    assert outputs.files[BRONZE_TABLE.name].commit(again, OLD_BATCHES, {}) is None
    assert DeltaTable(str(bronze_path)).count() == OLD_BATCHES * 3 + 5

    # The next start finds nothing to change.
    messages.clear()
    BronzeOutputs(spark, lake, SUBJECT).ensure(
        CONTRACT.latest.schema_str, CONTRACT.latest.version, messages.append
    )
    assert messages == []
