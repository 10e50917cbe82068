"""What every service of the platform shares: one managed process, started once, on free ports.

The broker, the registry and Spark's master and worker differ only in how they launch and how
they tell that they are ready; :class:`Service` holds the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from txn_runtime.errors import PlatformError
from txn_runtime.settings import env_of, flag_of

from .processes import ManagedProcess, port_is_free
from .settings import PlatformSettings

__all__ = ["Log", "Service"]

Log = Callable[[str], None]


class Service:
    """A service run as the :class:`ManagedProcess` ``name`` under the settings' state dir.

    A subclass names itself, lists the settings fields of the ports it listens on and launches
    itself in ``_launch``; :meth:`start` first leaves a running service alone and refuses a taken
    port with the flag and variable that choose it.
    """

    name: ClassVar[str]
    ports: ClassVar[tuple[str, ...]]  # fields of PlatformSettings, e.g. "kafka_port"

    def __init__(self, settings: PlatformSettings) -> None:
        self.s = settings
        self.proc = ManagedProcess(self.name, settings.state_dir)

    def running(self) -> bool:
        return self.proc.pid() is not None

    def start(self, log: Log) -> float:
        """Start the service unless it runs; return the seconds it took to be ready (0.0 if it
        was running already)."""
        if self.running():
            log(f"{self.name}: already running (pid {self.proc.pid()})")
            return 0.0
        self.check_ports()
        return self._launch(log)

    def stop(self) -> str:
        return self.proc.stop(timeout=30)

    def _launch(self, log: Log) -> float:
        """Start the process (its ports are free) and wait until it is ready."""
        raise NotImplementedError

    def check_ports(self) -> None:
        """Refuse a port of ours that another process holds, naming the flag that moves it."""
        for name in self.ports:
            self._check_port(name, getattr(self.s, name))

    def _check_port(self, name: str, port: int) -> None:
        if not port_is_free(self.s.host, port):
            field = PlatformSettings.model_fields[name]
            raise PlatformError(
                f"Port {port} on {self.s.host} is already in use by another process; stop it or "
                f"choose another port with {flag_of(field)} (or {env_of(field)})."
            )

    def _wait_ready(
        self, what: str, ready: Callable[[], bool], timeout: float, not_ready: str
    ) -> float:
        """Poll ``ready`` until it holds; the seconds that took. A process that exits first, or
        ``timeout`` seconds gone, is a :class:`PlatformError`: "``what`` ``not_ready`` within"."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.exited_early():
                raise PlatformError(
                    f"{what} exited during start-up; see the end of {self.proc.log_file}."
                )
            if ready():
                return time.monotonic() - started
            time.sleep(0.3)
        raise PlatformError(f"{what} {not_ready} within {timeout:.0f} s; see {self.proc.log_file}.")
