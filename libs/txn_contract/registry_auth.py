"""Who a registry client is, and the sentence for a registry that refused it.

:func:`~txn_contract.registry.registry_client` remembers each client's basic-auth user (never
the password) and CA file (:func:`remember_user`); a refusal then names that user:

- HTTP 401 without credentials: no ``SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO`` was given;
- HTTP 401 with credentials: the user's password was refused;
- HTTP 403: the user's registry role does not allow the operation (only admin registers);
- a registry certificate that does not verify with ``SCHEMA_REGISTRY_SSL_CA_LOCATION``.

Example::

    refusal(exc, url, "registering bank_txn_stream-value v1", client)
    # 'The schema registry at https://... refused registering bank_txn_stream-value v1 to
    #  user producer (HTTP 403: User is not authorized to perform the requested operation); ...'
"""

from __future__ import annotations

import ssl
import weakref
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RegistryUser",
    "refusal",
    "registry_user",
    "remember_user",
    "untrusted",
    "verify_failure",
]


@dataclass(frozen=True)
class RegistryUser:
    """Who a registry client is, for sentences: its basic-auth user (None: it sends no
    credentials) and the CA file it verifies the registry's certificate with."""

    name: str | None
    ca_location: str | None = None

    def __str__(self) -> str:
        return f"user {self.name}" if self.name else "a client without credentials"


# The users of the clients registry_client built: known without keeping a password around.
_USERS: weakref.WeakKeyDictionary[Any, RegistryUser] = weakref.WeakKeyDictionary()


def registry_user(client: Any) -> RegistryUser | None:
    """The user ``client`` authenticates as, when :func:`~txn_contract.registry.registry_client` built it."""
    try:
        return _USERS.get(client)
    except TypeError:  # not weak-referenceable: not one of ours
        return None


def remember_user(client: Any, settings: dict[str, Any]) -> None:
    """Remember ``client``'s user from its ``settings`` (``basic.auth.user.info``, whose password
    is not kept, and ``ssl.ca.location``)."""
    user_info = settings.get("basic.auth.user.info")
    name = user_info.split(":", 1)[0] if user_info else None
    _USERS[client] = RegistryUser(name, settings.get("ssl.ca.location"))


def verify_failure(exc: BaseException) -> str | None:
    """OpenSSL's reason when ``exc`` comes from a certificate that did not verify, else None."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return getattr(cause, "verify_message", None) or "certificate verify failed"
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def untrusted(url: str, what: str, user: RegistryUser | None, reason: str) -> str:
    ca = user.ca_location if user is not None else None
    if ca:
        trusted = f"the CA in SCHEMA_REGISTRY_SSL_CA_LOCATION ({ca})"
    elif user is not None:
        trusted = "the system's CAs (SCHEMA_REGISTRY_SSL_CA_LOCATION is not set)"
    else:
        trusted = "the CA the client was given (SCHEMA_REGISTRY_SSL_CA_LOCATION)"
    return (
        f"The TLS handshake of {user or 'the client'} with the schema registry at {url} failed "
        f"while {what}: the registry's certificate does not verify with {trusted} ({reason}); "
        "point SCHEMA_REGISTRY_SSL_CA_LOCATION at the CA that signed the registry's certificate "
        "(`txn-platform up --secure`: STATE/tls/ca.pem)."
    )


def refusal(exc: Any, url: str, what: str, client: Any) -> str | None:
    """The sentence for a registry that refused ``client``'s credentials (HTTP 401) or its
    user the operation (403), naming the user; None for another answer, or for a client
    :func:`registry_client` did not build."""
    user = registry_user(client)
    status = exc.http_status_code
    if user is None or status not in (401, 403):
        return None
    answer = f"HTTP {status}"
    said = (exc.error_message or "").strip().rstrip(".")
    if said and not said.startswith("Unknown Schema Registry Error"):
        answer += f": {said}"
    where = f"The schema registry at {url}"
    credentials = (
        "(`txn-platform up --secure` writes each principal's to STATE/credentials/<principal>.env)"
    )
    if user.name is None:
        return (
            f"{where} refused {what} to a client without credentials ({answer}): no "
            "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO was given; set it to the principal's "
            f"USER:PASSWORD {credentials}."
        )
    if status == 401:
        return (
            f"{where} refused the credentials of user {user.name} while {what} ({answer}); "
            f"check the password in SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO {credentials}."
        )
    return (
        f"{where} refused {what} to user {user.name} ({answer}); run it as a user whose "
        "registry role allows it (docs/security.md: admin registers and sets compatibility "
        "levels, the services' users read)."
    )
