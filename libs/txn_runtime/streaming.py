"""A Spark streaming query run until it ends or the service is asked to stop, defined once.

Stopping waits for the batch in flight: the query is stopped between triggers, so every batch
is committed whole or redone on restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .shared import StreamSettings

__all__ = ["await_query", "start_stream"]


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
