"""``bronze-ingest``: Kafka topic -> bronze and quarantine Delta tables, exactly once."""

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
    topic_option,
    trigger_option,
)

from .config import BronzeSettings

__all__ = ["SESSION_CONF", "cli", "main"]

PROG = "bronze-ingest"
_emit = stderr_logger(PROG)


_setting = partial(option, BronzeSettings)

SESSION_CONF = {
    # PySpark's call-site capture for DataFrame errors costs five JVM round trips per PySpark
    # call: a third of the time a batch spent building its plan (docs/performance.md).
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}


@settings_command(BronzeSettings)
@lake_option(help="Lake root: writes LAKE/bronze, LAKE/quarantine, LAKE/_checkpoints.")
@bootstrap_servers_option()
@schema_registry_url_option()
@topic_option(help="Kafka topic to ingest.")
@_setting("subject", metavar="SUBJECT")
@checkpoint_option(BronzeSettings)
@_setting("starting_offsets", metavar="WHERE")
@_setting("max_offsets_per_trigger", type=int, metavar="N")
@_setting("min_offsets_per_trigger", type=int, metavar="N")
@_setting("max_trigger_delay", metavar="DURATION")
@_setting("max_records_per_file", type=int, metavar="N")
@trigger_option()
@available_now_option(help="Drain what is in the topic now, then exit 0.")
@master_option()
@driver_memory_option(
    help="Driver memory in local mode, where executors share it; raise it with "
    "--max-offsets-per-trigger above ~300k."
)
@_setting("registry_timeout", type=float, metavar="S")
@metrics_port_option()
def cli(**flags) -> None:
    """Ingest Confluent-framed Avro transactions from Kafka into the bronze Delta table
    (Snappy Parquet), partitioned by date and hour of ingest (UTC). Each message is decoded with
    its own writer schema and projected onto the newest version registered under the subject;
    a newer version's fields become new bronze columns without a restart. Anything else goes to
    the quarantine table with its raw bytes and a reason. Exactly once across restarts.
    SIGTERM/Ctrl-C stop after the current batch.

    Example: bronze-ingest --lake ./lake --available-now
    """
    from txn_contract import packaged_contract

    cfg = BronzeSettings.from_click(flags)
    logging.basicConfig(level=logging.INFO, format=f"[{PROG}] %(message)s", stream=sys.stderr)
    for noisy in ("py4j", "httpx", "httpx2", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from txn_lake.spark import build_session
    from txn_runtime.metrics import serve_metrics

    from .job import BronzeJob
    from .preflight import preflight

    # One registry client, with the registry's credentials, for the checks and the job. No
    # retries inside it: the job's resolver retries transport failures itself, with backoff.
    registry = cfg.registry_client(timeout_s=10.0, retries=0)
    preflight(cfg, packaged_contract(), registry)
    metrics = serve_metrics(cfg.metrics_port, _emit)

    _emit("starting Spark")
    spark = build_session(
        PROG, master=cfg.master, driver_memory=cfg.driver_memory, extra_conf=SESSION_CONF
    )
    _emit(
        f"Spark {spark.version} on {spark.sparkContext.master}; Kafka {cfg.bootstrap_servers}, "
        f"registry {cfg.registry_display_url}"
    )
    job = BronzeJob(cfg, spark, registry)
    job.metrics = metrics
    job.serve(_emit, lambda t: f"{t['bronze']} rows to bronze, {t['quarantine']} to quarantine")
    spark.stop()


main = entry_point(cli, PROG)
