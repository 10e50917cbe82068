"""Bronze start-up checks and registry retries that need no Spark (tables made by delta-rs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bronze_ingest.config import BronzeSettings
from bronze_ingest.preflight import check_checkpoint_matches_outputs, check_lake_format
from bronze_ingest.writer_schemas import WriterSchemaResolver
from txn_contract import packaged_contract
from txn_contract.errors import ConfigError, RegistryUnavailableError


def _cfg(tmp_path: Path, **kw) -> BronzeSettings:
    return BronzeSettings.load(
        {"lake": tmp_path, "bootstrap_servers": "x:1", "schema_registry_url": "http://r", **kw}, {}
    )


def _delta_table(path: Path, app_id: str | None = None, batch: int = 0) -> None:
    """A small Delta table written by delta-rs; with ``app_id``, as if that app committed
    ``batch`` (Delta's idempotent-write transaction id)."""
    import pyarrow as pa
    from deltalake import CommitProperties, Transaction, write_deltalake

    props = CommitProperties(app_transactions=[Transaction(app_id, batch)]) if app_id else None
    write_deltalake(str(path), pa.table({"x": [1]}), mode="append", commit_properties=props)


def _app(table: str) -> str:
    from txn_lake.tables import TABLES

    return TABLES[table].app_id


def test_an_empty_checkpoint_beside_committed_tables_is_refused(tmp_path):
    cfg = _cfg(tmp_path)
    _delta_table(cfg.bronze_path, _app("bronze"), batch=2)
    with pytest.raises(ConfigError, match=r"--checkpoint.*up to 2.*empty or missing"):
        check_checkpoint_matches_outputs(cfg)
    cfg.checkpoint_path.mkdir(parents=True)
    with pytest.raises(ConfigError, match="empty or missing"):
        check_checkpoint_matches_outputs(cfg)
    (cfg.checkpoint_path / "offsets").mkdir()
    check_checkpoint_matches_outputs(cfg)  # a checkpoint exists: its first batch is checked


def test_tables_no_app_committed_to_need_no_checkpoint(tmp_path):
    cfg = _cfg(tmp_path)
    _delta_table(cfg.quarantine_path)  # e.g. created empty, nothing committed by the job
    _delta_table(cfg.bronze_path, "txn-pipeline.another_job.bronze", batch=5)  # not bronze's
    assert not cfg.checkpoint_path.exists()
    # Returns without refusing: no table holds a batch of bronze's own app id.
    assert check_checkpoint_matches_outputs(cfg) is None
    # The same lake once bronze has committed a batch: refused. So the check above had tables
    # to look at and let them pass for the right reason.
    _delta_table(cfg.quarantine_path, _app("quarantine"), batch=0)
    with pytest.raises(ConfigError, match=r"quarantine already holds batches up to 0"):
        check_checkpoint_matches_outputs(cfg)
    assert check_checkpoint_matches_outputs(_cfg(tmp_path / "fresh")) is None  # nothing yet


def test_a_plain_parquet_lake_is_refused_with_the_migration_command(tmp_path):
    cfg = _cfg(tmp_path)
    (cfg.bronze_path / "_spark_metadata").mkdir(parents=True)
    (cfg.bronze_path / "_spark_metadata" / "0").write_text("v1\n")
    with pytest.raises(ConfigError, match=r"--lake.*txn-lake migrate --lake"):
        check_lake_format(cfg)
    check_lake_format(_cfg(tmp_path / "fresh"))


class _FlakyClient:
    """Fails ``failures`` times with a transport error, then answers like a registry."""

    def __init__(self, failures: int) -> None:
        import httpx2 as httpx

        self.error = httpx.ConnectError("connection refused")
        self.failures = failures
        self.calls = 0
        self.cv = packaged_contract().latest

    def _maybe_fail(self):
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise self.error

    def get_versions(self, subject):
        self._maybe_fail()
        return [1]

    def get_version(self, subject, version):
        from types import SimpleNamespace

        return SimpleNamespace(schema_id=7)

    def get_schema(self, schema_id):
        from types import SimpleNamespace

        return SimpleNamespace(schema_str=self.cv.schema_str, schema_type="AVRO")


def test_a_transient_registry_outage_is_retried_not_judged(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _s: None)
    client = _FlakyClient(failures=3)
    resolver = WriterSchemaResolver(client, "http://r", "s-value", timeout_s=60)
    verdicts = resolver.subject_verdicts()
    assert verdicts[7].schema_str and verdicts[7].reason is None
    assert client.calls == 4


def test_a_registry_down_past_the_timeout_stops_the_job_without_verdicts(monkeypatch):
    clock = iter(range(0, 10_000, 20))
    monkeypatch.setattr("time.sleep", lambda _s: None)
    monkeypatch.setattr("time.monotonic", lambda: float(next(clock)))
    resolver = WriterSchemaResolver(_FlakyClient(failures=10**6), "http://r", "s-value", 100)
    with pytest.raises(RegistryUnavailableError, match=r"unreachable for .* without quarantining"):
        resolver.subject_verdicts()


def test_kafka_refusing_the_topic_to_the_running_query_names_principal_and_operation(tmp_path):
    """The preflight refuses a principal without Read (tests/integration/
    test_platform_secure.py); should the ACL go after it, Spark's Kafka source fails with
    TopicAuthorizationException, and the job ends with the preflight's sentence."""
    from bronze_ingest.job import BronzeJob

    cfg = _cfg(
        tmp_path,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="producer",
        kafka_sasl_password="secret",
    )
    job = BronzeJob(cfg, spark=None, registry=object())
    spark_said = RuntimeError(
        "[STREAM_FAILED] Query [id = 1, runId = 2] terminated with exception: "
        "org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access "
        "topics: [bank_txn_stream]"
    )
    sentence = str(job.failed(spark_said))
    assert sentence.startswith(
        "Kafka refused principal producer Read on topic bank_txn_stream while reading topic "
        "bank_txn_stream (TOPIC_AUTHORIZATION_FAILED); "
    )
    assert "The checkpoint is intact" in sentence and "secret" not in sentence
    assert "The bronze query" in str(job.failed(RuntimeError("disk full")))
