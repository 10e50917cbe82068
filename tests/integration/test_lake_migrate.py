"""`txn-lake migrate` against a plain-Parquet lake written by Spark's own file sink, then the real
bronze job resuming from the same checkpoint: every Kafka offset lands exactly once."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings

from bronze_ingest.config import BronzeSettings
from bronze_ingest.job import BronzeJob
from bronze_ingest.preflight import check_lake_format
from tests.conftest import create_topic
from txn_contract import packaged_contract, wire
from txn_contract.errors import ConfigError
from txn_contract.strategies import avro_records
from txn_lake import BRONZE, QUARANTINE, Lake
from txn_lake.migrate import migrate_lake
from txn_lake.outputs import StreamOutput
from txn_lake.tables import BRONZE_TABLE
from txn_lake.writes import DEFAULT_TABLE_PROPERTIES

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()
OLD_EVENTS = 240  # three file-sink batches of at most 100 offsets
UNKNOWN_ID = 987654


def _sample(version: int, n: int) -> list[dict]:
    """``n`` valid records of ``version`` drawn by the contract's hypothesis strategy."""
    out: list[dict] = []

    @settings(max_examples=n, database=None, suppress_health_check=list(HealthCheck))
    @given(avro_records(version))
    def collect(record):
        out.append(record)

    collect()
    return out[:n]


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes | None]]) -> set:
    """Produce ``messages``; the ``(partition, offset)`` of each one, from the delivery reports."""
    coords: set[tuple[int, int]] = set()

    def delivered(err, msg):
        assert err is None, err
        coords.add((msg.partition(), msg.offset()))

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert len(coords) == len(messages)
    return coords


def _events(version: int, schema_id: int, n: int) -> list[tuple[bytes, bytes]]:
    parsed = CONTRACT.version(version).parsed
    return [
        (r["customer_id"].encode(), wire.encode(r, parsed, schema_id)) for r in _sample(version, n)
    ]


def _cfg(platform, lake: Path, topic: str, **extra) -> BronzeSettings:
    return BronzeSettings(
        lake=lake,
        bootstrap_servers=platform.bootstrap_servers,
        schema_registry_url=platform.registry_url,
        topic=topic,
        subject=CONTRACT.subject,
        **extra,
    ).validated()


def _old_bronze_query(spark, platform, topic: str, lake: Path) -> None:
    """The plain-Parquet layout as Spark's file sink writes it: bronze's columns, partitioned by
    date/hour, committed per batch in ``_spark_metadata``, checkpoint at the job's place."""
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro

    raw = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", platform.bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", "100")
        .load()
    )
    payload = F.expr("substring(value, 6, length(value) - 5)")  # after the 5-byte header
    frame = raw.select(
        from_avro(payload, CONTRACT.latest.schema_str).alias("event"),
        "topic",
        "partition",
        "offset",
        "timestamp",
        "key",
        "value",
    ).select(
        "event.*",
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").cast("string").alias("kafka_key"),
        F.conv(F.hex(F.substring("value", 2, 4)), 16, 10).cast("int").alias("schema_id"),
        F.current_timestamp().alias("ingest_ts"),
    )
    frame = frame.withColumn("date", F.date_format("ingest_ts", "yyyy-MM-dd")).withColumn(
        "hour", F.hour("ingest_ts")
    )
    query = (
        frame.writeStream.format("parquet")
        .partitionBy("date", "hour")
        .option("checkpointLocation", str(Lake(lake).checkpoint("bronze_ingest")))
        .trigger(availableNow=True)
        .start(str(lake / BRONZE))
    )
    query.awaitTermination()
    assert query.exception() is None


def _simulate_crash(lake: Path, ids: dict[int, int]) -> tuple[int, int]:
    """The state a kill leaves: the last batch in the sink's log but not in the checkpoint's
    commits (so it is re-run), its old-job verdicts file, and a file no log lists.

    Returns ``(last batch id, rows of the leftover file)``.
    """
    import pyarrow.parquet as pq

    checkpoint = Lake(lake).checkpoint("bronze_ingest")
    commits = checkpoint / "commits"
    last = max(int(p.name) for p in commits.iterdir() if p.name.isdigit())
    (commits / str(last)).unlink()
    (commits / f".{last}.crc").unlink(missing_ok=True)
    verdicts = {
        str(i): {
            "schema_id": i,
            "schema_str": CONTRACT.version(v).schema_str,
            "reason": None,
            "detail": None,
        }
        for v, i in ids.items()
    }
    verdicts[str(UNKNOWN_ID)] = {
        "schema_id": UNKNOWN_ID,
        "schema_str": None,
        "reason": "UNKNOWN_SCHEMA_ID",
        "detail": "schema id 987654 is not in the registry",
    }
    (checkpoint / "verdicts").mkdir()
    (checkpoint / "verdicts" / str(last)).write_text(json.dumps(verdicts))
    committed = sorted((lake / BRONZE).glob("date=*/hour=*/*.parquet"))
    leftover = committed[0].with_name("part-99999-killed-attempt.c000.snappy.parquet")
    shutil.copy(committed[0], leftover)
    return last, pq.ParquetFile(leftover).metadata.num_rows


