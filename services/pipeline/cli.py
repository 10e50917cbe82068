"""``txn-pipeline run``: bronze, silver and gold as queries of one Spark application."""

from __future__ import annotations

import logging
import sys
import tempfile
from functools import partial
from pathlib import Path

import click

from txn_lake.gold_tables import GOLD_SIGNALS
from txn_lake.tables import BRONZE_INGEST, SILVER_REFINE
from txn_runtime import options as opt
from txn_runtime.cli import entry_point, stderr_logger
from txn_runtime.signals import stop_after_the_batch

from .config import PipelineSettings

__all__ = ["cli", "main"]

PROG = "txn-pipeline"
# The queries of the application, in flow order; each runs in its own FAIR pool.
QUERIES = [BRONZE_INGEST.name, SILVER_REFINE.name, GOLD_SIGNALS.name]
_emit = stderr_logger(PROG)
_setting = partial(opt.option, PipelineSettings)


@click.group(no_args_is_help=True, context_settings=opt.CONTEXT_SETTINGS)
def cli() -> None:
    """Every layer of the lake as queries of one Spark application (as Databricks pipelines
    run every table of a pipeline): one JVM, one scheduler (a FAIR pool per query) and one
    warm-up on a small machine. Same tables and same checkpoints as the separate jobs
    (bronze-ingest, silver-refine, gold-signals), so a lake moves between the two without a migration.

    Example: txn-pipeline run --lake ./lake --trigger 1s
    """


@opt.uses_settings(PipelineSettings)
@cli.command("run")
@opt.lake_option(
    help="Lake root: every table of the lake and LAKE/_checkpoints/<query> for each query."
)
@opt.bootstrap_servers_option()
@opt.schema_registry_url_option()
@opt.topic_option(help="Kafka topic to ingest.")
@_setting("subject", metavar="SUBJECT")
@opt.checkpoint_option(PipelineSettings)
@_setting("silver_checkpoint", type=click.Path(file_okay=False))
@_setting("gold_checkpoint", type=click.Path(file_okay=False))
@_setting("starting_offsets", metavar="WHERE")
@_setting("max_offsets_per_trigger", type=int, metavar="N")
@_setting("min_offsets_per_trigger", type=int, metavar="N")
@_setting("max_trigger_delay", metavar="DURATION")
@_setting("max_records_per_file", type=int, metavar="N")
@_setting("allowed_lateness", metavar="DURATION")
@_setting("max_files_per_trigger", type=int, metavar="N")
@_setting("alerts_topic", metavar="NAME")
@_setting("alerts_subject", metavar="SUBJECT")
@opt.trigger_option(help="Processing-time trigger of every query.")
@opt.available_now_option(
    help="Drain the topic into bronze, then bronze into silver, then silver into gold (each "
    "layer after the one before has committed), then exit 0."
)
@opt.master_option()
@opt.driver_memory_option()
@_setting("registry_timeout", type=float, metavar="S")
@opt.metrics_port_option(help="Serve every query's Prometheus metrics on one port.")
def run(**flags) -> None:
    """Run bronze_ingest (Kafka -> bronze, quarantine), silver_refine (bronze -> silver,
    silver_rejects, silver_audit) and gold_signals (silver -> gold_merchant_hourly,
    gold_customer_daily, alerts and the alerts topic) as queries of one Spark application, each
    exactly once with its own checkpoint. SIGTERM/Ctrl-C stop every query after its current batch; a failure of
    one stops the application, naming the query.

    Example: txn-pipeline run --lake ./lake --trigger 1s
    """
    from txn_contract import packaged_contract
    from txn_contract.detectors import packaged_detectors
    from txn_contract.rules import packaged_rules

    cfg = PipelineSettings.from_click(flags)
    silver_cfg, gold_cfg = cfg.silver(), cfg.gold()
    logging.basicConfig(level=logging.INFO, format=f"[{PROG}] %(message)s", stream=sys.stderr)
    for noisy in ("py4j", "httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from bronze_ingest.preflight import preflight as bronze_preflight
    from txn_gold.preflight import preflight as gold_preflight
    from txn_lake.spark import build_session, fair_scheduler_conf
    from txn_runtime.metrics import serve_metrics
    from txn_silver.preflight import check_checkpoint_matches_silver

    from .runner import Pipeline

    rules, detectors = packaged_rules(), packaged_detectors()
    registry = cfg.registry_client(timeout_s=10.0, retries=0)
    bronze_preflight(cfg, packaged_contract(), registry)
    # Bronze and silver need not exist yet: each query creates its tables before the next starts.
    check_checkpoint_matches_silver(silver_cfg)
    alert_schema_id = gold_preflight(gold_cfg, registry, silver_required=False)
    metrics = serve_metrics(cfg.metrics_port, _emit)

    _emit(
        f"starting Spark; rules version {rules.version} (sha256 {rules.digest}), detectors "
        f"version {detectors.version} (sha256 {detectors.digest}), alert schema id "
        f"{alert_schema_id}"
    )
    spark = build_session(
        PROG,
        master=cfg.master,
        driver_memory=cfg.driver_memory,
        extra_conf=fair_scheduler_conf(QUERIES, Path(tempfile.mkdtemp(prefix="txn-pipeline-"))),
    )
    _emit(
        f"Spark {spark.version} on {spark.sparkContext.master}; Kafka {cfg.bootstrap_servers}, "
        f"registry {cfg.registry_display_url}"
    )
    pipeline = Pipeline(cfg, spark, rules, detectors, alert_schema_id, registry, metrics)
    with stop_after_the_batch(pipeline.request_stop, _emit):
        totals = pipeline.run(_emit)
    _emit(_stopped(totals))
    spark.stop()


def _stopped(totals: dict[str, dict[str, int]]) -> str:
    """The run's last line: each query's batches and rows."""
    bronze, silver = totals[BRONZE_INGEST.name], totals[SILVER_REFINE.name]
    gold = totals[GOLD_SIGNALS.name]
    return (
        f"stopped: bronze_ingest {bronze['batches']} batch(es), {bronze['bronze']} rows to "
        f"bronze, {bronze['quarantine']} to quarantine; silver_refine {silver['batches']} "
        f"batch(es), {silver['read']} bronze rows read, {silver['inserted']} to silver, "
        f"{silver['duplicates']} duplicates dropped, {silver['rejected']} rejected; "
        f"gold_signals {gold['batches']} batch(es), {gold['silver_rows']} silver rows, "
        f"{gold['alerts']} alerts"
    )


main = entry_point(cli, PROG)
