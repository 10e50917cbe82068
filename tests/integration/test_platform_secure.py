"""`txn-platform up --secure`: SASL_SSL with SCRAM-SHA-512, the platform's own CA, the
StandardAuthorizer denying by default and one principal per service; the registry over HTTPS
only, to authenticated users, only admin registering. The real CLIs run with `platform.env` and
`credentials/<principal>.env` sourced; what a principal may not do is refused, each refusal one
sentence naming the principal and the operation, with nothing written; no secret shows in
`status`, the logs or `platform.env`.
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


def _end_offsets(secure_platform, topic: str = TOPIC) -> int:
    from confluent_kafka import Consumer

    from local_platform.kafka import client_config
    from txn_runtime.preflight import watermarks

    consumer = Consumer(client_config(secure_platform.settings, **{"group.id": "t-offsets"}))
    try:
        return sum(high for _low, high in watermarks(consumer, topic, 3).values())
    finally:
        consumer.close()


def _refused(res: subprocess.CompletedProcess, prog: str) -> str:
    """The one sentence a refused CLI ends with: exit 1, no traceback, no librdkafka line."""
    assert res.returncode == 1, res.stdout + res.stderr
    shown = res.stdout + res.stderr
    assert "Traceback" not in shown and "rdkafka" not in shown and res.stdout == ""
    errors = [line for line in res.stderr.splitlines() if line.startswith(f"{prog}: error: ")]
    assert len(errors) == 1 and res.stderr.splitlines()[-1] == errors[0], res.stderr
    return errors[0].removeprefix(f"{prog}: error: ")


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


def test_a_wrong_password_sentence_names_the_principal(secure_platform, wrong_password):
    sentence = _refused(wrong_password[0], "txn-producer")
    assert sentence.startswith(
        f"The Kafka broker at {secure_platform.env()['KAFKA_BOOTSTRAP_SERVERS']} refused "
        f"principal producer while producing to topic {TOPIC}: authentication failed ("
    )


def test_bronze_principal_producing_is_one_sentence(secure_platform, registered):
    """Bronze may describe the topic, not write it: the start-up check reads its ACLs there
    and refuses it before any event."""
    before = _end_offsets(secure_platform)
    res = _run("txn-producer", "--count", "10", env=secure_platform.cli_env("bronze"))
    assert _end_offsets(secure_platform) == before  # nothing is written
    assert _refused(res, "txn-producer").startswith(
        f"Kafka refused principal bronze Write on topic {TOPIC} while producing to topic "
        f"{TOPIC} (its ACLs on the topic allow Describe, Read); "
    )


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
    assert _refused(res, "txn-producer") == (
        f"The schema registry at {https} refused looking up {TOPIC}-value v2 to a client "
        "without credentials (HTTP 401: User is not authenticated): no "
        "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO was given; set it to the principal's "
        "USER:PASSWORD (`txn-platform up --secure` writes each principal's to "
        "STATE/credentials/<principal>.env)."
    )
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


# --- refusals (issue 21): one sentence naming the principal and the operation, nothing written


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> Path:
    """A CA that signed nothing of the platform's."""
    from local_platform.tls import ensure_tls

    root = tmp_path_factory.mktemp("other-ca")
    return ensure_tls(root, "127.0.0.1", lambda _m: None).ca_cert


def _subjects(secure_platform) -> dict[str, list[int]]:
    """Every subject of the registry and its versions, as admin sees them."""
    admin = RegistrySettings.load({}, env=secure_platform.env("admin")).registry_client()
    return {s: admin.get_versions(s) for s in admin.get_subjects()}


