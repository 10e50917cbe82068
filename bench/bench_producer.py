"""Benchmark of the producer against the local broker, with the project report's producer as the
baseline measured in the same run.

What it measures, in order:

1. Encoding alone, on the same 100,000 events: the producer's segment assembly (and the
   hand-written one it replaced in issue 18, ``bench/hand_encoder.py``), fastavro's
   ``schemaless_writer`` (``txn_contract.wire.encode``), confluent-kafka's ``AvroSerializer``,
   and the report's JSON; plus bytes per event of the Avro value and of the same event as JSON.
2. Optionally (``--sweep``) the Kafka settings: compression codecs, then ``linger.ms`` x
   ``batch.size`` for the chosen codec; delivered events/s, CPU per event, bytes on disk.
3. ``txn-producer`` at full speed, as a user runs it (the console script, a subprocess).
4. The baseline written as the report describes it: Faker called for every field of every
   event, ``json.dumps``, kafka-python's ``KafkaProducer`` with its defaults.
5. Optionally (``--rate-check``) ``txn-producer --rate R --duration 10``: how close to R.

It prints the figures with the command that produced them. Topics and subjects it creates are
named ``bench-*`` and deleted at the end. Run it against a platform you started, e.g.::

    txn-platform up --state-dir /tmp/bench-platform --kafka-port 19092 \\
        --controller-port 19093 --registry-port 18081
    .venv/bin/python bench/bench_producer.py --state-dir /tmp/bench-platform --sweep --rate-check
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from hand_encoder import HandEncoder  # bench/hand_encoder.py: the encoder before issue 18
from machine import load_average, machine  # bench/machine.py, beside this script

__all__ = ["main"]

BIN = Path(sys.executable).parent


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class Platform:
    """Topics and subjects for the run, created and deleted here."""

    def __init__(self, bootstrap: str, registry_url: str, state_dir: Path | None) -> None:
        from confluent_kafka.admin import AdminClient

        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.state_dir = state_dir
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.topics: list[str] = []

    def topic(self, label: str, register: bool = True) -> str:
        from confluent_kafka.admin import NewTopic

        from txn_contract import packaged_contract
        from txn_contract.registry import register_contract, registry_client

        name = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        self.admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[
            name
        ].result(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            md = self.admin.list_topics(name, timeout=10).topics.get(name)
            if md and md.error is None and len(md.partitions) == 3:
                break
            time.sleep(0.1)
        if register:
            contract = dataclasses.replace(packaged_contract(), subject=f"{name}-value", topic=name)
            register_contract(registry_client(self.registry_url), contract, self.registry_url)
        self.topics.append(name)
        return name

    def bytes_on_disk(self, topic: str) -> int | None:
        """Bytes of the topic's log segments: record batches as the producer sent them."""
        if self.state_dir is None:
            return None
        data = self.state_dir / "kafka" / "data"
        return sum(p.stat().st_size for p in data.glob(f"{topic}-*/*.log"))

    def cleanup(self) -> None:
        from txn_contract.registry import registry_client

        if not self.topics:
            return
        for future in self.admin.delete_topics(self.topics).values():
            try:
                future.result(30)
            except Exception as exc:  # noqa: BLE001 - cleanup reports and goes on
                _log(f"could not delete a topic: {exc}")
        client = registry_client(self.registry_url)
        for name in self.topics:
            try:
                client.delete_subject(f"{name}-value")
                client.delete_subject(f"{name}-value", permanent=True)
            except Exception:  # noqa: BLE001 - subjects of unregistered topics do not exist
                pass


def _report_event(fake, rng: random.Random) -> dict:
    """One event as the project report's producer builds it: Faker for every field."""
    return {
        "transaction_id": fake.uuid4(),
        "timestamp": datetime.now(UTC).isoformat(),
        "customer_id": fake.bothify("CUST#######"),
        "merchant_id": fake.bothify("MERCH######"),
        "amount": round(rng.uniform(1.0, 2000.0), 2),
        "currency": "CAD",
        "channel": rng.choice(["POS", "ATM", "ECOM"]),
        "city": fake.city(),
        "country": "CA",
        "device_id": fake.bothify("DEV-########"),
        "status": rng.choices(["APPROVED", "DECLINED"], weights=[97, 3])[0],
    }


