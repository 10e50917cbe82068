"""gold-signals' three Delta outputs and the order in which a batch commits to them.

The aggregates are upserted (delta-rs MERGE by key, from the driver) and the alerts appended,
each with Delta's idempotent-write ``txn`` action (``txnAppId`` per output, ``txnVersion`` = the
batch id): a batch an output committed already is skipped. The alerts' commit comes last and is
made for every batch, even one without alerts: "alerts committed batch N" means batch N is done,
and its ``userMetadata`` records the silver batches it covered (where the next batch starts).

A MERGE reads the files of the partitions it rewrites, so an OPTIMIZE (``txn-lake compact``)
committed meanwhile on those files makes it fail (delta-rs' conflict check, as Spark's would).
The MERGE is then done again on the new snapshot, a bounded number of times: its rows are a
recomputation from silver, so doing it again is exact. An append reads nothing and never
conflicts with a compaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from txn_contract.errors import TxnError
from txn_lake.facts import is_delta_table, table_facts
from txn_lake.gold_tables import (
    ALERTS_TABLE,
    GOLD_CUSTOMER_DAILY_TABLE,
    GOLD_MERCHANT_HOURLY_TABLE,
)
from txn_lake.layout import Lake
from txn_lake.outputs import StreamOutput, rerun_of_committed
from txn_lake.tables import PROP_SUBJECT, SILVER_TABLE
from txn_lake.writes import append_arrow

from .reads import sql_list

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["MERGE_ATTEMPTS", "MERGE_KEYS", "GoldOutputs"]

# A MERGE that keeps conflicting with concurrent commits (compactions) is retried this often,
# waiting 0.5 s more each time, before the batch fails (and is redone on restart).
MERGE_ATTEMPTS = 6
MERGE_KEYS = {
    GOLD_MERCHANT_HOURLY_TABLE.name: ("merchant_id", "currency", "event_date", "event_hour"),
    GOLD_CUSTOMER_DAILY_TABLE.name: ("customer_id", "event_date", "currency"),
}
Emit = Callable[[str], None]


def _metadata(meta: dict[str, Any]) -> str:
    return json.dumps(meta, separators=(",", ":"), sort_keys=True, default=str)


class GoldOutputs:
    """Creates the gold tables, and commits each batch to them once."""

    def __init__(self, spark: SparkSession, lake: Lake) -> None:
        self.spark = spark
        self.lake = lake
        specs = (GOLD_MERCHANT_HOURLY_TABLE, GOLD_CUSTOMER_DAILY_TABLE, ALERTS_TABLE)
        self.merchant_hourly, self.customer_daily, self.alerts = (
            StreamOutput(lake, s) for s in specs
        )
        self.conflicts = 0
        """MERGE attempts that a concurrent commit made fail (and were done again)."""
        self._done: int | None = None

    def ensure(self, alert_schema_str: str, properties: dict[str, str], emit: Emit) -> None:
        """Create the tables if missing; the alerts' columns lead with the alert contract's."""
        from txn_contract import SUBJECT
        from txn_lake.columns import contract_columns

        if all(
            is_delta_table(o.path) for o in (self.merchant_hourly, self.customer_daily, self.alerts)
        ):
            return  # a restart: no Spark job (a cold JVM spends seconds on each)
        silver = table_facts(SILVER_TABLE.name, SILVER_TABLE.path(self.lake), history=0)
        subject = silver.properties.get(PROP_SUBJECT, SUBJECT)
        alert_fields = contract_columns(self.spark, alert_schema_str)
        schemas = (
            (self.merchant_hourly, GOLD_MERCHANT_HOURLY_TABLE.schema(), {}),
            (self.customer_daily, GOLD_CUSTOMER_DAILY_TABLE.schema(), {}),
            (self.alerts, ALERTS_TABLE.schema(alert_fields), properties),
        )
        for out, schema, props in schemas:
            if out.ensure(self.spark, schema, subject, props):
                emit(f"created Delta table {out.path}")

    def check_batch(self, batch_id: int) -> bool:
        """True when the alerts (the last commit of a batch) hold ``batch_id``: a re-run."""
        if self._done is not None and batch_id > self._done:
            return False
        rerun = rerun_of_committed((self.alerts,), batch_id)
        if rerun:
            self._done = batch_id
        return rerun

    def last_silver_batch(self) -> int:
        """The last silver batch the committed gold batches covered (-1: none yet)."""
        info = self.alerts.latest_commit()
        if info is None:
            if self.alerts.committed_batch() is not None:
                # Committed batches whose commit is out of the history scanned (many foreign
                # commits since): starting over would recompute every silver batch.
                raise TxnError(
                    f"{self.alerts.path}: gold has committed batches, but its last commit is "
                    "not among the table's recent commits; run `txn-lake describe --table "
                    "alerts` and report it (gold will not start over from silver's beginning)."
                )
            return -1
        return int((info.user_metadata or {}).get("silver_batches", [-1, -1])[1])

    def merge(
        self, out: StreamOutput, rows: Any, dates: list[date], batch_id: int, meta: dict, emit
    ) -> bool:
        """Upsert ``rows`` (Arrow, the table's columns) by the table's keys as ``batch_id``;
        False when the table holds the batch already. Retried on a concurrent commit."""
        import pyarrow as pa
        from deltalake import CommitProperties, Transaction
        from deltalake.exceptions import CommitFailedError

        keys = MERGE_KEYS[out.table]
        on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        # The dates in the predicate confine the MERGE (and its conflicts) to their partitions.
        predicate = f"{on} AND t.event_date IN ({sql_list(dates)})"
        user = {"app_id": out.app_id, "batch_id": batch_id, **meta}
        for attempt in range(1, MERGE_ATTEMPTS + 1):
            table = out.delta_table()
            done = table.transaction_version(out.app_id)
            if done is not None and done >= batch_id:
                return False
            source = rows.select(table.schema().to_arrow().names)
            source = source.cast(pa.schema(table.schema().to_arrow()))
            commit = CommitProperties(
                custom_metadata={"userMetadata": _metadata(user)},
                app_transactions=[Transaction(out.app_id, batch_id, int(time.time() * 1000))],
            )
            try:
                (
                    table.merge(source, predicate, "s", "t", commit_properties=commit)
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute()
                )
                return True
            except CommitFailedError as exc:
                self.conflicts += 1
                if attempt == MERGE_ATTEMPTS:
                    raise TxnError(
                        f"The MERGE of batch {batch_id} into {out.table} kept conflicting with "
                        f"concurrent commits ({MERGE_ATTEMPTS} attempts): {exc}"
                    ) from exc
                emit(
                    f"{out.table}: a concurrent commit conflicted with the MERGE; again ({attempt})"
                )
                time.sleep(0.5 * attempt)
        return False  # not reached

    def append_alerts(self, rows: Any, batch_id: int, meta: dict[str, Any]) -> bool:
        """Append the batch's alerts (Arrow, maybe none): the batch's completion mark."""
        import pyarrow as pa

        table = self.alerts.delta_table()
        data = rows.select(table.schema().to_arrow().names).cast(
            pa.schema(table.schema().to_arrow())
        )
        user = {"app_id": self.alerts.app_id, "batch_id": batch_id, **meta}
        done = append_arrow(
            table, data, app_id=self.alerts.app_id, batch_id=batch_id, user_metadata=user
        )
        self._done = batch_id
        return done

    def alerts_schema(self):
        """The alerts table's Arrow schema."""
        import pyarrow as pa

        return pa.schema(self.alerts.delta_table().schema().to_arrow())