def test_a_client_without_tls_is_told_the_listener_speaks_tls(secure_platform, registered):
    before = _end_offsets(secure_platform)
    env = secure_platform.cli_env("producer") | {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
    res = _run("txn-producer", "--count", "1", env=env)
    assert _refused(res, "txn-producer") == (
        f"The Kafka broker at {env['KAFKA_BOOTSTRAP_SERVERS']} closed every connection of "
        f"principal producer before authentication while producing to topic {TOPIC}: its "
        "listener speaks TLS and KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT; set it to SASL_SSL, "
        "with KAFKA_SSL_CA_LOCATION (`txn-platform up --secure` writes both to "
        "STATE/platform.env)."
    )
    assert _end_offsets(secure_platform) == before


def test_a_ca_the_client_does_not_trust_is_named_for_kafka_and_the_registry(
    secure_platform, registered, other_ca
):
    before, subjects = _end_offsets(secure_platform), _subjects(secure_platform)
    env = secure_platform.cli_env("producer") | {"KAFKA_SSL_CA_LOCATION": str(other_ca)}
    res = _run("txn-producer", "--count", "1", env=env)
    assert _refused(res, "txn-producer") == (
        f"The TLS handshake of principal producer with the Kafka broker at "
        f"{env['KAFKA_BOOTSTRAP_SERVERS']} failed while producing to topic {TOPIC}: the "
        f"broker's certificate does not verify with the CA in KAFKA_SSL_CA_LOCATION ({other_ca}) "
        "(certificate verify failed); point KAFKA_SSL_CA_LOCATION at the CA that signed the "
        "brokers' certificates (`txn-platform up --secure`: STATE/tls/ca.pem)."
    )
    env = secure_platform.cli_env("admin") | {"SCHEMA_REGISTRY_SSL_CA_LOCATION": str(other_ca)}
    sentence = _refused(_run("txn-contract", "register", env=env), "txn-contract")
    assert sentence.startswith(
        f"The TLS handshake of user admin with the schema registry at "
        f"{env['SCHEMA_REGISTRY_URL']} failed while looking up "
    )
    assert f"does not verify with the CA in SCHEMA_REGISTRY_SSL_CA_LOCATION ({other_ca}) (" in (
        sentence
    )
    assert _end_offsets(secure_platform) == before and _subjects(secure_platform) == subjects


def test_producer_principal_reading_is_refused_before_spark(secure_platform, tmp_path):
    """bronze-ingest as producer: its preflight reads the principal's ACLs on the topic, so
    neither Spark nor a table nor a checkpoint is ever made."""
    lake = tmp_path / "lake"
    res = _run(
        "bronze-ingest", "--lake", str(lake), "--available-now",
        env=secure_platform.cli_env("producer"),
    )  # fmt: skip
    assert _refused(res, "bronze-ingest") == (
        f"Kafka refused principal producer Read on topic {TOPIC} while reading topic {TOPIC} "
        "(its ACLs on the topic allow Describe, Write); run as a principal with Read on it, or "
        "grant it (docs/security.md lists each principal's ACLs)."
    )
    assert not lake.exists()


def test_producer_principal_writing_another_topic_is_refused(secure_platform, registered):
    alerts = "bank_txn_alerts"
    before = _end_offsets(secure_platform, alerts)
    res = _run(
        "txn-producer", "--count", "1", "--topic", alerts, env=secure_platform.cli_env("producer")
    )
    assert _refused(res, "txn-producer") == (
        f"Kafka refused principal producer Describe on topic {alerts} while producing to topic "
        f"{alerts} (TOPIC_AUTHORIZATION_FAILED; without Describe the broker does not say whether "
        "the topic exists); run as a principal with Describe and Write on it, or grant it "
        "(docs/security.md lists each principal's ACLs)."
    )
    assert _end_offsets(secure_platform, alerts) == before


def test_a_reader_registering_is_refused_naming_the_user(secure_platform, registered, tmp_path):
    """`txn-contract register` as producer (sr-readonly) of a subject the registry lacks."""
    import shutil

    from tests.conftest import REPO_ROOT

    probe = tmp_path / "contracts" / "refusal_probe-value"
    shutil.copytree(REPO_ROOT / "contracts" / f"{TOPIC}-value", probe)
    policy = json.loads((probe / "policy.json").read_text())
    policy |= {"subject": "refusal_probe-value", "topic": "refusal_probe"}
    (probe / "policy.json").write_text(json.dumps(policy))
    before = _subjects(secure_platform)
    env = secure_platform.cli_env("producer")
    res = _run("txn-contract", "register", "--contracts", str(probe.parent), env=env)
    assert _refused(res, "txn-contract") == (
        f"The schema registry at {env['SCHEMA_REGISTRY_URL']} refused registering "
        "refusal_probe-value v1 to user producer (HTTP 403: User is not authorized to perform "
        "the requested operation); run it as a user whose registry role allows it "
        "(docs/security.md: admin registers and sets compatibility levels, the services' users "
        "read)."
    )
    assert _subjects(secure_platform) == before


def test_a_principal_without_write_on_the_alerts_topic_is_refused_before_spark(
    secure_platform, tmp_path
):
    """gold-signals as report (Describe only): its preflight reads the principal's ACLs on the
    alerts topic, so no gold table, checkpoint or alert is ever made."""
    import pyarrow as pa
    from deltalake import write_deltalake

    alerts = "bank_txn_alerts"
    lake = tmp_path / "lake"
    write_deltalake(str(lake / "silver"), pa.table({"x": [1]}))  # the preflight's first check
    before = _end_offsets(secure_platform, alerts)
    res = _run(
        "gold-signals", "--lake", str(lake), "--available-now",
        env=secure_platform.cli_env("report"),
    )  # fmt: skip
    assert _refused(res, "gold-signals").startswith(
        f"Kafka refused principal report Write on topic {alerts} while producing to topic "
        f"{alerts} (its ACLs on the topic allow Describe); "
    )
    assert sorted(p.name for p in lake.iterdir()) == ["silver"]
    assert _end_offsets(secure_platform, alerts) == before
