"""A Spark standalone master and one worker, on loopback, from the installed pyspark.

pyspark's wheel is a complete Spark distribution for this purpose: its ``jars/`` hold the
launcher classes of the master (``org.apache.spark.deploy.master.Master``) and the worker
(``org.apache.spark.deploy.worker.Worker``), and the worker starts executors through the same
``SPARK_HOME``. Nothing is downloaded. Applications bring their own jars (``spark.jars``), which
executors fetch from the driver over loopback.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from txn_contract.errors import PlatformError

from .java import find_java
from .processes import ManagedProcess, port_is_free
from .settings import PlatformSettings

__all__ = ["SparkMasterService", "SparkWorkerService", "master_state", "spark_home"]

Log = Callable[[str], None]


def spark_home() -> Path:
    """The installed pyspark package: ``jars/`` and ``bin/`` of the pinned Spark."""
    import pyspark

    return Path(pyspark.__file__).parent


def master_state(webui_url: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """The master's ``/json/`` document (status, workers, applications), or None if down."""
    try:
        with urllib.request.urlopen(f"{webui_url}/json/", timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _java_argv(proc: ManagedProcess, heap_mb: int, main: str, args: list[str]) -> list[str]:
    home = spark_home()
    java = find_java(17, purpose="Spark")
    return [
        java.path,
        f"-Xmx{heap_mb}m",
        "-Djava.awt.headless=true",
        proc.marker,
        "-cp",
        f"{home / 'conf'}:{home / 'jars'}/*",
        main,
        *args,
    ]


def _env(settings: PlatformSettings) -> dict[str, str]:
    return {
        "SPARK_HOME": str(spark_home()),
        # Spark's launcher builds the executors' command from SPARK_HOME/jars, but asks for the
        # Scala version first; a distribution's load-spark-env.sh sets it, a pip install not.
        "SPARK_SCALA_VERSION": "2.13",
        # Executors and drivers bind to loopback too, whatever the host's name resolves to.
        "SPARK_LOCAL_IP": settings.host,
        "SPARK_LOCAL_HOSTNAME": settings.host,
    }


def _wait(what: str, ready: Callable[[], bool], proc: ManagedProcess, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.exited_early():
            raise PlatformError(f"{what} exited during start-up; see the end of {proc.log_file}.")
        if ready():
            return time.monotonic() - started
        time.sleep(0.3)
    raise PlatformError(f"{what} was not ready within {timeout:.0f} s; see {proc.log_file}.")


def _check_port(host: str, port: int, flag: str, env: str) -> None:
    if not port_is_free(host, port):
        raise PlatformError(
            f"Port {port} on {host} is already in use by another process; stop it or choose "
            f"another port with {flag} (or {env})."
        )


class SparkMasterService:
    """The standalone master: ``spark://HOST:PORT``, its web UI and JSON API on another port."""

    def __init__(self, settings: PlatformSettings) -> None:
        self.s = settings
        self.proc = ManagedProcess("spark-master", settings.state_dir)

    def running(self) -> bool:
        return self.proc.pid() is not None

    def state(self) -> dict[str, Any] | None:
        return master_state(self.s.spark_master_webui_url)

    def serving(self) -> bool:
        st = self.state()
        return bool(st) and st.get("status") == "ALIVE"

    def start(self, log: Log) -> float:
        if self.running():
            log(f"spark-master: already running (pid {self.proc.pid()})")
            return 0.0
        s = self.s
        _check_port(s.host, s.spark_master_port, "--spark-master-port", "TXN_SPARK_MASTER_PORT")
        _check_port(
            s.host,
            s.spark_master_webui_port,
            "--spark-master-webui-port",
            "TXN_SPARK_MASTER_WEBUI_PORT",
        )
        argv = _java_argv(
            self.proc,
            512,
            "org.apache.spark.deploy.master.Master",
            [
                *("--host", s.host, "--port", str(s.spark_master_port)),
                *("--webui-port", str(s.spark_master_webui_port)),
            ],
        )
        self.proc.start(argv, _env(s))
        return _wait("The Spark master", self.serving, self.proc, timeout=90)

    def stop(self) -> str:
        return self.proc.stop(timeout=30)


class SparkWorkerService:
    """One worker offering ``spark_worker_cores`` cores and ``spark_worker_memory`` to apps.

    Executors are the worker's child processes, in its process group, so stopping the worker
    stops them too.
    """

    def __init__(self, settings: PlatformSettings) -> None:
        self.s = settings
        self.proc = ManagedProcess("spark-worker", settings.state_dir)
        self.work_dir = settings.state_dir / "spark" / "work"

    def running(self) -> bool:
        return self.proc.pid() is not None

    def registered(self) -> bool:
        """True when the master lists this worker as ALIVE."""
        st = master_state(self.s.spark_master_webui_url) or {}
        port = str(self.s.spark_worker_webui_port)
        return any(
            w.get("state") == "ALIVE" and str(w.get("webuiaddress", "")).endswith(f":{port}")
            for w in st.get("workers", [])
        )

    def start(self, log: Log) -> float:
        if self.running():
            log(f"spark-worker: already running (pid {self.proc.pid()})")
            return 0.0
        s = self.s
        _check_port(
            s.host,
            s.spark_worker_webui_port,
            "--spark-worker-webui-port",
            "TXN_SPARK_WORKER_WEBUI_PORT",
        )
        self.work_dir.mkdir(parents=True, exist_ok=True)
        argv = _java_argv(
            self.proc,
            512,
            "org.apache.spark.deploy.worker.Worker",
            [
                *("--host", s.host, "--webui-port", str(s.spark_worker_webui_port)),
                *("--cores", str(s.spark_worker_cores), "--memory", s.spark_worker_memory),
                *("--work-dir", str(self.work_dir), s.spark_master_url),
            ],
        )
        self.proc.start(argv, _env(s))
        return _wait("The Spark worker", self.registered, self.proc, timeout=90)

    def stop(self) -> str:
        return self.proc.stop(timeout=30)
