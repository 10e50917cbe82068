"""Refusals as one sentence naming the principal and the operation (issue 21), from fake client
errors: the broker preflight (`txn_runtime.preflight`, `txn_runtime.refusals`) and the registry
(`txn_contract.registry_auth`)."""

from __future__ import annotations

import ssl
import time
from concurrent.futures import Future
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException

from txn_runtime.preflight import PreflightError, TopicNotFoundError, check_topic, watermarks
from txn_runtime.refusals import ClientErrors, producing, reading, refusal

CA = "/state/tls/ca.pem"
VERIFY_FAILED = (
    "sasl_ssl://127.0.0.1:9092/bootstrap: SSL handshake failed: error:0A000086:SSL routines::"
    "certificate verify failed: broker certificate could not be verified, verify that "
    "ssl.ca.location is correctly configured or root CA certificates are installed (install "
    "ca-certificates package) (after 9ms in state SSL_HANDSHAKE)"
)


def _settings(protocol: str = "SASL_SSL", user: str | None = "producer", ca: str | None = CA):
    """What ClientErrors reads of a client's KafkaSettings."""
    return SimpleNamespace(
        kafka_security_protocol=protocol, kafka_sasl_username=user, kafka_ssl_ca_location=ca
    )


_NOT_ADMIN = object()


class _Client:
    """A confluent-kafka client's metadata calls; ``described`` makes it an AdminClient (the
    principal's ACL operations on the topic, None when the broker does not list them, or the
    KafkaError it answers a describe with)."""

    def __init__(self, topics=None, unreachable=False, described=_NOT_ADMIN):
        self.topics, self.unreachable = topics or {}, unreachable
        if described is not _NOT_ADMIN:
            self.described = described
            self.describe_topics = self._describe

    def list_topics(self, timeout=None):
        if self.unreachable:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return SimpleNamespace(
            topics={
                t: SimpleNamespace(error=None, partitions=dict.fromkeys(range(n)))
                for t, n in self.topics.items()
            }
        )

    def poll(self, timeout=0):
        return 0

    def get_watermark_offsets(self, tp, timeout=None):
        return (tp.partition, tp.partition * 10)

    def _describe(self, topics, include_authorized_operations=False, request_timeout=None):
        assert include_authorized_operations
        answer: Future = Future()
        if isinstance(self.described, KafkaError):
            answer.set_exception(KafkaException(self.described))
        else:
            ops = self.described
            ops = None if ops is None else [SimpleNamespace(name=n) for n in ops]
            answer.set_result(SimpleNamespace(authorized_operations=ops))
        return {t: answer for t in topics.topic_names}


def test_preflight_errors_are_one_type_and_exit_1():
    assert check_topic(_Client({"t": 3}), "t", "b:1") == 3
    with pytest.raises(
        PreflightError, match=r"^The Kafka broker at b:1 could not be reached within 0.2 s"
    ) as err:
        check_topic(_Client(unreachable=True), "t", "b:1", 0.2)
    assert err.value.exit_code == 1
    with pytest.raises(
        TopicNotFoundError, match=r"^Topic t does not exist on the broker at b:1; check --topic"
    ) as err:
        check_topic(_Client({"other": 1}), "t", "b:1")
    assert err.value.exit_code == 1 and err.value.topic == "t"
    assert watermarks(_Client(), "t", 2) == {0: (0, 0), 1: (1, 10)}


def test_a_refused_login_is_named_at_once_not_an_unreachable_broker():
    """librdkafka reports a failed SASL authentication through error_cb; the metadata call
    only times out. The check ends as soon as it is reported, naming principal and operation."""
    errors = ClientErrors(_settings())
    errors(KafkaError(KafkaError._TRANSPORT, "connection reset"))
    errors(
        KafkaError(
            KafkaError._AUTHENTICATION,
            "sasl_ssl://b:1/bootstrap: SASL authentication error: invalid credentials "
            "(after 312ms in state AUTH_REQ, 1 identical error(s) suppressed)",
        )
    )
    started = time.monotonic()
    with pytest.raises(PreflightError) as err:
        check_topic(
            _Client(unreachable=True), "t", "b:1", 10, errors=errors, operation=producing("t")
        )
    assert time.monotonic() - started < 2
    assert str(err.value) == (
        "The Kafka broker at b:1 refused principal producer while producing to topic t: "
        "authentication failed (SASL authentication error: invalid credentials); check "
        "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (`txn-platform up --secure` writes each "
        "principal's to STATE/credentials/<principal>.env)."
    )
    only_transport = ClientErrors(_settings())
    only_transport(KafkaError(KafkaError._TRANSPORT, "connection reset"))
    with pytest.raises(PreflightError, match=r"could not be reached within 0.2 s"):
        check_topic(_Client(unreachable=True), "t", "b:1", 0.2, errors=only_transport)


