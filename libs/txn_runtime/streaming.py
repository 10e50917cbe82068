"""A Spark streaming query run until it ends or the service is asked to stop, defined once.

Stopping waits for the batch in flight: the query is stopped between triggers, so every batch
is committed whole or redone on restart. :class:`StreamingJob` is the skeleton every streaming
job shares: the stop flag, the capture of the job's own error from inside a batch, starting
and awaiting the query, and the running totals.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from txn_contract.errors import TxnError

from .metrics import BatchFigures, Metrics
from .shared import StreamSettings

__all__ = ["StreamingJob", "await_query", "run_together", "start_stream"]


class StreamingJob:
    """What every streaming job repeats; a job defines :meth:`process_batch` and :meth:`begin`.

    ``query_name`` names the Spark query; ``label`` names the layer in the sentence a failure
    becomes. ``totals`` counts what the job's batches did (``batches`` and the job's own keys).
    A job runs alone (:meth:`run`, :meth:`serve`) or with others in one application
    (:func:`run_together`).

    Example::

        class Echo(StreamingJob):
            def process_batch(self, df, batch_id):
                self.totals["rows"] += df.count()

            def begin(self, emit):
                return self.start(frame, checkpoint, settings)

        totals = Echo("echo", "echo", totals=("rows",)).run(print)
    """

    def __init__(self, query_name: str, label: str, totals: tuple[str, ...] = ()) -> None:
        self.query_name = query_name
        self.label = label
        self.failure: BaseException | None = None
        self.totals: Counter[str] = Counter(dict.fromkeys(("batches", *totals), 0))
        self.pool: str | None = None
        """The FAIR scheduler pool the query's jobs run in (None: the default pool)."""
        self.metrics: Metrics | None = None
        """Where :meth:`record` counts the committed batches (None: no metrics served)."""
        self.emit: Callable[[str], None] = print
        """Where the job's batch lines go: what :meth:`prepare_once` was given."""
        self._prepared = False
        self._stop = threading.Event()

    def process_batch(self, df: Any, batch_id: int) -> None:
        """One micro-batch (``foreachBatch``); raise a :class:`TxnError` to stop the job."""
        raise NotImplementedError

    def begin(self, emit: Callable[[str], None]) -> Any:
        """Start the job's query (preparing its tables the first time); the query."""
        raise NotImplementedError

    def restart_after(self, error: BaseException, emit: Callable[[str], None]) -> bool:
        """True when the query ended on ``error`` only to be started again (ready for it)."""
        return False

    def run(self, emit: Callable[[str], None]) -> dict[str, int]:
        """Run until stopped (processing-time) or drained (available-now); the totals."""
        try:
            query = self.begin(emit)
            while True:
                error = self.wait(query, emit)
                if error is None:
                    return dict(self.totals)
                if not self.restart_after(error, emit):
                    raise self.failed(error) from error
                query = self.begin(emit)
        finally:
            self.close()

    def close(self) -> None:
        """Release what the job holds beyond its query (clients), once it has ended (nothing by
        default)."""

    def prepare(self, emit: Callable[[str], None]) -> None:
        """Create or bring up to date what the job writes, before its first query (nothing by
        default)."""

    def prepare_once(self, emit: Callable[[str], None]) -> None:
        """:meth:`prepare` on the first call only (a restarted query needs none), and keep
        ``emit`` for the batch lines."""
        if not self._prepared:
            self.emit = emit
            self.prepare(emit)
            self._prepared = True

    def record(self, figures: BatchFigures) -> None:
        """Count a committed batch in the metrics, when served (``--metrics-port``)."""
        if self.metrics is not None:
            self.metrics.record(figures)

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Ask the job to stop after the batch in progress (SIGTERM/SIGINT handler)."""
        self._stop.set()

    def serve(
        self, emit: Callable[[str], None], describe: Callable[[dict[str, int]], str]
    ) -> dict[str, int]:
        """:meth:`run` with SIGTERM/Ctrl-C stopping after the batch (a second signal exits at
        once), then one line: the batches and ``describe(totals)``."""
        from .signals import stop_after_the_batch

        with stop_after_the_batch(self.request_stop, emit):
            totals = self.run(emit)
        emit(f"stopped after {totals['batches']} batch(es): {describe(totals)}")
        return totals

    def _batch(self, df: Any, batch_id: int) -> None:
        try:
            self.process_batch(df, batch_id)
        except TxnError as exc:
            # Spark wraps it; await_query raises it again in place of the wrapping.
            self.failure = exc
            raise

    def start(self, frame: Any, checkpoint: Path, stream: StreamSettings):
        """Start the query over ``frame`` (see :func:`start_stream`), in :attr:`pool`."""
        if self.pool is None:
            return start_stream(frame, self.query_name, self._batch, checkpoint, stream)
        # A local property of the starting thread, which the query's own thread inherits.
        context = frame.sparkSession.sparkContext
        context.setLocalProperty("spark.scheduler.pool", self.pool)
        try:
            return start_stream(frame, self.query_name, self._batch, checkpoint, stream)
        finally:
            context.setLocalProperty("spark.scheduler.pool", None)

    def wait(self, query: Any, emit: Callable[[str], None]) -> BaseException | None:
        """Wait for ``query`` (see :func:`await_query`); the job's own error is raised."""
        return await_query(query, self._stop, emit, lambda: self.failure)

    def failed(self, error: BaseException) -> TxnError:
        """The one sentence a failed query becomes (the checkpoint is intact)."""
        text = str(error).strip()
        first = text.splitlines()[0] if text else "no detail"
        return TxnError(
            f"The {self.label} query ({self.query_name}) failed: {first} The checkpoint is "
            "intact: fix the cause and start the job again to resume."
        )


