"""A Spark standalone master and one worker, on loopback, from the installed pyspark.

pyspark's wheel is a complete Spark distribution for this purpose: its ``jars/`` hold the
launcher classes of the master (``org.apache.spark.deploy.master.Master``) and the worker
(``org.apache.spark.deploy.worker.Worker``), and the worker starts executors through the same
``SPARK_HOME``. Nothing is downloaded. Applications bring their own jars (``spark.jars``), which
executors fetch from the driver over loopback.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from .java import find_java
from .processes import ManagedProcess
from .service import Log, Service
from .settings import PlatformSettings

__all__ = ["SparkMasterService", "SparkWorkerService", "master_state", "spark_home"]


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


class _SparkDaemon(Service):
    """A standalone daemon of the installed Spark: the JVM of launcher class ``main`` with 512
    MiB of heap, ready when ``ready`` says so."""

    main: ClassVar[str]
    what: ClassVar[str]  # how errors name it: "The Spark master"

    def _args(self) -> list[str]:
        """The launcher's arguments."""
        raise NotImplementedError

    def ready(self) -> bool:
        """True once the daemon does its job: the master serves, the worker is registered."""
        raise NotImplementedError

    def _launch(self, log: Log) -> float:
        self.proc.start(_java_argv(self.proc, 512, self.main, self._args()), _env(self.s))
        return self._wait_ready(self.what, self.ready, 90, "was not ready")


class SparkMasterService(_SparkDaemon):
    """The standalone master: ``spark://HOST:PORT``, its web UI and JSON API on another port."""

    name = "spark-master"
    ports = ("spark_master_port", "spark_master_webui_port")
    main = "org.apache.spark.deploy.master.Master"
    what = "The Spark master"

    def state(self) -> dict[str, Any] | None:
        return master_state(self.s.spark_master_webui_url)

    def serving(self) -> bool:
        st = self.state()
        return bool(st) and st.get("status") == "ALIVE"

    ready = serving

    def _args(self) -> list[str]:
        s = self.s
        return [
            *("--host", s.host, "--port", str(s.spark_master_port)),
            *("--webui-port", str(s.spark_master_webui_port)),
        ]


class SparkWorkerService(_SparkDaemon):
    """One worker offering ``spark_worker_cores`` cores and ``spark_worker_memory`` to apps.

    Executors are the worker's child processes, in its process group, so stopping the worker
    stops them too.
    """

    name = "spark-worker"
    ports = ("spark_worker_webui_port",)
    main = "org.apache.spark.deploy.worker.Worker"
    what = "The Spark worker"

    def __init__(self, settings: PlatformSettings) -> None:
        super().__init__(settings)
        self.work_dir = settings.state_dir / "spark" / "work"

    def registered(self) -> bool:
        """True when the master lists this worker as ALIVE."""
        st = master_state(self.s.spark_master_webui_url) or {}
        port = str(self.s.spark_worker_webui_port)
        return any(
            w.get("state") == "ALIVE" and str(w.get("webuiaddress", "")).endswith(f":{port}")
            for w in st.get("workers", [])
        )

    ready = registered

    def _args(self) -> list[str]:
        s = self.s
        return [
            *("--host", s.host, "--webui-port", str(s.spark_worker_webui_port)),
            *("--cores", str(s.spark_worker_cores), "--memory", s.spark_worker_memory),
            *("--work-dir", str(self.work_dir), s.spark_master_url),
        ]

    def _launch(self, log: Log) -> float:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return super()._launch(log)
