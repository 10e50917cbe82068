"""Durations as operators write them: ``500ms``, ``10s``, ``2 minutes``, ``1h``."""

from __future__ import annotations

import re

from txn_contract.errors import ConfigError

__all__ = ["parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?|m|min|minutes?|h|hours?)\s*$")
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
}


def parse_duration(name: str, text: str) -> float:
    """``"10s"`` -> 10.0, ``"500ms"`` -> 0.5, ``"2 minutes"`` -> 120.0."""
    m = _DURATION.match(text or "")
    if not m:
        raise ConfigError(name, f"{text!r} is not a duration such as 500ms, 10s, 1m or 1h")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