def test_an_untrusted_broker_certificate_names_the_principal_and_the_ca_file():
    errors = ClientErrors(_settings())
    errors(KafkaError(KafkaError._SSL, VERIFY_FAILED))
    sentence = errors.diagnosis("127.0.0.1:9092", reading("bank_txn_stream"))
    assert sentence == (
        "The TLS handshake of principal producer with the Kafka broker at 127.0.0.1:9092 failed "
        "while reading topic bank_txn_stream: the broker's certificate does not verify with the "
        f"CA in KAFKA_SSL_CA_LOCATION ({CA}) (certificate verify failed); point "
        "KAFKA_SSL_CA_LOCATION at the CA that signed the brokers' certificates "
        "(`txn-platform up --secure`: STATE/tls/ca.pem)."
    )
    no_ca = ClientErrors(_settings(ca=None))
    no_ca(KafkaError(KafkaError._SSL, VERIFY_FAILED))
    assert "the system's CAs (KAFKA_SSL_CA_LOCATION is not set)" in no_ca.diagnosis(
        "b:1", producing("t")
    )


def test_a_tls_handshake_the_peer_closes_is_waited_out_and_mentioned_at_the_timeout():
    """A broker starting or stopping closes handshakes too: no early sentence, a hint at the
    end."""
    errors = ClientErrors(_settings())
    closed = (
        "sasl_ssl://b:1/bootstrap: SSL handshake failed: Disconnected: SSL connection closed "
        "by peer: connecting to a PLAINTEXT broker listener? (after 110ms in state "
        "SSL_HANDSHAKE)"
    )
    assert errors.unreachable_hint() == ""
    errors(KafkaError(KafkaError._TRANSPORT, closed))
    assert errors.diagnosis("b:1", producing("t")) is None
    assert errors.unreachable_hint() == (
        "; the broker closed its TLS handshakes (SSL handshake failed: Disconnected: SSL "
        "connection closed by peer: connecting to a PLAINTEXT broker listener?): if it is up, "
        "check that this listener speaks TLS"
    )


