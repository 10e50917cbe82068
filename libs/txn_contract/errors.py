"""The project's exception tree.

Every error a user can cause or meet is a :class:`TxnError` carrying the facts needed to act
on it (subject, version, field path, topic/partition/offset, file). CLIs print ``str(error)``,
one sentence, and exit non-zero; they never show a traceback for these.

This module is the bottom of the tree, in the bottom library: the libraries above add their own
errors under :class:`TxnError` (``txn_runtime.errors.PlatformError``), never the other way round.
"""

from __future__ import annotations

__all__ = [
    "CompatibilityError",
    "ConfigError",
    "ContractNotRegisteredError",
    "DecodeError",
    "RegistryError",
    "RegistryUnavailableError",
    "SchemaFileError",
    "TxnError",
]


class TxnError(Exception):
    """Root of every error this project raises on purpose."""

    exit_code: int = 1


class ConfigError(TxnError, ValueError):
    """A flag, environment variable or config value is invalid; the message names it."""

    exit_code = 2

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")


class SchemaFileError(TxnError):
    """A schema file could not be read or is not a valid Avro schema."""

    exit_code = 2

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class RegistryError(TxnError):
    """The schema registry answered with an error.

    Carries the subject, the HTTP status and the registry's error code when known.
    """

    def __init__(
        self,
        message: str,
        *,
        subject: str | None = None,
        version: int | None = None,
        http_status: int | None = None,
        error_code: int | None = None,
    ) -> None:
        self.subject = subject
        self.version = version
        self.http_status = http_status
        self.error_code = error_code
        super().__init__(message)


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached at all (connection refused, timeout)."""


class ContractNotRegisteredError(RegistryError):
    """The compiled contract version is not registered under its subject."""


class CompatibilityError(RegistryError):
    """A schema was refused as incompatible (offline checker or registry HTTP 409)."""

    def __init__(self, message: str, *, violations: list[str] | None = None, **facts) -> None:
        self.violations = list(violations or [])
        super().__init__(message, **facts)


class DecodeError(TxnError):
    """A message value is not a valid contract event; ``reason`` is one of ``wire.REASONS``.

    It carries what the bytes tell: the reason, the sentence and the schema id once the header
    was read. It is raised on a value alone, where the Kafka position is not known; a consumer
    that has it records it next to the reason (bronze's quarantine rows carry topic, partition
    and offset).
    """

    def __init__(self, reason: str, detail: str, *, schema_id: int | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.schema_id = schema_id
        super().__init__(f"{reason}: {detail}")