@pytest.fixture(scope="module")
def old_lake(spark, platform, registered_contract, tmp_path_factory):
    topic = f"migrate_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    produced = _produce(
        platform.bootstrap_servers, topic, _events(2, registered_contract[2], OLD_EVENTS)
    )
    lake = tmp_path_factory.mktemp("lake")
    _old_bronze_query(spark, platform, topic, lake)
    last, leftover_rows = _simulate_crash(lake, registered_contract)
    return {
        "lake": lake,
        "topic": topic,
        "produced": produced,
        "last_batch": last,
        "leftover_rows": leftover_rows,
    }


@pytest.fixture(scope="module")
def migrated(spark, platform, old_lake):
    """The refusal before, then the migration; ``messages`` are what it printed."""
    cfg = _cfg(platform, old_lake["lake"], old_lake["topic"])
    with pytest.raises(ConfigError) as refused:
        check_lake_format(cfg)
    messages: list[str] = []
    migrate_lake(spark, Lake(old_lake["lake"]), messages.append)
    print("\n".join(messages))
    return {**old_lake, "cfg": cfg, "refused": str(refused.value), "messages": messages}


def _migration_commit(spark, path: Path) -> tuple[int, dict]:
    """Version and userMetadata of the commit migrate wrote (Spark reads the whole history)."""
    from delta.tables import DeltaTable

    for row in DeltaTable.forPath(spark, str(path)).history().collect():
        meta = json.loads(row["userMetadata"]) if row["userMetadata"] else {}
        if meta.get("migrated_from") == "parquet":
            return row["version"], meta
    raise AssertionError(f"no migration commit in {path}")


def test_bronze_ingest_refuses_the_plain_parquet_lake_until_migrated(migrated):
    assert "txn-lake migrate" in migrated["refused"]
    check_lake_format(migrated["cfg"])  # Delta now: no refusal


def test_only_committed_rows_are_converted(spark, migrated):
    """CONVERT takes the sink's log, not the directory: the killed attempt's file is left out."""
    from deltalake import DeltaTable

    lake = migrated["lake"]
    assert migrated["leftover_rows"] > 0
    on_disk = spark.read.parquet(*map(str, (lake / BRONZE).glob("date=*/hour=*/*.parquet")))
    assert on_disk.count() == OLD_EVENTS + migrated["leftover_rows"]
    assert spark.read.format("delta").load(str(lake / BRONZE)).count() >= OLD_EVENTS
    converted = DeltaTable(str(lake / BRONZE), version=0)
    assert converted.to_pyarrow_table().num_rows == OLD_EVENTS
    assert converted.metadata().partition_columns == ["date", "hour"]
    fields = {f.name: str(f.type) for f in converted.schema().fields}
    assert "string" in fields["date"] and "integer" in fields["hour"]
    assert DeltaTable(str(lake / QUARANTINE)).to_pyarrow_table().num_rows == 0
    assert any("left out" in m for m in migrated["messages"])


def test_the_last_committed_batch_is_delta_transaction_version(spark, migrated):
    from deltalake import DeltaTable

    lake, last = migrated["lake"], migrated["last_batch"]
    bronze = StreamOutput(Lake(lake), BRONZE_TABLE)
    assert last >= 1
    txn = DeltaTable(str(bronze.path)).transaction_version(bronze.app_id)
    assert txn is not None and txn >= last
    _, meta = _migration_commit(spark, bronze.path)
    assert meta["batch_id"] == last and meta["app_id"] == bronze.app_id
    per_partition: dict[str, int] = {}
    for p, o in migrated["produced"]:
        per_partition[str(p)] = max(per_partition.get(str(p), 0), o + 1)
    assert meta["end_offsets"] == {migrated["topic"]: per_partition}


def test_the_old_verdicts_of_the_last_batch_are_committed_as_the_new_plan(
    spark, migrated, registered_contract
):
    _, meta = _migration_commit(spark, migrated["lake"] / BRONZE)
    assert meta["reader_schema_id"] == registered_contract[2]
    assert meta["verdicts"] == {
        **{str(i): None for i in registered_contract.values()},
        str(UNKNOWN_ID): ["UNKNOWN_SCHEMA_ID", "schema id 987654 is not in the registry"],
    }


