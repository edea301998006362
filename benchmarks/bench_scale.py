"""Scale: memory with a million locks and a thousand threads, and a long stress run.

    python benchmarks/bench_scale.py [--locks N] [--threads N] [--quick]

Prints the resident memory (from /proc/self/statm) before and after creating and
dropping N checked locks (each acquired once), before and after starting and
ending N threads that each take a checked lock, and a stress run: many threads
taking random subsets of many locks in one global order (no finding expected,
the recorded graph compared with the one the workload defines) and the same with
one inversion hidden in one thread (exactly that finding expected).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import platform
import random
import threading
import time
from collections.abc import Callable

import lockorder


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def churn_locks(count: int) -> None:
    for _ in range(count):
        lock = lockorder.Lock()
        with lock:
            pass


def in_threads(work: Callable[[], None], count: int, timeout: float | None = None) -> None:
    """``work`` in ``count`` short-lived threads, 50 at a time."""
    for start in range(0, count, 50):
        threads = [threading.Thread(target=work) for _ in range(min(50, count - start))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)


def churn_threads(count: int) -> None:
    lock = lockorder.Lock()

    def work() -> None:
        with lock:
            pass

    in_threads(work, count)


def stress(threads: int, locks: int, rounds: int, inversion: bool) -> tuple[float, int, bool]:
    lockorder.reset()
    pool = [lockorder.Lock(name=f"S{i}") for i in range(locks)]
    made: list[set[tuple[str, str]]] = [set() for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def work(number: int) -> None:
        rng = random.Random(number)
        edges = made[number]
        barrier.wait()
        for _ in range(rounds):
            chosen = sorted(rng.sample(range(locks), rng.randint(1, 5)))
            for i, j in itertools.combinations(chosen, 2):
                edges.add((f"S{i}", f"S{j}"))
            for index in chosen:
                pool[index].acquire()
            for index in reversed(chosen):
                pool[index].release()
        if inversion and number == threads // 2:
            with pool[locks - 1], pool[0]:
                edges.add((f"S{locks - 1}", "S0"))

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    took = time.perf_counter() - started
    recorded = {(a, b) for a, b in lockorder.graph().edges if a.startswith("S")}
    return took, len(lockorder.findings()), recorded == set().union(*made)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locks", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="100,000 locks, 200 threads")
    args = parser.parse_args()
    if args.quick:
        args.locks, args.threads = 100_000, 200
    lockorder.configure(mode="record")
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")

    churn_locks(10_000)
    gc.collect()
    before = rss_mib()
    started = time.perf_counter()
    churn_locks(args.locks)
    took = time.perf_counter() - started
    gc.collect()
    after = rss_mib()
    print(
        f"{args.locks:,} locks created, taken and dropped in {took:.1f} s: "
        f"RSS {before:.1f} -> {after:.1f} MiB ({after - before:+.1f})"
    )

    churn_threads(100)
    gc.collect()
    before = rss_mib()
    started = time.perf_counter()
    churn_threads(args.threads)
    took = time.perf_counter() - started
    gc.collect()
    after = rss_mib()
    states = len(lockorder._threads.states())
    print(
        f"{args.threads:,} threads started and ended in {took:.1f} s: "
        f"RSS {before:.1f} -> {after:.1f} MiB ({after - before:+.1f}); "
        f"thread states kept: {states}"
    )

    rounds = 2_000 if args.quick else 20_000
    for inversion in (False, True):
        took, findings, exact = stress(16, 64, rounds, inversion)
        label = "with one hidden inversion" if inversion else "consistent order"
        print(
            f"stress, 16 threads x 64 locks x {rounds:,} rounds, {label}: {took:.1f} s, "
            f"findings {findings} (expected {1 if inversion else 0}), "
            f"recorded graph {'==' if exact else '!='} workload graph"
        )


if __name__ == "__main__":
    main()
