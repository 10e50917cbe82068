"""A Spark streaming query run until it ends or the service is asked to stop, defined once.

Stopping waits for the batch in flight: the query is stopped between triggers, so every batch
is committed whole or redone on restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["await_query"]


def await_query(
    query: Any, stop: threading.Event, emit: Callable[[str], None]
) -> BaseException | None:
    """Wait until ``query`` ends, or ``stop`` is set and no trigger is active (then stop it);
    return the query's failure (a ``StreamingQueryException``), None when it ended cleanly."""
    from pyspark.errors import StreamingQueryException

    try:
        while query.isActive:
            if stop.is_set() and not query.status["isTriggerActive"]:
                emit("stop requested: stopping after the current batch")
                query.stop()
                break
            query.awaitTermination(0.5)
    except StreamingQueryException as exc:
        return exc
    return query.exception()
