"""Fetch artifacts from Maven Central through Maven, into a cache outside the clone.

Everything goes to ``~/.m2`` and a cache directory (``$TXN_CACHE_DIR``, default
``$XDG_CACHE_HOME/txn-pipeline`` or ``~/.cache/txn-pipeline``), so later runs and CI re-runs do
not download again. Maven, not Ivy: Spark's ``spark.jars.packages`` fails here on poms whose
jars are missing from ``~/.m2``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from .errors import PlatformError

__all__ = ["DEPENDENCY_PLUGIN", "cache_dir", "copy_dependencies", "maven_file", "mvn"]

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

Log = Callable[[str], None] | None


def cache_dir() -> Path:
    """Where fetched runtimes live: ``$TXN_CACHE_DIR`` or the XDG cache."""
    explicit = os.environ.get("TXN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "txn-pipeline"


def maven_file(name: str) -> str:
    """Path of one of the packaged poms or settings files."""
    return str(resources.files("txn_runtime") / "maven" / name)


def mvn(args: list[str], what: str, log: Log = None) -> None:
    """Run Maven with every repository mirrored to Maven Central; one sentence on failure."""
    exe = shutil.which("mvn")
    if exe is None:
        raise PlatformError(
            f"Maven (`mvn`) is needed to fetch {what} from Maven Central but is not on PATH; "
            "install it (for example `apt-get install maven`)."
        )
    cmd = [exe, "-B", "-q", "-s", maven_file("mirror-settings.xml"), *args]
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


def copy_dependencies(
    pom: str, target: Path, what: str, log: Log = None, *, transitive: bool = True
) -> Path:
    """Resolve the runtime dependencies of the pom file ``pom`` into ``target`` once; later calls return at once.

    ``transitive=False`` copies only the artifacts the pom lists (for Delta, whose transitive
    jars are older than Spark's own).
    """
    marker = target / ".complete"
    if marker.exists():
        return target
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    args = [
        "-f",
        pom,
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={tmp}",
    ]
    if not transitive:
        args.append("-DexcludeTransitive=true")
    mvn(args, what, log)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    marker.touch()
    return target
