"""The producer loop: start-up checks, paced generation, delivery accounting, clean shutdown.

Start-up fails fast, each failure one sentence: the broker must accept the principal and let
it write the topic within a bound (a refusal is named first: no registry answer would help), and
the contract version's schema id is looked up in the registry under the topic's subject (never
registered from here). Then events are drawn, encoded and handed to
confluent-kafka in batches; a schedule on the monotonic clock paces them when ``rate`` is set.
Every message is accounted for by its delivery report: at the end ``produced == delivered +
failed``, where a message still unconfirmed when the flush bound runs out is purged and counted
as failed (it may or may not have reached the broker; it was not confirmed).

Example::

    run = ProducerRun(load_config({"count": 10_000, "seed": 7}, os.environ))
    run.start()
    summary = run.run()
    print(summary.to_json())
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from txn_contract.registry import lookup_schema_id
from txn_runtime.preflight import TopicNotFoundError
from txn_runtime.refusals import producing, refusal

from .client import KAFKA_SETTINGS, check_broker, kafka_config
from .config import ProducerSettings
from .progress import Pacer, Progress, Summary
from .stream import EventStream

if TYPE_CHECKING:
    from txn_runtime.producer_metrics import ProducerMetrics

__all__ = [
    "KAFKA_SETTINGS",
    "Pacer",
    "ProducerRun",
    "Progress",
    "Summary",
    "kafka_config",
]

REGISTRY_TIMEOUT_S = 5.0
# Events drawn and encoded per batch at full speed; small enough to stay responsive to signals.
_BATCH = 2_000
# Allocations between young-generation collections in the hot loop (the default is 700): more
# than a batch allocates, so a batch is usually freed before the collector ever sees it.
_GC_YOUNG = 100_000


class ProducerRun:
    """One run of the producer: :meth:`start` (checks, population), then :meth:`run`.

    ``registry`` is a ``SchemaRegistryClient`` (by default the settings build one). The subject
    follows Confluent's TopicNameStrategy (``<topic>-value``), so for the default topic it is the
    contract's own subject, the one ``txn-contract register`` registers.
    ``producer_factory``, ``admin_factory`` and ``schema_lookup`` are seams for unit tests; by
    default they are confluent-kafka's ``Producer`` and ``AdminClient`` (the start-up check) and
    the registry's answer. ``metrics`` (``--metrics-port``)
    follows the run's totals at every progress tick and each delivery's latency.
    """

    def __init__(
        self,
        config: ProducerSettings,
        *,
        log: Callable[[str], None] = lambda _m: None,
        progress_stream: TextIO | None = None,
        producer_factory: Callable[[dict[str, Any]], Any] | None = None,
        admin_factory: Callable[[dict[str, Any]], Any] | None = None,
        schema_lookup: Callable[[ProducerSettings, int], int] | None = None,
        registry: Any | None = None,
        kafka_overrides: dict[str, Any] | None = None,
        metrics: ProducerMetrics | None = None,
    ) -> None:
        self.config = config
        self.log = log
        stream = progress_stream if progress_stream is not None else sys.stderr
        enabled = config.progress if config.progress is not None else _isatty(stream)
        self.progress = Progress(stream, enabled)
        self._factory = producer_factory
        self._admin_factory = admin_factory
        self._schema_lookup = schema_lookup or self._registered_id
        self._registry = registry
        self._kafka_overrides = dict(kafka_overrides or {})
        self._stop = threading.Event()
        self._force = threading.Event()
        self.produced = 0
        self.delivered = 0
        self.failed = 0
        self.first_error: str | None = None
        self.fatal_error: str | None = None
        self.schema_id: int | None = None
        self.partitions: int | None = None
        self._producer = None
        self._generator = None
        self._encoder = None
        self._population = None
        self._faults = None
        self._stream: EventStream | None = None
        self.metrics = metrics
        self._running = False
        self._errors_seen: set[int] = set()

    # --- delivery accounting (called from producer.poll/flush in this thread) ---
    def _on_delivery(self, err, msg) -> None:
        if err is None:
            self.delivered += 1
            if self.metrics is not None and msg is not None:
                self.metrics.observe_delivery(msg.latency())
        else:
            self.failed += 1
            if self.first_error is None:
                self.first_error = err.str()

    def _fatal(self, err) -> None:
        """End the run on a fatal client error: one sentence, naming the principal when the
        broker refused it a permission."""
        principal = self.config.kafka_sasl_username
        operation = producing(self.config.topic)
        self.fatal_error = refusal(err, principal, operation) or err.str()
        self._stop.set()

    def _on_error(self, err) -> None:
        # Transport errors are retried by librdkafka; only fatal ones (e.g. the idempotent
        # producer's sequence was lost, or a refused IdempotentWrite) end the run.
        if err.fatal():
            self._fatal(err)
        elif self._running and err.code() not in self._errors_seen:
            # Once per kind: a broker that goes away mid-run must not flood stderr. Before the
            # run the start-up checks report problems in one sentence instead.
            self._errors_seen.add(err.code())
            self.log(f"kafka: {err.str()} (retrying; events stay queued)")

    def request_stop(self) -> None:
        """Stop generating; what was produced is still flushed (signal handlers call this)."""
        self._stop.set()

    def force_stop(self) -> None:
        """Give up flushing too (a second signal): unconfirmed events are counted failed."""
        self._stop.set()
        self._force.set()

    def _registered_id(self, cfg: ProducerSettings, version: int) -> int:
        """The registry id of contract ``version`` under ``cfg.subject``; never registers."""
        from txn_contract import packaged_contract

        if self._registry is None:
            self._registry = cfg.registry_client(timeout_s=REGISTRY_TIMEOUT_S, retries=1)
        return lookup_schema_id(
            self._registry,
            packaged_contract(),
            version,
            cfg.registry_display_url,
            subject=cfg.subject,
            topic=cfg.topic,
        )

    def start(self) -> None:
        """Check the broker and topic, look up the schema id, build the population."""
        import logging

        from confluent_kafka import Producer

        from txn_contract import packaged_contract

        from .encoding import EventEncoder
        from .generator import EventGenerator
        from .population import build_population

        cfg = self.config
        cv = packaged_contract().version(cfg.contract_version)
        try:
            self.partitions = check_broker(cfg, self._admin_factory)
        except TopicNotFoundError:
            # A topic without a subject is most likely a new name: the registry's sentence
            # names `txn-contract register` first, the topic is next.
            self.schema_id = self._schema_lookup(cfg, cfg.contract_version)
            raise
        self.schema_id = self._schema_lookup(cfg, cfg.contract_version)
        settings = {
            **kafka_config(cfg),
            **self._kafka_overrides,
            "on_delivery": self._on_delivery,
            "error_cb": self._on_error,
        }
        if self._factory is None:
            # librdkafka logs every failed connection attempt; _on_error says each kind once.
            quiet = logging.getLogger("txn_producer.librdkafka")
            quiet.addHandler(logging.NullHandler())
            quiet.propagate = False
            settings["logger"] = quiet
        factory = self._factory or Producer
        self._producer = factory(settings)
        t = time.monotonic()
        population = build_population(cfg.population_size, cfg.seed)
        self._generator = EventGenerator(population, cfg.seed)
        self._encoder = EventEncoder(population, cv, self.schema_id)
        self._population = population
        self.log(
            f"contract v{cfg.contract_version} is schema id {self.schema_id} under subject "
            f"{cfg.subject}; topic {cfg.topic} has {self.partitions} partitions; "
            f"population built in {time.monotonic() - t:.1f} s: {population.describe()}"
        )
        if cfg.conflict_rate or cfg.poison_rate or cfg.violation_rate:
            from .faults import Faults

            self._faults = Faults(cv, self.schema_id, cfg.seed)
            if cfg.violation_rate:
                self.log(self._faults.describe())

    def run(self) -> Summary:
        """Produce until the count, the duration or a stop request; flush; summarise."""
        if self._producer is None:
            raise RuntimeError("call start() first")
        cfg = self.config
        truth = open(cfg.fraud_truth, "w", encoding="utf-8") if cfg.fraud_truth else None  # noqa: SIM115
        stream = EventStream(
            cfg,
            self._generator,
            self._encoder,
            self._population,
            faults=self._faults,
            truth=truth,
        )
        self._stream = stream
        self._running = True
        t0 = time.monotonic()
        pacer = Pacer(cfg.rate, self._pacer_origin(t0)) if cfg.rate > 0 else None
        deadline = t0 + cfg.duration if cfg.duration is not None else None
        # Each event allocates a dozen short-lived, acyclic objects (freed with their batch): at
        # the default threshold (700) the collector would run ~30 times a batch, costing a
        # third of generation. Freezing the population keeps full collections off it too.
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(_GC_YOUNG, *thresholds[1:])
        try:
            while not self._stop.is_set():
                n = self._batch_size(time.monotonic(), t0, deadline, pacer)
                if n is None:
                    break
                if n:
                    self._send(stream.messages(n, self.produced))
                    self._poll()
                    self._tick(time.monotonic(), t0)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            if truth is not None:
                truth.close()
            self._flush(cfg.flush_timeout)
            seconds = time.monotonic() - t0
            self._tick(time.monotonic(), t0, force=True)
            self.progress.close()
        if self.fatal_error:
            self.log(f"the producer stopped on a fatal Kafka error: {self.fatal_error}")
        if self.failed:
            self.log(f"{self.failed:,} events were not delivered; first error: {self.first_error}")
        if cfg.fraud_rate:
            self.log(
                f"fraud scenarios: {stream.fraud.started:,} started, {stream.fraud.finished:,} "
                f"complete (only complete ones are in the truth file)"
            )
        return stream.summary(self.produced, self.delivered, self.failed, seconds)

    def _batch_size(
        self, now: float, t0: float, deadline: float | None, pacer: Pacer | None
    ) -> int | None:
        """Events to send now: None when the run is over, 0 after waiting for the pacer."""
        cfg = self.config
        if deadline is not None and now >= deadline:
            return None
        n = _BATCH
        if cfg.count is not None:
            n = min(n, cfg.count - self.produced)
            if n <= 0:
                return None
        if pacer is not None:
            due = pacer.due(now) - self.produced
            if due <= 0:
                # Serve delivery reports while waiting, but never past the next event.
                self._poll(min(pacer.wait(self.produced, now), 0.05))
                self._tick(now, t0)
                return 0
            n = min(n, due)
        return n

    def _pacer_origin(self, t0: float) -> float:
        """When event 0 is due on the monotonic clock: now, or with ``--start-time`` the
        start's place on it, so an event goes out when its event time has come (a past start
        is caught up at full speed, a future one waited for)."""
        start = self.config.start_time
        if start is None:
            return t0
        return t0 - (time.time() - start.timestamp())

    def _poll(self, timeout: float = 0) -> None:
        """Serve the client's callbacks; a fatal error it raises ends the run (see _fatal)."""
        from confluent_kafka import KafkaException

        try:
            self._producer.poll(timeout)
        except KafkaException as exc:
            self._fatal(exc.args[0])

    def _send(self, messages) -> None:
        """Hand ``messages`` to the client; count what it accepted."""
        from confluent_kafka import KafkaException

        produce, topic = self._producer.produce, self.config.topic
        queued = 0
        try:
            for key, value in messages:
                try:
                    produce(topic, value, key)
                except BufferError:
                    if not self._produce_when_room(topic, value, key):
                        break
                queued += 1
        except KafkaException as exc:
            # The client refused the event itself (not a delivery failure): stop generating,
            # flush what was accepted, and report it.
            self.fatal_error = f"produce refused an event: {exc.args[0].str()}"
            self._stop.set()
        finally:
            # Counted per batch: an attribute update per event costs measurable time.
            self.produced += queued

    def _produce_when_room(self, topic: str, value: bytes, key: bytes) -> bool:
        """librdkafka's queue is full: serve reports until there is room, unless asked to stop
        (a dead broker keeps the queue full for message.timeout.ms); False = not produced."""
        while not self._stop.is_set():
            self._poll(0.05)
            try:
                self._producer.produce(topic, value, key)
                return True
            except BufferError:
                continue
        return False

    def _tick(self, now: float, t0: float, force: bool = False) -> None:
        """Progress line and metrics, brought up to date."""
        stream = self._stream
        note = stream.progress_note if stream is not None else None
        figures = (self.produced, self.delivered, self.failed)
        self.progress.update(now, now - t0, *figures, force=force, note=note)
        if self.metrics is not None and stream is not None:
            self.metrics.update(stream.figures(*figures))

    def _flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for every delivery report; purge what is left."""
        from confluent_kafka import KafkaException

        producer = self._producer
        deadline = time.monotonic() + timeout
        while len(producer) > 0 and not self._force.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                producer.flush(min(left, 0.2))
            except KafkaException as exc:
                self._fatal(exc.args[0])  # nothing more will be delivered
                break
            self._tick(time.monotonic(), deadline - timeout)
        if len(producer) > 0:
            self.log(
                f"{len(producer):,} events still unconfirmed after the flush bound; "
                "purging them (they count as failed)"
            )
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            # Purged messages get delivery reports with a purge error: serve them.
            producer.flush(1.0)
        # Anything the client never reported (it should not happen) still counts as failed.
        missing = self.produced - self.delivered - self.failed
        if missing > 0:
            self.failed += missing
            self.first_error = self.first_error or "no delivery report"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
