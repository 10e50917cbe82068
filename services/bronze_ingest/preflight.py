"""Checks before Spark starts: the broker serves the topic, the registry holds the contract, and
the checkpoint matches the outputs. Each failure is one sentence; none costs a JVM start."""

from __future__ import annotations

import dataclasses

from txn_contract import Contract
from txn_contract.errors import ConfigError, ContractNotRegisteredError, TxnError

from .config import BronzeConfig

__all__ = ["check_checkpoint_matches_outputs", "preflight"]


def preflight(cfg: BronzeConfig, contract: Contract) -> None:
    """Raise a :class:`TxnError` naming what to fix when the job could only idle or quarantine."""
    _check_topic(cfg)
    _check_contract_registered(cfg, contract)
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
    """Refuse a checkpoint that is behind an output's commit log.

    Spark's file sink skips batch ids it has already committed; with a new or deleted checkpoint
    the query restarts at batch 0 and every batch up to the outputs' last one would be skipped,
    advancing offsets while writing nothing.
    """
    committed = _last_id(cfg.checkpoint_path / "commits")
    for output in (cfg.bronze_path, cfg.quarantine_path):
        written = _last_id(output / "_spark_metadata")
        # One ahead is normal: the job died after the output committed a batch and before the
        # checkpoint recorded it; that batch is re-run and the output skips it.
        if written is not None and written > (committed if committed is not None else -1) + 1:
            raise ConfigError(
                "--checkpoint",
                f"{output} already holds batches up to {written}, but the checkpoint "
                f"{cfg.checkpoint_path} has committed "
                + (f"only up to {committed}" if committed is not None else "none")
                + "; a new checkpoint would make those batch ids be skipped. Use the checkpoint "
                "that wrote this lake, or a new --lake",
            )


def _last_id(log_dir) -> int | None:
    """Highest batch id in a Spark metadata log directory (``N`` or ``N.compact`` files)."""
    if not log_dir.is_dir():
        return None
    ids = [int(p.name.split(".")[0]) for p in log_dir.iterdir() if p.name.split(".")[0].isdigit()]
    return max(ids) if ids else None
