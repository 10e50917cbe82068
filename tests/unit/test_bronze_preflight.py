"""Bronze start-up checks and registry retries that need no Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from bronze_ingest.config import BronzeConfig
from bronze_ingest.preflight import check_checkpoint_matches_outputs
from bronze_ingest.writer_schemas import WriterSchemaResolver
from txn_contract import packaged_contract
from txn_contract.errors import ConfigError, RegistryUnavailableError


def _cfg(tmp_path: Path, **kw) -> BronzeConfig:
    return BronzeConfig(lake=tmp_path, bootstrap_servers="x:1", registry_url="http://r", **kw)


def _batches(d: Path, *names: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_text("v1\n")


def test_a_checkpoint_behind_the_outputs_is_refused(tmp_path):
    cfg = _cfg(tmp_path)
    _batches(cfg.bronze_path / "_spark_metadata", "0", "1", ".1.crc", "2")
    with pytest.raises(ConfigError, match=r"--checkpoint.*up to 2.*none"):
        check_checkpoint_matches_outputs(cfg)
    _batches(cfg.checkpoint_path / "commits", "0")
    with pytest.raises(ConfigError, match="only up to 0"):
        check_checkpoint_matches_outputs(cfg)


def test_outputs_one_batch_ahead_of_the_checkpoint_are_normal(tmp_path):
    cfg = _cfg(tmp_path)
    _batches(cfg.checkpoint_path / "commits", "0", "1")
    _batches(cfg.bronze_path / "_spark_metadata", "0", "1", "2")  # died before commit 2
    _batches(cfg.quarantine_path / "_spark_metadata", "0", "1")
    check_checkpoint_matches_outputs(cfg)
    check_checkpoint_matches_outputs(_cfg(tmp_path / "fresh"))  # nothing yet: fine


class _FlakyClient:
    """Fails ``failures`` times with a transport error, then answers like a registry."""

    def __init__(self, failures: int) -> None:
        from confluent_kafka.schema_registry.common._httpx_compat import httpx

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
    resolver = WriterSchemaResolver("http://r", "s-value", timeout_s=60)
    resolver._client = _FlakyClient(failures=3)
    verdicts = resolver.subject_verdicts()
    assert verdicts[7].schema_str and verdicts[7].reason is None
    assert resolver._client.calls == 4


def test_a_registry_down_past_the_timeout_stops_the_job_without_verdicts(monkeypatch):
    clock = iter(range(0, 10_000, 20))
    monkeypatch.setattr("time.sleep", lambda _s: None)
    monkeypatch.setattr("time.monotonic", lambda: float(next(clock)))
    resolver = WriterSchemaResolver("http://r", "s-value", timeout_s=100)
    resolver._client = _FlakyClient(failures=10**6)
    with pytest.raises(RegistryUnavailableError, match=r"unreachable for .* without quarantining"):
        resolver.subject_verdicts()
