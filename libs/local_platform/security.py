"""``--secure``: the principals, their passwords and their ACLs (docs/security.md says why each
may do what it may).

- One SCRAM-SHA-512 principal per service that talks to Kafka (:data:`SERVICE_PRINCIPALS`),
  ``admin`` (a super user: the platform's own, and the one that registers schemas) and
  ``broker`` (replication between brokers, a super user). ``controller`` is the PLAIN user of
  the controller listener, known only to the nodes' own properties files.
- Passwords are made on first use (``secrets.token_urlsafe``) and kept in
  ``STATE/credentials/<principal>.env`` (mode 0600, directory 0700) as ``KAFKA_SASL_USERNAME``
  and ``KAFKA_SASL_PASSWORD``, the variables :class:`txn_runtime.connections.KafkaSettings`
  reads. They reach the brokers once, when the storage is formatted (``--add-scram``, through
  an argument file so they never show on a command line).
- The registry's users (:data:`REGISTRY_ROLES`) have a password of their own in the same file,
  as ``SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO`` (what
  :class:`txn_runtime.connections.RegistrySettings` reads); the registry gets only digests.
- The ACLs (:func:`grants`) are applied as ``admin`` by every ``up`` with confluent-kafka's
  ``AdminClient.create_acls``; bindings of our principals that the table no longer lists are
  deleted, so the broker holds exactly the table.

Example::

    creds = Credentials(settings.state_dir / "credentials")
    creds.ensure(may_create=True)
    apply_acls(admin_client, grants(settings.topic), log)
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from txn_contract.alerts import TOPIC as ALERTS_TOPIC  # the gold job's output topic
from txn_contract.model import TOPIC
from txn_runtime.errors import PlatformError

from .tls import write_private

__all__ = [
    "ALERTS_TOPIC",
    "INTERNAL_PRINCIPALS",
    "REGISTRY_ROLES",
    "SCRAM_PRINCIPALS",
    "SERVICE_PRINCIPALS",
    "Credentials",
    "Grant",
    "apply_acls",
    "grants",
]

# Every principal a client of ours logs in as; admin is the platform's own super user.
SERVICE_PRINCIPALS = ("admin", "producer", "bronze", "gold", "report", "pipeline")
INTERNAL_PRINCIPALS = ("broker", "controller")
SCRAM_PRINCIPALS = (*SERVICE_PRINCIPALS, "broker")  # controller is PLAIN, in the properties
CLUSTER = "kafka-cluster"
# The registry's users and their Apicurio roles: admin registers, the services that read
# schemas (encode or decode) only read; report and the Kafka-less jobs have no registry user.
REGISTRY_ROLES = {
    "admin": "sr-admin",
    "producer": "sr-readonly",
    "bronze": "sr-readonly",
    "gold": "sr-readonly",
    "pipeline": "sr-readonly",
}
# Part of each user's digest; fixed when Apicurio was built (a run-time value is ignored).
REGISTRY_REALM = "Quarkus"


@dataclass(frozen=True)
class Grant:
    """``operations`` a principal may perform on one resource (``topic``, ``group`` or
    ``cluster``), named literally or, with ``prefixed``, by a name prefix."""

    resource: str
    name: str
    operations: tuple[str, ...]
    prefixed: bool = False


def grants(topic: str = TOPIC, alerts: str = ALERTS_TOPIC) -> dict[str, tuple[Grant, ...]]:
    """Each principal's ACLs (admin has none: it is a super user).

    - producer: write and describe the transactions topic; idempotent write (acks=all and
      idempotence; Kafka 3+ implies it from WRITE, kept explicit);
    - bronze: read and describe it. Spark's Kafka source assigns partitions and never commits
      offsets, so it uses no consumer group;
    - gold: write and describe the alerts topic, idempotently;
    - report: describe both topics (offsets per partition);
    - pipeline: the one-application run: bronze's read and gold's write.
    """
    read = Grant("topic", topic, ("READ", "DESCRIBE"))
    write_alerts = Grant("topic", alerts, ("WRITE", "DESCRIBE"))
    idempotent = Grant("cluster", CLUSTER, ("IDEMPOTENT_WRITE",))
    return {
        "admin": (),
        "producer": (Grant("topic", topic, ("WRITE", "DESCRIBE")), idempotent),
        "bronze": (read,),
        "gold": (write_alerts, idempotent),
        "report": (Grant("topic", topic, ("DESCRIBE",)), Grant("topic", alerts, ("DESCRIBE",))),
        "pipeline": (read, write_alerts, idempotent),
    }


class Credentials:
    """The principals' passwords in ``<root>/<principal>.env`` (mode 0600)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def env_file(self, principal: str) -> Path:
        """``<root>/<principal>.env``."""
        return self.root / f"{principal}.env"

    def _value(self, principal: str, variable: str) -> str | None:
        for line in self.env_file(principal).read_text().splitlines():
            if line.startswith(f"{variable}="):
                return line.split("=", 1)[1].strip()
        return None

    def password(self, principal: str) -> str:
        """The principal's Kafka password, from its file."""
        found = self._value(principal, "KAFKA_SASL_PASSWORD")
        if found is None:
            raise PlatformError(f"{self.env_file(principal)} holds no KAFKA_SASL_PASSWORD.")
        return found

    def registry_user_info(self, principal: str) -> str:
        """``principal:password`` for the registry (``SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO``)."""
        found = self._value(principal, "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO")
        if found is None:
            raise PlatformError(f"{self.env_file(principal)} holds no registry credentials.")
        return found

    def _add_registry_password(self, principal: str) -> None:
        """Give a registry reader or admin its own registry password (a file made before the
        registry required one gets it appended: the registry learns its users at each start)."""
        if self._value(principal, "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO") is None:
            text = self.env_file(principal).read_text()
            user_info = f"{principal}:{secrets.token_urlsafe(24)}"
            write_private(
                self.env_file(principal),
                f"{text}SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO={user_info}\n",
            )

    def ensure(self, *, may_create: bool) -> dict[str, str]:
        """Every principal's password; missing files are made when ``may_create`` (before the
        brokers' storage is formatted), else refused: the brokers know only the old ones."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        missing = [
            p for p in (*SERVICE_PRINCIPALS, *INTERNAL_PRINCIPALS) if not self.env_file(p).exists()
        ]
        if missing and not may_create:
            raise PlatformError(
                f"The credentials of {', '.join(missing)} are missing from {self.root}, and the "
                "brokers were formatted with them; restore them or start afresh with "
                "`txn-platform down --wipe`."
            )
        for principal in missing:
            role = "the brokers' own; not for clients" if principal in INTERNAL_PRINCIPALS else ""
            write_private(
                self.env_file(principal),
                f"# txn-platform: principal {principal}"
                f"{f' ({role})' if role else ''}. Secret: keep this file mode 0600.\n"
                f"KAFKA_SASL_USERNAME={principal}\n"
                f"KAFKA_SASL_PASSWORD={secrets.token_urlsafe(24)}\n",
            )
        for principal in REGISTRY_ROLES:
            self._add_registry_password(principal)
        return {p: self.password(p) for p in (*SERVICE_PRINCIPALS, *INTERNAL_PRINCIPALS)}

    def registry_users(self) -> list[str]:
        """The registry's users as Quarkus embedded-user properties: each principal of
        :data:`REGISTRY_ROLES` with the SHA-512 digest of ``user:realm:password`` (never the
        password itself) and its Apicurio role."""
        lines = [
            "quarkus.security.users.embedded.enabled=true",
            "quarkus.security.users.embedded.plain-text=false",
            "quarkus.security.users.embedded.algorithm=digest-sha-512",
        ]
        for principal, role in REGISTRY_ROLES.items():
            user, password = self.registry_user_info(principal).split(":", 1)
            digest = hashlib.sha512(f"{user}:{REGISTRY_REALM}:{password}".encode()).hexdigest()
            lines += [
                f"quarkus.security.users.embedded.users.{user}={digest}",
                f"quarkus.security.users.embedded.roles.{user}={role}",
            ]
        return lines

    def scram_argfile(self, path: Path, argv: list[str]) -> Path:
        """A Java ``@argfile`` (mode 0600) holding ``argv`` plus one ``--add-scram`` per SCRAM
        principal, so the passwords never appear on a command line (``/proc/*/cmdline``)."""
        words = list(argv)
        for principal in SCRAM_PRINCIPALS:
            # token_urlsafe passwords hold no comma, quote or space to escape.
            words += [
                "--add-scram",
                f"SCRAM-SHA-512=[name={principal},iterations=8192,"
                f"password={self.password(principal)}]",
            ]
        write_private(path, "\n".join(f'"{w}"' for w in words) + "\n")
        return path


def _bindings(table: dict[str, tuple[Grant, ...]]) -> list[Any]:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    # librdkafka calls Kafka's CLUSTER resource (code 4) BROKER.
    kinds = {
        "topic": ResourceType.TOPIC,
        "group": ResourceType.GROUP,
        "cluster": ResourceType.BROKER,
    }
    out = []
    for principal, granted in table.items():
        for g in granted:
            pattern = ResourcePatternType.PREFIXED if g.prefixed else ResourcePatternType.LITERAL
            out += [
                AclBinding(
                    kinds[g.resource], g.name, pattern, f"User:{principal}", "*",
                    AclOperation[op], AclPermissionType.ALLOW,
                )
                for op in g.operations
            ]  # fmt: skip
    return out


def _key(binding: Any) -> tuple:
    return (
        binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
        binding.host, binding.operation, binding.permission_type,
    )  # fmt: skip


def apply_acls(admin: Any, table: dict[str, tuple[Grant, ...]], log: Callable[[str], None]) -> int:
    """Make the broker's ACLs of our principals exactly ``table``; ``admin`` is an
    ``AdminClient`` logged in as a super user. Returns the number of bindings."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    wanted = _bindings(table)
    try:
        for future in admin.create_acls(wanted, request_timeout=30).values():
            future.result()
        every = AclBindingFilter(
            ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
            AclOperation.ANY, AclPermissionType.ANY,
        )  # fmt: skip
        have = admin.describe_acls(every, request_timeout=30).result()
        ours = {f"User:{p}" for p in (*SERVICE_PRINCIPALS, *INTERNAL_PRINCIPALS)}
        keep = {_key(b) for b in wanted}
        stale = [
            AclBindingFilter(*_key(b)) for b in have if b.principal in ours and _key(b) not in keep
        ]
        if stale:
            for future in admin.delete_acls(stale, request_timeout=30).values():
                future.result()
            log(f"kafka: removed {len(stale)} ACL(s) no longer granted")
    except KafkaException as exc:
        raise PlatformError(f"Setting the principals' ACLs failed: {exc.args[0]}") from exc
    return len(wanted)
