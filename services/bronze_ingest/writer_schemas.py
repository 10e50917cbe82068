"""Driver-side lookup of writer schemas by the id in each message's Confluent header.

Ids are immutable in a schema registry, so an id that decodes is cached for the life of the job;
the subject's version list is read again at every batch, which is how a version registered
after the job started is picked up, and a rejected id is judged again in every batch. Transient registry failures are retried with
backoff and logged, and never turn events into quarantine: after ``timeout_s`` the batch fails
and the job stops, to resume from its checkpoint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from txn_contract import wire
from txn_contract.errors import ContractNotRegisteredError, RegistryUnavailableError

__all__ = ["IdVerdict", "WriterSchemaResolver"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdVerdict:
    """What a schema id means for this subject: a usable writer schema, or a quarantine reason."""

    schema_id: int
    schema_str: str | None
    reason: str | None = None
    detail: str | None = None


class WriterSchemaResolver:
    """Resolve schema ids against one subject of a Confluent-API registry.

    ``client`` is a ``SchemaRegistryClient`` (built once by the job, with its credentials);
    ``display_url`` is the registry's URL with any secret masked, for messages. This class
    retries transport failures itself, so the client should not (``retries=0``).
    """

    def __init__(
        self, client: Any, display_url: str, subject: str, timeout_s: float = 300.0
    ) -> None:
        self.url = display_url
        self.subject = subject
        self.timeout_s = timeout_s
        self._client = client
        self._subject_ids: dict[int, int] = {}  # schema id -> subject version
        self._verdicts: dict[int, IdVerdict] = {}

    def subject_verdicts(self) -> dict[int, IdVerdict]:
        """Verdicts for every schema id registered under the subject right now.

        Asks the registry for the subject's version list (one small request per batch), so a
        version registered after the job started is known before its events are decoded.
        """
        # A rejected id may be registered since: judge those again in every batch.
        self._verdicts = {i: v for i, v in self._verdicts.items() if v.schema_str}
        self._retrying("listing the subject's versions", self._refresh_subject)
        return self.resolve(sorted(self._subject_ids))

    def newest(self) -> tuple[int, int]:
        """``(subject version, schema id)`` of the newest version known under the subject (as of
        the last :meth:`subject_verdicts`). The subject's transitive level guarantees that it
        reads every earlier version, so the job projects every event onto it."""
        if not self._subject_ids:
            raise ContractNotRegisteredError(
                f"No version is registered under subject {self.subject} at {self.url}; run "
                "`txn-contract register`.",
                subject=self.subject,
            )
        schema_id, version = max(self._subject_ids.items(), key=lambda kv: kv[1])
        return version, schema_id

    def version_of(self, schema_id: int) -> int | None:
        """The subject version of ``schema_id`` (None if it is not under the subject)."""
        return self._subject_ids.get(schema_id)

    def resolve(self, ids: list[int]) -> dict[int, IdVerdict]:
        """Verdicts for ``ids``; refreshes the subject's versions once if an id is new."""
        new = [i for i in ids if i not in self._verdicts]
        if new:
            if any(i not in self._subject_ids for i in new):
                self._retrying("listing the subject's versions", self._refresh_subject)
            for i in new:
                self._verdicts[i] = self._retrying(
                    f"resolving schema id {i}", lambda i=i: self._judge(i)
                )
        return {i: self._verdicts[i] for i in ids}

    def _refresh_subject(self) -> None:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            versions = self._client.get_versions(self.subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                versions = []
            else:
                raise
        known_versions = set(self._subject_ids.values())
        for v in versions:
            if v not in known_versions:
                registered = self._client.get_version(self.subject, v)
                self._subject_ids[registered.schema_id] = v
                log.info(
                    "registry: %s version %s is schema id %s", self.subject, v, registered.schema_id
                )

    def _judge(self, schema_id: int) -> IdVerdict:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            schema = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return IdVerdict(
                    schema_id,
                    None,
                    wire.UNKNOWN_SCHEMA_ID,
                    f"schema id {schema_id} is not registered in the schema registry",
                )
            raise
        if schema_id not in self._subject_ids:
            return IdVerdict(
                schema_id,
                None,
                wire.FOREIGN_SCHEMA_ID,
                f"schema id {schema_id} is registered, but not under subject {self.subject}",
            )
        if (schema.schema_type or "AVRO") != "AVRO":
            return IdVerdict(
                schema_id,
                None,
                wire.FOREIGN_SCHEMA_ID,
                f"schema id {schema_id} is not an Avro schema",
            )
        return IdVerdict(schema_id, schema.schema_str)

    def _retrying(self, what: str, fn):
        """Call ``fn`` until it succeeds; back off 0.5 s doubling to 30 s; give up after the
        timeout. Only transport failures and 5xx answers are retried: they say nothing about
        the message."""
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        from txn_contract.registry import transport_errors

        started = time.monotonic()
        delay = 0.5
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except SchemaRegistryError as exc:
                if exc.http_status_code is not None and exc.http_status_code < 500:
                    raise
                problem = f"HTTP {exc.http_status_code}: {exc.error_message}"
            except transport_errors() as exc:
                problem = f"{type(exc).__name__}: {exc}"
            waited = time.monotonic() - started
            if waited >= self.timeout_s:
                raise RegistryUnavailableError(
                    f"The schema registry at {self.url} was unreachable for {waited:.0f} s while "
                    f"{what} ({problem}); the job stops without quarantining anything and resumes "
                    "from its checkpoint when restarted.",
                    subject=self.subject,
                )
            log.warning(
                "registry: %s failed (attempt %d, %s); retrying in %.1f s",
                what,
                attempt,
                problem,
                delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
