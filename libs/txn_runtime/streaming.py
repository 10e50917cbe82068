"""A Spark streaming query run until it ends or the service is asked to stop, defined once.

Stopping waits for the batch in flight: the query is stopped between triggers, so every batch
is committed whole or redone on restart. :class:`StreamingJob` is the skeleton every streaming
job shares: the stop flag, the capture of the job's own error from inside a batch, starting
and awaiting the query, and the running totals.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from txn_contract.errors import TxnError

from .shared import StreamSettings

__all__ = ["StreamingJob", "await_query", "start_stream"]


class StreamingJob:
    """What every streaming job repeats; a job defines :meth:`process_batch`.

    ``query_name`` names the Spark query; ``label`` names the query in the sentence a failure
    becomes. ``totals`` counts what the job's batches did (``batches`` and the job's own keys).

    Example::

        class Echo(StreamingJob):
            def process_batch(self, df, batch_id):
                self.totals["rows"] += df.count()

        job = Echo("echo", "echo")
        error = job.wait(job.start(frame, checkpoint, settings), print)
    """

    def __init__(self, query_name: str, label: str, totals: tuple[str, ...] = ()) -> None:
        self.query_name = query_name
        self.label = label
        self.failure: BaseException | None = None
        self.totals: Counter[str] = Counter(dict.fromkeys(("batches", *totals), 0))
        self._stop = threading.Event()

    def process_batch(self, df: Any, batch_id: int) -> None:
        """One micro-batch (``foreachBatch``); raise a :class:`TxnError` to stop the job."""
        raise NotImplementedError

    def run(self, emit: Callable[[str], None]) -> dict[str, int]:
        """Run until stopped (processing-time) or drained (available-now); the totals."""
        raise NotImplementedError

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
        """Start the query over ``frame`` (see :func:`start_stream`)."""
        return start_stream(frame, self.query_name, self._batch, checkpoint, stream)

    def wait(self, query: Any, emit: Callable[[str], None]) -> BaseException | None:
        """Wait for ``query`` (see :func:`await_query`); the job's own error is raised."""
        return await_query(query, self._stop, emit, lambda: self.failure)

    def failed(self, error: BaseException) -> TxnError:
        """The one sentence a failed query becomes (the checkpoint is intact)."""
        text = str(error).strip()
        first = text.splitlines()[0] if text else "no detail"
        return TxnError(
            f"The {self.label} query failed: {first} The checkpoint is intact: fix the cause "
            "and start the job again to resume."
        )


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
