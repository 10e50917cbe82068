"""Bronze ingest against a real broker, registry and Spark with Delta: evolution, poison, types,
layout, table self-description."""

from __future__ import annotations

import json
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings

from bronze_ingest.config import BronzeSettings
from bronze_ingest.job import BronzeJob
from tests.conftest import create_topic
from txn_contract import packaged_contract, wire
from txn_contract.errors import DecodeError
from txn_contract.registry import register_contract, registry_client
from txn_contract.strategies import avro_records

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()


def _sample(version: int, n: int) -> list[dict]:
    """``n`` valid records of ``version`` drawn by the contract's hypothesis strategy."""
    out: list[dict] = []

    @settings(max_examples=n, database=None, suppress_health_check=list(HealthCheck))
    @given(avro_records(version))
    def collect(record):
        out.append(record)

    collect()
    return out[:n]


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in messages:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def _job(spark, platform, lake: Path, topic: str, subject: str, **extra) -> BronzeJob:
    cfg = BronzeSettings(
        lake=lake,
        bootstrap_servers=platform.bootstrap_servers,
        schema_registry_url=platform.registry_url,
        topic=topic,
        subject=subject,
        **extra,
    ).validated()
    return BronzeJob(cfg, spark)


def _delta(spark, path: Path):
    return spark.read.format("delta").load(str(path))


@pytest.fixture(scope="module")
def foreign_schema_id(platform) -> int:
    """An id registered under another subject: valid Avro, not our contract."""
    from confluent_kafka.schema_registry import Schema

    client = registry_client(platform.registry_url)
    schema = json.dumps(
        {"type": "record", "name": "Other", "fields": [{"name": "x", "type": "long"}]}
    )
    return client.register_schema("some-other-topic-value", Schema(schema, "AVRO"))


@pytest.fixture(scope="module")
def mixed_run(spark, platform, registered_contract, foreign_schema_id, tmp_path_factory):
    """v1 and v2 events interleaved with every poison kind, drained with --available-now."""
    topic = f"bronze_mixed_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    v1_id, v2_id = registered_contract[1], registered_contract[2]
    good = []
    for r1, r2 in zip(_sample(1, 150), _sample(2, 150), strict=True):
        good.append(
            (r1["customer_id"].encode(), wire.encode(r1, CONTRACT.version(1).parsed, v1_id))
        )
        good.append((r2["customer_id"].encode(), wire.encode(r2, CONTRACT.latest.parsed, v2_id)))
    base = _sample(2, 1)[0]
    body = wire.encode(base, CONTRACT.latest.parsed, v2_id)
    # fastavro writes -1.28 with a redundant sign byte (ff80); Java writes 80. Valid Avro all
    # the same, so it must reach bronze, not quarantine.
    non_canonical = wire.encode(dict(base, amount=Decimal("-1.28")), CONTRACT.latest.parsed, v2_id)
    assert non_canonical[5:] != body[5:]
    poison = {
        "EMPTY_VALUE": [b"", None],
        "SHORT_HEADER": [b"\x00\x00\x00"],
        "BAD_MAGIC_BYTE": [b'{"transaction_id": "x"}', b"\x01" + body[1:]],
        "UNKNOWN_SCHEMA_ID": [wire.frame(987654, body[5:])],
        "FOREIGN_SCHEMA_ID": [wire.frame(foreign_schema_id, body[5:])],
        "CORRUPT_PAYLOAD": [body[:-4], wire.frame(v2_id, b"\xff" * 9)],
        "TRAILING_BYTES": [body + b"\x00\x01\x02"],
    }
    messages = list(good)
    messages.append((b"noncanonical", non_canonical))
    for reason, values in poison.items():
        messages.extend((f"poison-{reason}".encode(), v) for v in values)
    _produce(platform.bootstrap_servers, topic, messages)

    lake = tmp_path_factory.mktemp("lake")
    job = _job(spark, platform, lake, topic, "bank_txn_stream-value", available_now=True)
    totals = job.run(emit=print)
    bronze = _delta(spark, lake / "bronze")
    quarantine = _delta(spark, lake / "quarantine")
    return {
        "lake": lake,
        "totals": totals,
        "bronze": bronze,
        "quarantine": quarantine,
        "good": good,
        "poison": poison,
        "messages": messages,
        "ids": (v1_id, v2_id),
    }


