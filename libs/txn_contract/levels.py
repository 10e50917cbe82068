"""The compatibility levels of the Confluent Schema Registry API, weakest first."""

from __future__ import annotations

__all__ = ["LEVELS"]

LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)
