"""What a gold batch reads from the lake, with delta-rs (DataFusion) on the driver: no Spark job.

Every read of silver is bounded by silver's own ``batch_id`` (the silver-refine batch that
inserted the row): a gold batch covers the silver batches after the last one it processed up
to the newest one its stream delivered, and reads silver only up to that one. Silver is
append-only, so a re-run of a gold batch reads exactly what its first attempt read, whatever
silver gained since, and the figures and alerts do not depend on where the stream cut batches.

Example::

    reads = LakeReads(settings.silver_path, settings.alerts_path)
    new = reads.new_rows(after=4, upto=7)   # silver batches 5..7, as Arrow
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from txn_lake.facts import is_delta_table

__all__ = ["DETECTOR_COLUMNS", "IN_LIST_MAX", "LakeReads", "chunks", "sql_list"]

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


def sql_list(values: Iterable[Any]) -> str:
    """A SQL list of literals: strings quoted, dates cast."""
    out = []
    for v in values:
        if isinstance(v, date):
            out.append(f"CAST('{v.isoformat()}' AS DATE)")
        else:
            out.append("'" + str(v).replace("'", "''") + "'")
    return ", ".join(out)


# The most literals one SQL IN list holds: DataFusion's parser recurses per element, and a
# list of 30,000 overflowed the thread's stack (a segfault) where 10,000 passed.
IN_LIST_MAX = 5_000


def chunks(values: Iterable[Any], size: int = IN_LIST_MAX) -> list[list[Any]]:
    """``values`` in lists of at most ``size`` (one list, maybe empty, when there are few)."""
    items = list(values)
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]


def _quoted(columns: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


class LakeReads:
    """Silver and the alerts table as a gold batch reads them."""

    def __init__(self, silver: Path, alerts: Path) -> None:
        self.silver_path = silver
        self.alerts_path = alerts

    def _query_each(self, sql_of: Any, values: Iterable[Any], **tables: Path):
        """``sql_of(chunk)`` for each chunk of ``values`` (see :data:`IN_LIST_MAX`), the
        results concatenated: for queries whose groups never span two chunks."""
        import pyarrow as pa

        return pa.concat_tables([self._query(sql_of(c), **tables) for c in chunks(values)])

    def _query(self, sql: str, **tables: Path):
        import pyarrow as pa
        from deltalake import DeltaTable, QueryBuilder

        query = QueryBuilder()
        for name, path in tables.items():
            query = query.register(name, DeltaTable(str(path)))
        result = pa.table(query.execute(sql).read_all())
        # DataFusion may answer with string views: the plain types for Arrow compute.
        return result.cast(
            pa.schema(
                [
                    f.with_type(pa.string()) if f.type == pa.string_view() else f
                    for f in result.schema
                ]
            )
        )

    def new_rows(self, after: int, upto: int):
        """Silver's rows of silver batches ``after`` < batch_id <= ``upto`` (Arrow)."""
        return self._query(
            f"SELECT {_quoted(_NEW_COLUMNS)} FROM silver "
            f"WHERE batch_id > {int(after)} AND batch_id <= {int(upto)}",
            silver=self.silver_path,
        )

    def history(self, customers: list[str], upto: int):
        """Every silver row of ``customers`` up to silver batch ``upto``, for the detectors."""
        return self._query_each(
            lambda some: (
                f"SELECT {_quoted(DETECTOR_COLUMNS)} FROM silver "
                f"WHERE batch_id <= {int(upto)} AND customer_id IN ({sql_list(some)})"
            ),
            customers,
            silver=self.silver_path,
        )

    def merchant_hourly(self, dates: list[date], merchants: list[str], upto: int):
        """The hourly aggregates of ``merchants`` on ``dates``, recomputed from silver."""
        return self._query_each(
            lambda some: (
                f"""SELECT merchant_id, currency, event_date, event_hour,
                COUNT(*) AS transactions,
                SUM(CASE WHEN status = 'APPROVED' THEN 1 ELSE 0 END) AS approved,
                SUM(CASE WHEN status = 'DECLINED' THEN 1 ELSE 0 END) AS declined,
                CAST(COALESCE(SUM(CASE WHEN status = 'APPROVED' THEN amount END), 0)
                     AS DECIMAL(38, 2)) AS amount_approved,
                COUNT(DISTINCT customer_id) AS customers,
                MIN("timestamp") AS first_event_ts,
                MAX("timestamp") AS last_event_ts
            FROM silver
            WHERE batch_id <= {int(upto)} AND event_date IN ({sql_list(dates)})
              AND merchant_id IN ({sql_list(some)}) AND currency IS NOT NULL
            GROUP BY merchant_id, currency, event_date, event_hour"""
            ),
            merchants,
            silver=self.silver_path,
        )

    def customer_daily(self, dates: list[date], customers: list[str], upto: int):
        """The daily aggregates of ``customers`` on ``dates``, recomputed from silver."""
        return self._query_each(
            lambda some: (
                f"""SELECT customer_id, event_date, currency,
                COUNT(*) AS transactions,
                SUM(CASE WHEN status = 'DECLINED' THEN 1 ELSE 0 END) AS declined,
                CAST(COALESCE(SUM(CASE WHEN status = 'APPROVED' THEN amount END), 0)
                     AS DECIMAL(38, 2)) AS amount,
                COUNT(DISTINCT merchant_id) AS merchants,
                COUNT(DISTINCT city || '|' || country) AS cities
            FROM silver
            WHERE batch_id <= {int(upto)} AND event_date IN ({sql_list(dates)})
              AND customer_id IN ({sql_list(some)}) AND currency IS NOT NULL
            GROUP BY customer_id, event_date, currency"""
            ),
            customers,
            silver=self.silver_path,
        )

    def known_alerts(self, customers: list[str]) -> dict[str, list[tuple[str, str, Any]]]:
        """``{customer: [(alert_id, detector, event_time), ...]}`` from the alerts table."""
        if not customers or not is_delta_table(self.alerts_path):
            return {}
        table = self._query_each(
            lambda some: (
                "SELECT customer_id, alert_id, detector, event_time FROM alerts "
                f"WHERE customer_id IN ({sql_list(some)})"
            ),
            customers,
            alerts=self.alerts_path,
        )
        out: dict[str, list[tuple[str, str, Any]]] = {}
        for row in table.to_pylist():
            out.setdefault(row["customer_id"], []).append(
                (row["alert_id"], row["detector"], row["event_time"])
            )
        return out

    def batch_alerts(self, batch_id: int) -> list[dict[str, Any]]:
        """The alerts rows gold batch ``batch_id`` committed (to publish them again)."""
        return self._query(
            f"SELECT * FROM alerts WHERE batch_id = {int(batch_id)}", alerts=self.alerts_path
        ).to_pylist()