def test_every_offset_lands_exactly_once(mixed_run):
    bronze, quarantine = mixed_run["bronze"], mixed_run["quarantine"]
    coords = [
        (r.kafka_partition, r.kafka_offset)
        for df in (bronze, quarantine)
        for r in df.select("kafka_partition", "kafka_offset").collect()
    ]
    assert len(coords) == len(mixed_run["messages"])
    assert len(set(coords)) == len(coords)


def test_good_events_all_reach_bronze_with_contract_types(mixed_run):
    from pyspark.sql import types as T

    bronze = mixed_run["bronze"]
    assert bronze.count() == len(mixed_run["good"]) + 1  # + the non-canonical one
    fields = {f.name: f.dataType for f in bronze.schema.fields}
    assert fields["amount"] == T.DecimalType(18, 2)
    assert fields["timestamp"] == T.TimestampType()
    assert fields["kafka_offset"] == T.LongType()
    for name in CONTRACT.latest.field_names:
        assert name in fields
    for name in (
        "kafka_topic",
        "kafka_partition",
        "kafka_timestamp",
        "kafka_key",
        "schema_id",
        "ingest_ts",
        "date",
        "hour",
    ):
        assert name in fields
    assert bronze.where("transaction_id IS NULL OR amount IS NULL").count() == 0
    assert bronze.where("kafka_key = 'noncanonical'").first().amount == Decimal("-1.28")


def test_v1_rows_carry_the_defaults_of_fields_added_later(mixed_run):
    v1_id, v2_id = mixed_run["ids"]
    bronze = mixed_run["bronze"]
    v1_rows = bronze.where(f"schema_id = {v1_id}")
    assert v1_rows.count() == 150
    assert v1_rows.where("merchant_category_code IS NOT NULL OR province IS NOT NULL").count() == 0
    assert bronze.where(f"schema_id = {v2_id}").count() == 151


def test_values_round_trip_field_by_field(mixed_run):
    from collections import Counter

    v1_id = mixed_run["ids"][0]

    def fields(rec, key):
        ts = rec["timestamp"].replace(tzinfo=None)
        return (
            rec["transaction_id"],
            key,
            rec["amount"],
            rec["channel"],
            rec["status"],
            rec["customer_id"],
            rec["city"],
            ts,
            rec.get("province"),
        )

    sent = Counter()
    for key, value in mixed_run["good"]:
        version = 1 if wire.split_header(value)[0] == v1_id else 2
        sent[fields(wire.decode(value, CONTRACT.version(version).parsed), key)] += 1
    landed = Counter(
        fields(row.asDict(), row.kafka_key.encode())
        for row in mixed_run["bronze"].where("kafka_key != 'noncanonical'").collect()
    )
    assert landed == sent


def test_each_poison_kind_is_quarantined_with_its_reason_and_exact_bytes(mixed_run):
    rows = mixed_run["quarantine"].collect()
    by_reason: dict[str, list] = {}
    for r in rows:
        by_reason.setdefault(r.reason, []).append(r)
        assert r.detail
    assert set(by_reason) == set(mixed_run["poison"])
    for reason, values in mixed_run["poison"].items():
        got = sorted(
            (bytes(r.value) if r.value is not None else None) or b"" for r in by_reason[reason]
        )
        assert got == sorted(v or b"" for v in values), reason
        for r in by_reason[reason]:
            assert bytes(r.kafka_key) == f"poison-{reason}".encode()


def test_quarantine_details_are_the_sentences_wire_decode_gives(mixed_run):
    # regression: the Spark SQL header check and wire.split_header worded the same reasons
    # differently; both now fill wire's templates
    checked = set()
    for r in mixed_run["quarantine"].collect():
        if r.reason in (wire.UNKNOWN_SCHEMA_ID, wire.FOREIGN_SCHEMA_ID):
            continue  # judged against the registry, not from the bytes
        with pytest.raises(DecodeError) as info:
            wire.decode(None if r.value is None else bytes(r.value), CONTRACT.latest.parsed)
        assert info.value.reason == r.reason
        if r.reason == wire.CORRUPT_PAYLOAD:  # the cause in brackets is the decoder's own
            assert r.detail.split(" (")[0] == info.value.detail.split(" (")[0]
        else:
            assert r.detail == info.value.detail
        checked.add(r.reason)
    assert len(checked) == 5


