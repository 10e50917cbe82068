"""``txn-producer``: realistic bank transactions to Kafka, contract-bound and loss-free.

Exit codes: 0 every produced event was delivered; 1 the producer could not start (broker,
registry, topic, unregistered contract) or a Kafka error ended it; 2 a flag or variable is
invalid; 3 it ran, but some events were not confirmed by the broker (see the summary).
"""

from __future__ import annotations

import sys
from functools import partial

import click

from txn_runtime.cli import entry_point, stderr_logger
from txn_runtime.options import (
    bootstrap_servers_option,
    metrics_port_option,
    option,
    schema_registry_url_option,
    settings_command,
    topic_option,
)

from .config import ProducerSettings

__all__ = ["EXIT_UNDELIVERED", "cli", "main"]

EXIT_UNDELIVERED = 3
PROG = "txn-producer"
_log = stderr_logger(PROG)


_setting = partial(option, ProducerSettings)


@settings_command(
    ProducerSettings,
    # \b keeps click from re-wrapping the example onto two lines.
    epilog="\b\nExamples:\n  txn-producer --count 10000 --seed 7 --start-time 2026-01-31T09:00:00Z\n"
    "  txn-producer --rate 3000 --duration 300 --late-rate 0.01 --fraud-rate 0.0005 "
    "--fraud-truth truth.jsonl\n"
    "  txn-producer --rate 3000 --duration 60 --poison-rate 0.0005 --violation-rate 0.001 "
    "--conflict-rate 0.001 --metrics-port 9465",
)
@_setting("rate", type=float, metavar="N")
@_setting("count", type=int, metavar="N")
@_setting("duration", type=float, metavar="S")
@topic_option(ProducerSettings, help="Topic to write; its values' subject is NAME-value.")
@_setting("seed", type=int, metavar="N")
@_setting("customers", type=int, metavar="N")
@bootstrap_servers_option(ProducerSettings)
@schema_registry_url_option(model=ProducerSettings)
@_setting("contract_version", type=int, metavar="N")
@_setting("progress")
@_setting("start_time", metavar="ISO")
@_setting("duplicate_rate", type=float, metavar="P")
@_setting("late_rate", type=float, metavar="P")
@_setting("conflict_rate", type=float, metavar="P")
@_setting("poison_rate", type=float, metavar="P")
@_setting("violation_rate", type=float, metavar="P")
@_setting("fraud_rate", type=float, metavar="P")
@_setting("fraud_truth", metavar="FILE")
@metrics_port_option(
    ProducerSettings,
    help="Serve the producer's Prometheus metrics on "
    "http://0.0.0.0:PORT/metrics while it runs. Default: off.",
)
def cli(**flags) -> None:
    """Produce realistic bank card and account transactions to Kafka as Confluent-framed Avro
    of the registered contract, keyed by customer_id, idempotent with acks=all.

    On exit, one JSON line on stdout: {"produced", "delivered", "failed", "seconds", "rate",
    "resent", "late", "conflicts", "poison", "violations", "poison_by_reason",
    "violations_by_rule"}.
    SIGINT/SIGTERM stop generation and flush (a second one stops the flush). Exit 0 only if
    every produced event was delivered; 3 if some were not; 1 if it could not start; 2 for a
    bad flag or variable.

    Example: txn-producer --rate 5000 --duration 60 --seed 42
    """
    from txn_runtime.producer_metrics import serve_producer_metrics
    from txn_runtime.signals import stop_on_signals

    from .producer import ProducerRun

    config = ProducerSettings.from_click(flags)
    metrics = serve_producer_metrics(config.metrics_port, _log)
    run = ProducerRun(config, log=_log, metrics=metrics)
    if config.seed_was_random:
        _log(f"seed {config.seed} (pass --seed {config.seed} to reproduce this stream)")
    _log(config.describe())
    run.start()
    with stop_on_signals(
        run.request_stop,
        run.force_stop,
        log=_log,
        first_message="stopping generation, flushing what was produced",
        second_message="second signal: giving up the flush; unconfirmed events count as failed",
    ):
        summary = run.run()
    click.echo(summary.to_json())
    if run.fatal_error:
        sys.exit(1)
    sys.exit(0 if summary.complete else EXIT_UNDELIVERED)


main = entry_point(cli, PROG)
