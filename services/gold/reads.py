"""What a gold batch reads from the lake, with delta-rs and Arrow on the driver: no Spark job.

Every read of silver is bounded by silver's own ``batch_id`` (the silver-refine batch that
inserted the row): a gold batch covers the silver batches after the last one it processed up
to the newest one its stream delivered, and reads silver only up to that one. Silver is
append-only, so a re-run of a gold batch reads exactly what its first attempt read, whatever
silver gained since, and the figures and alerts do not depend on where the stream cut batches.

Each read is one scan by delta-rs' engine (DataFusion), bounded in SQL by batch and date only,
then filtered by key membership in Arrow (a hash set: ``is_in``) and aggregated with Arrow's
group-by. The keys used to be SQL IN lists, cut at 5,000 literals (DataFusion's parser recursed
per element), so a batch of 150,000 customers scanned silver 30 times per read (11.8 s for the
history of a 157,000-row batch). A pyarrow dataset scan would filter while reading, but a
process that made one aborts at exit here (txn_lake.facts.query_table).

Example::

    reads = LakeReads(settings.silver_path, settings.alerts_path)
    new = reads.new_rows(after=4, upto=7)   # silver batches 5..7, as Arrow
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from txn_lake.facts import is_delta_table, query_table

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DETECTOR_COLUMNS", "LakeReads", "sql_list"]

# The silver columns the detectors read.
DETECTOR_COLUMNS = (
    "transaction_id",
    "customer_id",
    "timestamp",
    "status",
    "channel",
    "city",
    "country",
    "amount",
    "currency",
)
_NEW_COLUMNS = (*DETECTOR_COLUMNS, "merchant_id", "event_date", "event_hour", "is_late")
_MERCHANT_KEYS = ("merchant_id", "currency", "event_date", "event_hour")
_CUSTOMER_KEYS = ("customer_id", "event_date", "currency")


def sql_list(values: Iterable[Any]) -> str:
    """A SQL list of literals: strings quoted, dates cast (for delta-rs MERGE predicates)."""
    out = []
    for v in values:
        if isinstance(v, date):
            out.append(f"CAST('{v.isoformat()}' AS DATE)")
        else:
            out.append("'" + str(v).replace("'", "''") + "'")
    return ", ".join(out)


def _scan(
    path: Path,
    columns: Iterable[str] | None,
    where: str | None = None,
    keep: tuple[str, Iterable[Any]] | None = None,
) -> pa.Table:
    """The rows of the Delta table at ``path`` that match the SQL ``where`` (partition and
    batch bounds: few literals), then, when ``keep`` is ``(column, values)``, those whose
    ``column`` is one of ``values`` (a hash set, any number of keys); every column when
    ``columns`` is None. delta-rs' own engine scans (txn_lake.facts.query_table: a pyarrow
    dataset scan aborts the process at exit here)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = "*" if columns is None else ", ".join(f'"{c}"' for c in columns)
    table = query_table(path, f"SELECT {cols} FROM t" + (f" WHERE {where}" if where else ""))
    # Plain strings for Arrow compute (DataFusion may answer with string views).
    table = table.cast(
        pa.schema(
            [f.with_type(pa.string()) if f.type == pa.string_view() else f for f in table.schema]
        )
    )
    if keep is None:
        return table
    column, values = keep
    wanted = pa.array(list(values), table.schema.field(column).type)
    return table.filter(pc.is_in(table.column(column), value_set=wanted))


