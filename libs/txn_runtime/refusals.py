"""Why a Kafka client got nowhere, as one sentence naming the principal and what it was doing.

librdkafka retries a refused login, a failed TLS handshake or a closed connection instead of
failing the call that needed the broker: that call only times out ("Broker transport
failure"), and the cause reaches the client's ``error_cb``. :class:`ClientErrors` is that
callback; :meth:`ClientErrors.diagnosis` turns what it has seen into the sentence a preflight
ends with, as soon as the cause is one that retrying will not fix:

- a failed SASL authentication (a wrong password, an unknown user);
- a failed TLS handshake: a broker certificate that does not verify with the CA in
  ``KAFKA_SSL_CA_LOCATION``, or a listener that does not speak TLS;
- a TLS listener met by a client configured without TLS (``SASL_PLAINTEXT``, ``PLAINTEXT``):
  the broker closes every connection before authentication, which librdkafka reports only as
  all brokers down; a TLS handshake with the bootstrap address (:func:`speaks_tls`) tells that
  from a broker that is down.

:func:`refusal` and :func:`access_refusal` word what the broker refused a principal it
authenticated (its ACLs).

Example::

    errors = ClientErrors(settings)
    admin = AdminClient(settings.kafka_config(**errors.client_settings()))
    ...  # a call timed out
    sentence = errors.diagnosis(settings.bootstrap_servers, producing("bank_txn_stream"))
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connections import KafkaSettings

__all__ = [
    "ClientErrors",
    "Operation",
    "access_refusal",
    "producing",
    "reading",
    "refusal",
    "speaks_tls",
    "who",
]

_TLS_PROTOCOLS = ("SSL", "SASL_SSL")
_ACLS_HINT = "docs/security.md lists each principal's ACLs"
# librdkafka's error strings start with the connection ("sasl_ssl://host:port/bootstrap: ") and
# end with timing ("(after 9ms in state SSL_HANDSHAKE, 2 identical error(s) suppressed)").
_CONNECTION_PREFIX = re.compile(r"^\S+://\S+: ")
_TIMING_SUFFIX = re.compile(r"\s*\(after \d+ms in state [A-Z_]+.*\)$")


@dataclass(frozen=True)
class Operation:
    """What a client is doing with a topic, as sentences name it and as ACLs grant it."""

    verb: str
    """"producing to", "reading", "using"."""
    topic: str
    acl: str | None = None
    """The topic ACL operation it needs besides DESCRIBE, as confluent-kafka's ``AclOperation``
    names it ("WRITE", "READ"); None when describing is all it needs."""

    def __str__(self) -> str:
        return f"{self.verb} topic {self.topic}"


def producing(topic: str) -> Operation:
    """A producer's operation: WRITE on ``topic``."""
    return Operation("producing to", topic, "WRITE")


def reading(topic: str) -> Operation:
    """A consumer's operation: READ on ``topic``."""
    return Operation("reading", topic, "READ")


def who(principal: str | None) -> str:
    """``principal producer``, or what a client without a SASL user is."""
    return f"principal {principal}" if principal else "a client without a SASL user"


def acl_name(operation: str) -> str:
    """Kafka's own spelling of an ACL operation: ``IDEMPOTENT_WRITE`` -> ``IdempotentWrite``."""
    return operation.title().replace("_", "")


def _reason(err: Any) -> str:
    """librdkafka's error string without its connection prefix and timing suffix."""
    text = err.str() if hasattr(err, "str") else str(err)
    return _TIMING_SUFFIX.sub("", _CONNECTION_PREFIX.sub("", text)).strip()


def speaks_tls(address: str, timeout_s: float = 2.0) -> bool:
    """True when ``HOST:PORT`` completes a TLS handshake (sending nothing after it)."""
    host, _, port = address.strip().rpartition(":")
    host = host.strip("[]")
    # Only whether the listener speaks TLS is asked, not whom to trust: nothing is sent over it.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, int(port)), timeout=timeout_s) as sock,
            context.wrap_socket(sock, server_hostname=host or None),
        ):
            return True
    except (OSError, ValueError):
        return False


