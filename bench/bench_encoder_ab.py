"""A/B of issue 18 on one core: the producer's encoder (the generated ``txn_contract.encoders``
joined by ``txn_contract.segmented``) against the hand-written encoder it replaced
(``bench/hand_encoder.py``), on the same draws. No Kafka needed.

``bench_codec.py`` measures both among its other encoders, but a few rounds on a shared machine
vary by more than the difference between these two. So this runs only the pair, many times,
alternating which goes first, with the garbage collector off inside a run, and prints CPU ns per
event (``time.thread_time_ns``): the minimum (the code's own cost, least disturbed by other
processes), the lower quartile and the median, and the per-round ratio. Both write the same
bytes (checked before timing).

Run::

    .venv/bin/python bench/bench_encoder_ab.py --events 50000 --rounds 60
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from hand_encoder import HandEncoder  # bench/hand_encoder.py, beside this script
from machine import load_average, machine  # bench/machine.py, beside this script

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per run")
    parser.add_argument("--rounds", type=int, default=60, help="runs of each encoder")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: last)")
    args = parser.parse_args(argv)

    from txn_contract import packaged_contract
    from txn_producer.encoding import EventEncoder
    from txn_producer.generator import EventGenerator
    from txn_producer.population import build_population

    cpu = args.cpu if args.cpu is not None else sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})
    started, load_before = datetime.now(UTC), load_average()
    cv = packaged_contract().latest
    population = build_population(10_000, 1)
    draws = EventGenerator(population, 1).draws(args.events)
    start = int(datetime(2026, 11, 28, 15, 0, tzinfo=UTC).timestamp() * 1000)
    stamps = [start + i // 100 for i in range(args.events)]  # 100 events per millisecond
    encoders = {
        "generated + segmented join (issue 18)": EventEncoder(population, cv, 1),
        "hand encoder (before issue 18)": HandEncoder(population, cv, 1),
    }
    first, second = (e.messages(draws, stamps) for e in encoders.values())
    if first != second:
        raise RuntimeError("the two encoders do not write the same messages")

    names = list(encoders)
    ns: dict[str, list[float]] = {name: [] for name in names}
    for i in range(args.rounds):
        for name in names if i % 2 else names[::-1]:
            gc.collect()
            gc.disable()
            t = time.thread_time_ns()
            encoders[name].messages(draws, stamps)
            ns[name].append((time.thread_time_ns() - t) / args.events)
            gc.enable()

    command = "python bench/bench_encoder_ab.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    print(f"# Encoder A/B (issue 18), {started:%Y-%m-%d %H:%M} UTC")
    print(f"command: {command.strip()}")
    print(f"machine: {machine()}; pinned to CPU {cpu}")
    print(f"load average: {load_before} before, {load_average()} after")
    print(f"events: {args.events:,} per run, {args.rounds} runs of each, contract v2\n")
    print("| encoder | CPU ns/event, min | lower quartile | median |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in ns.items():
        q1 = statistics.quantiles(values, n=4)[0]
        print(f"| {name} | {min(values):,.0f} | {q1:,.0f} | {statistics.median(values):,.0f} |")
    ratios = [h / g for g, h in zip(ns[names[0]], ns[names[1]], strict=True)]
    print(
        f"\nhand / generated time per event, per round: median {statistics.median(ratios):.3f} "
        f"(above 1: the generated encoder is faster)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