def test_converted_tables_describe_themselves(spark, migrated):
    from deltalake import DeltaTable

    from txn_lake.tables import QUARANTINE_TABLE

    lake = migrated["lake"]
    bronze = DeltaTable(str(lake / BRONZE), version=_migration_commit(spark, lake / BRONZE)[0])
    comments = {f.name: (f.metadata or {}).get("comment") for f in bronze.schema().fields}
    for f in CONTRACT.latest.schema["fields"]:
        assert comments[f["name"]] == f["doc"], f["name"]
    for c in BRONZE_TABLE.columns:
        assert comments[c.name] == c.comment, c.name
    props = bronze.metadata().configuration
    assert props["txn.layer"] == "bronze"
    assert props["txn.contract.subject"] == CONTRACT.subject
    assert props["txn.contract.versions"] == "2"  # only v2 events so far
    assert (
        props["delta.autoOptimize.autoCompact"]
        == DEFAULT_TABLE_PROPERTIES["delta.autoOptimize.autoCompact"]
    )
    assert CONTRACT.subject in (bronze.metadata().description or "")
    assert bronze.protocol().min_reader_version == 1
    quarantine = DeltaTable(str(lake / QUARANTINE))
    q_comments = {f.name: (f.metadata or {}).get("comment") for f in quarantine.schema().fields}
    assert q_comments == {c.name: c.comment for c in QUARANTINE_TABLE.columns}
    assert quarantine.metadata().configuration["txn.layer"] == "quarantine"


def test_migrating_again_changes_nothing(spark, migrated):
    from deltalake import DeltaTable

    lake = migrated["lake"]
    before = {t: DeltaTable(str(lake / t)).version() for t in (BRONZE, QUARANTINE)}
    messages: list[str] = []
    migrate_lake(spark, Lake(lake), messages.append)
    assert {t: DeltaTable(str(lake / t)).version() for t in (BRONZE, QUARANTINE)} == before
    assert messages == [f"{lake} is a Delta lake already: nothing to migrate"]


def test_a_lake_without_outputs_is_refused_in_one_sentence(spark, tmp_path):
    with pytest.raises(ConfigError, match=r"^--lake: .* holds no bronze-ingest output"):
        migrate_lake(spark, Lake(tmp_path), print)


def test_bronze_ingest_resumes_with_every_offset_exactly_once(
    spark, platform, registered_contract, migrated
):
    """The re-run of the batch the checkpoint had not committed is skipped by Delta, and the
    job goes on from the kept checkpoint: no offset lost, none twice."""
    lake = migrated["lake"]
    v1_id, v2_id = registered_contract[1], registered_contract[2]
    poison = [(b"poison-empty", b""), (b"poison-magic", b"\x01" + b"\x00" * 12)]
    more = _events(2, v2_id, 40) + _events(1, v1_id, 40) + poison
    produced = migrated["produced"] | _produce(platform.bootstrap_servers, migrated["topic"], more)
    cfg = _cfg(platform, lake, migrated["topic"], available_now=True)
    BronzeJob(cfg, spark).run(emit=print)

    coords = [
        (r.kafka_partition, r.kafka_offset)
        for t in (BRONZE, QUARANTINE)
        for r in spark.read.format("delta")
        .load(str(lake / t))
        .select("kafka_partition", "kafka_offset")
        .collect()
    ]
    assert len(coords) == len(set(coords)), "an offset landed twice"
    assert set(coords) == produced
    assert spark.read.format("delta").load(str(lake / QUARANTINE)).count() == len(poison)
    from deltalake import DeltaTable

    bronze = StreamOutput(Lake(lake), BRONZE_TABLE)
    assert DeltaTable(str(bronze.path)).transaction_version(bronze.app_id) > migrated["last_batch"]
    assert DeltaTable(str(bronze.path)).metadata().configuration["txn.contract.versions"] == "1,2"


def test_the_sink_log_is_the_newest_compact_entry_plus_later_batches(tmp_path):
    """What the file sink writes every 10 batches: ``N.compact`` holds every file so far."""
    from txn_lake.migrate import read_sink_log

    log = tmp_path / "_spark_metadata"
    log.mkdir()

    def entry(name: str, *files: str, action: str = "add") -> None:
        lines = ["v1", *(json.dumps({"path": f, "action": action}) for f in files)]
        (log / name).write_text("\n".join(lines) + "\n")

    entry("8", "file:///old-8")  # superseded by the compact entry (Spark deletes these later)
    entry("9.compact", "file:///a", "file:///b")
    entry("10", "file:///c")
    entry("11", "file:///a", action="delete")
    (log / ".11.crc").write_bytes(b"\x00crc")
    (log / ".12.3f2a.tmp").write_text("v1\n")  # an entry being written
    assert read_sink_log(tmp_path).last_batch == 11
    assert read_sink_log(tmp_path).files == {"file:///b", "file:///c"}
    assert read_sink_log(tmp_path / "nothing") is None