class ClientErrors:
    """The errors a confluent-kafka client reports through its ``error_cb``, the first of each
    kind (code), bounded however long the client runs. ``kafka`` (the client's settings) gives
    the principal, the security protocol and the CA the sentences name; ``probe`` is
    :func:`speaks_tls` (a seam for tests).
    """

    def __init__(
        self,
        kafka: KafkaSettings | None = None,
        *,
        probe: Callable[[str], bool] = speaks_tls,
    ) -> None:
        self.seen: dict[int, Any] = {}
        self.kafka = kafka
        self._probe = probe
        self._tls_listener: str | None = None
        self._probed = False
        self.handshake_closed: Any | None = None
        """The last TLS handshake the peer closed, if any."""

    def __call__(self, err: Any) -> None:
        from confluent_kafka import KafkaError

        code = err.code()
        if code == KafkaError._TRANSPORT and "SSL handshake failed" in _reason(err):
            # A TLS handshake the peer closed: a listener without TLS does that, and so does a
            # broker starting, stopping or shedding connections, so librdkafka files it as a
            # transport error and retries. Not a cause to stop waiting on; the sentence at the
            # timeout mentions it (unreachable_hint).
            self.handshake_closed = err
        self.seen.setdefault(code, err)

    @property
    def principal(self) -> str | None:
        """The client's SASL user (None without settings or SASL)."""
        return self.kafka.kafka_sasl_username if self.kafka is not None else None

    def client_settings(self) -> dict[str, Any]:
        """What a client passes to report here: this ``error_cb``, and a logger that keeps
        librdkafka's line per failed connection attempt off stderr (the sentence says it once)."""
        quiet = logging.getLogger("txn_runtime.librdkafka")
        if not quiet.handlers:
            quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        return {"error_cb": self, "logger": quiet}

    def unreachable_hint(self) -> str:
        """What the unreachable-broker sentence adds when the broker closed TLS handshakes
        (empty otherwise)."""
        if self.handshake_closed is None:
            return ""
        return (
            f"; the broker closed its TLS handshakes ({_reason(self.handshake_closed)}): if it "
            "is up, check that this listener speaks TLS"
        )

    def authentication(self) -> Any | None:
        """The first authentication failure reported, if any."""
        from confluent_kafka import KafkaError

        return self.seen.get(KafkaError._AUTHENTICATION)

    def diagnosis(
        self, bootstrap_servers: str, operation: Operation, principal: str | None = None
    ) -> str | None:
        """The sentence for a cause retrying will not fix, from what was reported so far (None
        while there is none: the broker may still be starting)."""
        from confluent_kafka import KafkaError

        principal = principal or self.principal
        refused = self.authentication()
        if refused is not None:
            return (
                f"The Kafka broker at {bootstrap_servers} refused {who(principal)} while "
                f"{operation}: authentication failed ({_reason(refused)}); check "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (`txn-platform up --secure` writes "
                "each principal's to STATE/credentials/<principal>.env)."
            )
        tls = self.seen.get(KafkaError._SSL)
        if tls is not None:
            return self._tls_failure(tls, bootstrap_servers, operation, principal)
        down = {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT}
        listener = (
            self._listener_speaking_tls(bootstrap_servers) if down & self.seen.keys() else None
        )
        if listener is not None:
            protocol = self.kafka.kafka_security_protocol if self.kafka else "PLAINTEXT"
            use = "SASL_SSL" if protocol.startswith("SASL_") else "SSL (or SASL_SSL)"
            return (
                f"The Kafka broker at {listener} closed every connection of {who(principal)} "
                f"before authentication while {operation}: its listener speaks TLS and "
                f"KAFKA_SECURITY_PROTOCOL is {protocol}; set it to {use}, with "
                "KAFKA_SSL_CA_LOCATION (`txn-platform up --secure` writes both to "
                "STATE/platform.env)."
            )
        return None

    def _tls_failure(
        self, err: Any, bootstrap_servers: str, operation: Operation, principal: str | None
    ) -> str:
        ca = self.kafka.kafka_ssl_ca_location if self.kafka is not None else None
        handshake = (
            f"The TLS handshake of {who(principal)} with the Kafka broker at {bootstrap_servers} "
            f"failed while {operation}"
        )
        if "certificate verify failed" in _reason(err):
            if ca:
                trusted = f"the CA in KAFKA_SSL_CA_LOCATION ({ca})"
            elif self.kafka is not None:
                trusted = "the system's CAs (KAFKA_SSL_CA_LOCATION is not set)"
            else:
                trusted = "the CA in KAFKA_SSL_CA_LOCATION"
            return (
                f"{handshake}: the broker's certificate does not verify with {trusted} "
                "(certificate verify failed); point KAFKA_SSL_CA_LOCATION at the CA that signed "
                "the brokers' certificates (`txn-platform up --secure`: STATE/tls/ca.pem)."
            )
        protocol = self.kafka.kafka_security_protocol if self.kafka else None
        return (
            f"{handshake} ({_reason(err)}); check that the listener speaks TLS "
            f"(KAFKA_SECURITY_PROTOCOL{' is ' + protocol if protocol else ''}) and "
            "KAFKA_SSL_CA_LOCATION."
        )

    def _listener_speaking_tls(self, bootstrap_servers: str) -> str | None:
        """The first bootstrap address that speaks TLS to a client configured without it; asked
        once (None with a TLS protocol, or without settings)."""
        if self.kafka is None or self.kafka.kafka_security_protocol in _TLS_PROTOCOLS:
            return None
        if not self._probed:
            self._probed = True
            addresses = [a for a in bootstrap_servers.split(",") if a.strip()]
            self._tls_listener = next((a.strip() for a in addresses if self._probe(a)), None)
        return self._tls_listener


# What each Kafka authorization failure outside a topic means: the permission the broker refused.
_REFUSED = {
    "CLUSTER_AUTHORIZATION_FAILED": (
        "the cluster's IdempotentWrite permission, which an idempotent producer needs"
    ),
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": "the transactional id",
}


def refusal(err: Any, principal: str | None, operation: Operation) -> str | None:
    """The sentence for a Kafka error (or its name) that is an authorization refusal (None for
    any other): it names the principal, what it was doing, and the permission refused."""
    name = err if isinstance(err, str) else err.name() if hasattr(err, "name") else ""
    if name == "TOPIC_AUTHORIZATION_FAILED":
        refused = f"{acl_name(operation.acl or 'DESCRIBE')} on topic {operation.topic}"
    else:
        refused = _REFUSED.get(name)
    if refused is None:
        return None
    return (
        f"Kafka refused {who(principal)} {refused} while {operation} ({name}); run as a "
        f"principal with that ACL or grant it ({_ACLS_HINT})."
    )


def access_refusal(
    principal: str | None, operation: Operation, missing: str, granted: Iterable[str] | None
) -> str:
    """The sentence for a topic ACL the principal lacks: ``missing`` ("READ"), with the
    operations it ``granted`` on the topic, or None when the broker refused even DESCRIBE
    (then it does not say whether the topic exists)."""
    if granted is None:
        evidence = (
            "TOPIC_AUTHORIZATION_FAILED; without Describe the broker does not say whether the "
            "topic exists"
        )
        need = " and ".join(acl_name(a) for a in ("DESCRIBE", operation.acl) if a)
    else:
        allowed = ", ".join(sorted(acl_name(g) for g in granted)) or "nothing"
        evidence = f"its ACLs on the topic allow {allowed}"
        need = acl_name(missing)
    return (
        f"Kafka refused {who(principal)} {acl_name(missing)} on topic {operation.topic} while "
        f"{operation} ({evidence}); run as a principal with {need} on it, or grant it "
        f"({_ACLS_HINT})."
    )
