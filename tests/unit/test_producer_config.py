"""Producer settings: flags > environment > defaults, validated with sentences naming the source."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from txn_contract import LATEST_VERSION
from txn_contract.errors import ConfigError
from txn_producer.config import (
    DEFAULT_BOOTSTRAP_SERVERS,
    DEFAULT_REGISTRY_URL,
    SIMULATED_RATE_WHEN_UNPACED,
    load_config,
    mask_url,
)


def test_defaults():
    c = load_config({}, {})
    assert c.bootstrap_servers == DEFAULT_BOOTSTRAP_SERVERS
    assert c.schema_registry_url == DEFAULT_REGISTRY_URL
    assert c.topic == "bank_txn_stream" and c.subject == "bank_txn_stream-value"
    assert c.rate == 0 and c.count is None and c.duration is None
    assert c.contract_version == LATEST_VERSION
    assert c.progress is None and c.start_time is None
    assert c.seed_was_random and 0 <= c.seed < 2**31


def test_flags_beat_environment_beats_defaults():
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "env:9092",
        "SCHEMA_REGISTRY_URL": "http://env:8081/",
        "TXN_RATE": "500",
        "TXN_SEED": "3",
        "TXN_TOPIC": "env_topic",
        "TXN_CUSTOMERS": "42",
        "TXN_CONTRACT_VERSION": "1",
        "TXN_PROGRESS": "off",
        "TXN_COUNT": "10",
    }
    from_env = load_config({}, env)
    assert from_env.bootstrap_servers == "env:9092"
    assert from_env.schema_registry_url == "http://env:8081"
    assert (from_env.rate, from_env.seed, from_env.topic) == (500.0, 3, "env_topic")
    assert (from_env.customers, from_env.contract_version, from_env.progress) == (42, 1, False)
    assert from_env.count == 10 and not from_env.seed_was_random
    flags = load_config(
        {"bootstrap_servers": "flag:9092", "rate": 7.0, "seed": 9, "progress": True}, env
    )
    assert flags.bootstrap_servers == "flag:9092"
    assert (flags.rate, flags.seed, flags.progress) == (7.0, 9, True)


def test_a_stop_flag_overrides_both_stop_variables():
    c = load_config({"duration": 5.0}, {"TXN_COUNT": "10"})
    assert c.duration == 5.0 and c.count is None


@pytest.mark.parametrize(
    ("flags", "env", "names"),
    [
        ({"rate": -1.0}, {}, "--rate"),
        ({}, {"TXN_RATE": "fast"}, "TXN_RATE"),
        ({"count": 0}, {}, "--count"),
        ({}, {"TXN_COUNT": "1.5"}, "TXN_COUNT"),
        ({"duration": 0.0}, {}, "--duration"),
        ({"customers": 0}, {}, "--customers"),
        ({}, {"TXN_CUSTOMERS": "999999999"}, "TXN_CUSTOMERS"),
        ({"contract_version": 9}, {}, "--contract-version"),
        ({"topic": "bad topic"}, {}, "--topic"),
        ({}, {"SCHEMA_REGISTRY_URL": "localhost:8081"}, "SCHEMA_REGISTRY_URL"),
        ({"start_time": "yesterday"}, {}, "--start-time"),
        ({}, {"TXN_PROGRESS": "maybe"}, "TXN_PROGRESS"),
        ({"seed": -3}, {}, "--seed"),
        ({"count": 5, "duration": 2.0}, {}, "--count"),
        ({}, {"TXN_COUNT": "5", "TXN_DURATION": "2"}, "TXN_COUNT"),
        ({"rate": float("nan")}, {}, "--rate"),
        ({"duplicate_rate": 0.6}, {}, "--duplicate-rate"),
        ({}, {"TXN_LATE_RATE": "-0.1"}, "TXN_LATE_RATE"),
        ({}, {"TXN_DUPLICATE_RATE": "lots"}, "TXN_DUPLICATE_RATE"),
        ({"fraud_rate": 0.2}, {}, "--fraud-rate"),
        ({"fraud_truth": "/tmp/truth.jsonl"}, {}, "--fraud-truth"),
        ({"fraud_rate": 0.01, "fraud_truth": "/no/such/dir/truth.jsonl"}, {}, "--fraud-truth"),
        ({"fraud_rate": 0.01, "fraud_truth": "/tmp"}, {}, "--fraud-truth"),
        ({"poison_rate": 1.5}, {}, "--poison-rate"),
        ({}, {"TXN_POISON_RATE": "-0.01"}, "TXN_POISON_RATE"),
        ({"violation_rate": float("inf")}, {}, "--violation-rate"),
        ({}, {"TXN_VIOLATION_RATE": "some"}, "TXN_VIOLATION_RATE"),
        ({"conflict_rate": 0.6}, {}, "--conflict-rate"),
        ({}, {"TXN_CONFLICT_RATE": "-1"}, "TXN_CONFLICT_RATE"),
        ({"metrics_port": 70_000}, {}, "--metrics-port"),
        ({}, {"TXN_METRICS_PORT": "http"}, "TXN_METRICS_PORT"),
        # The kinds that take a new event's slot cannot take more than all of them.
        ({"duplicate_rate": 0.4, "poison_rate": 0.7}, {}, "--poison-rate"),
        ({"conflict_rate": 0.2}, {"TXN_VIOLATION_RATE": "0.9"}, "TXN_VIOLATION_RATE"),
    ],
)
def test_bad_values_name_their_flag_or_variable(flags, env, names):
    with pytest.raises(ConfigError) as err:
        load_config(flags, env)
    assert str(err.value).startswith(names)
    assert err.value.exit_code == 2


def test_unknown_settings_are_refused():
    with pytest.raises(ConfigError, match="unrecognized settings: linger"):
        load_config({"linger": 5}, {})


def test_start_time_is_utc_and_drives_a_simulated_rate():
    c = load_config({"start_time": "2026-01-31T09:00:00Z"}, {})
    assert c.start_time == datetime(2026, 1, 31, 9, tzinfo=UTC)
    assert c.simulated_rate == SIMULATED_RATE_WHEN_UNPACED
    naive = load_config({"start_time": "2026-01-31T09:00:00", "rate": 50.0}, {})
    assert naive.start_time == datetime(2026, 1, 31, 9, tzinfo=UTC)
    assert naive.simulated_rate == 50.0
    offset = load_config({"start_time": "2026-01-31T04:00:00-05:00"}, {})
    assert offset.start_time == datetime(2026, 1, 31, 9, tzinfo=UTC)


def test_subject_follows_the_topic_and_secrets_are_masked():
    c = load_config(
        {"topic": "staging_txn", "schema_registry_url": "https://u:s3cret@reg:8081"}, {}
    )
    assert c.subject == "staging_txn-value"
    assert "s3cret" not in c.describe()
    assert mask_url("https://u:s3cret@reg:8081/x") == "https://u:***@reg:8081/x"
    assert mask_url("http://reg:8081") == "http://reg:8081"


def test_dirty_rates_and_the_metrics_port_are_settings_like_the_others():
    c = load_config({}, {})
    assert (c.poison_rate, c.violation_rate, c.conflict_rate, c.metrics_port) == (0, 0, 0, None)
    env = {"TXN_POISON_RATE": "0.001", "TXN_VIOLATION_RATE": "1", "TXN_METRICS_PORT": "9465"}
    c = load_config({"conflict_rate": 0.5, "violation_rate": 0.25}, env)
    assert (c.poison_rate, c.violation_rate, c.conflict_rate) == (0.001, 0.25, 0.5)
    assert c.metrics_port == 9465
    assert load_config({"poison_rate": 1.0}, {}).poison_rate == 1.0  # all poison is allowed
    described = load_config({"poison_rate": 0.01, "conflict_rate": 0.02}, {}).describe()
    assert "1.00% poison" in described and "2.00% conflicting" in described
    with pytest.raises(ConfigError) as err:
        load_config({"duplicate_rate": 0.3, "conflict_rate": 0.3, "poison_rate": 0.5}, {})
    assert str(err.value) == (
        "--poison-rate: adds up to 1.1 with --duplicate-rate, --conflict-rate and "
        "--violation-rate; the shares of messages that replace a new event add up to at most 1"
    )
