"""Background service processes tracked by pid files.

A process is ours when its pid file exists *and* its command line carries the marker
``-Dtxn.platform.service=<name>@<state dir>``; a pid file pointing at anything else is stale
and is removed, so a reused pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ManagedProcess", "port_is_free"]


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class ManagedProcess:
    """One service of the platform: its name, state dir, pid file and log file."""

    name: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    @property
    def marker(self) -> str:
        return f"-Dtxn.platform.service={self.name}@{self.state_dir.resolve()}"

    def pid(self) -> int | None:
        """The live pid of our process, or None (removing a stale pid file)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            cmdline, state = [], "X"
        if self.marker.encode() in cmdline and state not in ("Z", "X"):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Start ``argv`` detached (own session, output to the log file) and record its pid.

        ``argv`` must contain :attr:`marker` so the process can be recognised later.
        """
        assert self.marker in argv, "the marker identifies our process later"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
                cwd=self.state_dir,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def exited_early(self) -> bool:
        """True when the process we just started is gone (it crashed at start-up).

        Checks liveness only: right after ``Popen`` the child may not have exec'd java yet, so
        its command line does not carry the marker.
        """
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return True
        return not _alive(pid)

    def _marked_pids(self) -> list[int]:
        """Every live process whose command line carries our marker (pid file or not)."""
        found = []
        marker = self.marker.encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return [p for p in found if _alive(p)]

    def stop(self, timeout: float = 20.0) -> str:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Returns what happened.

        Targets the pid file's process and any other process carrying our marker, so nothing of
        ours survives even when the pid file was lost or written before the child exec'd.
        """
        pids = set(self._marked_pids())
        try:
            recorded = int(self.pid_file.read_text().strip())
            if _alive(recorded):
                pids.add(recorded)
        except (OSError, ValueError):
            pass
        if not pids:
            self.pid_file.unlink(missing_ok=True)
            return "not running"
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(_alive(p) for p in pids):
                self.pid_file.unlink(missing_ok=True)
                return "stopped"
            time.sleep(0.2)
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        for _ in range(50):
            if not any(_alive(p) for p in pids):
                break
            time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return f"killed after {timeout:.0f} s"

    def rss_mb(self) -> float | None:
        """Resident memory of the process in MiB, when running."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


def _signal(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the service leads its own session: take its children too
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":
        # Our own child that exited: reap it so it does not linger as a zombie.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True
