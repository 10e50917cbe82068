"""`txn-platform up --secure`: SASL_SSL with SCRAM-SHA-512, the platform's own CA, the
StandardAuthorizer denying by default and one principal per service; the registry over HTTPS
only, to authenticated users, only admin registering. The real CLIs run with `platform.env` and
`credentials/<principal>.env` sourced; what a principal may not do is refused; no secret shows
in `status`, the logs or `platform.env`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local_platform.security import SERVICE_PRINCIPALS
from txn_contract import TOPIC
from txn_runtime.connections import KafkaSettings, RegistrySettings

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _run(cmd: str, *args: str, env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        [str(BIN / cmd), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def _end_offsets(secure_platform) -> int:
    from confluent_kafka import Consumer

    from local_platform.kafka import client_config
    from txn_runtime.preflight import watermarks

    consumer = Consumer(client_config(secure_platform.settings, **{"group.id": "t-offsets"}))
    try:
        return sum(high for _low, high in watermarks(consumer, TOPIC, 3).values())
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def registered(secure_platform) -> None:
    """The contracts, registered by `txn-contract register` as admin (HTTPS, basic auth)."""
    res = _run("txn-contract", "register", env=secure_platform.cli_env("admin"))
    assert res.returncode == 0, res.stderr


def _spark_count(spark, secure_platform, principal: str) -> int:
    """Rows of the topic read by Spark's Kafka source (bronze's reader) as ``principal``, with
    the options :meth:`KafkaSettings.spark_kafka_options` passes through."""
    kafka = KafkaSettings.load({}, env=secure_platform.env(principal))
    return (
        spark.read.format("kafka")
        .options(**kafka.spark_kafka_options())
        .option("subscribe", TOPIC)
        .option("startingOffsets", "earliest")
        .load()
        .count()
    )


def test_state_files_are_private_and_platform_env_has_the_shared_settings(secure_platform):
    state = secure_platform.state_dir
    env = secure_platform.env()
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["KAFKA_SSL_CA_LOCATION"] == str(state / "tls" / "ca.pem")
    assert env["SCHEMA_REGISTRY_URL"].startswith("https://127.0.0.1:")
    assert env["SCHEMA_REGISTRY_SSL_CA_LOCATION"] == str(state / "tls" / "ca.pem")
    assert "KAFKA_SASL_PASSWORD" not in env and "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO" not in env
    private = [state / "tls" / "ca.key", state / "tls" / "server-keystore.pem"]
    private += [state / "credentials" / f"{p}.env" for p in SERVICE_PRINCIPALS]
    private += [
        state / "kafka" / "server.properties",
        state / "registry" / "application.properties",
    ]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in private} == {
        p.name: "0o600" for p in private
    }


def test_producer_principal_produces_with_the_real_cli(secure_platform, registered):
    before = _end_offsets(secure_platform)
    res = _run("txn-producer", "--count", "100", env=secure_platform.cli_env("producer"))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["delivered"] == 100
    assert _end_offsets(secure_platform) == before + 100


def test_bronze_principal_reads_and_producer_principal_is_refused(
    secure_platform, registered, spark
):
    if _end_offsets(secure_platform) == 0:
        res = _run("txn-producer", "--count", "100", env=secure_platform.cli_env("producer"))
        assert res.returncode == 0, res.stderr
    assert _spark_count(spark, secure_platform, "bronze") == _end_offsets(secure_platform)
    with pytest.raises(Exception, match="TopicAuthorizationException"):
        _spark_count(spark, secure_platform, "producer")


@pytest.fixture(scope="module")
def wrong_password(secure_platform, registered):
    """`txn-producer --count 100` with a wrong password: (result, offsets before, after)."""
    before = _end_offsets(secure_platform)
    env = secure_platform.cli_env("producer") | {"KAFKA_SASL_PASSWORD": "not-the-password"}
    res = _run("txn-producer", "--count", "100", env=env)
    return res, before, _end_offsets(secure_platform)


def test_a_wrong_password_is_refused_and_writes_nothing(wrong_password):
    res, before, after = wrong_password
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "not-the-password" not in res.stdout + res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("txn-producer: error: ")
    assert after == before


def test_a_wrong_password_sentence_names_the_principal(wrong_password):
    sentence = wrong_password[0].stderr.splitlines()[-1]
    assert "producer" in sentence and "authentic" in sentence.lower()


def test_bronze_principal_producing_is_one_sentence(secure_platform, registered):
    """Bronze may describe the topic (the start-up check passes), not produce: the broker
    refuses the idempotent producer's IdempotentWrite, and the run ends in one sentence."""
    before = _end_offsets(secure_platform)
    res = _run("txn-producer", "--count", "10", env=secure_platform.cli_env("bronze"))
    assert _end_offsets(secure_platform) == before  # nothing is written
    assert res.returncode == 1 and "Traceback" not in res.stderr
    sentence = [ln for ln in res.stderr.splitlines() if "refused principal" in ln]
    assert sentence and "bronze" in sentence[0] and "IdempotentWrite" in sentence[0]


def test_registry_serves_https_only_to_its_users_and_only_admin_registers(
    secure_platform, registered
):
    import urllib.error
    import urllib.request

    env = secure_platform.env()
    https = env["SCHEMA_REGISTRY_URL"]
    # No plaintext port: the registry's port speaks TLS only.
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(https.replace("https://", "http://") + "/subjects", timeout=5)
    # Without credentials, a read is refused (one sentence, exit 1).
    anonymous = secure_platform.cli_env("producer")
    del anonymous["SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"]
    res = _run("txn-producer", "--count", "1", env=anonymous)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "not authenticated" in res.stderr.splitlines()[-1]
    # A reader may read and look up, not register: only admin (sr-admin) may.
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    probe = Schema('{"type": "record", "name": "P", "fields": []}', "AVRO")
    reader = RegistrySettings.load({}, env=secure_platform.env("producer")).registry_client()
    assert TOPIC + "-value" in reader.get_subjects()
    with pytest.raises(SchemaRegistryError) as refused:
        reader.register_schema("probe-value", probe)
    assert refused.value.http_status_code == 403
    admin = RegistrySettings.load({}, env=secure_platform.env("admin")).registry_client()
    assert admin.register_schema("probe-value", probe) > 0
    # report reads no schema and has no registry user
    assert "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO" not in secure_platform.env("report")


def test_no_secret_in_status_logs_or_env(secure_platform, registered):
    state = secure_platform.state_dir
    secrets = [
        line.split("=", 1)[1].split(":")[-1]
        for f in (state / "credentials").glob("*.env")
        for line in f.read_text().splitlines()
        if line.startswith(("KAFKA_SASL_PASSWORD=", "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO="))
    ]
    # every Kafka principal, the broker's and controller's own, and the registry's five users
    assert len(secrets) == len(SERVICE_PRINCIPALS) + 2 + 5
    status = _run("txn-platform", "status", *secure_platform.settings_flags(), env=None)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "SASL_SSL" in status.stdout and "topic bank_txn_stream" in status.stdout
    shown = status.stdout + status.stderr + (state / "platform.env").read_text()
    shown += (state / "registry" / "application.properties").read_text()  # digests only
    shown += "".join(p.read_text(errors="replace") for p in (state / "logs").glob("*.log"))
    leaked = [s for s in secrets if s in shown]
    assert not leaked
