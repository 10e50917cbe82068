"""Benchmark of the contract codec on one core: events serialized and framed per second, events
decoded per second, and bytes per event against the same event as JSON. No Kafka needed.

Encoders, all given the same Avro records (what ``Transaction.to_avro()`` returns) and all
producing the same Confluent-framed bytes (checked on the first 2,000 events before timing):

(a) ``txn_contract.wire.encode``: fastavro's ``schemaless_writer`` with a pre-parsed schema, the
    5-byte header written first into the same buffer;
(b) confluent-kafka's ``AvroSerializer`` with ``auto.register.schemas=False``, on a registry
    client built by ``SchemaRegistryClient.new_client({"url": "mock://bench"})``: the in-memory
    mock holds the schema, so after its first call the serializer never leaves the process, as
    against a real registry once its cache is warm; this measures serialization alone;
(c) ``txn_contract.segments`` applied to whole events: ``FieldEncoder.encode_record`` (each field
    by fastavro on its own, then joined), and the segment functions (``encode_string``,
    ``encode_long``, ``encode_decimal_unscaled``) for every field of every event, no caching;
(c) the generated encoder (``txn_contract.encoders``, issue 18) applied to whole events:
    ``ENCODERS[2].frame``, every field by its generated function, no caching;
(d) for reference, the producer's segment assembly (``txn_producer.encoding.EventEncoder``),
    which pre-encodes the fields of its population's customers, merchants and devices: it
    applies to the producer's draws, not to arbitrary events. Since issue 18 it is the
    generated encoder joined by ``txn_contract.segmented``; the hand-written encoder it replaced
    (field order pinned to v2, :class:`HandEncoder` below) is measured in the same run as its
    baseline;
and the baseline measured in the same run: ``json.dumps`` of the same event with the timestamp
as an ISO 8601 string and the amount as a decimal string, encoded to UTF-8.

Events are the producer's realistic ones (``txn_producer`` population of 10,000 customers,
seed 1), written with the latest contract version (v2) and, for sizes, also v1. Each figure is
the median of ``--rounds`` interleaved rounds of ``--events`` events, with the range. The
process is pinned to one CPU (``--cpu``, default the last one it may use).

Run::

    .venv/bin/python bench/bench_codec.py --events 50000 --rounds 5
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hand_encoder import HandEncoder  # bench/hand_encoder.py: (d)'s baseline
from machine import load_average, machine  # bench/machine.py, beside this script

__all__ = ["main"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
SCHEMA_ID = 1


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The events
# ---------------------------------------------------------------------------------------------


def make_events(n: int) -> tuple[Any, list[Any], list[Any], list[int]]:
    """``(population, transactions, draws, timestamps_ms)``: the producer's events, 100 per
    millisecond."""
    from txn_producer.generator import EventGenerator
    from txn_producer.population import build_population

    population = build_population(10_000, 1)
    gen = EventGenerator(population, 1)
    draws = gen.draws(n)
    start = int(datetime(2026, 11, 28, 15, 0, tzinfo=UTC).timestamp() * 1000)
    stamps = [start + i // 100 for i in range(n)]
    events = [gen.transaction(d, ts) for d, ts in zip(draws, stamps, strict=True)]
    return population, events, draws, stamps


def as_json(record: dict[str, Any]) -> bytes:
    """The same event as JSON: ISO 8601 UTC timestamp, amount as a decimal string."""
    out = dict(record)
    out["timestamp"] = record["timestamp"].isoformat(timespec="milliseconds")
    out["amount"] = str(record["amount"])
    return json.dumps(out, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Encoders
# ---------------------------------------------------------------------------------------------


def segment_encoder(schema: dict[str, Any]) -> Callable[[dict[str, Any]], bytes]:
    """A whole-event encoder built from ``txn_contract.segments``' functions, one per field
    (strings, timestamp-millis, decimal, enums, nullable strings: what the contract uses)."""
    from txn_contract import wire
    from txn_contract.segments import (
        encode_decimal_unscaled,
        encode_long,
        encode_string,
        unscaled,
    )

    def for_type(t: Any) -> Callable[[Any], bytes]:
        if t == "string":
            return encode_string
        if isinstance(t, list) and t == ["null", "string"]:
            return lambda v: b"\x00" if v is None else b"\x02" + encode_string(v)
        if isinstance(t, dict):
            if t.get("logicalType") == "timestamp-millis":
                return lambda v: encode_long((v - _EPOCH) // _MS)
            if t.get("logicalType") == "decimal":
                scale = t.get("scale", 0)
                return lambda v: encode_decimal_unscaled(unscaled(v, scale))
            if t["type"] == "enum":
                index = {s: encode_long(i) for i, s in enumerate(t["symbols"])}
                return index.__getitem__
        raise ValueError(f"no segment function for {t!r}")

    encoders = [(f["name"], for_type(f["type"])) for f in schema["fields"]]
    header = wire.frame(SCHEMA_ID, b"")

    def encode(record: dict[str, Any]) -> bytes:
        return header + b"".join([enc(record[name]) for name, enc in encoders])

    return encode


def build_encoders(
    cv, population: Any, draws: Sequence[Any], stamps: Sequence[int]
) -> dict[str, Any]:
    """Name -> ``fn(records) -> list[bytes]`` for each encoder, all writing version ``cv``;
    the producer's encoder works from the draws behind the records instead."""
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from txn_contract import ENCODERS, wire
    from txn_contract.segments import FieldEncoder
    from txn_producer.encoding import EventEncoder

    parsed = cv.parsed
    client = SchemaRegistryClient.new_client({"url": "mock://bench"})
    schema_id = client.register_schema("bench-value", Schema(cv.schema_str, "AVRO"))
    if schema_id != SCHEMA_ID:
        raise RuntimeError(f"the mock registry gave id {schema_id}, expected {SCHEMA_ID}")
    serializer = AvroSerializer(
        client, cv.schema_str, conf={"auto.register.schemas": False, "use.latest.version": False}
    )
    ctx = SerializationContext("bench", MessageField.VALUE)
    fields = FieldEncoder(cv.schema)
    header = wire.frame(SCHEMA_ID, b"")
    segments = segment_encoder(cv.schema)
    producer = EventEncoder(population, cv, schema_id=SCHEMA_ID)
    hand = HandEncoder(population, cv, schema_id=SCHEMA_ID)
    generated = ENCODERS[cv.version]

    return {
        "(a) txn_contract.wire.encode (fastavro)": lambda rs: [
            wire.encode(r, parsed, SCHEMA_ID) for r in rs
        ],
        "(b) confluent-kafka AvroSerializer (mock registry)": lambda rs: [
            serializer(r, ctx) for r in rs
        ],
        "(c) segments: FieldEncoder.encode_record": lambda rs: [
            header + fields.encode_record(r) for r in rs
        ],
        "(c) segments: segment functions, every field": lambda rs: [segments(r) for r in rs],
        "(c) generated encoder, whole events: ENCODERS[2].frame": lambda rs: [
            generated.frame(r, SCHEMA_ID) for r in rs
        ],
        "(d) producer: generated encoder + segmented join (issue 18)": lambda rs: [
            v for _k, v in producer.messages(draws[: len(rs)], stamps[: len(rs)])
        ],
        "(d) baseline: hand encoder, before issue 18 (same run)": lambda rs: [
            v for _k, v in hand.messages(draws[: len(rs)], stamps[: len(rs)])
        ],
        "JSON baseline (json.dumps, ISO time, decimal string)": lambda rs: [as_json(r) for r in rs],
    }


