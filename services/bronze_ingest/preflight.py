"""Checks before Spark starts: the lake is Delta, the broker serves the topic, the registry holds
the contract under a transitive level, and the checkpoint matches the tables. Each failure is
one sentence; none costs a JVM start."""

from __future__ import annotations

from txn_contract import Contract
from txn_contract.errors import ConfigError, TxnError
from txn_lake import BRONZE, QUARANTINE, Lake
from txn_runtime.preflight import check_topic, registered_schema_id

from .config import BronzeSettings

__all__ = [
    "check_checkpoint_matches_outputs",
    "check_lake_format",
    "check_subject_level",
    "preflight",
]

BROKER_TIMEOUT_S = 10.0


def preflight(cfg: BronzeSettings, contract: Contract) -> None:
    """Raise a :class:`TxnError` naming what to fix when the job could only idle or quarantine."""
    from confluent_kafka.admin import AdminClient

    check_lake_format(cfg)
    admin = AdminClient(cfg.kafka_config(**{"socket.timeout.ms": int(BROKER_TIMEOUT_S * 1000)}))
    check_topic(admin, cfg.topic, cfg.bootstrap_servers, BROKER_TIMEOUT_S)
    # The job's own (latest) version must be registered under its subject: otherwise the URL
    # or the subject is wrong, and every event would be quarantined as an unknown or foreign id.
    registered_schema_id(
        cfg.registry_client(),
        contract,
        contract.latest.version,
        subject=cfg.subject,
        topic=cfg.topic,
        url=cfg.registry_display_url,
    )
    check_subject_level(cfg)
    check_checkpoint_matches_outputs(cfg)


def check_checkpoint_matches_outputs(cfg: BronzeSettings) -> None:
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


def check_subject_level(cfg: BronzeSettings) -> None:
    """The subject must be transitively backward compatible: bronze projects every version onto
    the newest registered one, which only then is guaranteed to read them all."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    client = cfg.registry_client()
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