def test_a_client_without_tls_at_a_tls_listener_is_told_by_a_handshake_asked_once():
    """librdkafka only says all brokers are down: the listener completing a TLS handshake tells
    a client without TLS from a broker that is down."""
    probed: list[str] = []

    def listener_speaks_tls(address: str) -> bool:
        probed.append(address)
        return address == "b:2"

    errors = ClientErrors(_settings("SASL_PLAINTEXT"), probe=listener_speaks_tls)
    assert errors.diagnosis("b:1,b:2", producing("t")) is None  # nothing reported yet
    errors(KafkaError(KafkaError._ALL_BROKERS_DOWN, "2/2 brokers are down"))
    expected = (
        "The Kafka broker at b:2 closed every connection of principal producer before "
        "authentication while producing to topic t: its listener speaks TLS and "
        "KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT; set it to SASL_SSL, with "
        "KAFKA_SSL_CA_LOCATION (`txn-platform up --secure` writes both to STATE/platform.env)."
    )
    assert errors.diagnosis("b:1,b:2", producing("t")) == expected
    assert errors.diagnosis("b:1,b:2", producing("t")) == expected
    assert probed == ["b:1", "b:2"]
    down = ClientErrors(_settings("PLAINTEXT", user=None), probe=lambda _a: False)
    down(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert down.diagnosis("b:1", producing("t")) is None  # a broker that is down: wait
    tls = ClientErrors(_settings(), probe=lambda _a: pytest.fail("a TLS client is not probed"))
    tls(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert tls.diagnosis("b:1", producing("t")) is None


def test_a_missing_acl_is_refused_before_any_fetch_or_produce():
    stream = {"bank_txn_stream": 3}
    with pytest.raises(PreflightError) as err:
        check_topic(
            _Client(stream, described=["WRITE", "DESCRIBE"]),
            "bank_txn_stream",
            "b:1",
            errors=ClientErrors(_settings()),
            operation=reading("bank_txn_stream"),
        )
    assert str(err.value) == (
        "Kafka refused principal producer Read on topic bank_txn_stream while reading topic "
        "bank_txn_stream (its ACLs on the topic allow Describe, Write); run as a principal with "
        "Read on it, or grant it (docs/security.md lists each principal's ACLs)."
    )
    readable = _Client(stream, described=["READ", "DESCRIBE"])
    assert (
        check_topic(readable, "bank_txn_stream", "b:1", operation=reading("bank_txn_stream")) == 3
    )
    unsaid = _Client(stream, described=None)  # a broker that does not list them: not refused
    assert (
        check_topic(unsaid, "bank_txn_stream", "b:1", operation=producing("bank_txn_stream")) == 3
    )


def test_a_topic_the_principal_may_not_describe_is_not_called_missing():
    denied = _Client({}, described=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    with pytest.raises(PreflightError) as err:
        check_topic(denied, "alerts", "b:1", principal="producer", operation=producing("alerts"))
    assert not isinstance(err.value, TopicNotFoundError)
    assert str(err.value) == (
        "Kafka refused principal producer Describe on topic alerts while producing to topic "
        "alerts (TOPIC_AUTHORIZATION_FAILED; without Describe the broker does not say whether "
        "the topic exists); run as a principal with Describe and Write on it, or grant it "
        "(docs/security.md lists each principal's ACLs)."
    )
    unknown = _Client({}, described=KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
    with pytest.raises(TopicNotFoundError, match="Topic alerts does not exist"):
        check_topic(unknown, "alerts", "b:1", operation=producing("alerts"))


def test_a_topic_without_a_leader_for_a_moment_exists():
    """LEADER_NOT_AVAILABLE on a topic's metadata (a broker down, a leader being elected) is a
    topic that exists, not a missing one."""

    class Electing(_Client):
        def list_topics(self, timeout=None):
            parts = dict.fromkeys(range(3))
            error = KafkaError(KafkaError.LEADER_NOT_AVAILABLE)
            return SimpleNamespace(topics={"t": SimpleNamespace(error=error, partitions=parts)})

    assert check_topic(Electing(), "t", "b:1", operation=producing("t")) == 3
    gone = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)

    class Gone(_Client):
        def list_topics(self, timeout=None):
            return SimpleNamespace(topics={"t": SimpleNamespace(error=gone, partitions={})})

    with pytest.raises(TopicNotFoundError, match="Topic t does not exist"):
        check_topic(Gone(), "t", "b:1", operation=producing("t"))


def test_an_authorization_refusal_while_running_names_the_principal_and_permission():
    class Err:
        def __init__(self, name: str) -> None:
            self._name = name

        def name(self) -> str:
            return self._name

    cluster = refusal(Err("CLUSTER_AUTHORIZATION_FAILED"), "bronze", producing("bank_txn_stream"))
    assert cluster is not None and "principal bronze" in cluster and "IdempotentWrite" in cluster
    topic = refusal("TOPIC_AUTHORIZATION_FAILED", None, reading("t"))
    assert topic == (
        "Kafka refused a client without a SASL user Read on topic t while reading topic t "
        "(TOPIC_AUTHORIZATION_FAILED); run as a principal with that ACL or grant it "
        "(docs/security.md lists each principal's ACLs)."
    )
    assert refusal(Err("_TRANSPORT"), "bronze", producing("t")) is None  # retried


# --- the registry ---------------------------------------------------------------------------

URL = "https://127.0.0.1:8081/apis/ccompat/v7"


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> str:
    """A CA file (the client loads it when built)."""
    from local_platform.tls import ensure_tls

    root = tmp_path_factory.mktemp("tls")
    ensure_tls(root, "127.0.0.1", lambda _m: None)
    return str(root / "ca.pem")


def _client(ca: str, user_info: str | None = "producer:s3cret"):
    from txn_contract.registry import registry_client

    settings = {"ssl.ca.location": ca}
    if user_info:
        settings["basic.auth.user.info"] = user_info
    return registry_client(URL, settings=settings)


def _answer(status: int, message: str):
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    return SchemaRegistryError(status, 0 if status < 500 else -1, message)


def test_registry_refusals_name_the_user_never_the_password(ca):
    from txn_contract.registry_auth import refusal as registry_refusal

    what = "registering bank_txn_stream-value v1"
    denied = registry_refusal(
        _answer(403, "User is not authorized to perform the requested operation."),
        URL,
        what,
        _client(ca),
    )
    assert denied == (
        f"The schema registry at {URL} refused registering bank_txn_stream-value v1 to user "
        "producer (HTTP 403: User is not authorized to perform the requested operation); run it "
        "as a user whose registry role allows it (docs/security.md: admin registers and sets "
        "compatibility levels, the services' users read)."
    )
    anonymous = registry_refusal(
        _answer(401, "User is not authenticated."), URL, what, _client(ca, None)
    )
    assert (
        anonymous is not None and "to a client without credentials (HTTP 401: User is" in anonymous
    )
    assert "no SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO was given" in anonymous
    wrong = registry_refusal(
        _answer(401, "Unknown Schema Registry Error: b''"), URL, what, _client(ca)
    )
    assert (
        wrong is not None and "refused the credentials of user producer while registering" in wrong
    )
    assert "(HTTP 401);" in wrong and "s3cret" not in denied + anonymous + wrong
    assert registry_refusal(_answer(404, "Subject not found"), URL, what, _client(ca)) is None
    assert registry_refusal(_answer(403, "no"), URL, what, object()) is None  # not one of ours


def test_register_as_a_reader_is_one_sentence_with_the_registry_facts():
    from txn_contract import packaged_contract
    from txn_contract.errors import RegistryError
    from txn_contract.registry import register_contract
    from txn_contract.registry_auth import remember_user

    class Reader:
        def lookup_schema(self, subject, schema):
            raise _answer(404, "Schema not found")

        def register_schema(self, subject, schema):
            raise _answer(403, "User is not authorized to perform the requested operation.")

    reader = Reader()
    remember_user(reader, {"basic.auth.user.info": "bronze:pw"})
    with pytest.raises(RegistryError) as err:
        register_contract(reader, packaged_contract(), URL)
    assert str(err.value).startswith(
        f"The schema registry at {URL} refused registering bank_txn_stream-value v1 to user bronze "
        "(HTTP 403"
    )
    assert (err.value.http_status, err.value.subject, err.value.version) == (
        403,
        "bank_txn_stream-value",
        1,
    )


def test_an_untrusted_registry_certificate_names_the_user_and_the_ca_file(ca):
    from txn_contract.errors import RegistryUnavailableError
    from txn_contract.registry import registry_call

    def connect():
        unverified = ssl.SSLCertVerificationError(1, "certificate verify failed")
        unverified.verify_message = "unable to get local issuer certificate"
        raise ConnectionError("[SSL: CERTIFICATE_VERIFY_FAILED]") from unverified

    with pytest.raises(RegistryUnavailableError) as err:
        registry_call("looking up s v1", URL, connect, "s", _client(ca, "admin:pw"))
    assert str(err.value) == (
        f"The TLS handshake of user admin with the schema registry at {URL} failed while looking "
        f"up s v1: the registry's certificate does not verify with the CA in "
        f"SCHEMA_REGISTRY_SSL_CA_LOCATION ({ca}) (unable to get local issuer certificate); point "
        "SCHEMA_REGISTRY_SSL_CA_LOCATION at the CA that signed the registry's certificate "
        "(`txn-platform up --secure`: STATE/tls/ca.pem)."
    )
    with pytest.raises(RegistryUnavailableError, match="could not be reached"):
        registry_call(
            "looking up s v1", URL, lambda: (_ for _ in ()).throw(ConnectionError("refused"))
        )
