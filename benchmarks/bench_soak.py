#!/usr/bin/env python
"""Soak: days of a service's lock traffic in compressed time, memory and speed
watched round by round (issue 27, docs/performance.md "Soak").

    python benchmarks/bench_soak.py              # 10 rounds
    python benchmarks/bench_soak.py --rounds 3   # shorter
    python benchmarks/bench_soak.py --quick      # 3 rounds of a tenth of the work
    python benchmarks/bench_soak.py --classes 0  # no new lock classes: flat memory

Each round does, under ``install()`` in ``warn`` mode with warnings ignored (a
service's settings, docs/production.md):

- 2,000,000 acquires of a known chain (``with a: with b:``), timed in the
  thread's CPU time: the per-acquire cost of the round;
- 100,000 checked locks made, taken once and dropped (1,000,000 in 10 rounds);
- 10,000 short-lived threads, each nesting a lock of its own under a shared one
  (100,000 in 10 rounds);
- 300 new lock classes (named locks), each nested under a shared lock once
  (3,000 in 10 rounds, with their edges);
- 1,000 asyncio tasks, each nesting two threading locks of one class made for
  it (and dropped) inside a shared asyncio lock: a slow-path acquire by a task
  each time (the checker's instance edges and task-user map, lockorder._state);

then a full garbage collection, the resident memory (/proc/self/statm), and the
sizes of lockorder's own tables. Memory and per-acquire time should be flat from
the first round to the last, apart from what the workload keeps on purpose: the
lock classes and their edges, which are code sites and stay (docs/concepts.md).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import threading
import time
import timeit
import warnings

from bench_scale import in_threads, rss_mib  # (benchmarks/, the script's folder, is on sys.path)

import lockorder
from lockorder import _threads
from lockorder._state import checker


def churn_locks(count: int) -> None:
    for _ in range(count):
        lock = threading.Lock()
        with lock:
            pass


def churn_threads(count: int, shared: threading.Lock) -> None:
    def work() -> None:
        own = threading.Lock()
        with shared, own:
            pass

    in_threads(work, count, 30)


def new_classes(count: int, first: int, root: threading.Lock) -> None:
    for number in range(first, first + count):
        lock = lockorder.Lock(name=f"soak class {number}")
        with root, lock:
            pass


def churn_tasks(count: int) -> None:
    async def task(outer: asyncio.Lock) -> None:
        await asyncio.sleep(0)
        async with outer:
            # two locks of one class (one line): their nesting is checked per
            # instance, every time, so each task's acquire takes the slow path
            first, second = threading.Lock(), threading.Lock()
            with first, second:
                pass

    async def main() -> None:
        outer = asyncio.Lock()
        for start in range(0, count, 100):
            await asyncio.gather(*(task(outer) for _ in range(min(100, count - start))))

    asyncio.run(main())


def tables() -> dict[str, int]:
    """The sizes of lockorder's tables that a long run could grow."""
    with checker.mu:
        return {
            "classes": len(checker.graph.classes),
            "edges": checker.graph.edge_count,
            "instance edges": sum(len(s) for s in checker.graph.isucc.values()),
            "findings": len(checker.log),
            "thread states": len(_threads.by_serial),
            "task users": len(checker.task_users),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 rounds, a tenth of the work")
    parser.add_argument(
        "--classes",
        type=int,
        default=300,
        help="new lock classes per round (default 300; 0: memory should stay flat)",
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    rounds = 3 if args.quick else args.rounds
    if rounds < 2:
        parser.error("--rounds must be at least 2 (the first is the baseline)")
    warnings.simplefilter("ignore")
    lockorder.configure(mode="warn")
    lockorder.install()
    print(f"python    : {platform.python_version()} ({lockorder.implementation()})")
    print(f"platform  : {platform.platform()}, {os.cpu_count()} CPUs")
    print()
    # four classes: each lock on its own line (locks made on one line are one
    # class, whose nesting is checked per instance, every time)
    a = threading.Lock()
    b = threading.Lock()
    shared = threading.Lock()
    root = threading.Lock()

    def nested() -> None:
        with a, b:
            pass

    nested()  # the chain a -> b is known from here on
    acquires = 2_000_000 // scale
    print(
        f"{'round':>5} {'s':>6} {'ns/acquire':>10} {'RSS MiB':>8} "
        f"{'classes':>7} {'edges':>6} {'i-edges':>7} {'findings':>8} {'states':>6} "
        f"{'task users':>10}"
    )
    first_rss = first_ns = 0.0
    last_rss = last_ns = 0.0
    for number in range(1, rounds + 1):
        started = time.perf_counter()
        # the thread's CPU time, not wall time: on a shared machine other jobs
        # stretch wall time from one round to the next
        ns = timeit.Timer(nested, timer=time.thread_time).timeit(acquires) / acquires / 2 * 1e9
        churn_locks(100_000 // scale)
        churn_threads(10_000 // scale, shared)
        new_classes(args.classes // scale, (number - 1) * args.classes, root)
        churn_tasks(1_000 // scale)
        gc.collect()
        took = time.perf_counter() - started
        rss = rss_mib()
        sizes = tables()
        print(
            f"{number:5d} {took:6.1f} {ns:10.1f} {rss:8.1f} {sizes['classes']:7d} "
            f"{sizes['edges']:6d} {sizes['instance edges']:7d} {sizes['findings']:8d} "
            f"{sizes['thread states']:6d} "
            f"{sizes['task users']:10d}",
            flush=True,
        )
        if number == 1:
            first_rss, first_ns = rss, ns
        last_rss, last_ns = rss, ns
    lockorder.uninstall()
    print()
    print(
        f"RSS after round 1 -> after round {rounds}: {first_rss:.1f} -> {last_rss:.1f} MiB "
        f"({last_rss - first_rss:+.1f}); per acquire {first_ns:.1f} -> {last_ns:.1f} ns "
        f"({last_ns / first_ns:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
