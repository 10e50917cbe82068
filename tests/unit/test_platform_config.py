"""What `txn-platform up --brokers 3 --secure` generates, without starting anything: each
node's server.properties, the settings' ports and recorded layout, the principals' ACL table,
the credential files and the TLS material."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from local_platform.kafka_config import BrokerSecrets, kafka_nodes, server_properties
from local_platform.platform import env_lines
from local_platform.security import (
    REGISTRY_ROLES,
    SERVICE_PRINCIPALS,
    Credentials,
    grants,
)
from local_platform.settings import PlatformSettings
from txn_contract.errors import ConfigError
from txn_runtime.connections import KafkaSettings
from txn_runtime.errors import PlatformError

SECRETS = BrokerSecrets("b-secret", "c-secret", Path("/s/tls/ks.pem"), Path("/s/tls/ca.pem"))


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_one_plaintext_node_is_what_it_always_was(tmp_path):
    s = PlatformSettings(state_dir=tmp_path, kafka_port=19092, controller_port=19093)
    [node] = kafka_nodes(s)
    assert (node.name, node.home, node.node_id) == ("kafka", tmp_path / "kafka", 1)
    assert _props(server_properties(s, node)) == {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": "127.0.0.1:19093",
        "listeners": "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
        "advertised.listeners": "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(tmp_path / "kafka" / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.retention.hours": "168",
    }
    assert s.bootstrap_servers == "127.0.0.1:19092"


def test_three_nodes_are_a_static_quorum_on_interleaved_ports(tmp_path):
    s = PlatformSettings(state_dir=tmp_path, brokers=3, kafka_port=19092, controller_port=19093)
    nodes = kafka_nodes(s)
    assert [(n.name, n.port, n.controller_port) for n in nodes] == [
        ("kafka-1", 19092, 19093),
        ("kafka-2", 19094, 19095),
        ("kafka-3", 19096, 19097),
    ]
    assert s.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    props = [_props(server_properties(s, n)) for n in nodes]
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    assert len({p["log.dirs"] for p in props}) == 3
    for p, n in zip(props, nodes, strict=True):
        assert p["controller.quorum.voters"] == (
            "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
        )
        assert "controller.quorum.bootstrap.servers" not in p
        assert p["listeners"] == (
            f"PLAINTEXT://127.0.0.1:{n.port},CONTROLLER://127.0.0.1:{n.controller_port}"
        )
        assert p["default.replication.factor"] == "3" and p["min.insync.replicas"] == "2"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"


def test_secure_nodes_use_sasl_ssl_the_authorizer_and_deny_by_default(tmp_path):
    s = PlatformSettings(state_dir=tmp_path, brokers=3, secure=True)
    with pytest.raises(ValueError, match="secrets"):
        server_properties(s, kafka_nodes(s)[0])
    p = _props(server_properties(s, kafka_nodes(s)[1], SECRETS))
    assert p["listeners"] == "CLIENT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9095"
    assert p["listener.security.protocol.map"] == "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
    assert p["inter.broker.listener.name"] == "CLIENT"
    assert p["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert p["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert (
        'username="broker" password="b-secret"'
        in p["listener.name.client.scram-sha-512.sasl.jaas.config"]
    )
    assert p["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert 'user_controller="c-secret"' in p["listener.name.controller.plain.sasl.jaas.config"]
    assert (p["ssl.keystore.type"], p["ssl.keystore.location"]) == ("PEM", "/s/tls/ks.pem")
    assert (p["ssl.truststore.type"], p["ssl.truststore.location"]) == ("PEM", "/s/tls/ca.pem")
    assert p["authorizer.class.name"] == ("org.apache.kafka.metadata.authorizer.StandardAuthorizer")
    assert p["allow.everyone.if.no.acl.found"] == "false"
    assert p["super.users"] == "User:admin;User:broker;User:controller"


def test_broker_counts_and_derived_ports_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="--brokers: must be 1 or 3, got 2"):
        PlatformSettings.load({"state_dir": tmp_path, "brokers": 2}, env={})
    # broker 2's client port would be the controller port given
    with pytest.raises(ConfigError, match="port 19094 is also"):
        PlatformSettings.load(
            {"state_dir": tmp_path, "brokers": 3, "kafka_port": 19092, "controller_port": 19094},
            env={},
        )
    with pytest.raises(ConfigError, match="65535"):
        PlatformSettings.load(
            {"state_dir": tmp_path, "brokers": 3, "kafka_port": 65532, "controller_port": 9093},
            env={},
        )


def test_a_state_dir_keeps_its_layout(tmp_path):
    assert PlatformSettings(state_dir=tmp_path).brokers == 1
    (tmp_path / "platform.json").write_text(json.dumps({"brokers": 3, "secure": True}))
    s = PlatformSettings.load({"state_dir": tmp_path}, env={})
    assert (s.brokers, s.secure) == (3, True)
    assert PlatformSettings.load({"state_dir": tmp_path, "brokers": "3"}, env={}).brokers == 3
    with pytest.raises(ConfigError, match=r"--brokers: the state dir .* 3 broker"):
        PlatformSettings.load({"state_dir": tmp_path, "brokers": 1}, env={})
    with pytest.raises(ConfigError, match=r"TXN_SECURE: .*secure Kafka cluster"):
        PlatformSettings.load({"state_dir": tmp_path}, env={"TXN_SECURE": "false"})
    legacy = tmp_path / "legacy"
    (legacy / "kafka" / "data").mkdir(parents=True)
    (legacy / "kafka" / "data" / "meta.properties").write_text("")
    with pytest.raises(ConfigError, match="plaintext Kafka cluster of 1 broker"):
        PlatformSettings.load({"state_dir": legacy, "secure": True}, env={})


def test_each_principal_gets_only_what_its_service_does():
    table = grants("txns", "alerts")
    assert set(table) == set(SERVICE_PRINCIPALS)

    def ops(principal: str) -> set[tuple[str, str, str]]:
        return {(g.resource, g.name, op) for g in table[principal] for op in g.operations}

    assert ops("admin") == set()  # a super user: no ACL needed
    assert ops("producer") == {
        ("topic", "txns", "WRITE"),
        ("topic", "txns", "DESCRIBE"),
        ("cluster", "kafka-cluster", "IDEMPOTENT_WRITE"),
    }
    assert ops("bronze") == {("topic", "txns", "READ"), ("topic", "txns", "DESCRIBE")}
    assert ops("gold") == {
        ("topic", "alerts", "WRITE"),
        ("topic", "alerts", "DESCRIBE"),
        ("cluster", "kafka-cluster", "IDEMPOTENT_WRITE"),
    }
    assert ops("report") == {("topic", "txns", "DESCRIBE"), ("topic", "alerts", "DESCRIBE")}
    assert ops("pipeline") == ops("bronze") | ops("gold")
    every = [g for granted in table.values() for g in granted]
    assert not any(g.prefixed or "*" in g.name or "ALL" in g.operations for g in every)


def test_credentials_are_private_and_in_the_variables_clients_read(tmp_path):
    creds = Credentials(tmp_path / "credentials")
    with pytest.raises(PlatformError, match="missing"):
        creds.ensure(may_create=False)
    first = creds.ensure(may_create=True)
    assert creds.ensure(may_create=False) == first  # kept, not remade
    assert len(set(first.values())) == len(first)
    assert _mode(tmp_path / "credentials") == 0o700
    for principal in SERVICE_PRINCIPALS:
        path = creds.env_file(principal)
        assert _mode(path) == 0o600
        lines = path.read_text().splitlines()
        env = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
        user_info = env.pop("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", None)
        assert env == {"KAFKA_SASL_USERNAME": principal, "KAFKA_SASL_PASSWORD": first[principal]}
        if principal in REGISTRY_ROLES:  # its own registry password, not its Kafka one
            assert user_info.startswith(f"{principal}:") and first[principal] not in user_info
        else:
            assert user_info is None
        # the shared file plus this one are a valid client configuration
        (tmp_path / "ca.pem").write_text("")
        shared = {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SSL_CA_LOCATION": str(tmp_path / "ca.pem"),
        }
        conf = KafkaSettings.load({}, env=shared | env).kafka_config()
        assert (conf["sasl.username"], conf["sasl.password"]) == (principal, first[principal])
    argfile = creds.scram_argfile(tmp_path / "format.args", ["-cp", "x"])
    assert _mode(argfile) == 0o600
    text = argfile.read_text()
    assert text.count("--add-scram") == len(SERVICE_PRINCIPALS) + 1  # and broker
    assert f"password={first['broker']}]" in text and first["controller"] not in text


def test_platform_env_names_the_secure_settings_and_no_secret(tmp_path):
    plain = env_lines(PlatformSettings(state_dir=tmp_path / "plain"))
    assert [line.split("=")[0] for line in plain if not line.startswith("#")] == [
        "KAFKA_BOOTSTRAP_SERVERS",
        "SCHEMA_REGISTRY_URL",
        "TXN_STATE_DIR",
    ]
    s = PlatformSettings(state_dir=tmp_path, secure=True, brokers=3)
    passwords = Credentials(tmp_path / "credentials").ensure(may_create=True)
    lines = env_lines(s)
    env = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["KAFKA_SSL_CA_LOCATION"] == str(tmp_path / "tls" / "ca.pem")
    assert env["KAFKA_BOOTSTRAP_SERVERS"].count(",") == 2
    assert env["SCHEMA_REGISTRY_URL"] == "https://127.0.0.1:8081/apis/ccompat/v7"
    assert env["SCHEMA_REGISTRY_SSL_CA_LOCATION"] == str(tmp_path / "tls" / "ca.pem")
    assert not any(
        line.startswith(("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD")) for line in lines
    )
    assert not any(pw in "\n".join(lines) for pw in passwords.values())


def test_the_registry_learns_digests_and_roles_not_passwords(tmp_path):
    import hashlib

    creds = Credentials(tmp_path)
    creds.ensure(may_create=True)
    props = _props("\n".join(creds.registry_users()))
    assert props["quarkus.security.users.embedded.algorithm"] == "digest-sha-512"
    assert props["quarkus.security.users.embedded.plain-text"] == "false"
    prefix = "quarkus.security.users.embedded.roles."
    roles = {k.removeprefix(prefix): v for k, v in props.items() if k.startswith(prefix)}
    assert roles == {
        "admin": "sr-admin",
        "producer": "sr-readonly",
        "bronze": "sr-readonly",
        "gold": "sr-readonly",
        "pipeline": "sr-readonly",
    }
    user, password = creds.registry_user_info("bronze").split(":", 1)
    digest = hashlib.sha512(f"{user}:Quarkus:{password}".encode()).hexdigest()
    assert props["quarkus.security.users.embedded.users.bronze"] == digest
    assert password not in "\n".join(creds.registry_users())


def test_tls_material_is_made_once_private_and_valid_for_loopback(tmp_path):
    from cryptography import x509

    from local_platform.tls import ensure_tls

    logged: list[str] = []
    files = ensure_tls(tmp_path / "tls", "127.0.0.1", logged.append)
    assert len(logged) == 2  # the CA and the services' certificate
    assert _mode(tmp_path / "tls") == 0o700
    assert _mode(files.ca_key) == 0o600 and _mode(files.keystore) == 0o600
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    broker = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    broker.verify_directly_issued_by(ca)
    sans = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert b"PRIVATE KEY" in files.keystore.read_bytes()
    assert b"PRIVATE KEY" not in files.server_cert.read_bytes()

    keystore = files.keystore.read_bytes()
    ensure_tls(tmp_path / "tls", "127.0.0.1", logged.append)
    assert len(logged) == 2 and files.keystore.read_bytes() == keystore  # nothing remade


def test_tls_renews_a_certificate_close_to_expiry(tmp_path, monkeypatch):
    from local_platform import tls

    files = tls.ensure_tls(tmp_path / "tls", "127.0.0.1", lambda _m: None)
    ca, keystore = files.ca_cert.read_bytes(), files.keystore.read_bytes()
    monkeypatch.setattr(tls, "RENEW_BEFORE", tls.CERT_DAYS + 1)  # the broker's is "expiring"
    logged: list[str] = []
    tls.ensure_tls(tmp_path / "tls", "127.0.0.1", logged.append)
    assert files.ca_cert.read_bytes() == ca  # the CA has years left: kept
    assert files.keystore.read_bytes() != keystore
    assert logged == [
        "tls: issued the services' certificate (brokers, registry) for 127.0.0.1 and localhost "
        "(valid 397 days)"
    ]
