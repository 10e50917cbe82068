"""``txn-producer``: realistic bank transactions to Kafka, contract-bound and loss-free.

Exit codes: 0 every produced event was delivered; 1 the producer could not start (broker,
registry, topic, unregistered contract) or a Kafka error ended it; 2 a flag or variable is
invalid; 3 it ran, but some events were not confirmed by the broker (see the summary).
"""

from __future__ import annotations

import os
import sys

import click

from txn_contract.errors import TxnError

__all__ = ["EXIT_UNDELIVERED", "cli", "main"]

EXIT_UNDELIVERED = 3


def _log(message: str) -> None:
    click.echo(f"[txn-producer] {message}", err=True)


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    # \b keeps click from re-wrapping the example onto two lines.
    epilog="\b\nExamples:\n  txn-producer --count 10000 --seed 7 --start-time 2026-01-31T09:00:00Z\n"
    "  txn-producer --rate 2000 --duration 60 --duplicate-rate 0.02 --late-rate 0.01",
)
@click.option(
    "--rate",
    type=float,
    metavar="N",
    help="Events per second; 0 = as fast as the broker takes them. Env: TXN_RATE. [default: 0]",
)
@click.option(
    "--count",
    type=int,
    metavar="N",
    help="Stop after N events. Env: TXN_COUNT. Without --count or --duration: run until Ctrl-C.",
)
@click.option(
    "--duration",
    type=float,
    metavar="S",
    help="Stop after S seconds. Env: TXN_DURATION.",
)
@click.option(
    "--topic",
    metavar="NAME",
    help="Topic to write; its values' subject is NAME-value. Env: TXN_TOPIC. "
    "[default: bank_txn_stream]",
)
@click.option(
    "--seed",
    type=int,
    metavar="N",
    help="Seed of the population and of the event stream: the same seed gives the same ids, "
    "amounts, channels and statuses. Env: TXN_SEED. [default: random, printed on stderr]",
)
@click.option(
    "--customers",
    type=int,
    metavar="N",
    help="Size of the customer population. Env: TXN_CUSTOMERS. [default: 10000]",
)
@click.option(
    "--bootstrap-servers",
    metavar="HOST:PORT",
    help="Kafka bootstrap servers. Env: KAFKA_BOOTSTRAP_SERVERS. [default: 127.0.0.1:9092]",
)
@click.option(
    "--schema-registry-url",
    metavar="URL",
    help="Confluent-API schema registry. Env: SCHEMA_REGISTRY_URL. "
    "[default: http://127.0.0.1:8081/apis/ccompat/v7]",
)
@click.option(
    "--contract-version",
    type=int,
    metavar="N",
    help="Released contract version to write (older versions exercise schema evolution). "
    "Env: TXN_CONTRACT_VERSION. [default: the latest]",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Live progress line on stderr. Env: TXN_PROGRESS. [default: on when stderr is a terminal]",
)
@click.option(
    "--start-time",
    metavar="ISO",
    help="Simulated clock: event i is stamped START + i/rate (at --rate 0, 1000 events per "
    "simulated second), so timestamps are reproducible too. Env: TXN_START_TIME. "
    "[default: the wall clock]",
)
@click.option(
    "--duplicate-rate",
    type=float,
    metavar="P",
    help="Share of messages (0-0.5) that re-send one of the last 1,000 events byte for byte, "
    "as a client retrying after a lost acknowledgement does. Env: TXN_DUPLICATE_RATE. "
    "[default: 0]",
)
@click.option(
    "--late-rate",
    type=float,
    metavar="P",
    help="Share of events (0-0.5) stamped 65 min to 6 h before they are sent, as a device "
    "that was offline uploads them. Env: TXN_LATE_RATE. [default: 0]",
)
def cli(**flags) -> None:
    """Produce realistic bank card and account transactions to Kafka as Confluent-framed Avro
    of the registered contract, keyed by customer_id, idempotent with acks=all.

    On exit, one JSON line on stdout: {"produced", "delivered", "failed", "seconds", "rate",
    "resent", "late"}.
    SIGINT/SIGTERM stop generation and flush (a second one stops the flush). Exit 0 only if
    every produced event was delivered; 3 if some were not; 1 if it could not start; 2 for a
    bad flag or variable.

    Example: txn-producer --rate 5000 --duration 60 --seed 42
    """
    from .config import load_config
    from .producer import ProducerRun, stop_on_signals

    config = load_config(flags, os.environ)
    run = ProducerRun(config, log=_log)
    if config.seed_was_random:
        _log(f"seed {config.seed} (pass --seed {config.seed} to reproduce this stream)")
    _log(config.describe())
    run.start()
    with stop_on_signals(run):
        summary = run.run()
    click.echo(summary.to_json())
    if run.fatal_error:
        sys.exit(1)
    sys.exit(0 if summary.complete else EXIT_UNDELIVERED)


def main() -> None:
    """Console entry point: user errors are one sentence and a non-zero exit."""
    try:
        cli(standalone_mode=True)
    except TxnError as exc:
        click.echo(f"txn-producer: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        # Interrupted during start-up, before anything was produced.
        click.echo("txn-producer: interrupted before producing anything", err=True)
        sys.exit(130)
