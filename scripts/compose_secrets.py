"""The Docker secrets of ``docker-compose.yml`` (SASL_SSL Kafka, HTTPS registry with basic auth),
and its ACL table, made from the local platform's own principals and ACLs
(``local_platform.security``) so that the two cannot drift.

    .venv/bin/python scripts/compose_secrets.py          # make what is missing in deploy/secrets/
    .venv/bin/python scripts/compose_secrets.py --acls   # rewrite deploy/compose/acls.txt
    .venv/bin/python scripts/compose_secrets.py --check  # exit 1 when acls.txt is stale

What it writes into ``deploy/secrets/`` (git-ignored, mode 0700; docs/security.md, "Docker
Compose", says which service mounts what):

- ``ca.pem``/``ca.key``: the CA, made and renewed by the local platform's code
  (``local_platform.tls``); ``kafka-keystore.pem`` and ``schema-registry-keystore.pem``: each
  service's key and certificate chain (SANs: its compose host name, ``localhost``, 127.0.0.1);
- ``<principal>.env``: one credentials file per principal, the variables
  ``txn_runtime.connections`` reads (the local platform's format);
- what the Java services read: ``kafka.jaas`` (the broker's and the controller's logins),
  ``kafka-scram.args`` (the SCRAM credentials the broker's storage is formatted with, as salted
  passwords: not the passwords, but enough to log in with, so as secret as they are),
  ``admin.jaas``, ``kafka-ui.jaas``, ``schema-registry.jaas``
  and ``schema-registry-users.properties`` (the registry's users, MD5 digests);
- ``grafana-admin.password``; ``host.env``: the shared, non-secret settings for CLIs run on the
  host against the published ports.

Existing passwords are kept (the broker was formatted with them); certificates are renewed when
fewer than 30 days remain. A production job never imports this module (only this setup does).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from local_platform.security import (
    CLUSTER,
    INTERNAL_PRINCIPALS,
    REGISTRY_ROLES,
    SCRAM_PRINCIPALS,
    SERVICE_PRINCIPALS,
    Credentials,
    Grant,
    grants,
)
from local_platform.tls import (
    CERT_DAYS,
    RENEW_BEFORE,
    TlsFiles,
    days_left,
    ensure_ca,
    issue_server,
    write_private,
)
from txn_contract.alerts import TOPIC as ALERTS_TOPIC
from txn_contract.model import TOPIC
from txn_runtime.errors import PlatformError

ROOT = Path(__file__).resolve().parents[1]
SECRETS_DIR = ROOT / "deploy" / "secrets"
ACLS_FILE = ROOT / "deploy" / "compose" / "acls.txt"
# Where compose mounts every secret in a container (`secrets:` without a target).
MOUNT = "/run/secrets"

# Compose-only principals: the registry's own Kafka client (its storage topic and its leader
# election group) and the Kafka UI, which only describes.
COMPOSE_PRINCIPALS = ("schema-registry", "kafka-ui")
SCRAM_USERS = (*SCRAM_PRINCIPALS, *COMPOSE_PRINCIPALS)
SCHEMAS_TOPIC = "_schemas"  # the registry's kafkastore.topic
REGISTRY_GROUP = "schema-registry"  # its schema.registry.group.id
REGISTRY_REALM = "SchemaRegistry"  # its authentication.realm: a section of schema-registry.jaas
ITERATIONS = 8192
# Services presenting a certificate: its file stem and the host name clients use.
SERVERS = {"kafka": "kafka", "schema-registry": "schema-registry"}
# The files compose mounts (its top-level `secrets:`): readable inside the containers, whose
# users differ from yours, so mode 0644 in this 0700 directory; everything else stays 0600.
MOUNTED = (
    "ca.pem",
    "kafka-keystore.pem",
    "kafka.jaas",
    "kafka-scram.args",
    "schema-registry-keystore.pem",
    "schema-registry.jaas",
    "schema-registry-users.properties",
    "kafka-ui.jaas",
    "admin.jaas",
    "admin.env",
    "producer.env",
    "bronze.env",
    "gold.env",
    "report.env",
    "grafana-admin.password",
)

SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
# Jetty 12 (Confluent Platform 8's rest-utils) moved its JAAS modules to this package.
PROPERTY_FILE_LOGIN = "org.eclipse.jetty.security.jaas.spi.PropertyFileLoginModule"


def compose_grants() -> dict[str, tuple[Grant, ...]]:
    """The local table (:func:`local_platform.security.grants`) plus the compose-only principals:

    - schema-registry: read and write its storage topic and check that it is compacted
      (DESCRIBE_CONFIGS); join its leader election group. The admin creates the topic;
    - kafka-ui: describe the two topics (partitions, offsets, configs) and the cluster, nothing
      it could change or read records with: the UI has no login of its own.
    """
    describe = ("DESCRIBE", "DESCRIBE_CONFIGS")
    return {
        **grants(),
        "schema-registry": (
            Grant("topic", SCHEMAS_TOPIC, ("READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS")),
            Grant("group", REGISTRY_GROUP, ("READ", "DESCRIBE")),
        ),
        "kafka-ui": (
            Grant("topic", TOPIC, describe),
            Grant("topic", ALERTS_TOPIC, describe),
            Grant("cluster", CLUSTER, describe),
        ),
    }


def tool_operation(operation: str) -> str:
    """``IDEMPOTENT_WRITE`` -> ``IdempotentWrite``, the name ``kafka-acls.sh --operation`` takes."""
    return "".join(word.capitalize() for word in operation.split("_"))


def render_acls(table: dict[str, tuple[Grant, ...]] | None = None) -> str:
    """``deploy/compose/acls.txt``: one ``principal resource name Operation,...`` line per
    grant, what ``deploy/compose/apply-acls.sh`` hands to ``kafka-acls.sh --add``."""
    lines = [
        "# Generated by scripts/compose_secrets.py --acls from local_platform.security.grants()",
        "# plus the compose-only principals (docs/security.md); do not edit.",
        "# principal resource name operations",
    ]
    for principal, granted in (table or compose_grants()).items():
        for g in granted:
            if g.prefixed or "*" in g.name:
                raise ValueError(f"{principal}: compose grants literal names only, not {g}")
            ops = ",".join(tool_operation(op) for op in g.operations)
            lines.append(f"{principal} {g.resource} {g.name} {ops}")
    return "\n".join(lines) + "\n"


def salted_password(
    password: str, salt: bytes, iterations: int, hash_name: str = "sha512"
) -> bytes:
    """SCRAM's ``SaltedPassword := Hi(password, salt, i)`` (RFC 5802): PBKDF2 with HMAC and one
    block, what Kafka's ``--add-scram ...,saltedpassword=`` takes."""
    return hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, iterations)


