"""``docker-compose.yml``'s broker, ACLs and registry checked statically (issue 21).

The listeners are SASL_SSL (clients and replication SCRAM-SHA-512, the controller PLAIN), the
StandardAuthorizer denies what no ACL allows, the storage is formatted with every SCRAM user as
salted passwords, the ACLs are the local platform's table plus the compose-only principals
(granted by ``deploy/compose/apply-acls.sh``, run here with a stand-in for ``kafka-acls.sh``),
and the registry serves HTTPS only with basic auth. The secrets are the real generator's
(``tests/unit/test_compose_secure.py`` makes them; it checks who gets which).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import subprocess
from pathlib import Path

import pytest

from local_platform.kafka_config import AUTHORIZER
from local_platform.security import REGISTRY_ROLES, grants
from tests.unit.test_compose import SERVICES, environment, service_argv
from tests.unit.test_compose_secure import (
    CA,
    COMPOSE_DIR,
    GEN,
    IN_CONTAINER,
    in_container,
    process_environment,
    raw_argv,
    read_env,
    sample_secrets,
    secrets_of,
)

# --- the broker ---------------------------------------------------------------------------------


def _map(value: str) -> dict[str, str]:
    return dict(item.split(":", 1) for item in value.split(","))


def test_every_listener_is_sasl_ssl_and_clients_use_scram():
    env = environment(SERVICES["kafka"])
    protocols = _map(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"])
    names = [item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")]
    assert {protocols[n] for n in names} == {"SASL_SSL"}, protocols
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "CLIENT"
    assert "CLIENT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    for listener in ("CLIENT", "HOST"):
        assert env[f"KAFKA_LISTENER_NAME_{listener}_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_LISTENER_NAME_CONTROLLER_SASL_ENABLED_MECHANISMS"] == "PLAIN"
    assert env["KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL"] == "PLAIN"
    assert env["KAFKA_SSL_KEYSTORE_LOCATION"] == "/run/secrets/kafka-keystore.pem"
    assert env["KAFKA_SSL_TRUSTSTORE_LOCATION"] == CA
    assert env["KAFKA_OPTS"] == "-Djava.security.auth.login.config=/run/secrets/kafka.jaas"
    jaas = (sample_secrets() / "kafka.jaas").read_text()
    assert re.search(
        r"^KafkaServer \{\s+\S+ScramLoginModule required\s+username=\"broker\"", jaas, re.M
    )
    assert re.search(r"^controller\.KafkaServer \{\s+\S+PlainLoginModule required", jaas, re.M)


def test_the_authorizer_denies_what_no_acl_allows():
    env = environment(SERVICES["kafka"])
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == AUTHORIZER
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert set(env["KAFKA_SUPER_USERS"].split(";")) == {
        "User:admin",
        "User:broker",
        "User:controller",
    }


def test_the_storage_is_formatted_with_every_scram_user_as_salted_passwords(tmp_path):
    broker = environment(SERVICES["kafka"])
    assert environment(SERVICES["kafka-format"]) == {
        k: v for k, v in broker.items() if k != "KAFKA_OPTS"
    }
    assert (
        SERVICES["kafka"]["depends_on"]["kafka-format"]["condition"]
        == "service_completed_successfully"
    )
    assert "kafka-data:/var/lib/kafka/data" in SERVICES["kafka-format"]["volumes"]
    stub = tmp_path / "run-class"
    stub.write_text('#!/bin/sh\ncp "${1#@}" "$OUT/args"\ncp "$(sed -n 4p "${1#@}")" "$OUT/props"\n')
    stub.chmod(0o755)
    argv = [in_container(a) for a in raw_argv("kafka-format")]
    argv[1] = str(COMPOSE_DIR / "kafka-format.sh")
    env = {
        **process_environment("kafka-format"),
        "KAFKA_RUN_CLASS": str(stub),
        "OUT": str(tmp_path),
    }
    subprocess.run(argv, env={**env, "PATH": os.environ["PATH"]}, check=True)
    props = dict(line.split("=", 1) for line in (tmp_path / "props").read_text().splitlines())
    assert props["listener.security.protocol.map"] == broker["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert props["allow.everyone.if.no.acl.found"] == "false" and "opts" not in props
    words = (tmp_path / "args").read_text().split()
    assert words[:2] == ["kafka.tools.StorageTool", "format"] and "--ignore-formatted" in words
    users = {}
    for spec in words[words.index("--add-scram") + 1 :: 2]:
        fields = dict(f.split("=", 1) for f in spec.removeprefix("SCRAM-SHA-512=[")[:-1].split(","))
        users[fields["name"]] = fields
    assert set(users) == set(GEN["SCRAM_USERS"]) and "controller" not in users
    for user, fields in users.items():
        password = read_env(sample_secrets() / f"{user}.env")["KAFKA_SASL_PASSWORD"]
        salted = GEN["salted_password"](
            password, base64.b64decode(fields["salt"]), int(fields["iterations"])
        )
        assert base64.b64decode(fields["saltedpassword"]) == salted, user
        assert password not in (sample_secrets() / "kafka-scram.args").read_text()


def test_salted_password_is_scrams_hi_function():
    """RFC 7677's SCRAM-SHA-256 exchange: the client proof from our salted password."""

    salted = GEN["salted_password"](
        "pencil", base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096, "sha256"
    )
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}"
    signature = hmac.digest(hashlib.sha256(client_key).digest(), auth.encode(), "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    assert base64.b64encode(proof).decode() == "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="


# --- ACLs ---------------------------------------------------------------------------------------


def _acl_set(text: str) -> set[tuple[str, str, str, str]]:
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return {(p, r, n, op) for p, r, n, ops in rows for op in ops.split(",")}


def test_the_compose_acls_are_the_local_table_plus_the_compose_principals():
    text = (COMPOSE_DIR / "acls.txt").read_text()
    assert text == GEN["render_acls"](), "run: .venv/bin/python scripts/compose_secrets.py --acls"
    op = GEN["tool_operation"]
    local = {
        (p, g.resource, g.name, op(o))
        for p, gs in grants().items()
        for g in gs
        for o in g.operations
    }
    extra = _acl_set(text) - local
    assert local <= _acl_set(text)
    assert (
        {p for p, *_ in extra} == set(GEN["COMPOSE_PRINCIPALS"]) == {"schema-registry", "kafka-ui"}
    )
    assert {(r, n, o) for p, r, n, o in extra if p == "schema-registry"} == {
        ("topic", "_schemas", "Read"), ("topic", "_schemas", "Write"),
        ("topic", "_schemas", "Describe"), ("topic", "_schemas", "DescribeConfigs"),
        ("group", "schema-registry", "Read"), ("group", "schema-registry", "Describe"),
    }  # fmt: skip
    assert {o for p, _, _, o in extra if p == "kafka-ui"} == {"Describe", "DescribeConfigs"}


def test_init_acls_grants_every_line_of_the_table_as_admin(tmp_path):
    argv = raw_argv("init-acls")
    assert argv[:2] == ["sh", f"{IN_CONTAINER}/apply-acls.sh"]
    assert argv[2:] == [
        "kafka:9092",
        f"{IN_CONTAINER}/client.properties",
        f"{IN_CONTAINER}/acls.txt",
    ]
    assert environment(SERVICES["init-acls"])["KAFKA_OPTS"].endswith("/run/secrets/admin.jaas")
    stub = tmp_path / "kafka-acls.sh"
    stub.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/calls\n')
    stub.chmod(0o755)
    local = [str(COMPOSE_DIR / Path(a).name) if a.startswith(IN_CONTAINER) else a for a in argv]
    subprocess.run(
        local, env={"PATH": os.environ["PATH"], "KAFKA_ACLS_TOOL": str(stub)}, check=True
    )
    granted = set()
    for call in (tmp_path / "calls").read_text().splitlines():
        words = call.split()
        assert words[:5] == [
            "--bootstrap-server",
            "kafka:9092",
            "--command-config",
            local[3],
            "--add",
        ]
        who = words[words.index("--allow-principal") + 1].removeprefix("User:")
        kind = next(w for w in ("--topic", "--group", "--cluster") if w in words)
        name = words[words.index(kind) + 1] if kind != "--cluster" else "kafka-cluster"
        ops = [words[i + 1] for i, w in enumerate(words) if w == "--operation"]
        granted |= {(who, kind.removeprefix("--"), name, o) for o in ops}
    assert granted == _acl_set((COMPOSE_DIR / "acls.txt").read_text())


@pytest.mark.parametrize(
    "name", ["init-topic", "init-alerts-topic", "init-schemas-topic", "init-acls"]
)
def test_kafkas_tools_run_as_admin_over_sasl_ssl(name):
    argv = service_argv(SERVICES[name])
    assert f"{IN_CONTAINER}/client.properties" in argv
    jaas = environment(SERVICES[name])["KAFKA_OPTS"].split("=", 1)[1]
    assert "admin.jaas" in secrets_of(name) and jaas == "/run/secrets/admin.jaas"
    client = dict(
        line.split("=", 1)
        for line in (COMPOSE_DIR / "client.properties").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert client == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": CA,
    }
    admin = (sample_secrets() / "admin.jaas").read_text()
    assert 'username="admin"' in admin and admin.startswith("KafkaClient {")


def test_the_registrys_topic_is_made_by_admin_compacted():
    argv = service_argv(SERVICES["init-schemas-topic"])
    env = environment(SERVICES["schema-registry"])
    assert (
        argv[argv.index("--topic") + 1]
        == env["SCHEMA_REGISTRY_KAFKASTORE_TOPIC"]
        == GEN["SCHEMAS_TOPIC"]
    )
    assert argv[argv.index("--partitions") + 1] == "1" and "cleanup.policy=compact" in argv
    assert env["SCHEMA_REGISTRY_SCHEMA_REGISTRY_GROUP_ID"] == GEN["REGISTRY_GROUP"]


# --- the registry and the UI ---------------------------------------------------------------------


def test_the_registry_is_https_only_with_basic_auth():
    env = environment(SERVICES["schema-registry"])
    assert [u.split("://")[0] for u in env["SCHEMA_REGISTRY_LISTENERS"].split(",")] == ["https"]
    assert env["SCHEMA_REGISTRY_INTER_INSTANCE_PROTOCOL"] == "https"
    assert (
        env["SCHEMA_REGISTRY_SSL_KEYSTORE_LOCATION"] == "/run/secrets/schema-registry-keystore.pem"
    )
    assert env["SCHEMA_REGISTRY_AUTHENTICATION_METHOD"] == "BASIC"
    jaas_path = "/run/secrets/schema-registry.jaas"
    assert (
        env["SCHEMA_REGISTRY_OPTS"]
        == env["KAFKA_OPTS"]
        == f"-Djava.security.auth.login.config={jaas_path}"
    )
    jaas = (sample_secrets() / "schema-registry.jaas").read_text()
    realm = env["SCHEMA_REGISTRY_AUTHENTICATION_REALM"]
    assert re.search(
        rf"^{realm} \{{\s+org\.eclipse\.jetty\.security\.jaas\.spi\.PropertyFileLoginModule",
        jaas,
        re.M,
    )
    assert 'file="/run/secrets/schema-registry-users.properties"' in jaas
    assert re.search(r'^KafkaClient \{[^}]*username="schema-registry"', jaas, re.M)
    users = (sample_secrets() / "schema-registry-users.properties").read_text()
    roles = set(env["SCHEMA_REGISTRY_AUTHENTICATION_ROLES"].split(","))
    for principal, role in REGISTRY_ROLES.items():
        password = read_env(sample_secrets() / f"{principal}.env")[
            "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"
        ].split(":", 1)[1]
        assert f"{principal}: MD5:{hashlib.md5(password.encode()).hexdigest()},{role}" in users
        assert password not in users and role in roles
    assert env["SCHEMA_REGISTRY_KAFKASTORE_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"] == "SASL_SSL://kafka:9092"
    assert env["SCHEMA_REGISTRY_KAFKASTORE_SSL_TRUSTSTORE_LOCATION"] == CA


def test_the_registry_healthcheck_wants_tls_and_a_refusal_without_credentials():
    test = " ".join(SERVICES["schema-registry"]["healthcheck"]["test"])
    assert f"--cacert {CA}" in test and "https://localhost:8081/" in test
    assert re.search(r"\)\"\s*=\s*401$", test) and " -k" not in test and "--insecure" not in test


def test_the_kafka_ui_only_describes_and_has_no_registry():
    env = environment(SERVICES["kafka-ui"])
    assert env["KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["KAFKA_CLUSTERS_0_PROPERTIES_SSL_TRUSTSTORE_LOCATION"] == CA
    assert env["JAVA_OPTS"] == "-Djava.security.auth.login.config=/run/secrets/kafka-ui.jaas"
    assert env["KAFKA_CLUSTERS_0_READONLY"] == "true"
    assert not [k for k in env if "SCHEMAREGISTRY" in k]
    ops = {o for p, _, _, o in _acl_set((COMPOSE_DIR / "acls.txt").read_text()) if p == "kafka-ui"}
    assert ops == {"Describe", "DescribeConfigs"}