def _approved(rows):
    """``rows`` with ``_approved`` (0/1), ``_declined`` (0/1) and ``_approved_amount``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    approved = pc.equal(rows.column("status"), "APPROVED")
    amount = rows.column("amount")
    zero = pa.scalar(0, amount.type)
    return (
        rows.append_column("_approved", pc.cast(approved, pa.int64()))
        .append_column(
            "_declined", pc.cast(pc.equal(rows.column("status"), "DECLINED"), pa.int64())
        )
        .append_column("_approved_amount", pc.if_else(approved, amount, zero))
    )


def _count_all():
    import pyarrow.compute as pc

    return pc.CountOptions(mode="all")


def _named(result, names: dict[str, str]):
    """Arrow's group-by names outputs ``<column>_<aggregate>``: the gold tables' names."""
    return result.rename_columns([names.get(c, c) for c in result.column_names])


class LakeReads:
    """Silver and the alerts table as a gold batch reads them."""

    def __init__(self, silver: Path, alerts: Path) -> None:
        self.silver_path = silver
        self.alerts_path = alerts

    def new_rows(self, after: int, upto: int) -> pa.Table:
        """Silver's rows of silver batches ``after`` < batch_id <= ``upto`` (Arrow)."""
        where = f"batch_id > {int(after)} AND batch_id <= {int(upto)}"
        return _scan(self.silver_path, _NEW_COLUMNS, where)

    def history(self, customers: list[str], upto: int) -> pa.Table:
        """Every silver row of ``customers`` up to silver batch ``upto``, for the detectors."""
        where = f"batch_id <= {int(upto)}"
        return _scan(self.silver_path, DETECTOR_COLUMNS, where, ("customer_id", customers))

    def _day_rows(self, dates: list[date], key: str, values: list[str], upto: int, columns):
        where = (
            f"batch_id <= {int(upto)} AND event_date IN ({sql_list(dates)}) "
            "AND currency IS NOT NULL"
        )
        return _approved(_scan(self.silver_path, columns, where, (key, values)))

    def merchant_hourly(self, dates: list[date], merchants: list[str], upto: int) -> pa.Table:
        """The hourly aggregates of ``merchants`` on ``dates``, recomputed from silver."""
        cols = (*_MERCHANT_KEYS, "customer_id", "status", "amount", "timestamp")
        rows = self._day_rows(dates, "merchant_id", merchants, upto, cols)
        result = rows.group_by(list(_MERCHANT_KEYS), use_threads=False).aggregate(
            [
                ("status", "count", _count_all()),
                ("_approved", "sum"),
                ("_declined", "sum"),
                ("_approved_amount", "sum"),
                ("customer_id", "count_distinct"),
                ("timestamp", "min"),
                ("timestamp", "max"),
            ]
        )
        return _named(
            result,
            {
                "status_count": "transactions",
                "_approved_sum": "approved",
                "_declined_sum": "declined",
                "_approved_amount_sum": "amount_approved",
                "customer_id_count_distinct": "customers",
                "timestamp_min": "first_event_ts",
                "timestamp_max": "last_event_ts",
            },
        )

    def customer_daily(self, dates: list[date], customers: list[str], upto: int) -> pa.Table:
        """The daily aggregates of ``customers`` on ``dates``, recomputed from silver."""
        import pyarrow.compute as pc

        cols = (*_CUSTOMER_KEYS, "merchant_id", "city", "country", "status", "amount")
        rows = self._day_rows(dates, "customer_id", customers, upto, cols)
        # A city is its name in its country; a row missing either names no city (as SQL's ||).
        place = pc.binary_join_element_wise(rows.column("city"), rows.column("country"), "|")
        result = (
            rows.append_column("_place", place)
            .group_by(list(_CUSTOMER_KEYS), use_threads=False)
            .aggregate(
                [
                    ("status", "count", _count_all()),
                    ("_declined", "sum"),
                    ("_approved_amount", "sum"),
                    ("merchant_id", "count_distinct"),
                    ("_place", "count_distinct"),
                ]
            )
        )
        return _named(
            result,
            {
                "status_count": "transactions",
                "_declined_sum": "declined",
                "_approved_amount_sum": "amount",
                "merchant_id_count_distinct": "merchants",
                "_place_count_distinct": "cities",
            },
        )

    def known_alerts(self, customers: list[str]) -> dict[str, list[tuple[str, str, Any]]]:
        """``{customer: [(alert_id, detector, event_time), ...]}`` from the alerts table."""
        if not customers or not is_delta_table(self.alerts_path):
            return {}
        table = _scan(
            self.alerts_path,
            ("customer_id", "alert_id", "detector", "event_time"),
            keep=("customer_id", customers),
        )
        out: dict[str, list[tuple[str, str, Any]]] = {}
        for row in table.to_pylist():
            out.setdefault(row["customer_id"], []).append(
                (row["alert_id"], row["detector"], row["event_time"])
            )
        return out

    def batch_alerts(self, batch_id: int) -> list[dict[str, Any]]:
        """The alerts rows gold batch ``batch_id`` committed (to publish them again)."""
        return _scan(self.alerts_path, None, f"batch_id = {int(batch_id)}").to_pylist()