def scram_args(creds: Credentials) -> str:
    """``kafka-storage format`` arguments (one per line, a Java @argfile) adding every SCRAM
    user as a salt and a salted password: the broker's credential store, not the passwords."""
    words = []
    for user in SCRAM_USERS:
        salt = secrets.token_bytes(32)
        salted = salted_password(creds.password(user), salt, ITERATIONS)
        b64 = base64.b64encode
        words += [
            "--add-scram",
            f"SCRAM-SHA-512=[name={user},iterations={ITERATIONS},"
            f"salt={b64(salt).decode()},saltedpassword={b64(salted).decode()}]",
        ]
    return "\n".join(words) + "\n"


def _section(name: str, login: str, **options: str) -> str:
    def quoted(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"')

    body = "".join(f'\n  {k}="{quoted(v)}"' for k, v in options.items())
    return f"{name} {{\n  {login} required{body};\n}};\n"


def _client(creds: Credentials, user: str) -> str:
    """The ``KafkaClient`` section Java clients log in with when no ``sasl.jaas.config``."""
    return _section("KafkaClient", SCRAM_LOGIN, username=user, password=creds.password(user))


def jaas_files(creds: Credentials) -> dict[str, str]:
    """The JAAS files of the Java services (each read through ``-Djava.security.auth.login.
    config``): the broker's listeners, the init services' admin, the UI, the registry."""
    broker, controller = creds.password("broker"), creds.password("controller")
    kafka = _section("KafkaServer", SCRAM_LOGIN, username="broker", password=broker)
    kafka += _section(
        "controller.KafkaServer",
        PLAIN_LOGIN,
        username="controller",
        password=controller,
        user_controller=controller,
    )
    users = f"{MOUNT}/schema-registry-users.properties"
    registry = _section(REGISTRY_REALM, PROPERTY_FILE_LOGIN, file=users)
    return {
        # KafkaClient: the healthcheck's kafka-broker-api-versions.sh, as broker.
        "kafka.jaas": kafka + _client(creds, "broker"),
        "admin.jaas": _client(creds, "admin"),
        "kafka-ui.jaas": _client(creds, "kafka-ui"),
        "schema-registry.jaas": registry + _client(creds, "schema-registry"),
    }


def registry_users(creds: Credentials) -> str:
    """Jetty's property file of the registry's users: ``user: MD5:<digest>,role``, never a
    password (Jetty checks an MD5 digest; the passwords are 192 random bits)."""
    lines = ["# user: MD5:<digest of the password>,role"]
    for principal, role in REGISTRY_ROLES.items():
        user, password = creds.registry_user_info(principal).split(":", 1)
        lines.append(f"{user}: MD5:{hashlib.md5(password.encode()).hexdigest()},{role}")
    return "\n".join(lines) + "\n"


def ensure_credentials(root: Path) -> Credentials:
    """``<principal>.env`` for every principal (kept when present), with a registry password
    for the registry's users (:data:`REGISTRY_ROLES`)."""
    creds = Credentials(root)
    for principal in (*SERVICE_PRINCIPALS, *INTERNAL_PRINCIPALS, *COMPOSE_PRINCIPALS):
        path = creds.env_file(principal)
        if not path.exists():
            write_private(
                path,
                f"# docker-compose.yml: principal {principal} (scripts/compose_secrets.py).\n"
                f"KAFKA_SASL_USERNAME={principal}\n"
                f"KAFKA_SASL_PASSWORD={secrets.token_urlsafe(24)}\n",
            )
        if principal in REGISTRY_ROLES:
            try:
                creds.registry_user_info(principal)
            except PlatformError:
                user_info = f"{principal}:{secrets.token_urlsafe(24)}"
                text = path.read_text()
                write_private(path, f"{text}SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO={user_info}\n")
    return creds


def ensure_tls(root: Path, log: Callable[[str], None]) -> None:
    """The CA (the local platform's code) and each server's keystore, renewed near expiry."""
    files = TlsFiles(root)
    new_ca = ensure_ca(files, log)
    for stem, host in SERVERS.items():
        keystore = root / f"{stem}-keystore.pem"
        if new_ca or not keystore.exists() or days_left(keystore) <= RENEW_BEFORE:
            issue_server(files, keystore, host, [host, "localhost", "127.0.0.1"])
            log(f"tls: issued {keystore.name} for {host}, localhost (valid {CERT_DAYS} days)")


def host_env(root: Path) -> str:
    """The shared settings of a CLI run on the host against the published ports (no secret:
    source a ``<principal>.env`` beside it)."""
    ca = (root / "ca.pem").resolve()
    return (
        "# CLIs on the host against docker-compose.yml's published ports; no secret here.\n"
        "KAFKA_BOOTSTRAP_SERVERS=localhost:29092\n"
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL\n"
        "KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n"
        f"KAFKA_SSL_CA_LOCATION={ca}\n"
        "SCHEMA_REGISTRY_URL=https://localhost:8081\n"
        f"SCHEMA_REGISTRY_SSL_CA_LOCATION={ca}\n"
    )


def generate(root: Path, log: Callable[[str], None] = print) -> list[Path]:
    """Make or refresh every file of ``root``; returns the files compose mounts."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    ensure_tls(root, log)
    creds = ensure_credentials(root)
    grafana = root / "grafana-admin.password"
    if not grafana.exists():
        write_private(grafana, secrets.token_urlsafe(18) + "\n")
    derived = {
        **jaas_files(creds),
        "schema-registry-users.properties": registry_users(creds),
        "kafka-scram.args": scram_args(creds),
    }
    for name, text in derived.items():
        write_private(root / name, text)
    (root / "host.env").write_text(host_env(root))
    for name in MOUNTED:
        (root / name).chmod(0o644)
    return [root / name for name in MOUNTED]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Make docker-compose.yml's secrets, or its ACL table.",
        epilog="Example: .venv/bin/python scripts/compose_secrets.py && docker compose up -d",
    )
    parser.add_argument("--dir", type=Path, default=SECRETS_DIR, help="where the secrets go")
    parser.add_argument("--acls", action="store_true", help=f"rewrite {ACLS_FILE.name}")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {ACLS_FILE} is stale")
    args = parser.parse_args(argv)
    if args.check:
        if not ACLS_FILE.exists() or ACLS_FILE.read_text() != render_acls():
            print(f"{ACLS_FILE} is stale; run: {sys.argv[0]} --acls", file=sys.stderr)
            return 1
        return 0
    if args.acls:
        ACLS_FILE.write_text(render_acls())
        print(f"wrote {ACLS_FILE}")
        return 0
    mounted = generate(args.dir)
    print(f"{args.dir}: {len(mounted)} files for docker compose (docs/deploy.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
