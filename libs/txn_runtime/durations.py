"""Durations as operators write them: ``500ms``, ``10s``, ``2 minutes``, ``1h``."""

from __future__ import annotations

import re

from txn_contract.errors import ConfigError

__all__ = ["parse_duration", "seconds"]

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


def seconds(text: str) -> float:
    """``"10s"`` -> 10.0, ``"500ms"`` -> 0.5, ``"2 minutes"`` -> 120.0; ValueError otherwise
    (a settings validator's error, which the settings name by flag or variable)."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"{text!r} is not a duration such as 500ms, 10s, 1m or 1h")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def parse_duration(name: str, text: str) -> float:
    """:func:`seconds`, or a :class:`ConfigError` naming ``name`` (a flag)."""
    try:
        return seconds(text)
    except ValueError as exc:
        raise ConfigError(name, str(exc)) from None
