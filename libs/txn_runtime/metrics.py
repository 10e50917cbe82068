"""Prometheus metrics of a long-running job, served on ``--metrics-port`` (off by default).

One :class:`Metrics` per process: ``txn-pipeline run`` serves every query's metrics on one port,
each labelled with its layer or table. Names start with ``txn_`` and follow Prometheus'
conventions: counters end in ``_total``, durations are ``_seconds``, times are Unix seconds.

====================================  =====================  ==================================
metric                                labels                 what
====================================  =====================  ==================================
``txn_batches_total``                 ``layer``              micro-batches committed
``txn_rows_in_total``                 ``layer``              rows the layer's batches read
``txn_rows_out_total``                ``table``              rows written to each table
``txn_quarantined_total``             ``reason``             messages sent to quarantine
``txn_rejected_total``                ``rule``               silver rejects per rule id
``txn_duplicates_dropped_total``      ``layer``              exact duplicates dropped
``txn_alerts_total``                  ``detector``           alerts raised
``txn_batch_duration_seconds``        ``layer``              histogram of batch durations
``txn_event_latency_seconds``         ``table``              histogram of event time -> commit
                                                             (one observation per batch: its
                                                             rows' median)
``txn_kafka_lag_messages``            ``topic, partition``   offsets not yet read
``txn_last_commit_timestamp_seconds`` ``table``              when the job last committed to it
====================================  =====================  ==================================

Example::

    metrics = Metrics()
    metrics.serve(9464)             # http://HOST:9464/metrics
    metrics.record(BatchFigures("silver", rows_in=100, rows_out={"silver": 98}, seconds=1.2))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchFigures", "Metrics", "serve_metrics"]

# Batch durations and event latencies: from sub-second micro-batches to a stalled job.
_SECONDS_BUCKETS = (0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600)


@dataclass(frozen=True)
class BatchFigures:
    """What one committed micro-batch of ``layer`` did (tables by name, counts by label)."""

    layer: str
    rows_in: int = 0
    rows_out: Mapping[str, int] = field(default_factory=dict)
    seconds: float | None = None
    quarantined: Mapping[str, int] = field(default_factory=dict)
    rejected: Mapping[str, int] = field(default_factory=dict)
    duplicates: int = 0
    alerts: Mapping[str, int] = field(default_factory=dict)
    latency_seconds: Mapping[str, float] = field(default_factory=dict)
    """Per table, the batch's median event time -> commit (tables whose rows have one)."""
    committed: tuple[str, ...] = ()
    """Tables the batch committed to (their last-commit time is now)."""


class Metrics:
    """The process's metrics in a registry of their own (not the client library's global one,
    so two in one process, as in tests, never collide)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        reg = {"registry": self.registry}
        self.batches = Counter("txn_batches", "Micro-batches committed.", ["layer"], **reg)
        self.rows_in = Counter("txn_rows_in", "Rows read by the layer's batches.", ["layer"], **reg)
        self.rows_out = Counter("txn_rows_out", "Rows written to the table.", ["table"], **reg)
        self.quarantined = Counter(
            "txn_quarantined", "Kafka messages sent to quarantine.", ["reason"], **reg
        )
        self.rejected = Counter("txn_rejected", "Rows silver rejected, per rule.", ["rule"], **reg)
        self.duplicates = Counter(
            "txn_duplicates_dropped", "Exact duplicates dropped.", ["layer"], **reg
        )
        self.alerts = Counter("txn_alerts", "Alerts raised.", ["detector"], **reg)
        self.batch_seconds = Histogram(
            "txn_batch_duration_seconds",
            "Duration of a micro-batch, start to last commit.",
            ["layer"],
            buckets=_SECONDS_BUCKETS,
            **reg,
        )
        self.latency = Histogram(
            "txn_event_latency_seconds",
            "Event time to commit: the median of each batch's rows.",
            ["table"],
            buckets=_SECONDS_BUCKETS,
            **reg,
        )
        self.lag = Gauge(
            "txn_kafka_lag_messages",
            "Offsets of the partition not yet read by the job.",
            ["topic", "partition"],
            **reg,
        )
        self.last_commit = Gauge(
            "txn_last_commit_timestamp_seconds",
            "Unix time of the job's last commit to the table.",
            ["table"],
            **reg,
        )

    def serve(self, port: int, addr: str = "0.0.0.0") -> Any:
        """Serve ``/metrics`` on ``port`` from a daemon thread; the server."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return server

    def record(self, batch: BatchFigures) -> None:
        """Count one committed batch."""
        layer = batch.layer
        self.batches.labels(layer).inc()
        self.rows_in.labels(layer).inc(batch.rows_in)
        for table, n in batch.rows_out.items():
            self.rows_out.labels(table).inc(n)
        for reason, n in batch.quarantined.items():
            self.quarantined.labels(reason).inc(n)
        for rule, n in batch.rejected.items():
            self.rejected.labels(rule).inc(n)
        if batch.duplicates:
            self.duplicates.labels(layer).inc(batch.duplicates)
        for detector, n in batch.alerts.items():
            self.alerts.labels(detector).inc(n)
        if batch.seconds is not None:
            self.batch_seconds.labels(layer).observe(batch.seconds)
        for table, seconds in batch.latency_seconds.items():
            self.latency.labels(table).observe(max(0.0, seconds))
        now = time.time()
        for table in batch.committed:
            self.last_commit.labels(table).set(now)

    def set_lag(self, lag: Mapping[str, Mapping[str, int]]) -> None:
        """Offsets not yet read, ``{topic: {partition: n}}``."""
        for topic, parts in lag.items():
            for partition, n in parts.items():
                self.lag.labels(topic, str(partition)).set(n)

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of a sample (``name`` as exposed, ``_total`` included)."""
        return self.registry.get_sample_value(name, labels)


def serve_metrics(port: int | None, emit: Any = print, make: Callable[[], Any] = Metrics) -> Any:
    """The process's metrics (``make()``: :class:`Metrics` unless told), served on ``port``;
    None (no metrics) when ``port`` is None. A port already taken is refused in one sentence
    naming ``--metrics-port``."""
    if port is None:
        return None
    from txn_contract.errors import ConfigError

    metrics = make()
    try:
        metrics.serve(port)
    except OSError as exc:
        raise ConfigError(
            "--metrics-port",
            f"port {port} cannot be served ({exc.strerror or exc}); choose a free port "
            "(or TXN_METRICS_PORT)",
        ) from exc
    emit(f"metrics: http://0.0.0.0:{port}/metrics (Prometheus)")
    return metrics