def _as_report_json(record: dict) -> bytes:
    """Our event in the report's JSON shape (amount a float, timestamp an ISO string)."""
    out = dict(record)
    out["amount"] = float(record["amount"])
    out["timestamp"] = record["timestamp"].isoformat()
    return json.dumps(out).encode("utf-8")


def bench_encoding(plat: Platform, topic: str, n: int) -> dict:
    """Events/s of each encoder on the same events, and bytes per event."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from txn_contract import packaged_contract, wire
    from txn_producer.encoding import EventEncoder
    from txn_producer.generator import EventGenerator
    from txn_producer.population import build_population

    cv = packaged_contract().latest
    pop = build_population(10_000, 1)
    gen = EventGenerator(pop, 1)
    draws = gen.draws(n)
    now_ms = time.time_ns() // 1_000_000
    stamps = [now_ms + i // 100 for i in range(n)]
    records = [
        gen.transaction(d, ts).to_avro(cv.version) for d, ts in zip(draws, stamps, strict=True)
    ]
    enc = EventEncoder(pop, cv, schema_id=1)
    hand = HandEncoder(pop, cv, schema_id=1)  # the baseline of issue 18's generated encoder

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return n / (time.perf_counter() - t)

    gen2 = EventGenerator(pop, 2)
    results = {
        "generate (draws only)": timed(lambda: gen2.draws(n)),
        "segments (txn_producer.encoding)": timed(lambda: enc.messages(draws, stamps)),
        "segments, hand encoder before issue 18": timed(lambda: hand.messages(draws, stamps)),
        "fastavro schemaless_writer (wire.encode)": timed(
            lambda: [wire.encode(r, cv.parsed, 1) for r in records]
        ),
    }
    serializer = AvroSerializer(
        SchemaRegistryClient({"url": plat.registry_url}),
        cv.schema_str,
        conf={"auto.register.schemas": False, "use.latest.version": False},
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    serializer(records[0], ctx)  # first call looks the schema up in the registry
    results["confluent-kafka AvroSerializer"] = timed(lambda: [serializer(r, ctx) for r in records])
    results["JSON (json.dumps, report shape)"] = timed(
        lambda: [_as_report_json(r) for r in records]
    )
    values = [v for _k, v in enc.messages(draws, stamps)]
    assert all(
        v == wire.encode(r, cv.parsed, 1)
        for v, r in zip(values[:2000], records[:2000], strict=True)
    )
    avro_bytes = sum(map(len, values)) / n
    json_bytes = sum(len(_as_report_json(r)) for r in records) / n
    rng = random.Random(1)
    from faker import Faker

    fake = Faker()
    Faker.seed(1)
    report_json = (
        sum(len(json.dumps(_report_event(fake, rng)).encode()) for _ in range(5000)) / 5000
    )
    return {
        "rates": results,
        "avro_value_bytes": avro_bytes,
        "json_same_event_bytes": json_bytes,
        "report_json_bytes": report_json,
    }


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_cli(plat: Platform, topic: str, count: int, extra: list[str] | None = None) -> dict:
    """``txn-producer`` as a user runs it; its JSON summary plus CPU seconds."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": plat.bootstrap,
        "SCHEMA_REGISTRY_URL": plat.registry_url,
    }
    cmd = [
        str(BIN / "txn-producer"),
        "--count",
        str(count),
        "--seed",
        "1",
        "--no-progress",
        "--topic",
        topic,
        *(extra or []),
    ]
    cpu0 = _cpu_children()
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"txn-producer failed ({res.returncode}): {res.stderr}")
    summary = json.loads(res.stdout)
    summary["process_seconds"] = wall
    summary["cpu_seconds"] = _cpu_children() - cpu0
    summary["command"] = shlex.join(["txn-producer", *cmd[1:]])
    return summary