def run_together(jobs: list[StreamingJob], emit: Callable[[str], None]) -> None:
    """Run every job's query in this application until all have ended: drained (available-now),
    stopped (after a stop request, each between its triggers) or failed. A failure stops the
    other queries and is raised as one sentence naming the failed query. Each job's lines are
    emitted with its query's name in front."""
    try:
        _run_together(jobs, emit)
    finally:
        for job in jobs:
            job.close()


def _run_together(jobs: list[StreamingJob], emit: Callable[[str], None]) -> None:
    emits = {job.query_name: _named(emit, job.query_name) for job in jobs}
    running = {job.query_name: (job, job.begin(emits[job.query_name])) for job in jobs}
    while running:
        for name, (job, query) in list(running.items()):
            if job.stop_requested and query.isActive and not query.status["isTriggerActive"]:
                emits[name]("stop requested: stopping after the current batch")
                query.stop()
            if query.isActive:
                continue
            del running[name]
            error = _ended_with(query)
            if error is None:
                continue
            if not job.stop_requested and job.restart_after(error, emits[name]):
                running[name] = (job, job.begin(emits[name]))
                continue
            for _other, other in running.values():
                other.stop()
            cause = job.failure or error
            raise job.failed(cause) from cause
        if running:
            time.sleep(0.5)


def _named(emit: Callable[[str], None], name: str) -> Callable[[str], None]:
    return lambda message: emit(f"{name}: {message}")


def _ended_with(query: Any) -> BaseException | None:
    from pyspark.errors import StreamingQueryException

    try:
        return query.exception()
    except StreamingQueryException as exc:
        return exc


def await_query(
    query: Any,
    stop: threading.Event,
    emit: Callable[[str], None],
    failure: Callable[[], BaseException | None] = lambda: None,
) -> BaseException | None:
    """Wait until ``query`` ends, or ``stop`` is set and no trigger is active (then stop it);
    return the query's failure (a ``StreamingQueryException``), None when it ended cleanly.

    ``failure`` gives the service's own error from inside a batch, if any: it is raised in
    place of Spark's wrapping of it.
    """
    from pyspark.errors import StreamingQueryException

    try:
        while query.isActive:
            if stop.is_set() and not query.status["isTriggerActive"]:
                emit("stop requested: stopping after the current batch")
                query.stop()
                break
            query.awaitTermination(0.5)
        error = query.exception()
    except StreamingQueryException as exc:
        error = exc
    except Exception as exc:
        if failure() is not None:
            raise failure() from exc
        raise
    if error is not None and failure() is not None:
        raise failure() from error
    return error


def start_stream(
    frame: Any,
    name: str,
    process_batch: Callable[[Any, int], None],
    checkpoint: Path,
    stream: StreamSettings,
):
    """Start ``frame``'s micro-batches through ``process_batch`` under ``checkpoint``: on the
    settings' processing-time trigger, or once over what the source holds (available-now)."""
    writer = (
        frame.writeStream.queryName(name)
        .foreachBatch(process_batch)
        .option("checkpointLocation", str(checkpoint))
    )
    if stream.available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{stream.trigger_seconds} seconds")
    return writer.start()
