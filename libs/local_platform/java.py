"""Find a Java runtime new enough for a service.

Kafka 4.x runs on Java 17; Apicurio Registry 3.2+ needs Java 21. Machines often carry several
JDKs (``/usr/lib/jvm``), so we look beyond the ``java`` on ``PATH``.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from txn_runtime.errors import PlatformError

__all__ = ["JavaRuntime", "find_java"]

_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class JavaRuntime:
    """A ``java`` executable and its major version."""

    path: str
    major: int


def _major_of(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_RE.search(out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


def _candidates() -> list[str]:
    found: list[str] = []
    for var in ("TXN_JAVA_HOME", "JAVA_HOME"):
        home = os.environ.get(var)
        if home:
            found.append(str(Path(home) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        found.append(on_path)
    found.extend(sorted(glob.glob("/usr/lib/jvm/*/bin/java"), reverse=True))
    seen: set[str] = set()
    unique = []
    for c in found:
        real = os.path.realpath(c)
        if real not in seen and os.access(real, os.X_OK):
            seen.add(real)
            unique.append(c)
    return unique


def find_java(min_major: int, *, purpose: str) -> JavaRuntime:
    """Return the first Java runtime with at least ``min_major``.

    ``TXN_JAVA_HOME`` and ``JAVA_HOME`` win when they qualify; otherwise the newest JDK under
    ``/usr/lib/jvm`` that qualifies. Raises :class:`PlatformError` naming what was found.
    """
    seen: list[str] = []
    for candidate in _candidates():
        major = _major_of(candidate)
        if major is None:
            continue
        seen.append(f"{candidate} ({major})")
        if major >= min_major:
            return JavaRuntime(candidate, major)
    found = ", ".join(seen) if seen else "no java at all"
    raise PlatformError(
        f"{purpose} needs Java {min_major} or newer, but found {found}; install a JDK "
        f"{min_major}+ (for example `apt-get install openjdk-{max(min_major, 17)}-jdk-headless`) "
        "or point TXN_JAVA_HOME at one."
    )
