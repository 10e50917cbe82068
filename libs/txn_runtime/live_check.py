"""The live registry's verdict for ``txn-contract check --schema-registry-url``: the previous
schemas registered under a scratch subject at the level, the new one tested against them, the
scratch subject deleted. A registry that cannot judge is :class:`ConfigError` (exit 2).

Part of the ``txn-contract`` command line (:mod:`txn_runtime.contract_cli`), which reaches the
registry with the runtime's :class:`~txn_runtime.connections.RegistrySettings`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import click

from txn_contract.errors import ConfigError, RegistryError

from .connections import RegistrySettings

__all__ = ["REGISTRY_FLAG", "registry_summary", "registry_verdicts"]

# The registry flag's name in errors (`--registry` is its alias).
REGISTRY_FLAG = "--schema-registry-url"


def registry_verdicts(
    registry: RegistrySettings, results, log: Callable[[str], None] = lambda _m: None
) -> list[dict]:
    """The registry's verdict for each checked file that has earlier versions."""
    try:
        return [
            _registry_verdict(registry, file, new, [s for _, s in prev], lvl, log)
            for file, new, prev, lvl in results
            if prev
        ]
    except RegistryError as exc:  # unreachable: no verdict, the tool could not judge
        raise ConfigError(REGISTRY_FLAG, f"no verdict from the registry: {exc}") from exc


def registry_summary(url: str, verdicts: list[dict], violations: list) -> str:
    """The registry's verdict per file (on stdout) and its part of the summary line."""
    for v in verdicts:
        click.echo(
            f"{v['file']}: registry {url} says "
            f"{'compatible' if v['compatible'] else 'INCOMPATIBLE'} at {v['level']}"
            + (f" ({v['detail']})" if v["detail"] else "")
        )
    ok = all(v["compatible"] for v in verdicts)
    out = "; registry: " + ("compatible" if ok else "incompatible")
    if ok != (not violations):
        out += " (the offline checker also judges decimal and logical-type changes)"
    return out


def _registry_verdict(
    registry: RegistrySettings,
    file: str,
    new,
    previous: list,
    level: str,
    log: Callable[[str], None] = lambda _m: None,
) -> dict:
    """Register ``previous`` under a scratch subject at ``level`` and test ``new`` against it.

    A registry that answers HTTP 422 to the test refuses to judge a schema it holds invalid
    (e.g. a field whose aliases match two earlier fields); it would refuse to register it too,
    so that is an incompatible verdict with the registry's reason. Any other registry error
    means there is no verdict: :class:`ConfigError` (exit 2) with one sentence.
    """
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from txn_contract.registry import registry_call

    client = registry.registry_client()
    url = registry.registry_display_url
    subject = f"txn-contract-check-{uuid.uuid4().hex[:12]}"
    detail = None
    try:
        try:
            _register_previous(client, subject, previous, level, url)
        except SchemaRegistryError as exc:
            raise _no_verdict(url, f"registering the previous schemas of {file}", exc) from exc
        try:
            ok = registry_call(
                "testing compatibility", url, lambda: _test(client, subject, new, level)
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code != 422:
                raise _no_verdict(url, f"testing {file}", exc) from exc
            ok, detail = False, f"HTTP 422: {exc.error_message}"
    finally:
        try:
            client.delete_subject(subject)
            client.delete_subject(subject, permanent=True)
        except Exception:  # noqa: BLE001 - scratch cleanup must not hide the verdict
            log(f"could not delete scratch subject {subject}")
    return {"file": file, "compatible": bool(ok), "level": level, "registry": url, "detail": detail}


def _register_previous(client, subject: str, previous: list, level: str, url: str) -> None:
    """The earlier schemas, oldest first, under ``subject`` (at NONE while registering, so
    that the registry accepts them), then the level to judge at."""
    from confluent_kafka.schema_registry import Schema

    from txn_contract.registry import registry_call

    for i, schema in enumerate(previous):
        registry_call(
            "registering a scratch version",
            url,
            lambda s=schema: client.register_schema(subject, Schema(json.dumps(s), "AVRO")),
        )
        if i == 0:
            registry_call(
                "setting scratch level", url, lambda: client.set_compatibility(subject, "NONE")
            )
    registry_call("setting scratch level", url, lambda: client.set_compatibility(subject, level))


def _test(client, subject: str, new, level: str) -> bool:
    """The registry's verdict on ``new``: against the latest version, or all at a transitive level."""
    from confluent_kafka.schema_registry import Schema

    schema = Schema(json.dumps(new), "AVRO")
    if level.endswith("TRANSITIVE"):
        return client.test_compatibility_all_versions(subject, schema)
    return client.test_compatibility(subject, schema, "latest")


def _no_verdict(url: str, what: str, exc) -> ConfigError:
    """The registry failed, so it gave no verdict: the tool could not judge (exit 2)."""
    answer = f"HTTP {exc.http_status_code}"
    if exc.error_code not in (None, -1):
        answer += f", error {exc.error_code}"
    if exc.error_message:
        answer += f" ({exc.error_message})"
    hint = (
        "; is the URL a Confluent-compatible registry API "
        "(e.g. http://127.0.0.1:8081/apis/ccompat/v7)?"
        if exc.http_status_code == 404
        else ""
    )
    return ConfigError(
        REGISTRY_FLAG,
        f"the registry at {url} gave no verdict: it answered {answer} while {what}{hint}",
    )