def bench_baseline(plat: Platform, topic: str, seconds: float) -> dict:
    """The report's producer: Faker per event, JSON, kafka-python with default settings."""
    from faker import Faker
    from kafka import KafkaProducer

    fake = Faker()
    Faker.seed(1)
    rng = random.Random(1)
    # Defaults otherwise (kafka-python 3: acks=all, no compression, linger 0, 16 KiB batches).
    producer = KafkaProducer(bootstrap_servers=plat.bootstrap)
    counts = {"delivered": 0, "failed": 0}

    def ok(_metadata) -> None:
        counts["delivered"] += 1

    def bad(_exc) -> None:
        counts["failed"] += 1

    produced = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        value = json.dumps(_report_event(fake, rng)).encode("utf-8")
        producer.send(topic, value=value).add_callback(ok).add_errback(bad)
        produced += 1
    producer.flush(60)
    elapsed = time.perf_counter() - t0
    producer.close(10)
    return {
        "produced": produced,
        "delivered": counts["delivered"],
        "failed": counts["failed"],
        "seconds": elapsed,
        "rate": counts["delivered"] / elapsed,
    }


def bench_settings(plat: Platform, count: int, rounds: int) -> list[dict]:
    """Delivered events/s, CPU/event and bytes on disk per Kafka setting, in-process.

    Every setting runs once per round and rounds are interleaved, so a change in the machine's
    background load hits all settings alike; the table shows medians over the rounds.
    """
    import statistics

    from txn_producer.config import load_config
    from txn_producer.producer import KAFKA_SETTINGS, ProducerRun

    def one(overrides: dict) -> dict:
        topic = plat.topic("sweep")
        config = load_config(
            {"count": count, "seed": 1, "progress": False, "topic": topic},
            {"KAFKA_BOOTSTRAP_SERVERS": plat.bootstrap, "SCHEMA_REGISTRY_URL": plat.registry_url},
        )
        run = ProducerRun(config, kafka_overrides=overrides)
        run.start()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        summary = run.run()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        disk = plat.bytes_on_disk(topic)
        _log(f"settings {overrides}: {summary.rate:,.0f}/s")
        return {
            "rate": summary.rate,
            "cpu_us_per_event": cpu / summary.produced * 1e6,
            "disk_bytes_per_event": disk / summary.delivered if disk else None,
            "complete": summary.complete,
        }

    base_linger, base_batch = KAFKA_SETTINGS["linger.ms"], KAFKA_SETTINGS["batch.size"]
    settings = [
        {"compression.type": codec, "linger.ms": base_linger, "batch.size": base_batch}
        for codec in ("none", "lz4", "snappy", "zstd", "gzip")
    ]
    codec = KAFKA_SETTINGS["compression.type"]
    for linger in (5, 20, 100):
        for batch in (65_536, 262_144, 1_048_576):
            if (linger, batch) != (base_linger, base_batch):
                settings.append(
                    {"compression.type": codec, "linger.ms": linger, "batch.size": batch}
                )
    results: list[list[dict]] = [[] for _ in settings]
    for _round in range(rounds):
        for i, overrides in enumerate(settings):
            results[i].append(one(overrides))
    rows = []
    for overrides, runs in zip(settings, results, strict=True):
        disks = [r["disk_bytes_per_event"] for r in runs if r["disk_bytes_per_event"]]
        rows.append(
            {
                **overrides,
                "rate": statistics.median(r["rate"] for r in runs),
                "rate_min": min(r["rate"] for r in runs),
                "rate_max": max(r["rate"] for r in runs),
                "cpu_us_per_event": statistics.median(r["cpu_us_per_event"] for r in runs),
                "disk_bytes_per_event": statistics.median(disks) if disks else None,
                "complete": all(r["complete"] for r in runs),
            }
        )
    return rows


