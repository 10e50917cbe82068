"""The Prometheus series the project's jobs export, with their labels, for the static checks of
the alerting rules and the dashboard (tests/unit/test_compose_ops.py)."""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["SUFFIXES", "exported_series"]

# Exposed series per collector type (prometheus_client's text format; `_created` is left out:
# nothing should query it).
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def _exercised() -> dict[str, object]:
    """One instance of each metrics class of txn_runtime, every series of it given a value
    through the class's own API (a labelled series exists once a label value is used)."""
    from txn_runtime.metrics import BatchFigures, Metrics
    from txn_runtime.producer_metrics import ProducerFigures, ProducerMetrics

    jobs = Metrics()
    jobs.record(
        BatchFigures(
            "silver", rows_in=3, rows_out={"silver": 1}, seconds=1.0, quarantined={"r": 1},
            rejected={"rule": 1}, duplicates=1, alerts={"velocity": 1},
            latency_seconds={"silver": 2.0}, committed=("silver",),
        )
    )  # fmt: skip
    jobs.set_lag({"bank_txn_stream": {"0": 5}})
    producer = ProducerMetrics()
    producer.update(
        ProducerFigures(
            produced=4, delivered=3, failed=1, kinds={"late": 1}, poison={"EMPTY_VALUE": 1},
            violations={"amount_positive": 1},
        )
    )  # fmt: skip
    producer.observe_delivery(0.01)
    return {"Metrics": jobs, "ProducerMetrics": producer}


def exported_series() -> dict[str, set[str]]:
    """Series name -> its labels, read through prometheus_client's public collect() from every
    class of a ``txn_runtime.*metrics`` module that serves metrics (``serve(port)``)."""
    import txn_runtime

    served = set()
    for info in pkgutil.iter_modules(txn_runtime.__path__):
        if info.name.endswith("metrics"):
            module = importlib.import_module(f"txn_runtime.{info.name}")
            served |= {
                n for n in module.__all__ if hasattr(getattr(module, n), "serve")
                and isinstance(getattr(module, n), type)
            }  # fmt: skip
    instances = _exercised()
    assert served == set(instances), f"teach _exercised() the metrics classes {served}"
    out: dict[str, set[str]] = {}
    for instance in instances.values():
        for family in instance.registry.collect():
            assert family.type in SUFFIXES, f"{family.name}: teach SUFFIXES"
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    out.setdefault(sample.name, set()).update(sample.labels)
            for suffix in SUFFIXES[family.type]:
                assert family.name + suffix in out, f"{family.name}{suffix}: never given a value"
    assert out, "found no metrics classes in txn_runtime"
    return out
