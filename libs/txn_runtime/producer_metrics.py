"""Prometheus metrics of ``txn-producer``, served on its ``--metrics-port`` (off by default).

The producer is the pipeline's source, so its figures are what the jobs' metrics
(:mod:`txn_runtime.metrics`) are compared with: what it sent of each kind, per quarantine reason
and per rule, against what bronze quarantined and silver rejected. Same conventions: names
start with ``txn_``, counters end in ``_total``, durations are ``_seconds``; a registry of its
own per instance.

==========================================  ==========  =======================================
metric                                      labels      what
==========================================  ==========  =======================================
``txn_producer_produced_total``             ``kind``    messages handed to the Kafka client, by
                                                        kind: ``clean``, ``late``, ``fraud``,
                                                        ``duplicate``, ``conflict``, ``poison``,
                                                        ``violation``
``txn_producer_delivered_total``                        messages the broker confirmed
``txn_producer_failed_total``                           messages not confirmed (errors, purged)
``txn_producer_poison_total``               ``reason``  poison messages, by the quarantine
                                                        reason bronze will give them
``txn_producer_violations_total``           ``rule``    rules broken by the violators, by rule
                                                        id (one breaking two counts under both)
``txn_producer_delivery_latency_seconds``               histogram of produce() -> broker
                                                        acknowledgement, per delivered message
``txn_producer_in_flight_messages``                     produced, not yet confirmed or failed
==========================================  ==========  =======================================

Counters follow the run's own totals (:class:`ProducerFigures`, taken at every progress tick),
so a scrape agrees with the summary line the run prints at exit.

Example::

    metrics = serve_producer_metrics(9465)       # http://HOST:9465/metrics
    metrics.update(ProducerFigures(produced=100, delivered=98, failed=0))
    metrics.observe_delivery(0.021)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "ProducerFigures", "ProducerMetrics", "serve_producer_metrics"]

KINDS = ("clean", "late", "fraud", "duplicate", "conflict", "poison", "violation")
# Delivery latency: linger (20 ms) plus a round trip, up to a broker that stalls.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True)
class ProducerFigures:
    """A run's totals so far: messages produced, delivered and failed; the dirty ones by kind
    (``kinds``, without ``clean``: the rest of ``produced``), poison by reason, rules broken by
    the violators by rule id."""

    produced: int = 0
    delivered: int = 0
    failed: int = 0
    kinds: Mapping[str, int] = field(default_factory=dict)
    poison: Mapping[str, int] = field(default_factory=dict)
    violations: Mapping[str, int] = field(default_factory=dict)


class ProducerMetrics:
    """The producer's metrics in a registry of their own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        reg = {"registry": self.registry}
        self.produced = Counter(
            "txn_producer_produced", "Messages handed to the Kafka client.", ["kind"], **reg
        )
        self.delivered = Counter("txn_producer_delivered", "Messages the broker confirmed.", **reg)
        self.failed = Counter("txn_producer_failed", "Messages not confirmed.", **reg)
        self.poison = Counter(
            "txn_producer_poison",
            "Poison messages, by the quarantine reason bronze gives them.",
            ["reason"],
            **reg,
        )
        self.violations = Counter(
            "txn_producer_violations",
            "Quality rules broken by the violators, by rule id.",
            ["rule"],
            **reg,
        )
        self.latency = Histogram(
            "txn_producer_delivery_latency_seconds",
            "produce() to the broker's acknowledgement, per delivered message.",
            buckets=_LATENCY_BUCKETS,
            **reg,
        )
        self.in_flight = Gauge(
            "txn_producer_in_flight_messages", "Produced, not yet confirmed or failed.", **reg
        )
        for kind in KINDS:  # every kind is exported from the start, at 0
            self.produced.labels(kind)
        self._exported: dict[tuple[str, str], int] = {}
        self.server: Any = None

    def serve(self, port: int, addr: str = "0.0.0.0") -> Any:
        """Serve ``/metrics`` on ``port`` from a daemon thread; the server."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self.server = server
        return server

    def close(self) -> None:
        """Stop serving (a process that exits need not: the server is a daemon thread)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def observe_delivery(self, seconds: float | None) -> None:
        """One delivered message's latency (None, when the client has none, is skipped)."""
        if seconds is not None:
            self.latency.observe(seconds)

    def update(self, now: ProducerFigures) -> None:
        """Bring the counters to the run's totals ``now``: each series grows by what its total
        gained since it was last exported (a total that dips for a moment, such as ``clean``
        while a dirty kind is counted before ``produced``, is caught up later, never doubled)."""
        dirty = sum(now.kinds.values())
        series: list[tuple[tuple[str, str], Any, int]] = [
            (("delivered", ""), self.delivered, now.delivered),
            (("failed", ""), self.failed, now.failed),
            (("produced", "clean"), self.produced.labels("clean"), now.produced - dirty),
        ]
        series += [(("produced", k), self.produced.labels(k), n) for k, n in now.kinds.items()]
        series += [(("poison", r), self.poison.labels(r), n) for r, n in now.poison.items()]
        series += [
            (("violations", r), self.violations.labels(r), n) for r, n in now.violations.items()
        ]
        for key, counter, total in series:
            exported = self._exported.get(key, 0)
            if total > exported:
                counter.inc(total - exported)
                self._exported[key] = total
        self.in_flight.set(max(0, now.produced - now.delivered - now.failed))

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of a sample (``name`` as exposed, ``_total`` included)."""
        return self.registry.get_sample_value(name, labels)


def serve_producer_metrics(port: int | None, emit: Any = print) -> ProducerMetrics | None:
    """The producer's :class:`ProducerMetrics`, served on ``port``; None when ``port`` is None
    (:func:`txn_runtime.metrics.serve_metrics`, the jobs' own)."""
    from .metrics import serve_metrics

    return serve_metrics(port, emit, ProducerMetrics)
