"""Checks before Spark starts: silver exists as a Delta table, the broker serves the alerts topic,
the registry holds the alert contract's latest version under its subject, and the checkpoint
matches the gold tables. Each failure is one sentence; none costs a JVM start."""

from __future__ import annotations

from typing import Any

from txn_contract.alerts import SUBJECT as ALERTS_SUBJECT
from txn_contract.errors import ConfigError
from txn_contract.registry import lookup_schema_id
from txn_lake import Lake
from txn_lake.facts import is_delta_table
from txn_lake.gold_tables import GOLD_TABLES
from txn_lake.outputs import StreamOutput, check_new_checkpoint
from txn_runtime.preflight import check_access
from txn_runtime.refusals import producing

from .config import GoldSettings

__all__ = ["BROKER_TIMEOUT_S", "check_silver_exists", "preflight"]

BROKER_TIMEOUT_S = 10.0


def preflight(cfg: GoldSettings, registry: Any, *, silver_required: bool = True) -> int:
    """Raise a :class:`~txn_contract.errors.TxnError` naming what to fix when the job could not
    run; the registry id of the alert contract's latest version otherwise. ``registry`` is a
    ``SchemaRegistryClient`` (``cfg.registry_client()``). ``silver_required=False`` in the
    one-application run, whose silver query creates silver before gold's query starts."""

    from txn_contract import packaged_contract

    if silver_required:
        check_silver_exists(cfg)
    # A refused login or an untrusted CA is one sentence naming the principal, and a principal
    # that may not write the alerts topic is refused here, before any alert is committed.
    check_access(cfg, cfg.alerts_topic, producing(cfg.alerts_topic), BROKER_TIMEOUT_S)
    contract = packaged_contract(ALERTS_SUBJECT)
    schema_id = lookup_schema_id(
        registry,
        contract,
        contract.latest.version,
        cfg.registry_display_url,
        subject=cfg.alerts_subject,
        topic=cfg.alerts_topic,
    )
    lake = Lake(cfg.lake)
    check_new_checkpoint(tuple(StreamOutput(lake, s) for s in GOLD_TABLES), cfg.checkpoint_path)
    return schema_id


def check_silver_exists(cfg: GoldSettings) -> None:
    """gold-signals streams from the silver Delta table; without it there is nothing to read."""
    if not is_delta_table(cfg.silver_path):
        raise ConfigError(
            "--lake",
            f"{cfg.silver_path} is not a Delta table; start silver-refine on this lake first "
            "(or pass the --lake that silver-refine writes)",
        )
