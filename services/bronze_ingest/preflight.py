"""Checks before Spark starts: the lake is Delta, the broker serves the topic, the registry holds
the contract under a transitive level, and the checkpoint matches the tables. Each failure is
one sentence; none costs a JVM start."""

from __future__ import annotations

import dataclasses

from txn_contract import Contract
from txn_contract.errors import ConfigError, ContractNotRegisteredError, TxnError
from txn_lake import BRONZE, QUARANTINE, Lake

from .config import BronzeConfig

__all__ = [
    "check_checkpoint_matches_outputs",
    "check_lake_format",
    "check_subject_level",
    "preflight",
]


def preflight(cfg: BronzeConfig, contract: Contract) -> None:
    """Raise a :class:`TxnError` naming what to fix when the job could only idle or quarantine."""
    check_lake_format(cfg)
    _check_topic(cfg)
    _check_contract_registered(cfg, contract)
    check_subject_level(cfg)
    check_checkpoint_matches_outputs(cfg)


def _check_topic(cfg: BronzeConfig) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": cfg.bootstrap_servers, "socket.timeout.ms": 10000})
    try:
        md = admin.list_topics(timeout=10)
    except KafkaException as exc:
        raise TxnError(
            f"The Kafka broker at {cfg.bootstrap_servers} could not be reached within 10 s "
            f"({exc.args[0].str() if exc.args else exc}); check KAFKA_BOOTSTRAP_SERVERS or "
            "--bootstrap-servers."
        ) from exc
    if cfg.topic not in md.topics:
        raise ConfigError(
            "--topic", f"topic {cfg.topic} does not exist on the broker at {cfg.bootstrap_servers}"
        )


def _check_contract_registered(cfg: BronzeConfig, contract: Contract) -> None:
    """The job's own (latest) version must be registered under its subject: otherwise the URL or
    the subject is wrong, and every event would be quarantined as an unknown or foreign id."""
    from txn_contract.registry import lookup_schema_id, registry_client

    ours = dataclasses.replace(contract, subject=cfg.subject)
    try:
        lookup_schema_id(
            registry_client(cfg.registry_url), ours, ours.latest.version, cfg.registry_url
        )
    except ContractNotRegisteredError as exc:
        raise ContractNotRegisteredError(
            f"Contract version {ours.latest.version} (the version this job reads as) is not "
            f"registered under subject {cfg.subject} at {cfg.registry_url}; run `txn-contract "
            "register`, or check --subject and that SCHEMA_REGISTRY_URL is the Confluent API root "
            "(for Apicurio it ends in /apis/ccompat/v7).",
            subject=cfg.subject,
        ) from exc


def check_checkpoint_matches_outputs(cfg: BronzeConfig) -> None:
    """Refuse a missing or emptied checkpoint when the tables already hold committed batches.

    Delta skips a batch id at or below the one an output has committed; a new checkpoint starts
    again at batch 0, so every batch up to the tables' last one would be skipped, advancing
    offsets while writing nothing. (A checkpoint that exists but is behind is caught at its
    first batch, from the tables' transaction ids.)
    """
    from txn_lake.outputs import StreamOutput

    from .outputs import JOB

    lake = Lake(cfg.lake)
    committed = [
        (out.path, out.committed_batch())
        for out in (StreamOutput(lake, JOB, BRONZE), StreamOutput(lake, JOB, QUARANTINE))
    ]
    fresh = not cfg.checkpoint_path.is_dir() or not any(cfg.checkpoint_path.iterdir())
    for path, batch in committed:
        if batch is not None and fresh:
            raise ConfigError(
                "--checkpoint",
                f"{path} already holds batches up to {batch} of {JOB}, but the checkpoint "
                f"{cfg.checkpoint_path} is empty or missing; a new checkpoint would make those "
                "batch ids be skipped. Use the checkpoint that wrote this lake, or a new --lake",
            )


def check_lake_format(cfg: BronzeConfig) -> None:
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


def check_subject_level(cfg: BronzeConfig) -> None:
    """The subject must be transitively backward compatible: bronze projects every version onto
    the newest registered one, which only then is guaranteed to read them all."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from txn_contract.registry import registry_client

    client = registry_client(cfg.registry_url)
    try:
        level = client.get_compatibility(cfg.subject)
        where = f"subject {cfg.subject}'s compatibility level is {level}"
    except SchemaRegistryError as exc:
        if exc.http_status_code != 404:
            raise TxnError(
                f"Could not read subject {cfg.subject}'s compatibility level from "
                f"{cfg.registry_url}: {exc.error_message}"
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