def test_a_batch_without_decodable_ids_types_its_events_as_spark_reads_the_reader(spark):
    # the path where no writer schema decodes: its null event column takes from_avro's type
    from bronze_ingest.decode import classify
    from txn_lake.columns import contract_columns

    batch = spark.createDataFrame([(wire.frame(987654, b"\x02"),)], "value binary")
    out = classify(batch, {}, CONTRACT.latest.schema_str)
    expected = contract_columns(spark, CONTRACT.latest.schema_str)
    got = out.schema["event"].dataType
    assert [(f.name, f.dataType) for f in got.fields] == [
        (f.name, f.dataType) for f in expected.fields
    ]
    assert [r.event for r in out.select("event").collect()] == [None]


def test_output_is_snappy_parquet_delta_partitioned_by_date_and_hour(mixed_run):
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    lake = mixed_run["lake"]
    for output in ("bronze", "quarantine"):
        table = DeltaTable(str(lake / output))
        assert table.metadata().partition_columns == ["date", "hour"]
        committed = table.file_uris()
        assert committed, output
        for uri in committed:
            local = uri.removeprefix("file://")
            assert "/date=" in local and "/hour=" in local
            meta = pq.ParquetFile(local).metadata
            codecs = {
                meta.row_group(g).column(c).compression
                for g in range(meta.num_row_groups)
                for c in range(meta.num_columns)
            }
            assert codecs == {"SNAPPY"}
        # The default protocol: delta-rs, polars and DuckDB (through delta-rs) read it.
        assert table.protocol().min_reader_version == 1


def test_tables_describe_themselves(mixed_run):
    """Column comments from the contract's docs, properties naming the subject and versions,
    and commit metadata naming the batch and its Kafka offsets."""
    from deltalake import DeltaTable

    lake = mixed_run["lake"]
    bronze = DeltaTable(str(lake / "bronze"))
    comments = {f.name: (f.metadata or {}).get("comment") for f in bronze.schema().fields}
    docs = {f["name"]: f["doc"] for f in json.loads(CONTRACT.latest.schema_str)["fields"]}
    for name, doc in docs.items():
        assert comments[name] == doc, name
    for name in ("kafka_offset", "schema_id", "ingest_ts", "date", "hour"):
        assert comments[name], name
    props = bronze.metadata().configuration
    assert props["txn.contract.subject"] == "bank_txn_stream-value"
    assert props["txn.contract.versions"] == "1,2"
    writes = [h for h in bronze.history() if h.get("userMetadata")]
    meta = json.loads(writes[0]["userMetadata"])
    assert meta["batch_id"] == 0
    topic = mixed_run["bronze"].select("kafka_topic").first()[0]
    ends = mixed_run["bronze"].groupBy("kafka_partition").agg({"kafka_offset": "max"}).collect()
    quarantine_ends = (
        mixed_run["quarantine"].groupBy("kafka_partition").agg({"kafka_offset": "max"}).collect()
    )
    expected = {}
    for r in [*ends, *quarantine_ends]:
        p = str(r["kafka_partition"])
        expected[p] = max(expected.get(p, 0), r["max(kafka_offset)"] + 1)
    assert meta["end_offsets"] == {topic: expected}
    assert meta["offsets"][topic] == {p: [0, n] for p, n in expected.items()}
    quarantine = DeltaTable(str(lake / "quarantine"))
    q_comments = {f.name: (f.metadata or {}).get("comment") for f in quarantine.schema().fields}
    assert all(q_comments.values()), q_comments


def test_an_empty_quarantine_is_a_readable_table(spark, platform, registered_contract, tmp_path):
    topic = f"bronze_clean_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    rec = _sample(2, 1)[0]
    value = wire.encode(rec, CONTRACT.latest.parsed, registered_contract[2])
    _produce(platform.bootstrap_servers, topic, [(b"k", value)])
    _job(spark, platform, tmp_path, topic, "bank_txn_stream-value", available_now=True).run(print)
    assert _delta(spark, tmp_path / "quarantine").count() == 0
    assert "reason" in _delta(spark, tmp_path / "quarantine").columns
    assert _delta(spark, tmp_path / "bronze").count() == 1