def build_decoders(cv_writer, cv_reader) -> dict[str, Any]:
    """Name -> ``fn(values) -> list`` decoding framed values written with ``cv_writer``."""
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from txn_contract import wire

    client = SchemaRegistryClient.new_client({"url": f"mock://bench-v{cv_writer.version}"})
    schema_id = client.register_schema("bench-value", Schema(cv_writer.schema_str, "AVRO"))
    if schema_id != SCHEMA_ID:
        raise RuntimeError(f"the mock registry gave id {schema_id}, expected {SCHEMA_ID}")
    deserializer = AvroDeserializer(client, cv_reader.schema_str)
    ctx = SerializationContext("bench", MessageField.VALUE)
    w, r = cv_writer.parsed, cv_reader.parsed
    versions = f"writer v{cv_writer.version}, reader v{cv_reader.version}"
    return {
        f"txn_contract.wire.decode ({versions})": lambda vs: [wire.decode(v, w, r) for v in vs],
        f"confluent-kafka AvroDeserializer ({versions})": lambda vs: [
            deserializer(v, ctx) for v in vs
        ],
    }


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def timed_rounds(
    candidates: dict[str, Callable[[Sequence[Any]], Any]],
    inputs: dict[str, Sequence[Any]],
    rounds: int,
) -> dict[str, tuple[list[float], list[float]]]:
    """``{name: (cpu_rates, wall_rates)}``: events per CPU second of this thread and per wall
    second, ``rounds`` times, interleaved so that a change of background load hits all alike.

    On a shared machine the CPU-time rate is the codec's own cost (what one core that it had
    to itself would do); the wall-clock rate also counts the time other processes held the
    core, so it is lower and noisier when the machine is busy.
    """
    rates: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in candidates}
    for i in range(rounds):
        for name, fn in candidates.items():
            data = inputs[name]
            gc.collect()
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            fn(data)
            cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
            rates[name][0].append(len(data) / cpu)
            rates[name][1].append(len(data) / wall)
        _log(f"round {i + 1}/{rounds} done")
    return rates


