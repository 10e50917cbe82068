"""The service runtime: entry wrapper, settings precedence and masking, signals, streaming
(the preflight: test_refusals.py)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import click
import pytest

from txn_contract.errors import ConfigError, TxnError
from txn_runtime.cli import EXIT_INTERRUPTED, entry_point, run
from txn_runtime.connections import KafkaSettings, RegistrySettings
from txn_runtime.options import bootstrap_servers_option, option, topic_option
from txn_runtime.settings import setting
from txn_runtime.shared import SparkSettings, TopicSettings
from txn_runtime.signals import stop_on_signals


class _Demo(KafkaSettings, RegistrySettings, TopicSettings, SparkSettings):
    batch: int = setting(10, env="TXN_BATCH", flag="--batch", help="Rows per batch.", gt=0)


# --- the entry wrapper ----------------------------------------------------------------------


def _command(action):
    @click.command()
    @click.option("--n", type=int, default=0)
    def cli(n):
        action(n)

    return cli


def test_a_txn_error_is_one_sentence_and_its_exit_code(capsys):
    def fail(_n):
        raise ConfigError("--n", "must be positive")

    assert run(_command(fail), "demo", ["--n", "1"]) == 2
    assert capsys.readouterr().err == "demo: error: --n: must be positive\n"

    class Outage(TxnError):
        exit_code = 5

    def outage(_n):
        raise Outage("The thing is down.")

    assert run(_command(outage), "demo", []) == 5
    assert capsys.readouterr().err == "demo: error: The thing is down.\n"


def test_interrupt_is_130_with_a_sentence(capsys):
    def interrupted(_n):
        raise KeyboardInterrupt

    assert run(_command(interrupted), "demo", []) == EXIT_INTERRUPTED
    # click ends the ^C line first.
    assert capsys.readouterr().err.lstrip("\n") == "demo: interrupted\n"


def test_usage_errors_help_and_sys_exit_keep_their_codes(capsys):
    assert run(_command(lambda n: None), "demo", ["--n", "x"]) == 2
    assert "Invalid value for '--n'" in capsys.readouterr().err
    assert run(_command(lambda n: None), "demo", ["--help"]) == 0
    assert run(_command(lambda n: None), "demo", []) == 0

    def exits(n):
        raise SystemExit(n)

    assert run(_command(exits), "demo", ["--n", "3"]) == 3


def test_entry_point_exits_with_the_code():
    def fail(_n):
        raise TxnError("no")

    with pytest.raises(SystemExit) as done:
        entry_point(_command(fail), "demo")([])
    assert done.value.code == 1


# --- settings -------------------------------------------------------------------------------


def test_flags_beat_environment_beats_defaults():
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "env:9092",
        "SCHEMA_REGISTRY_URL": "http://r/",
        "TXN_BATCH": "5",
    }
    s = _Demo.load({}, env)
    assert (s.bootstrap_servers, s.schema_registry_url, s.batch) == ("env:9092", "http://r", 5)
    assert s.topic == "bank_txn_stream" and s.driver_memory == "2g"
    s = _Demo.load({"batch": 7, "bootstrap_servers": "flag:1", "topic": None}, env)
    assert (s.bootstrap_servers, s.batch) == ("flag:1", 7)


def test_the_process_environment_is_not_read_by_load(monkeypatch):
    monkeypatch.setenv("TXN_BATCH", "3")
    base = {"bootstrap_servers": "b:1", "schema_registry_url": "http://r"}
    assert _Demo.load(base, {}).batch == 10
    assert _Demo.load(base).batch == 3  # env=None: os.environ


@pytest.mark.parametrize(
    ("flags", "env", "start"),
    [
        ({"batch": 0}, {}, "--batch: must be a positive integer, got 0"),
        ({}, {"TXN_BATCH": "many"}, "TXN_BATCH: must be an integer, got 'many'"),
        ({"topic": "a b"}, {}, "--topic: 'a b' is not a Kafka topic name"),
        ({}, {"TXN_DRIVER_MEMORY": "lots"}, "TXN_DRIVER_MEMORY: 'lots' is not a size"),
        ({}, {"SCHEMA_REGISTRY_URL": "reg:8081"}, "SCHEMA_REGISTRY_URL: must be an http://"),
    ],
)
def test_a_bad_value_names_its_flag_or_variable(flags, env, start):
    env = {"KAFKA_BOOTSTRAP_SERVERS": "b:1", "SCHEMA_REGISTRY_URL": "http://r", **env}
    with pytest.raises(ConfigError) as err:
        _Demo.load(flags, env)
    assert str(err.value).startswith(start), str(err.value)
    assert err.value.exit_code == 2


def test_a_missing_required_setting_names_both_ways_to_give_it():
    with pytest.raises(ConfigError) as err:
        _Demo.load({}, {"SCHEMA_REGISTRY_URL": "http://r"})
    assert str(err.value) == (
        "--bootstrap-servers: no value; pass --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS"
    )


def test_unknown_settings_are_refused():
    with pytest.raises(ConfigError, match="unrecognized settings: linger"):
        _Demo.load({"linger": 5}, {})


SECRETS = {
    "KAFKA_BOOTSTRAP_SERVERS": "b:9093",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "svc",
    "KAFKA_SASL_PASSWORD": "k-s3cret",
    "SCHEMA_REGISTRY_URL": "https://u:url-s3cret@reg:8081",
    "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": "svc:r-s3cret",
}


def test_secrets_are_masked_wherever_settings_are_shown():
    s = _Demo.load({}, SECRETS)
    for shown in (repr(s), str(s), str(s.masked()), s.registry_display_url):
        assert "s3cret" not in shown, shown
    assert s.masked()["kafka_sasl_password"] == "***"
    assert s.masked()["schema_registry_url"] == "https://u:***@reg:8081"


def test_a_bad_secret_is_not_echoed():
    with pytest.raises(ConfigError) as err:
        _Demo.load({}, {**SECRETS, "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": "no-colon-s3cret"})
    assert str(err.value) == "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: must be USER:PASSWORD"


def test_sasl_and_tls_pass_through_to_librdkafka_spark_and_the_registry(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {**SECRETS, "KAFKA_SSL_CA_LOCATION": str(ca), "SCHEMA_REGISTRY_SSL_CA_LOCATION": str(ca)}
    s = _Demo.load({}, env)
    assert s.kafka_config(**{"client.id": "x"}) == {
        "bootstrap.servers": "b:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": "k-s3cret",
        "ssl.ca.location": str(ca),
        "client.id": "x",
    }
    spark = s.spark_kafka_options()
    assert spark["kafka.security.protocol"] == "SASL_SSL"
    assert spark["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert spark["kafka.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="svc" '
        'password="k-s3cret";'
    )
    assert spark["kafka.ssl.truststore.type"] == "PEM"
    assert spark["kafka.ssl.truststore.location"] == str(ca)
    conf = s.registry_conf()
    assert "basic.auth.credentials.source" not in conf  # the Python client refuses it
    from confluent_kafka.schema_registry import SchemaRegistryClient

    # regression: it raised "Unrecognized properties" (issue 21); the CA here is no real PEM
    SchemaRegistryClient({**conf, "url": "https://r", "ssl.ca.location": None})
    assert conf["basic.auth.user.info"] == "svc:r-s3cret"
    assert conf["ssl.ca.location"] == str(ca)
    plain = _Demo.load({}, {"KAFKA_BOOTSTRAP_SERVERS": "b:1", "SCHEMA_REGISTRY_URL": "http://r"})
    assert plain.kafka_config() == {"bootstrap.servers": "b:1", "security.protocol": "PLAINTEXT"}
    assert "basic.auth.user.info" not in plain.registry_conf()


def test_contradictory_kafka_security_is_refused():
    env = {"KAFKA_BOOTSTRAP_SERVERS": "b:1", "SCHEMA_REGISTRY_URL": "http://r"}
    with pytest.raises(ConfigError) as err:
        _Demo.load({}, {**env, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    assert str(err.value).startswith("KAFKA_SECURITY_PROTOCOL: SASL_SSL needs KAFKA_SASL_MECHANISM")
    with pytest.raises(ConfigError, match=r"^KAFKA_SASL_MECHANISM: SASL settings need"):
        _Demo.load({}, {**env, "KAFKA_SASL_MECHANISM": "PLAIN"})


def test_options_take_flag_help_and_variable_from_the_setting(monkeypatch):
    @click.command()
    @bootstrap_servers_option()
    @topic_option()
    @option(_Demo, "batch", type=int)
    def cli(**flags):
        click.echo(repr(_Demo.load({**flags, "schema_registry_url": "http://r"}, os.environ)))

    (servers, _topic, batch) = cli.params
    assert servers.opts == ["--bootstrap-servers"] and servers.envvar == "KAFKA_BOOTSTRAP_SERVERS"
    assert batch.help.endswith("Env: TXN_BATCH.  [default: 10]")
    # Click leaves the variable to the settings model, which then names it in errors.
    monkeypatch.setenv("TXN_BATCH", "none")
    ctx = cli.make_context("cli", ["--bootstrap-servers", "b:1"])
    assert ctx.params == {"bootstrap_servers": "b:1", "topic": None, "batch": None}
    with pytest.raises(ConfigError, match=r"^TXN_BATCH: must be an integer"):
        _Demo.load({**ctx.params, "schema_registry_url": "http://r"}, os.environ)


# --- signals --------------------------------------------------------------------------------


def test_first_signal_finishes_the_unit_the_second_calls_on_second():
    calls, lines = [], []
    # Whatever was installed before (PySpark's own SIGINT handler once a session started in
    # this process) is what must come back.
    before = signal.getsignal(signal.SIGINT)
    with stop_on_signals(
        lambda: calls.append("finish"), lambda: calls.append("now"), log=lines.append
    ) as got:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
    assert calls == ["finish", "now"]
    assert got == [signal.SIGTERM, signal.SIGINT]
    assert lines[0].startswith("received SIGTERM; finishing")
    assert signal.getsignal(signal.SIGINT) is before


def test_the_default_second_signal_exits_130(monkeypatch):
    codes = []
    monkeypatch.setattr(os, "_exit", codes.append)
    with stop_on_signals(lambda: None):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
    assert codes == [130]


# --- streaming ------------------------------------------------------------------------------


class _Query:
    """A streaming query that runs ``batches`` triggers, then ends (failing with ``error``)."""

    def __init__(self, batches: int, error: BaseException | None = None) -> None:
        self.left, self.error, self.stopped = batches, error, False

    @property
    def isActive(self) -> bool:
        return self.left > 0 and not self.stopped

    @property
    def status(self) -> dict:
        return {"isTriggerActive": False}

    def awaitTermination(self, _timeout: float) -> None:
        self.left -= 1

    def stop(self) -> None:
        self.stopped = True

    def exception(self):
        return self.error


def test_a_stop_request_stops_the_query_between_triggers():
    import threading

    from txn_runtime.streaming import await_query

    stop, lines = threading.Event(), []
    stop.set()
    query = _Query(batches=5)
    assert await_query(query, stop, lines.append) is None
    assert query.stopped and lines == ["stop requested: stopping after the current batch"]


def test_a_failed_query_returns_its_error_unless_the_job_has_its_own():
    import threading

    from txn_runtime.streaming import await_query

    boom = RuntimeError("spark failed")
    assert await_query(_Query(1, boom), threading.Event(), print) is boom
    own = TxnError("the batch's own sentence")
    with pytest.raises(TxnError, match="own sentence") as err:
        await_query(_Query(1, boom), threading.Event(), print, lambda: own)
    assert err.value.__cause__ is boom
