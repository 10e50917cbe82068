"""The jars a Spark job of this project needs beyond the pyspark wheel, at pinned versions.

- Spark's own Kafka source and Avro functions, at :data:`SPARK_VERSION` (= pyspark's).
- Delta Lake (``delta-spark`` and ``delta-storage``) at :data:`DELTA_VERSION`, without its
  transitive dependencies (older than Spark's own).

Locally they come from the Maven cache (:mod:`txn_runtime.maven`). Under ``spark-submit`` the
same list is passed with ``--jars`` (see ``docs/deploy.md``), so executors get them from the
driver and nothing is resolved on the cluster.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import PlatformError
from .maven import Log, cache_dir, copy_dependencies, maven_file

__all__ = [
    "DELTA_COORDINATES",
    "DELTA_VERSION",
    "SPARK_CONNECTOR_COORDINATES",
    "SPARK_VERSION",
    "delta_jars",
    "prune_shipped",
    "spark_connector_jars",
    "spark_jars",
]

# Must equal the pinned pyspark version; the Spark connectors are resolved at this version.
SPARK_VERSION = "4.2.0"
# delta-spark 4.4.0 is the newest whose jar Maven Central has (4.4.1 is on PyPI only) and the
# newest that runs on pyspark 4.2.0; the pip package pins the same version.
DELTA_VERSION = "4.4.0"
SPARK_CONNECTOR_COORDINATES = (
    f"org.apache.spark:spark-sql-kafka-0-10_2.13:{SPARK_VERSION}",
    f"org.apache.spark:spark-avro_2.13:{SPARK_VERSION}",
)
DELTA_COORDINATES = (
    f"io.delta:delta-spark_4.2_2.13:{DELTA_VERSION}",
    f"io.delta:delta-storage:{DELTA_VERSION}",
)


def _check_pyspark() -> Path:
    import pyspark  # only callers that start Spark get here

    if pyspark.__version__ != SPARK_VERSION:
        raise PlatformError(
            f"pyspark {pyspark.__version__} is installed but the Spark jars are pinned to "
            f"{SPARK_VERSION}; reinstall the project (`make setup`)."
        )
    return Path(pyspark.__file__).parent / "jars"


def spark_connector_jars(log: Log = None) -> list[Path]:
    """Jars of ``spark-sql-kafka-0-10`` and ``spark-avro`` that pyspark does not already ship."""
    shipped_dir = _check_pyspark()
    libs = copy_dependencies(
        maven_file("spark-connectors-pom.xml"),
        cache_dir() / f"spark-connectors-{SPARK_VERSION}" / "jars",
        f"Spark {SPARK_VERSION} Kafka and Avro connectors",
        log,
    )
    shipped = {_artifact_name(p.name) for p in shipped_dir.glob("*.jar")}
    return sorted(p for p in libs.glob("*.jar") if _artifact_name(p.name) not in shipped)


def delta_jars(log: Log = None) -> list[Path]:
    """``delta-spark_4.2_2.13`` and ``delta-storage`` at :data:`DELTA_VERSION`."""
    _check_pyspark()
    libs = copy_dependencies(
        maven_file("delta-pom.xml"),
        cache_dir() / f"delta-{DELTA_VERSION}" / "jars",
        f"Delta Lake {DELTA_VERSION}",
        log,
        transitive=False,
    )
    return sorted(libs.glob("*.jar"))


def spark_jars(log: Log = None) -> list[Path]:
    """Every jar a job needs on ``spark.jars``: the connectors, then Delta.

    ``$TXN_JARS_DIR`` names a directory that already holds them (the ``spark`` image bakes them
    into ``/opt/txn/jars``): its jars are used as they are, and Maven is not needed.
    """
    baked = os.environ.get("TXN_JARS_DIR")
    if baked:
        jars = sorted(Path(baked).glob("*.jar"))
        if not jars:
            raise PlatformError(
                f"TXN_JARS_DIR={baked} holds no jar; unset it to fetch through Maven."
            )
        return jars
    return [*spark_connector_jars(log), *delta_jars(log)]


def prune_shipped(jars: Path, spark_jars_dir: Path) -> list[Path]:
    """Delete from ``jars`` every jar whose artifact Spark's own ``jars/`` already has (at
    Spark's version, which must win); returns what was deleted. Used to build the image."""
    shipped = {_artifact_name(p.name) for p in spark_jars_dir.glob("*.jar")}
    gone = [p for p in jars.glob("*.jar") if _artifact_name(p.name) in shipped]
    for p in gone:
        p.unlink()
    return gone


def _artifact_name(jar: str) -> str:
    """``kafka-clients-3.9.1.jar`` -> ``kafka-clients`` (drop the version)."""
    parts = jar.removesuffix(".jar").split("-")
    while parts and parts[-1][:1].isdigit():
        parts.pop()
    return "-".join(parts)