def test_rerunning_a_drained_job_writes_nothing_new(spark, platform, mixed_run):
    before = mixed_run["bronze"].count()
    topic = mixed_run["bronze"].select("kafka_topic").first()[0]
    job = _job(
        spark, platform, mixed_run["lake"], topic, "bank_txn_stream-value", available_now=True
    )
    job.run(emit=print)
    assert _delta(spark, mixed_run["lake"] / "bronze").count() == before


def test_v3_registered_while_job_runs_gains_columns_without_restart(spark, platform, tmp_path):
    """A running job projects onto the newest registered version: a v3 with an added optional
    field and an added enum symbol lands with its values, and older rows read null."""
    from confluent_kafka.schema_registry import Schema

    topic = f"bronze_evo_{uuid.uuid4().hex[:8]}"
    subject = f"{topic}-value"
    create_topic(platform.bootstrap_servers, topic)
    client = registry_client(platform.registry_url)
    contract = type(CONTRACT)(subject, topic, CONTRACT.compatibility, CONTRACT.versions)
    register_contract(client, contract, platform.registry_url)
    v2_id = client.lookup_schema(subject, Schema(CONTRACT.latest.schema_str, "AVRO")).schema_id

    before = _sample(2, 20)
    _produce(
        platform.bootstrap_servers,
        topic,
        [
            (r["customer_id"].encode(), wire.encode(r, CONTRACT.latest.parsed, v2_id))
            for r in before
        ],
    )
    job = _job(spark, platform, tmp_path, topic, subject, trigger="1s")
    runner = threading.Thread(target=job.run, kwargs={"emit": print}, daemon=True)
    runner.start()
    try:
        _wait(lambda: job.totals["bronze"] >= 20, 120, "the first events")
        v3 = json.loads(CONTRACT.latest.schema_str)
        v3["fields"].append(
            {
                "name": "terminal_id",
                "type": ["null", "string"],
                "default": None,
                "doc": "Terminal that captured the transaction (v3).",
            }
        )
        channel = next(f for f in v3["fields"] if f["name"] == "channel")
        channel["type"]["symbols"].append("WALLET")
        v3_id = client.register_schema(subject, Schema(json.dumps(v3), "AVRO"))
        import fastavro

        v3_parsed = fastavro.parse_schema(v3)
        after = [
            dict(r, terminal_id=f"T{i}", channel="WALLET" if i % 2 else r["channel"])
            for i, r in enumerate(_sample(2, 30))
        ]
        _produce(
            platform.bootstrap_servers,
            topic,
            [(r["customer_id"].encode(), wire.encode(r, v3_parsed, v3_id)) for r in after],
        )
        _wait(lambda: job.totals["bronze"] >= 50, 120, "the v3 events")
    finally:
        job.request_stop()
        runner.join(120)
    assert not runner.is_alive()
    assert job.totals["quarantine"] == 0
    bronze = _delta(spark, tmp_path / "bronze")
    assert bronze.count() == 50
    v3_rows = bronze.where(f"schema_id = {v3_id}")
    assert sorted(r.terminal_id for r in v3_rows.collect()) == sorted(f"T{i}" for i in range(30))
    assert v3_rows.where("channel = 'WALLET'").count() == 15  # kept, not the enum default
    assert bronze.where(f"schema_id = {v2_id} AND terminal_id IS NOT NULL").count() == 0
    from deltalake import DeltaTable

    table = DeltaTable(str(tmp_path / "bronze"))
    comments = {f.name: (f.metadata or {}).get("comment") for f in table.schema().fields}
    assert comments["terminal_id"] == "Terminal that captured the transaction (v3)."
    assert table.metadata().configuration["txn.contract.versions"] == "2,3"


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_each_batch_commits_its_verdicts_with_its_rows(mixed_run, foreign_schema_id):
    """A re-run batch reuses them, so it is judged exactly as its first attempt was."""
    from deltalake import DeltaTable

    history = DeltaTable(str(mixed_run["lake"] / "quarantine")).history()
    meta = json.loads(next(h for h in history if h.get("userMetadata"))["userMetadata"])
    verdicts = meta["verdicts"]
    assert verdicts[str(foreign_schema_id)][0] == "FOREIGN_SCHEMA_ID"
    assert verdicts["987654"][0] == "UNKNOWN_SCHEMA_ID"
    assert all(verdicts[str(i)] is None for i in mixed_run["ids"])
    assert meta["reader_schema_id"] == mixed_run["ids"][1]
