"""The producer loop's accounting, pacing, shutdown and start-up checks, against a fake client."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException

from tests.unit.test_refusals import _Client
from txn_contract import packaged_contract, wire
from txn_producer.config import load_config
from txn_producer.producer import Pacer, ProducerRun, Progress, Summary
from txn_runtime.preflight import PreflightError
from txn_runtime.signals import stop_on_signals

SCHEMA_ID = 42


class FakeProducer:
    """Just enough of confluent_kafka.Producer: a queue, delivery reports served by poll/flush."""

    def __init__(
        self,
        settings,
        *,
        fail_every: int = 0,
        capacity: int | None = None,
        deliver: bool = True,
        fatal_after: int | None = None,
        refuse_after: int | None = None,
    ):
        self.settings = settings
        self.on_delivery = settings["on_delivery"]
        self.error_cb = settings["error_cb"]
        self.queue: list[tuple[str, bytes, bytes]] = []
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.purged = False
        self.fail_every = fail_every
        self.capacity = capacity
        self.deliver = deliver
        self.fatal_after = fatal_after
        self.buffer_errors = 0
        self.refuse_after = refuse_after
        self.accepted = 0

    def produce(self, topic, value, key):
        if self.capacity is not None and len(self.queue) >= self.capacity:
            self.buffer_errors += 1
            raise BufferError("Local: Queue full")
        if self.refuse_after is not None and self.accepted >= self.refuse_after:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.accepted += 1
        self.queue.append((topic, value, key))

    def poll(self, timeout=0):
        served = 0
        if self.purged:
            for _ in self.queue:
                self.on_delivery(KafkaError(KafkaError._PURGE_QUEUE), None)
                served += 1
            self.queue.clear()
        elif self.deliver:
            for msg in self.queue:
                self.sent.append(msg)
                n = len(self.sent)
                if self.fail_every and n % self.fail_every == 0:
                    self.on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), None)
                else:
                    self.on_delivery(None, None)
                served += 1
                if self.fatal_after is not None and n == self.fatal_after:
                    self.error_cb(KafkaError(KafkaError._FATAL, "boom", fatal=True))
            self.queue.clear()
        elif timeout:
            time.sleep(min(timeout, 0.01))
        return served

    def flush(self, timeout=None):
        self.poll(timeout or 0)
        return len(self.queue)

    def purge(self, in_queue=True, in_flight=True, blocking=True):
        self.purged = True

    def __len__(self):
        return len(self.queue)


class FakeAdmin(_Client):
    """Just enough of confluent_kafka.admin.AdminClient for the start-up check: metadata (the
    refusals tests' fake client), and the settings it was made with."""

    def __init__(self, settings, *, topics: dict[str, int] | None = None, unreachable=False):
        super().__init__({"bank_txn_stream": 3} if topics is None else topics, unreachable)
        self.settings = settings


# The keys of the producer's one JSON summary line (cli.py's docstring), here and in the e2e test.
SUMMARY_KEYS = frozenset(
    ("produced", "delivered", "failed", "seconds", "rate", "resent", "late", "conflicts",
     "poison", "violations", "poison_by_reason", "violations_by_rule")
)  # fmt: skip


def _run(
    flags: dict, admin: dict | None = None, **fake_options
) -> tuple[ProducerRun, FakeProducer, Summary]:
    config = load_config({"seed": 1, "customers": 100, "progress": False, **flags}, {})
    made: list[FakeProducer] = []

    def factory(settings):
        made.append(FakeProducer(settings, **fake_options))
        return made[0]

    run = ProducerRun(
        config,
        producer_factory=factory,
        admin_factory=lambda s: FakeAdmin(s, **(admin or {})),
        schema_lookup=lambda _c, _v: SCHEMA_ID,
    )
    run.start()
    summary = run.run()
    return run, made[0], summary


def test_every_event_is_accounted_and_valid():
    _, fake, summary = _run({"count": 5_000})
    assert (summary.produced, summary.delivered, summary.failed) == (5_000, 5_000, 0)
    assert summary.complete
    assert set(json.loads(summary.to_json())) == SUMMARY_KEYS
    assert (summary.resent, summary.late, summary.conflicts) == (0, 0, 0)  # clean unless asked
    assert summary.poison == summary.violations == {}
    cv = packaged_contract().latest
    for topic, value, key in fake.sent[:500]:
        assert topic == "bank_txn_stream"
        assert wire.split_header(value)[0] == SCHEMA_ID
        assert wire.decode(value, cv.parsed)["customer_id"].encode() == key
    # Idempotent, acks=all, compressed: the settings the issue promises.
    assert fake.settings["enable.idempotence"] is True
    assert fake.settings["acks"] == "all"
    assert fake.settings["compression.type"] != "none"


def test_failed_deliveries_are_counted_and_make_the_run_incomplete():
    _, _fake, summary = _run({"count": 5_000}, fail_every=100)
    assert (summary.produced, summary.delivered, summary.failed) == (5_000, 4_950, 50)
    assert not summary.complete


def test_a_full_queue_pushes_back_without_losing_events():
    _, fake, summary = _run({"count": 3_000}, capacity=250)
    assert fake.buffer_errors > 0
    assert summary.delivered == summary.produced == 3_000


def test_unconfirmed_events_are_purged_after_the_flush_bound_and_count_as_failed():
    _, fake, summary = _run({"count": 1_000, "flush_timeout": 0.3}, deliver=False)
    # The bound was reached and what was left purged, not waited for (how long a run takes is
    # not a test's to assert on a shared machine).
    assert fake.purged and len(fake) == 0
    assert (summary.produced, summary.delivered, summary.failed) == (1_000, 0, 1_000)


def test_a_fatal_kafka_error_stops_generation():
    run, _fake, summary = _run({}, fatal_after=3_000)
    assert run.fatal_error is not None
    assert summary.produced < 100_000 and summary.complete


def test_a_refused_event_stops_the_run_with_everything_accepted_accounted():
    run, _, summary = _run({"count": 10_000}, refuse_after=2_500)
    assert "produce refused an event" in run.fatal_error
    assert (summary.produced, summary.delivered, summary.failed) == (2_500, 2_500, 0)


def test_stop_request_flushes_what_was_produced():
    config = load_config({"seed": 1, "customers": 50, "progress": False}, {})
    run = ProducerRun(
        config,
        producer_factory=FakeProducer,
        admin_factory=FakeAdmin,
        schema_lookup=lambda _c, _v: SCHEMA_ID,
    )
    run.start()
    threading.Timer(0.3, run.request_stop).start()
    summary = run.run()
    assert summary.produced > 0 and summary.complete


def test_rate_is_held_by_the_schedule():
    _, _fake, summary = _run({"rate": 4_000.0, "duration": 1.0})
    assert abs(summary.produced - 4_000) <= 4_000 * 0.05


def test_simulated_clock_spaces_events_by_rate():
    start = "2026-01-31T09:00:00Z"
    _, fake, _summary = _run({"count": 50, "start_time": start, "rate": 1_000.0})
    cv = packaged_contract().latest
    stamps = [wire.decode(v, cv.parsed)["timestamp"] for _t, v, _k in fake.sent]
    base = stamps[0]
    assert base.isoformat() == "2026-01-31T09:00:00+00:00"
    assert [(s - base).total_seconds() * 1000 for s in stamps] == list(range(50))


def test_a_dirty_stream_resends_exact_copies_and_stamps_some_events_hours_late():
    start = "2026-01-31T09:00:00Z"
    flags = {"count": 20_000, "start_time": start}  # unpaced: 1,000 events per simulated s
    _, fake, summary = _run({**flags, "duplicate_rate": 0.05, "late_rate": 0.02})
    assert summary.produced == summary.delivered == len(fake.sent) == 20_000
    cv = packaged_contract().latest
    events = [wire.decode(v, cv.parsed) for _t, v, _k in fake.sent]
    ids = [e["transaction_id"] for e in events]
    # Every re-send repeats an earlier message byte for byte, key included.
    first: dict[str, tuple] = {}
    copies = 0
    for (_t, value, key), tid in zip(fake.sent, ids, strict=True):
        if tid in first:
            assert first[tid] == (value, key)
            copies += 1
        else:
            first[tid] = (value, key)
    assert copies == summary.resent and 0.04 * 20_000 < copies < 0.06 * 20_000
    # Late events are stamped 65 min to 6 h before their place in the simulated clock.
    base = events[0]["timestamp"] if events[0]["timestamp"].minute == 0 else None
    assert base is not None and base.isoformat() == "2026-01-31T09:00:00+00:00"
    lateness = [
        (base.timestamp() * 1000 + i) - e["timestamp"].timestamp() * 1000
        for i, e in enumerate(events)
        if ids.index(e["transaction_id"]) == i  # originals only: a copy keeps its own stamp
    ]
    late = [d / 60_000 for d in lateness if d > 0]
    assert all(65 <= m <= 360 for m in late)
    assert 0.01 * 20_000 < len(late) == summary.late < 0.03 * 20_000
    # The same seed gives the same dirty stream.
    _, again, _ = _run({**flags, "duplicate_rate": 0.05, "late_rate": 0.02})
    assert again.sent == fake.sent


def test_unreachable_broker_and_missing_topic_are_sentences(monkeypatch):
    import txn_producer.client

    monkeypatch.setattr(txn_producer.client, "BROKER_CHECK_TIMEOUT_S", 0.2)
    with pytest.raises(PreflightError, match=r"could not be reached within 0.2 s"):
        _run({"count": 1}, admin={"unreachable": True})
    with pytest.raises(PreflightError, match="Topic bank_txn_stream does not exist"):
        _run({"count": 1}, admin={"topics": {"other": 3}})


def test_the_broker_is_checked_before_the_registry_but_a_missing_topic_after_it(monkeypatch):
    """A refusal is the first thing to fix; a topic that does not exist is most likely a new
    name, whose subject the registry lacks too: its sentence names `txn-contract register`."""
    import txn_producer.client
    from txn_contract.errors import ContractNotRegisteredError

    monkeypatch.setattr(txn_producer.client, "BROKER_CHECK_TIMEOUT_S", 0.2)
    config = load_config({"seed": 1, "customers": 100, "progress": False, "count": 1}, {})
    asked: list[str] = []

    def start(registered: bool, **admin) -> None:
        def lookup(_c, _v):
            asked.append("registry")
            if not registered:
                raise ContractNotRegisteredError("not registered; run `txn-contract register`")
            return SCHEMA_ID

        def admin_factory(settings):
            asked.append("broker")
            return FakeAdmin(settings, **admin)

        asked.clear()
        ProducerRun(config, admin_factory=admin_factory, schema_lookup=lookup).start()

    with pytest.raises(PreflightError, match="could not be reached"):
        start(False, unreachable=True)
    assert asked == ["broker"]
    with pytest.raises(ContractNotRegisteredError):
        start(False, topics={})
    assert asked == ["broker", "registry"]
    with pytest.raises(PreflightError, match="does not exist"):
        start(True, topics={})
    assert asked == ["broker", "registry"]


def test_pacer_schedule():
    p = Pacer(100.0, t0=10.0)
    assert p.due(10.0) == 1
    assert p.due(10.5) == 51
    assert p.wait(51, 10.5) == pytest.approx(0.01)
    assert p.wait(10, 10.5) == 0


def test_progress_line_only_when_enabled():
    shown, hidden = io.StringIO(), io.StringIO()
    Progress(shown, True).update(1.0, 1.0, 10, 8, 1, force=True)
    Progress(hidden, False).update(1.0, 1.0, 10, 8, 1, force=True)
    assert shown.getvalue().startswith("\r") and "in flight 1" in shown.getvalue()
    assert hidden.getvalue() == ""


def test_signals_stop_then_force():
    calls = []
    run = SimpleNamespace(
        request_stop=lambda: calls.append("stop"), force_stop=lambda: calls.append("force")
    )
    # What the CLI installs: the first signal stops generation, the second the flush.
    with stop_on_signals(run.request_stop, run.force_stop):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    assert calls == ["stop", "force"]


def test_a_run_with_every_kind_of_dirt_counts_each_in_its_summary_and_progress_line():
    flags = {"count": 6_000, "start_time": "2026-01-31T09:00:00Z", "progress": True}
    rates = {"poison_rate": 0.01, "violation_rate": 0.01, "conflict_rate": 0.01}
    config = load_config({"seed": 1, "customers": 100, **flags, **rates}, {})
    made: list[FakeProducer] = []
    stream = io.StringIO()
    run = ProducerRun(
        config,
        producer_factory=lambda s: made.append(FakeProducer(s)) or made[0],
        admin_factory=FakeAdmin,
        schema_lookup=lambda _c, _v: SCHEMA_ID,
        progress_stream=stream,
    )
    run.start()
    summary = run.run()
    assert summary.produced == summary.delivered == len(made[0].sent) == 6_000
    line = json.loads(summary.to_json())
    assert line["poison"] == sum(line["poison_by_reason"].values()) > 20
    assert line["violations"] == summary.violators > 20 and line["conflicts"] > 20
    assert sum(line["violations_by_rule"].values()) >= line["violations"]
    shown = stream.getvalue().split("\r")[-1]  # the last (forced) progress line
    for kind in ("conflict", "poison", "violation"):
        assert f"{kind} " in shown, shown


def test_progress_line_appends_its_note():
    shown = io.StringIO()
    Progress(shown, True).update(1.0, 1.0, 10, 8, 1, force=True, note=lambda: "  poison 2")
    assert shown.getvalue().endswith("in flight 1  poison 2\x1b[K")
