"""Two-stage shutdown on SIGINT/SIGTERM, defined once for every service.

The first signal asks the service to finish its current unit of work (a batch, a flush) and
stop; the second one does what ``on_second`` says, by default leave at once with exit 130
(the unit in flight is redone on restart: checkpoints and idempotent writes make that safe).

Example::

    with stop_on_signals(lambda sig: job.request_stop(), log=emit):
        job.run()
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .cli import EXIT_INTERRUPTED

__all__ = ["SIGNALS", "exit_now", "stop_after_the_batch", "stop_on_signals"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_now() -> None:
    """Leave immediately with 130, skipping cleanup that could block (Spark, flushes)."""
    os._exit(EXIT_INTERRUPTED)


@contextmanager
def stop_on_signals(
    on_first: Callable[[], None],
    on_second: Callable[[], None] = exit_now,
    *,
    log: Callable[[str], None] | None = None,
    first_message: str = "finishing the current unit of work",
    second_message: str = "second signal: stopping immediately",
) -> Iterator[list[signal.Signals]]:
    """Within the block, the first SIGINT/SIGTERM calls ``on_first``, any later one
    ``on_second``; the previous handlers come back on exit. Yields the signals received.

    Off the main thread (where Python cannot install handlers) it does nothing.
    """
    received: list[signal.Signals] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, _frame) -> None:
        received.append(signal.Signals(signum))
        if len(received) == 1:
            if log:
                log(f"received {signal.Signals(signum).name}; {first_message}")
            on_first()
        else:
            if log:
                log(second_message)
            on_second()

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def stop_after_the_batch(request_stop: Callable[[], None], log: Callable[[str], None]):
    """:func:`stop_on_signals` for a streaming job: the first signal lets the batch in flight
    commit; a second leaves at once, and the uncommitted batch is redone on restart (the
    checkpoint and the outputs' idempotent commits make that safe)."""
    return stop_on_signals(
        request_stop,
        log=log,
        first_message="finishing the current batch",
        second_message="second signal: stopping immediately; the current batch is redone on "
        "restart",
    )
