"""``txn-producer --metrics-port``: a running producer (against a fake client) scraped over
HTTP; the figures follow the run and end equal to its summary."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_ports
from tests.unit.test_producer_run import SCHEMA_ID, FakeAdmin, FakeProducer
from txn_contract.errors import ConfigError
from txn_producer.config import load_config
from txn_producer.producer import ProducerRun
from txn_runtime.producer_metrics import KINDS, ProducerFigures, serve_producer_metrics

LATENCY_S = 0.004


class TimedProducer(FakeProducer):
    """The fake client, whose delivery reports carry a message with its latency."""

    def __init__(self, settings, **options):
        super().__init__(settings, **options)
        report = self.on_delivery
        message = SimpleNamespace(latency=lambda: LATENCY_S)
        self.on_delivery = lambda err, _msg: report(err, message)


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _by(samples: dict, name: str, label: str) -> dict[str, float]:
    return {dict(k[1])[label]: v for k, v in samples.items() if k[0] == name and v}


@pytest.fixture
def served():
    (port,) = free_ports(1)
    lines: list[str] = []
    metrics = serve_producer_metrics(port, lines.append)
    assert lines == [f"metrics: http://0.0.0.0:{port}/metrics (Prometheus)"]
    yield port, metrics
    metrics.close()


def test_a_running_producer_is_scraped_and_its_figures_end_equal_to_the_summary(served):
    port, metrics = served
    flags = {"seed": 1, "customers": 100, "progress": False, "rate": 3_000.0, "duration": 2.0}
    rates = {"duplicate_rate": 0.02, "late_rate": 0.02, "conflict_rate": 0.02}
    rates |= {"poison_rate": 0.02, "violation_rate": 0.03, "fraud_rate": 0.01}
    run = ProducerRun(
        load_config({**flags, **rates}, {}),
        producer_factory=TimedProducer,
        admin_factory=FakeAdmin,
        schema_lookup=lambda _c, _v: SCHEMA_ID,
        metrics=metrics,
    )
    run.start()
    done: list = []
    worker = threading.Thread(target=lambda: done.append(run.run()))
    worker.start()
    time.sleep(1.0)
    during = _scrape(port)  # while it runs
    worker.join(30)
    (summary,) = done
    after = _scrape(port)
    produced = "txn_producer_produced_total"
    assert 0 < sum(_by(during, produced, "kind").values()) < summary.produced
    # At the end: the summary's figures, kind by kind.
    kinds = _by(after, produced, "kind")
    assert set(kinds) == set(KINDS)  # every kind happened in two seconds at these rates
    assert sum(kinds.values()) == summary.produced
    assert after[("txn_producer_delivered_total", ())] == summary.delivered
    assert after[("txn_producer_failed_total", ())] == summary.failed == 0
    assert after[("txn_producer_in_flight_messages", ())] == 0
    expected = {
        "duplicate": summary.resent,
        "late": summary.late,
        "conflict": summary.conflicts,
        "poison": sum(summary.poison.values()),
        "violation": summary.violators,
    }
    assert {k: kinds[k] for k in expected} == expected
    assert _by(after, "txn_producer_poison_total", "reason") == summary.poison
    assert _by(after, "txn_producer_violations_total", "rule") == summary.violations
    latency = ("txn_producer_delivery_latency_seconds_count", ())
    assert after[latency] == summary.delivered
    assert after[("txn_producer_delivery_latency_seconds_sum", ())] == pytest.approx(
        summary.delivered * LATENCY_S
    )


def test_counters_follow_the_runs_totals():
    from txn_runtime.producer_metrics import ProducerMetrics

    m = ProducerMetrics()
    m.update(ProducerFigures(10, 8, 1, kinds={"poison": 2}, poison={"EMPTY_VALUE": 2}))
    m.update(ProducerFigures(15, 12, 1, kinds={"poison": 3}, poison={"EMPTY_VALUE": 3}))
    assert m.value("txn_producer_produced_total", kind="clean") == 12
    assert m.value("txn_producer_produced_total", kind="poison") == 3
    assert m.value("txn_producer_poison_total", reason="EMPTY_VALUE") == 3
    assert m.value("txn_producer_delivered_total") == 12
    assert m.value("txn_producer_in_flight_messages") == 2
    assert m.value("txn_producer_produced_total", kind="conflict") == 0  # exported from the start


def test_a_taken_port_is_refused_naming_the_flag():
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^--metrics-port: port {port} cannot be served"):
            serve_producer_metrics(port)
    assert serve_producer_metrics(None) is None  # off by default