def bench_inprocess(plat: Platform, count: int) -> dict:
    """The chosen settings in-process, with the CPU time of the Python thread that generates,
    encodes and produces: its time per event bounds the rate one process can reach when it has
    a core to itself (librdkafka's threads run beside it)."""
    from txn_producer.config import load_config
    from txn_producer.producer import ProducerRun

    topic = plat.topic("inprocess")
    config = load_config(
        {"count": count, "seed": 1, "progress": False, "topic": topic},
        {"KAFKA_BOOTSTRAP_SERVERS": plat.bootstrap, "SCHEMA_REGISTRY_URL": plat.registry_url},
    )
    run = ProducerRun(config)
    run.start()
    r0, th0 = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
    summary = run.run()
    r1, th1 = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    thread_us = (th1 - th0) / summary.produced * 1e6
    return {
        "rate": summary.rate,
        "complete": summary.complete,
        "thread_us_per_event": thread_us,
        "process_us_per_event": cpu / summary.produced * 1e6,
        "ceiling": 1e6 / thread_us,
    }


def bench_rate(plat: Platform, rate: int, seconds: float) -> dict:
    topic = plat.topic("rate")
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": plat.bootstrap,
        "SCHEMA_REGISTRY_URL": plat.registry_url,
    }
    cmd = [
        str(BIN / "txn-producer"),
        "--rate",
        str(rate),
        "--duration",
        str(seconds),
        "--no-progress",
        "--topic",
        topic,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    summary = json.loads(res.stdout)
    achieved = summary["produced"] / seconds
    return {"target": rate, "achieved": achieved, "error_pct": (achieved / rate - 1) * 100}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    parser.add_argument(
        "--schema-registry-url",
        default=os.environ.get("SCHEMA_REGISTRY_URL", "http://127.0.0.1:18081/apis/ccompat/v7"),
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ["TXN_STATE_DIR"]) if os.environ.get("TXN_STATE_DIR") else None,
        help="The platform's state directory, to measure bytes on disk per topic.",
    )
    parser.add_argument("--events", type=int, default=2_000_000, help="txn-producer events")
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    parser.add_argument("--encode-events", type=int, default=100_000)
    parser.add_argument("--sweep", action="store_true", help="also sweep Kafka settings")
    parser.add_argument("--sweep-events", type=int, default=500_000)
    parser.add_argument("--sweep-rounds", type=int, default=3)
    parser.add_argument("--rate-check", action="store_true", help="also check --rate accuracy")
    args = parser.parse_args(argv)

    command = shlex.join([".venv/bin/python", "bench/bench_producer.py", *sys.argv[1:]])
    plat = Platform(args.bootstrap_servers, args.schema_registry_url, args.state_dir)
    out: dict = {
        "machine": machine(),
        "load_before": ("load average " + load_average()),
        "command": command,
    }
    try:
        _log("encoding")
        out["encoding"] = bench_encoding(plat, plat.topic("codec"), args.encode_events)
        if args.sweep:
            _log("kafka settings sweep")
            out["sweep"] = bench_settings(plat, args.sweep_events, args.sweep_rounds)
        _log(f"txn-producer, {args.events:,} events at full speed")
        producer_topic = plat.topic("producer")
        out["producer"] = bench_cli(plat, producer_topic, args.events)
        disk = plat.bytes_on_disk(producer_topic)
        out["producer"]["disk_bytes_per_event"] = disk / args.events if disk else None
        _log("txn-producer in-process, CPU per event")
        out["inprocess"] = bench_inprocess(plat, min(args.events, 1_000_000))
        _log(f"baseline, {args.baseline_seconds:g} s")
        baseline_topic = plat.topic("baseline", register=False)
        out["baseline"] = bench_baseline(plat, baseline_topic, args.baseline_seconds)
        disk = plat.bytes_on_disk(baseline_topic)
        delivered = out["baseline"]["delivered"]
        out["baseline"]["disk_bytes_per_event"] = disk / delivered if disk and delivered else None
        if args.rate_check:
            _log("rate check, 10 s at 20,000/s")
            out["rate_check"] = bench_rate(plat, 20_000, 10.0)
        out["load_after"] = "load average " + load_average()
    finally:
        plat.cleanup()
    _print(out)
    return 0


