"""The layers as queries of one Spark application, started, awaited and stopped together."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bronze_ingest.job import BronzeJob
from txn_contract.detectors import DetectorSet
from txn_contract.errors import TxnError
from txn_contract.rules import RuleSet
from txn_gold.job import GoldJob
from txn_runtime.metrics import Metrics
from txn_runtime.streaming import StreamingJob, run_together
from txn_silver.job import SilverJob

from .config import PipelineSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["Pipeline"]

Emit = Callable[[str], None]


class Pipeline:
    """bronze_ingest, silver_refine and gold_signals, each a query of ``spark`` with its own
    checkpoint and FAIR scheduler pool (named after the query), writing the tables the separate
    jobs write. ``alert_schema_id`` is the registry id of the alert contract's latest version
    (gold's preflight gives it)."""

    def __init__(
        self,
        settings: PipelineSettings,
        spark: SparkSession,
        rules: RuleSet,
        detectors: DetectorSet,
        alert_schema_id: int,
        registry: Any | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.jobs: list[StreamingJob] = [
            BronzeJob(settings, spark, registry),
            SilverJob(settings.silver(), spark, rules),
            GoldJob(settings.gold(), spark, detectors, alert_schema_id),
        ]
        for job in self.jobs:
            job.pool = job.query_name
            job.metrics = metrics  # one registry, one port: each figure labelled by layer

    def request_stop(self) -> None:
        """Ask every query to stop after its batch in progress (SIGTERM/SIGINT handler)."""
        for job in self.jobs:
            job.request_stop()

    def run(self, emit: Emit) -> dict[str, dict[str, int]]:
        """Run until stopped (processing-time: every query at once) or drained (available-now:
        one layer after the other, each reading what the one before committed); the totals
        per query."""
        if self.settings.available_now:
            for job in self.jobs:
                if job.stop_requested:
                    break
                try:
                    job.run(lambda message, name=job.query_name: emit(f"{name}: {message}"))
                except TxnError as exc:
                    if job.query_name in str(exc):
                        raise
                    raise job.failed(exc) from exc  # the sentence names the query
        else:
            run_together(self.jobs, emit)
        return {job.query_name: dict(job.totals) for job in self.jobs}
