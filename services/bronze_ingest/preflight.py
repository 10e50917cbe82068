"""Checks before Spark starts: the lake is Delta, the broker serves the topic, the registry holds
the contract under a transitive level, and the checkpoint matches the tables. Each failure is
one sentence; none costs a JVM start."""

from __future__ import annotations

from typing import Any

from txn_contract import Contract
from txn_contract.errors import ConfigError, TxnError
from txn_contract.registry import lookup_schema_id
from txn_lake import Lake
from txn_lake.outputs import StreamOutput, check_new_checkpoint
from txn_lake.tables import BRONZE_TABLE, QUARANTINE_TABLE
from txn_runtime.preflight import check_access
from txn_runtime.refusals import reading

from .config import BronzeSettings

__all__ = [
    "check_checkpoint_matches_outputs",
    "check_lake_format",
    "check_subject_level",
    "preflight",
]

BROKER_TIMEOUT_S = 10.0


def preflight(cfg: BronzeSettings, contract: Contract, registry: Any) -> None:
    """Raise a :class:`TxnError` naming what to fix when the job could only idle or quarantine.

    ``registry`` is the job's ``SchemaRegistryClient`` (``cfg.registry_client()``).
    """

    check_lake_format(cfg)
    # Before Spark: a principal that may not read the topic is refused here, with nothing
    # written, rather than by Spark's Kafka source after the tables and checkpoint exist.
    check_access(cfg, cfg.topic, reading(cfg.topic), BROKER_TIMEOUT_S)
    # The job's own (latest) version must be registered under its subject: otherwise the URL
    # or the subject is wrong, and every event would be quarantined as an unknown or foreign id.
    lookup_schema_id(
        registry,
        contract,
        contract.latest.version,
        cfg.registry_display_url,
        subject=cfg.subject,
        topic=cfg.topic,
    )
    check_subject_level(cfg, registry)
    check_checkpoint_matches_outputs(cfg)


def check_checkpoint_matches_outputs(cfg: BronzeSettings) -> None:
    """Refuse a missing or emptied checkpoint when the tables already hold committed batches
    (:func:`txn_lake.outputs.check_new_checkpoint`)."""
    lake = Lake(cfg.lake)
    outputs = (StreamOutput(lake, BRONZE_TABLE), StreamOutput(lake, QUARANTINE_TABLE))
    check_new_checkpoint(outputs, cfg.checkpoint_path)


def check_lake_format(cfg: BronzeSettings) -> None:
    """Refuse a lake written by the plain-Parquet layout (before Delta), or one whose migration
    was interrupted, naming the converter."""
    from txn_lake.migrate import unmigrated

    pending = unmigrated(Lake(cfg.lake))
    if pending:
        raise ConfigError(
            "--lake",
            f"{pending[0]} is a plain Parquet output of an earlier bronze-ingest (or its "
            f"migration did not finish), not a Delta table; convert the lake with `txn-lake "
            f"migrate --lake {cfg.lake}` (it keeps the checkpoint, so nothing is lost or read "
            "twice), then start again",
        )


_TRANSITIVE = ("FULL_TRANSITIVE", "BACKWARD_TRANSITIVE")


def check_subject_level(cfg: BronzeSettings, client: Any) -> None:
    """The subject must be transitively backward compatible: bronze projects every version onto
    the newest registered one, which only then is guaranteed to read them all."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        level = client.get_compatibility(cfg.subject)
        where = f"subject {cfg.subject}'s compatibility level is {level}"
    except SchemaRegistryError as exc:
        if exc.http_status_code != 404:
            raise TxnError(
                f"Could not read subject {cfg.subject}'s compatibility level from "
                f"{cfg.registry_display_url}: {exc.error_message}"
            ) from exc
        level = client.get_compatibility()
        where = (
            f"subject {cfg.subject} has no compatibility level, and the registry default is {level}"
        )
    if level not in _TRANSITIVE:
        raise ConfigError(
            "--subject",
            f"{where}; bronze decodes every version as the newest registered one, which only "
            f"{' or '.join(_TRANSITIVE)} guarantees; set the level with `txn-contract register`",
        )