def _print(out: dict) -> None:
    w = sys.stdout.write
    w(f"# bench_producer  ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n")
    w(f"command: {out['command']}\nmachine: {out['machine']}\n")
    w(f"{out['load_before']} before, {out.get('load_after', '?')} after\n\n")
    enc = out["encoding"]
    w("## Encoding alone (same events, one thread)\n")
    for name, rate in enc["rates"].items():
        w(f"  {name:45} {rate:>12,.0f} events/s\n")
    w(
        f"  Avro value (framed) {enc['avro_value_bytes']:.1f} B/event; the same event as JSON "
        f"{enc['json_same_event_bytes']:.1f} B "
        f"-> {enc['avro_value_bytes'] / enc['json_same_event_bytes']:.1%}; the report's own JSON "
        f"event {enc['report_json_bytes']:.1f} B "
        f"-> {enc['avro_value_bytes'] / enc['report_json_bytes']:.1%}\n\n"
    )
    if "sweep" in out:
        w("## Kafka settings (in-process; medians over the rounds, events/s delivered)\n")
        w(f"  {'compression':12}{'linger.ms':>10}{'batch.size':>12}{'events/s':>12}")
        w(f"{'(min-max)':>22}{'CPU us/event':>14}{'disk B/event':>14}\n")
        for r in out["sweep"]:
            disk = f"{r['disk_bytes_per_event']:.1f}" if r["disk_bytes_per_event"] else "-"
            spread = f"{r['rate_min']:,.0f}-{r['rate_max']:,.0f}"
            w(
                f"  {r['compression.type']:12}{r['linger.ms']:>10}{r['batch.size']:>12}"
                f"{r['rate']:>12,.0f}{spread:>22}"
                f"{r['cpu_us_per_event']:>14.2f}{disk:>14}\n"
            )
        w("\n")
    p, b = out["producer"], out["baseline"]
    w("## Full speed, delivered events/s\n")
    w(f"  txn-producer: {p['command']}\n")
    w(
        f"    produced {p['produced']:,} delivered {p['delivered']:,} failed {p['failed']:,} "
        f"in {p['seconds']:.2f} s -> {p['rate']:,.0f} events/s "
        f"(process {p['process_seconds']:.1f} s incl. start-up, {p['cpu_seconds']:.1f} CPU s)\n"
    )
    w(
        f"  baseline (Faker per event, JSON, kafka-python defaults): produced {b['produced']:,} "
        f"delivered {b['delivered']:,} failed {b['failed']:,} in {b['seconds']:.2f} s "
        f"-> {b['rate']:,.0f} events/s\n"
    )
    w(f"  ratio: {p['rate'] / b['rate']:.1f}x\n")
    ip = out.get("inprocess")
    if ip:
        w(
            f"  in-process (same settings): {ip['rate']:,.0f} events/s; Python thread "
            f"{ip['thread_us_per_event']:.2f} CPU us/event (ceiling with a free core "
            f"{ip['ceiling']:,.0f} events/s), whole process {ip['process_us_per_event']:.2f} "
            f"CPU us/event\n"
        )
    if p.get("disk_bytes_per_event") and b.get("disk_bytes_per_event"):
        w(
            f"  on the wire (log segment bytes / event, incl. key and record overhead): "
            f"txn-producer {p['disk_bytes_per_event']:.1f} B, "
            f"baseline {b['disk_bytes_per_event']:.1f} B\n"
        )
    if "rate_check" in out:
        r = out["rate_check"]
        w(
            f"\n## --rate {r['target']:,} --duration 10: {r['achieved']:,.0f} events/s "
            f"({r['error_pct']:+.2f}%)\n"
        )


if __name__ == "__main__":
    sys.exit(main())
