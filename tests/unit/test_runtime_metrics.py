"""txn_runtime.metrics: the names and values a scrape shows, the served endpoint, a taken
port refused in one sentence, and --metrics-port validated like every setting."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_ports
from txn_contract.errors import ConfigError
from txn_runtime.metrics import BatchFigures, Metrics, serve_metrics
from txn_runtime.shared import MetricsSettings


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_batches_add_up_under_conventional_names():
    m = Metrics()
    m.record(
        BatchFigures(
            "bronze",
            rows_in=10,
            rows_out={"bronze": 8, "quarantine": 2},
            seconds=1.5,
            quarantined={"BAD_MAGIC_BYTE": 2},
            latency_seconds={"bronze": 3.0},
            committed=("bronze", "quarantine"),
        )
    )
    m.record(BatchFigures("bronze", rows_in=5, rows_out={"bronze": 5}, seconds=0.5))
    m.record(BatchFigures("silver", rows_in=13, rejected={"R1": 1}, duplicates=2))
    m.record(BatchFigures("gold", alerts={"velocity": 1}))
    m.set_lag({"t": {"0": 4, "1": 0}})

    assert m.value("txn_batches_total", layer="bronze") == 2
    assert m.value("txn_rows_in_total", layer="bronze") == 15
    assert m.value("txn_rows_out_total", table="bronze") == 13
    assert m.value("txn_rows_out_total", table="quarantine") == 2
    assert m.value("txn_quarantined_total", reason="BAD_MAGIC_BYTE") == 2
    assert m.value("txn_rejected_total", rule="R1") == 1
    assert m.value("txn_duplicates_dropped_total", layer="silver") == 2
    assert m.value("txn_alerts_total", detector="velocity") == 1
    assert m.value("txn_batch_duration_seconds_count", layer="bronze") == 2
    assert m.value("txn_batch_duration_seconds_sum", layer="bronze") == 2.0
    assert m.value("txn_event_latency_seconds_count", table="bronze") == 1
    assert m.value("txn_kafka_lag_messages", topic="t", partition="0") == 4
    assert m.value("txn_last_commit_timestamp_seconds", table="quarantine") > 0
    assert m.value("txn_last_commit_timestamp_seconds", table="silver") is None


def test_the_endpoint_serves_them_and_a_taken_port_is_one_sentence():
    emitted: list[str] = []
    (port,) = free_ports(1)
    m = serve_metrics(port, emitted.append)
    assert m is not None and emitted == [f"metrics: http://0.0.0.0:{port}/metrics (Prometheus)"]
    m.record(BatchFigures("silver", rows_in=3, rows_out={"silver": 3}, seconds=0.2))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        samples = _samples(resp.read().decode())
    assert samples[("txn_rows_out_total", (("table", "silver"),))] == 3
    assert all(name.startswith("txn_") for name, _ in samples if not name.startswith("python_"))

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        with pytest.raises(ConfigError) as err:
            serve_metrics(taken.getsockname()[1])
    assert str(err.value).startswith("--metrics-port: port ")
    assert serve_metrics(None) is None


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_a_port_out_of_range_names_the_flag(port):
    with pytest.raises(ConfigError, match="--metrics-port"):
        MetricsSettings.from_click({"metrics_port": port}, env={})
    with pytest.raises(ConfigError, match="TXN_METRICS_PORT"):
        MetricsSettings.from_click({}, env={"TXN_METRICS_PORT": str(port)})
