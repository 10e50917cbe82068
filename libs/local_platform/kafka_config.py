"""The Kafka nodes of the platform and each one's ``server.properties``, generated (pure
functions of the settings and, with ``--secure``, the brokers' own secrets).

One node is a KRaft broker and controller in one JVM ("combined" mode). One node is the
default; three form a cluster whose controller quorum is the three nodes themselves (static
voters), so losing any one node keeps both the quorum and two in-sync replicas.

Example::

    for node in kafka_nodes(settings):
        node.properties_file.write_text(server_properties(settings, node, secrets))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .settings import PlatformSettings

__all__ = [
    "BrokerSecrets",
    "KafkaNode",
    "kafka_nodes",
    "replication",
    "server_properties",
]

SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


@dataclass(frozen=True)
class KafkaNode:
    """One broker+controller: its node id, process name, home directory and ports."""

    node_id: int
    name: str  # process name: "kafka" alone, "kafka-1".."kafka-3" in a cluster
    home: Path
    port: int
    controller_port: int

    data_dir = property(lambda self: self.home / "data")
    """The node's ``log.dirs``: its partitions and, as a controller, the metadata log."""
    properties_file = property(lambda self: self.home / "server.properties")
    """``server.properties`` (mode 0600: with ``--secure`` it holds the nodes' passwords)."""


@dataclass(frozen=True)
class BrokerSecrets:
    """What the brokers themselves need with ``--secure`` (from :mod:`.security`)."""

    broker_password: str  # SCRAM, inter-broker replication as User:broker
    controller_password: str  # PLAIN, the controller listener as User:controller
    keystore: Path  # PEM: the broker's key and certificate chain
    truststore: Path  # PEM: the platform's CA


def kafka_nodes(settings: PlatformSettings) -> list[KafkaNode]:
    """The nodes of ``settings.brokers``: ``kafka`` in ``STATE/kafka`` for one, else
    ``kafka-N`` in ``STATE/kafka-N``."""
    state = settings.state_dir
    if settings.brokers == 1:
        return [
            KafkaNode(1, "kafka", state / "kafka", settings.kafka_port, settings.controller_port)
        ]
    return [
        KafkaNode(i, f"kafka-{i}", state / f"kafka-{i}", port, controller)
        for i, (port, controller) in enumerate(settings.node_ports, start=1)
    ]


def replication(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) of the platform's topics: (1, 1) for one
    broker, (3, 2) for three, so acks=all survives the loss of any one broker."""
    return (1, 1) if brokers < 3 else (3, 2)


def _jaas(login: str, **fields: str) -> str:
    body = " ".join(f'{k}="{v}"' for k, v in fields.items())
    return f"{login} required {body};"


def _listeners(settings: PlatformSettings, node: KafkaNode, secrets: BrokerSecrets | None):
    """The listener lines: PLAINTEXT + CONTROLLER, or CLIENT (SASL_SSL) + CONTROLLER
    (SASL_PLAINTEXT, PLAIN) with ``--secure``."""
    host = settings.host
    client = "PLAINTEXT" if secrets is None else "CLIENT"
    both = f"{client}://{host}:{node.port},CONTROLLER://{host}:{node.controller_port}"
    lines = [f"listeners={both}", f"advertised.listeners={both}"]
    lines += ["controller.listener.names=CONTROLLER", f"inter.broker.listener.name={client}"]
    if secrets is None:
        return [*lines, "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"]
    broker = _jaas(SCRAM_LOGIN, username="broker", password=secrets.broker_password)
    controller_password = secrets.controller_password
    controller = _jaas(
        PLAIN_LOGIN,
        username="controller",
        password=controller_password,
        user_controller=controller_password,
    )
    return [
        *lines,
        "listener.security.protocol.map=CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
        # Clients and replication: SCRAM over TLS. SCRAM cannot serve the controller listener
        # (its credentials live in the metadata log the controllers serve), so PLAIN does,
        # with a password only the nodes' own files hold.
        "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        f"listener.name.client.scram-sha-512.sasl.jaas.config={broker}",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "sasl.mechanism.controller.protocol=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={controller}",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={secrets.keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={secrets.truststore}",
        "ssl.client.auth=none",
        f"authorizer.class.name={AUTHORIZER}",
        "allow.everyone.if.no.acl.found=false",
        "super.users=User:admin;User:broker;User:controller",
    ]


def _quorum(settings: PlatformSettings, node: KafkaNode) -> str:
    """One node bootstraps a dynamic quorum of itself (formatted ``--standalone``); a cluster
    names its three voters statically."""
    if settings.brokers == 1:
        return f"controller.quorum.bootstrap.servers={settings.host}:{node.controller_port}"
    voters = ",".join(
        f"{n.node_id}@{settings.host}:{n.controller_port}" for n in kafka_nodes(settings)
    )
    return f"controller.quorum.voters={voters}"


def _cluster_defaults(rf: int, min_isr: int) -> list[str]:
    """A cluster's defaults for topics created without settings (a test's, a tool's)."""
    if rf == 1:
        return []
    return [f"default.replication.factor={rf}", f"min.insync.replicas={min_isr}"]


def server_properties(
    settings: PlatformSettings, node: KafkaNode, secrets: BrokerSecrets | None = None
) -> str:
    """``server.properties`` of ``node``; ``secrets`` (required with ``settings.secure``)
    turn on SASL_SSL, the authorizer and the super users."""
    if settings.secure and secrets is None:
        raise ValueError("a secure platform's properties need the brokers' secrets")
    rf, min_isr = replication(settings.brokers)
    return "\n".join(
        [
            "# Written by txn-platform; regenerated on every `up`.",
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            _quorum(settings, node),
            *_listeners(settings, node, secrets if settings.secure else None),
            f"log.dirs={node.data_dir}",
            "num.partitions=1",
            *_cluster_defaults(rf, min_isr),
            f"offsets.topic.replication.factor={rf}",
            f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={min_isr}",
            f"share.coordinator.state.topic.replication.factor={rf}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "log.retention.hours=168",
            "",
        ]
    )
