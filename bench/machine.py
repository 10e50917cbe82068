"""What every benchmark prints about the machine it ran on (imported by the bench scripts,
which run as ``python bench/<name>.py`` and so find this module beside them)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["load_average", "machine"]


def machine() -> str:
    """Cores, CPU model, memory, Python and OS, in one line."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )


def load_average() -> str:
    """The 1- and 5-minute load averages: other work on the machine skews every figure."""
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min) / {five:.2f} (5 min)"
