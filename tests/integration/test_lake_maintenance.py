"""`txn-lake compact` while `bronze-ingest` writes: neither fails and no row changes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from bronze_ingest.job import BronzeJob
from tests.conftest import bronze_config, create_topic
from txn_contract import packaged_contract, wire
from txn_contract.strategies import avro_records

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()
BIN = Path(sys.executable).parent


def _events(registered_contract, n: int, start: int) -> list[tuple[bytes, bytes]]:
    from hypothesis import HealthCheck, given, settings

    base: list[dict] = []

    @settings(max_examples=1, database=None, suppress_health_check=list(HealthCheck))
    @given(avro_records(2))
    def one(record):
        base.append(record)

    one()
    out = []
    for i in range(start, start + n):
        rec = dict(base[0], transaction_id=f"t-{i}", customer_id=f"C{i % 31}")
        out.append(
            (
                rec["customer_id"].encode(),
                wire.encode(rec, CONTRACT.latest.parsed, registered_contract[2]),
            )
        )
    return out


def _produce(bootstrap: str, topic: str, messages) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in messages:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def test_compact_runs_beside_a_live_job_without_changing_rows(
    spark, platform, registered_contract, tmp_path
):
    from deltalake import DeltaTable

    topic = f"compact_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    job = BronzeJob(bronze_config(platform, tmp_path, topic, trigger="1s"), spark)
    runner = threading.Thread(target=job.run, kwargs={"emit": print}, daemon=True)
    runner.start()
    produced = 0
    try:
        # Two batches: several small files in the current hour's partition (one per Kafka
        # partition per batch).
        for _ in range(2):
            _produce(platform.bootstrap_servers, topic, _events(registered_contract, 300, produced))
            produced += 300
            _wait(lambda n=produced: job.totals["bronze"] >= n, 120)
        files_before = len(DeltaTable(str(tmp_path / "bronze")).file_uris())
        assert files_before > 1
        # --min-age 0: the partition the job is appending to right now is compacted too.
        env = {**os.environ, **platform.env()}
        compact = subprocess.Popen(
            [str(BIN / "txn-lake"), "compact", "--lake", str(tmp_path), "--min-age", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while compact.poll() is None:  # the job keeps writing throughout
            _produce(platform.bootstrap_servers, topic, _events(registered_contract, 50, produced))
            produced += 50
            time.sleep(0.5)
        out = compact.stdout.read()
        assert compact.returncode == 0, out
        assert "bronze: compacted 1 partition(s)" in out, out
        _wait(lambda: job.totals["bronze"] >= produced, 120)
    finally:
        job.request_stop()
        runner.join(120)
    assert not runner.is_alive() and job.failure is None
    bronze = spark.read.format("delta").load(str(tmp_path / "bronze"))
    ids = [r.transaction_id for r in bronze.select("transaction_id").collect()]
    assert len(ids) == produced and len(set(ids)) == produced
    table = DeltaTable(str(tmp_path / "bronze"))
    assert table.count() == produced
    assert any(h["operation"] == "OPTIMIZE" for h in table.history())


def _wait(cond, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_vacuum_with_zero_hours_is_refused_by_deltas_retention_check(spark, tmp_path):
    from txn_contract.errors import ConfigError
    from txn_lake.maintenance import vacuum_table

    path = tmp_path / "bronze"
    spark.range(3).write.format("delta").save(str(path))
    with pytest.raises(ConfigError) as err:
        vacuum_table(spark, path, 0)
    assert err.value.name == "--retain-hours"
    assert "Delta's retention check refuses to vacuum bronze with 0 h" in str(err.value)
    assert vacuum_table(spark, path, None) == 0  # the table's own retention: nothing to delete
