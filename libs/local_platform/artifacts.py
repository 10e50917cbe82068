"""Fetch and cache the real Kafka broker and schema registry of the local platform.

Both come from Maven Central through Maven (:mod:`txn_runtime.maven`), into ``~/.m2`` and a
cache directory outside the clone, so later runs and CI re-runs do not download again. The jars
of the Spark jobs are :mod:`txn_runtime.jars`' business, not the launcher's.
"""

from __future__ import annotations

import shutil
import tarfile
from importlib import resources
from pathlib import Path

from txn_runtime.errors import PlatformError
from txn_runtime.maven import DEPENDENCY_PLUGIN, cache_dir, copy_dependencies, mvn

__all__ = [
    "APICURIO_VERSION",
    "KAFKA_VERSION",
    "cache_dir",
    "ensure_kafka",
    "ensure_registry",
]

KAFKA_VERSION = "4.1.1"
APICURIO_VERSION = "3.3.3"


def ensure_kafka(log=None) -> Path:
    """Return a directory of jars that runs ``kafka.Kafka`` (fetched on first use)."""
    return copy_dependencies(
        str(resources.files("local_platform") / "maven" / "kafka-pom.xml"),
        cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs",
        f"Kafka {KAFKA_VERSION}",
        log,
    )


def ensure_registry(log=None) -> Path:
    """Return the unpacked Apicurio Registry directory holding ``quarkus-run.jar``."""
    home = cache_dir() / f"apicurio-registry-{APICURIO_VERSION}"
    if (home / ".complete").exists():
        return home
    download = cache_dir() / "downloads"
    download.mkdir(parents=True, exist_ok=True)
    archive = download / f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
    if not archive.exists():
        mvn(
            [
                f"{DEPENDENCY_PLUGIN}:copy",
                f"-Dartifact=io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all",
                f"-DoutputDirectory={download}",
            ],
            f"Apicurio Registry {APICURIO_VERSION}",
            log,
        )
    tmp = home.with_name(home.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
    except (OSError, tarfile.TarError) as exc:
        archive.unlink(missing_ok=True)
        raise PlatformError(
            f"The Apicurio archive {archive} is damaged ({exc}); run again."
        ) from exc
    if not (tmp / "quarkus-run.jar").exists():
        raise PlatformError(f"{archive} does not contain quarkus-run.jar at its root.")
    shutil.rmtree(home, ignore_errors=True)
    tmp.rename(home)
    (home / ".complete").touch()
    return home
