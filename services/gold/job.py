"""The gold streaming job: silver Delta (as a stream) -> the aggregates' MERGEs, the detectors'
alerts (Delta, then Kafka), each Delta output exactly once per batch id.

The stream only paces the job and numbers its batches: a batch covers the silver batches after
the last one gold processed, up to the newest its rows came from, and reads those rows (and the
customers' history) from silver itself (:mod:`txn_gold.reads`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from txn_contract.alerts import SUBJECT as ALERTS_SUBJECT
from txn_contract.detectors import DetectorSet
from txn_lake import ALERTS, GOLD_CUSTOMER_DAILY, GOLD_MERCHANT_HOURLY, Lake
from txn_lake.delta_source import SchemaRestarts, delta_stream
from txn_lake.event_time import EventTime
from txn_lake.gold_tables import GOLD_SIGNALS
from txn_runtime.metrics import BatchFigures
from txn_runtime.streaming import StreamingJob

from .config import GoldSettings
from .detect import Detectors, Known, Raised, Txn
from .gazetteer import Gazetteer, shared_gazetteer
from .outputs import GoldOutputs
from .publish import AlertPublisher, alert_of, alert_row, alert_rows_to_alerts
from .reads import LakeReads
from .screen import screen

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["GoldJob"]

Emit = Callable[[str], None]


def _ms(ts: datetime) -> int:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return int(ts.timestamp() * 1000)


def _txns(history) -> dict[str, list[Txn]]:
    """Silver rows (Arrow) as each customer's transactions in the detectors' order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    micros = pc.cast(history.column("timestamp"), pa.int64()).to_pylist()
    out: dict[str, list[Txn]] = {}
    for row, us in zip(history.to_pylist(), micros, strict=True):
        out.setdefault(row["customer_id"], []).append(
            Txn(
                row["transaction_id"], us // 1000, row["status"], row["channel"], row["city"],
                row["country"], row["amount"], row["currency"],
            )
        )  # fmt: skip
    for txns in out.values():
        txns.sort(key=lambda t: t.order)
    return out