def _table(title: str, rates: dict[str, tuple[list[float], list[float]]]) -> None:
    print(f"| {title} | events/CPU-s (median) | range | events/s wall clock (median) |")
    print("| --- | ---: | ---: | ---: |")
    for name, (cpu, wall) in rates.items():
        print(
            f"| {name} | {statistics.median(cpu):,.0f} | {min(cpu):,.0f}-{max(cpu):,.0f} "
            f"| {statistics.median(wall):,.0f} |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: last)")
    args = parser.parse_args(argv)

    from txn_contract import packaged_contract, wire

    allowed = sorted(os.sched_getaffinity(0))
    cpu = args.cpu if args.cpu is not None else allowed[-1]
    os.sched_setaffinity(0, {cpu})
    started = datetime.now(UTC)
    load_before = load_average()
    _log(f"pinned to CPU {cpu}; drawing {args.events:,} events")

    contract = packaged_contract()
    v1, v2 = contract.version(1), contract.latest
    population, events, draws, stamps = make_events(args.events)
    records = {cv.version: [e.to_avro(cv.version) for e in events] for cv in (v1, v2)}

    # Every encoder must write the same bytes, or the comparison means nothing.
    encoders = build_encoders(v2, population, draws, stamps)
    reference = [wire.encode(r, v2.parsed, SCHEMA_ID) for r in records[2][:2000]]
    for name, fn in encoders.items():
        if not name.startswith("JSON") and fn(records[2][:2000]) != reference:
            raise RuntimeError(f"{name} does not write fastavro's bytes")
    from_typed = "(a) the same, from the typed event: Transaction.to_avro() + wire.encode"
    encoders[from_typed] = lambda es: [wire.encode(e.to_avro(), v2.parsed, SCHEMA_ID) for e in es]
    inputs: dict[str, Sequence[Any]] = {name: records[2] for name in encoders}
    inputs[from_typed] = events
    _log("timing encoders")
    enc_rates = timed_rounds(encoders, inputs, args.rounds)

    values = {
        cv.version: [wire.encode(r, cv.parsed, SCHEMA_ID) for r in records[cv.version]]
        for cv in (v1, v2)
    }
    decoders: dict[str, Any] = {}
    dec_inputs: dict[str, Sequence[Any]] = {}
    for writer in (v2, v1):
        # what bronze does: every event projected onto the latest version, v1's gaps defaulted
        expected = [{**dict.fromkeys(v2.field_names), **r} for r in records[writer.version][:2000]]
        for name, fn in build_decoders(writer, v2).items():
            if fn(values[writer.version][:2000]) != expected:
                raise RuntimeError(f"{name} does not decode the events written")
            decoders[name] = fn
            dec_inputs[name] = values[writer.version]
    decoders["JSON baseline (json.loads)"] = lambda vs: [json.loads(v) for v in vs]
    dec_inputs["JSON baseline (json.loads)"] = [as_json(r) for r in records[2]]
    _log("timing decoders")
    dec_rates = timed_rounds(decoders, dec_inputs, args.rounds)

    # Sizes
    sizes = {}
    for cv in (v1, v2):
        avro = statistics.fmean(map(len, values[cv.version]))
        js = statistics.fmean(len(as_json(r)) for r in records[cv.version])
        sizes[cv.version] = (avro, js)

    command = "python bench/bench_codec.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"# Contract codec benchmark, {started:%Y-%m-%d %H:%M} UTC")
    print(f"command: {command.strip()}")
    print(f"machine: {machine()}; pinned to CPU {cpu}")
    print(f"load average: {load_before} before, {load_average()} after")
    print(f"events: {args.events:,} per round, {args.rounds} interleaved rounds, contract v2\n")
    _table("serialize + frame (one core)", enc_rates)
    print()
    _table("decode (one core)", dec_rates)
    print(
        "\n| bytes per event | Avro, framed (5-byte header + body) | same event as JSON | Avro/JSON |"
    )
    print("| --- | ---: | ---: | ---: |")
    for version, (avro, js) in sizes.items():
        print(f"| v{version} | {avro:.1f} | {js:.1f} | {avro / js:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
