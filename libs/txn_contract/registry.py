"""Schema-registry helpers: register the contract, look up a compiled version's id.

Producers never auto-register: ``txn-contract register`` (CI or an operator) registers every
released version in order and sets the subject's compatibility level; a producer asks for the id
of its compiled version and stops with a sentence naming the command when it is missing.
Only the Confluent REST subset that confluent-kafka's client uses is relied upon, so the same
code works against Confluent Schema Registry and Apicurio's ``/apis/ccompat/v7``.

A registry that refuses a client (no or wrong credentials, a role without the permission, a
certificate the client's CA does not verify) is named in one sentence with the client's user,
from the basic-auth settings :func:`registry_client` was given (never the password).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .contract import Contract, ContractVersion
from .errors import (
    CompatibilityError,
    ContractNotRegisteredError,
    RegistryError,
    RegistryUnavailableError,
)
from .registry_auth import (
    RegistryUser,
    refusal,
    registry_user,
    remember_user,
    untrusted,
    verify_failure,
)

__all__ = [
    "RegistrationStep",
    "RegistryUser",
    "lookup_schema_id",
    "register_contract",
    "registry_call",
    "registry_client",
    "registry_user",
    "transport_errors",
]

# Confluent error codes: subject not found, version not found, schema not found,
# subject-level compatibility not configured.
_NOT_FOUND_CODES = {40401, 40402, 40403, 40408}


def registry_client(
    url: str,
    *,
    timeout_s: float = 10.0,
    retries: int = 2,
    settings: dict[str, Any] | None = None,
):
    """A confluent-kafka ``SchemaRegistryClient`` with bounded timeouts and retries: the one
    place the project builds one. ``settings`` adds client keys (basic auth, TLS), as
    ``txn_runtime.connections.RegistrySettings`` gives them."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    conf = {"url": url, "timeout": timeout_s, "max.retries": retries, "retries.wait.ms": 200}
    client = SchemaRegistryClient({**conf, **(settings or {})})
    remember_user(client, settings or {})
    return client


def transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "the registry could not be reached" for the installed client.

    confluent-kafka's client talks HTTP through ``httpx2`` where it is installed (Python 3.10+)
    and ``httpx`` otherwise; both are public packages, so we take the transport error of each
    one present rather than reach into the client's private compatibility module.
    """
    import importlib

    errors: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except ImportError:
            continue
    return tuple(errors)


def registry_call(
    what: str, url: str, fn: Callable[[], Any], subject: str | None = None, client: Any = None
) -> Any:
    """Run one client call, turning transport failures into :class:`RegistryUnavailableError`
    (a certificate that does not verify named with ``client``'s user)."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        return fn()
    except SchemaRegistryError:
        raise
    except transport_errors() as exc:
        unverified = verify_failure(exc)
        if unverified is not None:
            raise RegistryUnavailableError(
                untrusted(url, what, registry_user(client), unverified), subject=subject
            ) from exc
        raise RegistryUnavailableError(
            f"The schema registry at {url} could not be reached while {what} "
            f"({type(exc).__name__}: {exc}); check the registry URL (SCHEMA_REGISTRY_URL or the "
            "command's registry flag).",
            subject=subject,
        ) from exc


def _schema(version: ContractVersion):
    from confluent_kafka.schema_registry import Schema

    return Schema(version.schema_str, "AVRO")


def _schema_call(
    what: str, client: Any, method: str, subject: str, cv: ContractVersion, url: str
) -> Any:
    """``client.method(subject, schema of cv)`` through :func:`registry_call`; ``what`` is its
    verb ("looking up"), which the message completes with the subject and version."""
    call = getattr(client, method)
    return registry_call(
        f"{what} {subject} v{cv.version}", url, lambda: call(subject, _schema(cv)), subject, client
    )


def _is_not_found(exc: Exception) -> bool:
    return (
        getattr(exc, "http_status_code", None) == 404
        or getattr(exc, "error_code", None) in _NOT_FOUND_CODES
    )


def _not_registered_hint(contract: Contract, subject: str, topic: str) -> str:
    hint = (
        "; check that SCHEMA_REGISTRY_URL is the Confluent API root (for Apicurio it ends in "
        "/apis/ccompat/v7)"
    )
    if subject != contract.subject:
        hint += (
            f"; note that `txn-contract register` registers subject {contract.subject}, and "
            f"topic {topic} needs its own subject {subject}"
        )
    return hint


def lookup_schema_id(
    client,
    contract: Contract,
    version: int,
    url: str = "",
    *,
    subject: str | None = None,
    topic: str | None = None,
) -> int:
    """The registry id of compiled ``version`` under ``subject`` (default: the contract's, the
    one ``txn-contract register`` registers; a service's topic may use another); never registers.

    ``url`` is the registry's URL as safe to print. Raises :class:`ContractNotRegisteredError`,
    one sentence naming ``txn-contract register`` and what else may be wrong (the subject, the
    URL), when the registry does not hold it: producers never auto-register.
    """
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    subject = subject or contract.subject
    cv = contract.version(version)
    where = url or "the configured URL"
    try:
        registered = _schema_call("looking up", client, "lookup_schema", subject, cv, where)
    except SchemaRegistryError as exc:
        if not _is_not_found(exc):
            refused = refusal(exc, where, f"looking up {subject} v{version}", client)
            refused = refused or (
                f"The registry refused to look up {subject} v{version}: {exc.error_message}"
            )
            raise _registry_error(exc, subject, version, refused) from exc
        hint = _not_registered_hint(contract, subject, topic or contract.topic)
        message = (
            f"Contract version {version} of subject {subject} is not registered in the schema "
            f"registry{' at ' + url if url else ''}; run `txn-contract register` first "
            f"(producers never auto-register){hint}."
        )
        raise _registry_error(exc, subject, version, message, ContractNotRegisteredError) from exc
    return registered.schema_id


@dataclass(frozen=True)
class RegistrationStep:
    """What ``register`` did for one version or for the subject's level."""

    what: str
    changed: bool
    schema_id: int | None = None
    version: int | None = None


def register_contract(
    client, contract: Contract, url: str, log: Callable[[str], None] = lambda _m: None
) -> list[RegistrationStep]:
    """Register every released version, oldest first, and set the subject's level. Idempotent.

    An incompatible version raises :class:`CompatibilityError` with the registry's HTTP 409 and
    our offline checker's field-level reasons.
    """
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    steps: list[RegistrationStep] = []
    subject = contract.subject
    for cv in contract.versions:
        try:
            found = _schema_call("looking up", client, "lookup_schema", subject, cv, url)
            step = RegistrationStep(
                f"v{cv.version} already registered (id {found.schema_id}, "
                f"registry version {found.version})",
                False,
                found.schema_id,
                found.version,
            )
        except SchemaRegistryError as exc:
            if not _is_not_found(exc):
                refused = refusal(exc, url, f"looking up {subject} v{cv.version}", client)
                raise _registry_error(exc, subject, cv.version, refused) from exc
            try:
                schema_id = _schema_call("registering", client, "register_schema", subject, cv, url)
            except SchemaRegistryError as reg_exc:
                if reg_exc.http_status_code == 409:
                    raise _incompatible(contract, cv, reg_exc) from reg_exc
                refused = refusal(reg_exc, url, f"registering {subject} v{cv.version}", client)
                raise _registry_error(reg_exc, subject, cv.version, refused) from reg_exc
            step = RegistrationStep(f"v{cv.version} registered (id {schema_id})", True, schema_id)
        steps.append(step)
        log(f"{subject}: {step.what}")
        if cv.version == 1:
            # The subject exists now; Apicurio refuses a subject-level config before that.
            steps.append(_ensure_level(client, contract, url, log))
    return steps


def _ensure_level(client, contract: Contract, url: str, log) -> RegistrationStep:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    subject = contract.subject
    reading = f"reading {subject}'s compatibility level"
    try:
        current = registry_call(
            reading, url, lambda: client.get_compatibility(subject), subject, client
        )
    except SchemaRegistryError as exc:
        if not _is_not_found(exc):
            refused = refusal(exc, url, reading, client)
            raise _registry_error(exc, subject, None, refused) from exc
        current = None
    if current == contract.compatibility:
        step = RegistrationStep(f"compatibility level already {current}", False)
    else:
        setting = f"setting {subject}'s compatibility level"
        try:
            registry_call(
                setting,
                url,
                lambda: client.set_compatibility(subject, contract.compatibility),
                subject,
                client,
            )
        except SchemaRegistryError as exc:
            refused = refusal(exc, url, setting, client)
            raise _registry_error(exc, subject, None, refused) from exc
        step = RegistrationStep(
            f"compatibility level set to {contract.compatibility} (was {current or 'unset'})", True
        )
    log(f"{subject}: {step.what}")
    return step


def _registry_error(
    exc,
    subject: str,
    version: int | None,
    message: str | None = None,
    kind: type[RegistryError] = RegistryError,
) -> RegistryError:
    """A :class:`RegistryError` (or ``kind``) carrying the registry's answer to ``exc``."""
    which = f" v{version}" if version else ""
    return kind(
        message
        or f"The schema registry refused {subject}{which}: HTTP {exc.http_status_code}, "
        f"error {exc.error_code}: {exc.error_message}",
        subject=subject,
        version=version,
        http_status=exc.http_status_code,
        error_code=exc.error_code,
    )


def _incompatible(contract: Contract, cv: ContractVersion, exc) -> CompatibilityError:
    from .compatibility import check_level

    previous = [v.schema for v in contract.versions if v.version < cv.version]
    violations = check_level(
        cv.schema,
        previous,
        contract.compatibility,
        labels=[f"v{v.version}" for v in contract.versions if v.version < cv.version],
    )
    first = violations[0].line(cv.path) if violations else "the registry gave no field detail"
    more = (
        f" (and {len(violations) - 1} more; run `txn-contract check`)"
        if len(violations) > 1
        else ""
    )
    return CompatibilityError(
        f"The schema registry refused {contract.subject} v{cv.version} ({cv.path}) as incompatible "
        f"under {contract.compatibility} (HTTP 409): {first}{more}.",
        violations=[v.line(cv.path) for v in violations],
        subject=contract.subject,
        version=cv.version,
        http_status=409,
        error_code=exc.error_code,
    )