def _event_time(new) -> EventTime:
    import pyarrow as pa
    import pyarrow.compute as pc

    if new is None or not new.num_rows:
        return EventTime()
    ms = sorted(v // 1000 for v in pc.cast(new.column("timestamp"), pa.int64()).to_pylist())
    return EventTime(len(ms), ms[0], ms[len(ms) // 2], ms[-1])


class GoldJob(StreamingJob):
    """One streaming query over silver whose ``foreachBatch`` recomputes the aggregates the batch
    touched, runs the detectors, and commits the aggregates, then the alerts, then publishes
    them. ``schema_id`` is the registry id of the alert contract's latest version."""

    def __init__(
        self,
        config: GoldSettings,
        spark: SparkSession,
        detectors: DetectorSet,
        schema_id: int,
        places: Gazetteer | None = None,
    ) -> None:
        totals = ("silver_rows", "alerts", "unknown_cities")
        super().__init__(GOLD_SIGNALS.name, "gold", totals=totals)
        self.cfg = config
        self.spark = spark
        self.detector_set = detectors
        self.detectors = Detectors(detectors, places or shared_gazetteer())
        self.schema_id = schema_id
        self.outputs = GoldOutputs(spark, Lake(config.lake))
        self.reads = LakeReads(config.silver_path, config.alerts_path)
        self._publisher: AlertPublisher | None = None
        self._restarts = SchemaRestarts("gold")

    @property
    def publisher(self) -> AlertPublisher:
        if self._publisher is None:
            self._publisher = AlertPublisher(
                self.cfg.kafka_config(), self.cfg.alerts_topic, self.schema_id
            )
        return self._publisher

    def close(self) -> None:
        """Hand the alerts producer back (its librdkafka threads would otherwise outlive the
        job, retrying a broker that may be gone); every publish has flushed already."""
        self._publisher = None

    def prepare(self, emit: Emit) -> None:
        """Create the tables if missing (the alerts' from the alert contract)."""
        from txn_contract import packaged_contract

        contract = packaged_contract(ALERTS_SUBJECT)
        props = {**self.detector_set.properties(), "txn.alerts.subject": self.cfg.alerts_subject}
        self.outputs.ensure(contract.latest.schema_str, props, emit)

    # ------------------------------------------------------------------ one batch

    def process_batch(self, df: DataFrame, batch_id: int) -> None:
        """Process one micro-batch of silver (its ``batch_id`` column); a batch whose alerts are
        committed already is published again (at least once) and not recomputed."""
        from pyspark.sql import functions as F

        started = time.monotonic()
        if self.outputs.check_batch(batch_id):
            again = alert_rows_to_alerts(self.reads.batch_alerts(batch_id))
            self.publisher.publish(again)
            self.emit(
                f"batch {batch_id}: already committed to alerts (a re-run); "
                f"{len(again)} alert(s) published again"
            )
            return
        upto = df.agg(F.max("batch_id")).first()[0]
        after = self.outputs.last_silver_batch()
        upto = after if upto is None or upto < after else int(upto)
        new = self.reads.new_rows(after, upto) if upto > after else None
        meta: dict[str, Any] = {"silver_batches": [after, upto], "rows": 0}
        groups = (0, 0)
        found: list[Raised] = []
        unknown = 0
        if new is not None and new.num_rows:
            meta["rows"] = new.num_rows
            groups = self._aggregate(new, upto, batch_id, meta)
            found, unknown = self._detect(new, upto)
        event_time = _event_time(new)  # once: it sorts every new row's time
        self._commit(batch_id, found, unknown, meta, event_time)
        seconds = time.monotonic() - started
        self._report(batch_id, new, meta, groups, found, unknown, seconds, event_time)

    def _aggregate(self, new, upto: int, batch_id: int, meta: dict) -> tuple[int, int]:
        """Recompute from silver every group the new rows touch, and MERGE them."""
        import pyarrow as pa

        dates = sorted(set(new.column("event_date").to_pylist()))
        now = datetime.now(UTC)
        out = self.outputs
        counts = []
        for target, rows in (
            (out.merchant_hourly, self.reads.merchant_hourly(
                dates, sorted(set(new.column("merchant_id").to_pylist())), upto)),
            (out.customer_daily, self.reads.customer_daily(
                dates, sorted(set(new.column("customer_id").to_pylist())), upto)),
        ):  # fmt: skip
            stamped = rows.append_column(
                "updated_ts", pa.array([now] * rows.num_rows, pa.timestamp("us", tz="UTC"))
            )
            out.merge(target, stamped, dates, batch_id, meta, self.emit)
            counts.append(rows.num_rows)
        return counts[0], counts[1]

    def _detect(self, new, upto: int) -> tuple[list[Raised], int]:
        """The detectors over the new rows' customers' history up to silver batch ``upto``,
        run for the customers the vectorized screen lets through (:mod:`txn_gold.screen`)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        new_ids = new.column("transaction_id").combine_chunks()
        history = self.reads.history(pc.unique(new.column("customer_id")).to_pylist(), upto)
        screened = screen(history, new_ids, self.detectors)
        customers = sorted(screened.customers)
        mine = pc.is_in(history.column("customer_id"), value_set=pa.array(customers, pa.string()))
        txns = _txns(history.filter(mine))
        known = self.reads.known_alerts(customers)
        ids = set(new_ids.to_pylist()) if customers else set()
        found: list[Raised] = []
        for customer in customers:
            prior = [Known(a, d, _ms(ts)) for a, d, ts in known.get(customer, [])]
            found += self.detectors.run(customer, txns.get(customer, []), ids, prior).raised
        return found, screened.unknown_cities

    def _commit(self, batch_id, found, unknown, meta, event_time: EventTime) -> None:
        """The alerts (the batch's completion mark), then Kafka."""
        import pyarrow as pa

        now = datetime.now(UTC)
        # The contract's detected_at is timestamp-millis: the lake row holds what Kafka holds.
        detected_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        alerts = [alert_of(r, self.detector_set, detected_at) for r in found]
        rows = [alert_row(a, batch_id) for a in alerts]
        table = pa.Table.from_pylist(rows, schema=self.outputs.alerts_schema())
        meta = {
            **meta,
            "alerts": dict(Counter(a.detector.value for a in alerts)),
            "unknown_cities": unknown,
            "detectors_version": self.detector_set.version,
            "detectors_sha256": self.detector_set.digest,
            "event_time": event_time.to_json(),
        }
        self.outputs.append_alerts(table, batch_id, meta)
        if alerts:
            self.publisher.publish(alerts)

    def _report(self, batch_id, new, meta, groups, found, unknown, seconds, event_time) -> None:
        rows = meta["rows"]
        late = sum(new.column("is_late").to_pylist()) if new is not None and rows else 0
        self.totals["batches"] += 1
        self.totals["silver_rows"] += rows
        self.totals["alerts"] += len(found)
        self.totals["unknown_cities"] += unknown
        by = Counter(r.detector for r in found)
        detail = ", ".join(f"{k}={v}" for k, v in sorted(by.items())) or "none"
        after, upto = meta["silver_batches"]
        span = f"{after + 1}..{upto}" if upto > after else "none new"
        now_ms = time.time_ns() // 1_000_000
        p50 = event_time.p50_ms
        merged = {GOLD_MERCHANT_HOURLY: groups[0], GOLD_CUSTOMER_DAILY: groups[1]}
        self.record(
            BatchFigures(
                "gold",
                rows_in=rows,
                rows_out={**merged, ALERTS: len(found)},
                seconds=seconds,
                alerts=dict(by),
                latency_seconds={} if p50 is None else {ALERTS: (now_ms - p50) / 1000},
                # The alerts table commits every batch (its completion mark); the aggregates
                # when the batch had rows.
                committed=(ALERTS, *(t for t, n in merged.items() if n)),
            )
        )
        self.emit(
            f"batch {batch_id}: silver batches {span}, {rows} rows ({late} late) in "
            f"{seconds:.1f} s; merchant_hourly {groups[0]} group(s), customer_daily {groups[1]} "
            f"group(s) merged; alerts +{len(found)} ({detail}); cities not in the gazetteer "
            f"{unknown}; event age at commit "
            f"{event_time.ages(now_ms)}"
        )

    # ------------------------------------------------------------------ running

    def _start(self):
        cfg = self.cfg
        frame = delta_stream(self.spark, cfg.silver_path, cfg.max_files_per_trigger)
        return self.start(frame.select("batch_id"), cfg.checkpoint_path, cfg)

    def begin(self, emit: Emit):
        """Create the tables (the first time), then start the query."""
        cfg = self.cfg
        self.prepare_once(emit)
        query = self._start()
        emit(
            f"started: {cfg.silver_path} -> {cfg.merchant_hourly_path}, "
            f"{cfg.customer_daily_path}, {cfg.alerts_path} and topic {cfg.alerts_topic} "
            f"(schema id {self.schema_id}), checkpoint {cfg.checkpoint_path}, "
            + ("available-now" if cfg.available_now else f"trigger every {cfg.trigger}")
        )
        return query

    def restart_after(self, error: BaseException, emit: Emit) -> bool:
        """True when silver's schema changed: the Delta source stops, and a new query reads it."""
        if not self._restarts.after(error):
            return False
        emit("silver's schema changed: restarting the query")
        return True
