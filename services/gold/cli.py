"""``gold-signals``: the silver Delta table -> gold aggregates and alerts (Delta exactly once,
Kafka at least once)."""

from __future__ import annotations

import logging
import sys
from functools import partial

from txn_runtime.cli import entry_point, stderr_logger
from txn_runtime.options import (
    available_now_option,
    bootstrap_servers_option,
    checkpoint_option,
    driver_memory_option,
    lake_option,
    master_option,
    metrics_port_option,
    option,
    schema_registry_url_option,
    settings_command,
    trigger_option,
)

from .config import GoldSettings

__all__ = ["cli", "main"]

PROG = "gold-signals"
_emit = stderr_logger(PROG)
_setting = partial(option, GoldSettings)


@settings_command(GoldSettings)
@lake_option(
    help="Lake root: reads LAKE/silver, writes LAKE/gold_merchant_hourly, "
    "LAKE/gold_customer_daily, LAKE/alerts, LAKE/_checkpoints/gold_signals."
)
@bootstrap_servers_option()
@schema_registry_url_option()
@_setting("alerts_topic", metavar="NAME")
@_setting("alerts_subject", metavar="SUBJECT")
@checkpoint_option(GoldSettings)
@trigger_option()
@available_now_option(help="Process what silver holds now, then exit 0.")
@_setting("max_files_per_trigger", type=int, metavar="N")
@master_option()
@driver_memory_option()
@metrics_port_option()
def cli(**flags) -> None:
    """Turn silver's transactions into signals: per-merchant hourly and per-customer daily
    aggregates (exact, late rows update their window) MERGEd into LAKE/gold_merchant_hourly and
    LAKE/gold_customer_daily, and the alerts of the detectors declared in
    contracts/bank_txn_alerts-value/detectors.yaml (velocity, card_testing, impossible_travel,
    amount_outlier) appended to LAKE/alerts exactly once and published to Kafka (Confluent-framed
    Avro of the registered alert contract, keyed by customer_id, at least once). SIGTERM/Ctrl-C
    stop after the current batch.

    Example: gold-signals --lake ./lake --available-now
    """
    cfg = GoldSettings.from_click(flags)
    logging.basicConfig(level=logging.INFO, format=f"[{PROG}] %(message)s", stream=sys.stderr)
    for noisy in ("py4j", "httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from txn_contract.detectors import packaged_detectors

    from .preflight import preflight

    detectors = packaged_detectors()
    schema_id = preflight(cfg, cfg.registry_client())

    from txn_lake.spark import build_session
    from txn_runtime.metrics import serve_metrics

    from .gazetteer import shared_gazetteer
    from .job import GoldJob

    metrics = serve_metrics(cfg.metrics_port, _emit)
    places = shared_gazetteer()
    _emit(
        f"starting Spark; detectors version {detectors.version} (sha256 {detectors.digest}), "
        f"{len(places)} gazetteer cities, alert schema id {schema_id}"
    )
    spark = build_session(PROG, master=cfg.master, driver_memory=cfg.driver_memory)
    _emit(f"Spark {spark.version} on {spark.sparkContext.master}")
    job = GoldJob(cfg, spark, detectors, schema_id, places)
    job.metrics = metrics
    job.serve(
        _emit,
        lambda t: (
            f"{t['silver_rows']} silver rows, {t['alerts']} alerts, "
            f"{t['unknown_cities']} transactions in cities not in the gazetteer"
        ),
    )
    spark.stop()


main = entry_point(cli, PROG)
