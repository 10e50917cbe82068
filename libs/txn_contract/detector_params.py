"""The typed parameters of each detector of ``detectors.yaml``, and their validation.

:data:`PARAMS` maps each detector this package implements to the frozen dataclass of its
parameters; a parameter's annotation is its type in the file (``int``, ``float``, a list of
channel symbols). Names say the comparison: ``min_*`` is "at least", ``*_over`` is "more than".
:mod:`txn_contract.detectors` loads the file with them.

Example::

    from txn_contract.detector_params import build_params
    build_params("velocity", {"min_transactions": 5, "window_seconds": 600})
    # VelocityParams(min_transactions=5, window_seconds=600)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PARAMS",
    "AmountOutlierParams",
    "CardTestingParams",
    "ImpossibleTravelParams",
    "VelocityParams",
    "build_params",
    "param_problems",
]


@dataclass(frozen=True)
class VelocityParams:
    """``velocity``: at least ``min_transactions`` of one customer within any
    ``window_seconds`` of event time (the trigger's included)."""

    min_transactions: int
    window_seconds: int


@dataclass(frozen=True)
class CardTestingParams:
    """``card_testing``: at least ``min_declined`` DECLINED transactions of one customer within
    any ``window_seconds`` of event time."""

    min_declined: int
    window_seconds: int


@dataclass(frozen=True)
class ImpossibleTravelParams:
    """``impossible_travel``: two consecutive transactions of one customer on ``channels``
    (symbols of the stream's Channel enum) more than ``distance_km_over`` apart (great-circle)
    at an implied speed of more than ``speed_kmh_over``."""

    channels: tuple[str, ...]
    distance_km_over: float
    speed_kmh_over: float


@dataclass(frozen=True)
class AmountOutlierParams:
    """``amount_outlier``: an APPROVED transaction more than ``stddevs_over`` standard
    deviations above the mean of at least ``min_history`` earlier transactions of the customer
    in the same currency."""

    stddevs_over: float
    min_history: int


# Detector id -> the class of its parameters: the detectors this package implements.
PARAMS: dict[str, type] = {
    "velocity": VelocityParams,
    "card_testing": CardTestingParams,
    "impossible_travel": ImpossibleTravelParams,
    "amount_outlier": AmountOutlierParams,
}
# The least value of each integer parameter (a count of 1 would alert on every transaction;
# a standard deviation needs two values).
_INT_MINIMUM = {"min_transactions": 2, "min_declined": 2, "min_history": 2, "window_seconds": 1}


def param_problems(detector_id: str, raw: Any, channels: tuple[str, ...] | None) -> list[str]:
    """Problems of one detector's ``params`` against the class of its parameters; ``channels``
    are the symbols a channel may be (None: unchecked)."""
    cls = PARAMS[detector_id]
    names = [f.name for f in dataclasses.fields(cls)]
    if not isinstance(raw, dict):
        return [f"params must be a mapping with {', '.join(names)}"]
    out = [
        f"unknown param {k!r}; {detector_id} takes {', '.join(names)}"
        for k in raw
        if k not in names
    ]
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            out.append(f"missing param {f.name!r}")
        else:
            out += _value_problems(f.name, f.type, raw[f.name], channels)
    return out


def _value_problems(
    name: str, kind: Any, value: Any, channels: tuple[str, ...] | None
) -> list[str]:
    """Problems of one parameter's value: its type, then its range or its symbols."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "int":
        least = _INT_MINIMUM[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            return [f"param {name!r} must be an integer of at least {least}, got {value!r}"]
    elif kind == "float":
        if not number or not 0 < value < float("inf"):
            return [f"param {name!r} must be a positive number, got {value!r}"]
    elif not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return [f"param {name!r} must be a non-empty list of channel symbols, got {value!r}"]
    elif len(set(value)) != len(value):
        return [f"param {name!r} lists a channel twice: {value!r}"]
    elif channels is not None and (unknown := [v for v in value if v not in channels]):
        return [
            f"param {name!r}: unknown channel {unknown[0]!r}; choose from "
            f"{', '.join(channels)} (symbols of the transaction stream's Channel enum)"
        ]
    return []


def build_params(detector_id: str, raw: dict[str, Any]) -> Any:
    """The typed parameters of detector ``detector_id`` from validated ``raw`` params."""
    convert = {"int": int, "float": float, "tuple[str, ...]": tuple}
    cls = PARAMS[detector_id]
    return cls(**{f.name: convert[f.type](raw[f.name]) for f in dataclasses.fields(cls)})
