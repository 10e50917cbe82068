"""Fetch and cache the real Kafka broker, schema registry and Spark connector jars.

Everything comes from Maven Central through Maven, into ``~/.m2`` and a cache directory
outside the clone (``$TXN_CACHE_DIR``, default ``$XDG_CACHE_HOME/txn-pipeline`` or
``~/.cache/txn-pipeline``), so later runs and CI re-runs do not download again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from importlib import resources
from pathlib import Path

from txn_contract.errors import PlatformError

__all__ = [
    "APICURIO_VERSION",
    "KAFKA_VERSION",
    "SPARK_VERSION",
    "cache_dir",
    "ensure_kafka",
    "ensure_registry",
    "ensure_spark_connectors",
]

KAFKA_VERSION = "4.1.1"
APICURIO_VERSION = "3.3.3"
# Must equal the pinned pyspark version; the Spark connectors are resolved at this version.
SPARK_VERSION = "4.2.0"

_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def cache_dir() -> Path:
    """Where fetched runtimes live: ``$TXN_CACHE_DIR`` or the XDG cache."""
    explicit = os.environ.get("TXN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "txn-pipeline"


def _maven_file(name: str) -> str:
    return str(resources.files("local_platform") / "maven" / name)


def _mvn(args: list[str], what: str, log=None) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PlatformError(
            f"Maven (`mvn`) is needed to fetch {what} from Maven Central but is not on PATH; "
            "install it (for example `apt-get install maven`)."
        )
    cmd = [mvn, "-B", "-q", "-s", _maven_file("mirror-settings.xml"), *args]
    started = time.monotonic()
    if log:
        log(f"fetching {what} from Maven Central (first use only)...")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln]
        first = errors[0].replace("[ERROR]", "").strip() if errors else "no error output"
        raise PlatformError(f"Could not fetch {what} from Maven Central: {first}")
    if log:
        log(f"fetched {what} in {time.monotonic() - started:.1f} s")


def _copy_dependencies(pom: str, target: Path, what: str, log=None) -> Path:
    marker = target / ".complete"
    if marker.exists():
        return target
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    _mvn(
        [
            "-f",
            _maven_file(pom),
            f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ],
        what,
        log,
    )
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    marker.touch()
    return target


def ensure_kafka(log=None) -> Path:
    """Return a directory of jars that runs ``kafka.Kafka`` (fetched on first use)."""
    return _copy_dependencies(
        "kafka-pom.xml",
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
        _mvn(
            [
                f"{_DEPENDENCY_PLUGIN}:copy",
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


def ensure_spark_connectors(log=None) -> list[Path]:
    """Jars of ``spark-sql-kafka-0-10`` and ``spark-avro`` that pyspark does not already ship.

    Resolved at :data:`SPARK_VERSION`, which must equal the installed pyspark version.
    """
    import pyspark  # heavy-ish; only callers that start Spark get here

    if pyspark.__version__ != SPARK_VERSION:
        raise PlatformError(
            f"pyspark {pyspark.__version__} is installed but the Spark connectors are pinned to "
            f"{SPARK_VERSION}; reinstall the project (`make setup`)."
        )
    libs = _copy_dependencies(
        "spark-connectors-pom.xml",
        cache_dir() / f"spark-connectors-{SPARK_VERSION}" / "jars",
        f"Spark {SPARK_VERSION} Kafka and Avro connectors",
        log,
    )
    shipped = {
        _artifact_name(p.name) for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")
    }
    return sorted(p for p in libs.glob("*.jar") if _artifact_name(p.name) not in shipped)


def _artifact_name(jar: str) -> str:
    """``kafka-clients-3.9.1.jar`` -> ``kafka-clients`` (drop the version)."""
    parts = jar.removesuffix(".jar").split("-")
    while parts and parts[-1][:1].isdigit():
        parts.pop()
    return "-".join(parts)
