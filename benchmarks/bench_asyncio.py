#!/usr/bin/env python
"""Cost of lockorder's checked asyncio primitives against asyncio's own.

Run from the repository root::

    python benchmarks/bench_asyncio.py            # 5 repeats of 50,000 ops per case
    python benchmarks/bench_asyncio.py --quick    # 3 repeats of 10,000 ops per case

Each case runs in one task on one loop, uncontended: ``async with lock:`` (the
steady state, its chain known), a nested pair ``async with a: async with b:``
whose edge is known, a semaphore unit, and a task step (``await
asyncio.sleep(0)``) while the task holds a lock. The checked primitives are
measured twice: made directly (``lockorder.aio``), and under ``install()``,
which also watches each task step (a task's asyncio locks are mirrored on its
thread while its step runs). Raw and both checked are measured in this one run,
interleaved repeat by repeat; the best (lowest) repeat of each is kept and each
ratio is checked / raw from the same run. The checker runs in
``mode="record"``. Finding the current task is a
Python function on 3.11 (``asyncio.current_task``) and C from 3.12: the ratio
differs between them.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, ".")

import lockorder
from lockorder import aio


async def _one(lock: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        async with lock:
            pass
    return time.perf_counter() - started


async def _nested(pair: tuple[Any, Any], n: int) -> float:
    a, b = pair
    started = time.perf_counter()
    for _ in range(n):
        async with a:
            async with b:
                pass
    return time.perf_counter() - started


async def _steps(lock: Any, n: int) -> float:
    async with lock:
        started = time.perf_counter()
        for _ in range(n):
            await asyncio.sleep(0)  # one task step each
        return time.perf_counter() - started


CASES: list[tuple[str, Callable[[], Any], Callable[[], Any], Any]] = [
    ("async with Lock", asyncio.Lock, aio.Lock, _one),
    ("async with Semaphore", lambda: asyncio.Semaphore(2), lambda: aio.Semaphore(2), _one),
    (
        "async with a: async with b: (edge known)",
        lambda: (asyncio.Lock(), asyncio.Lock()),
        lambda: (aio.Lock(name="bench a"), aio.Lock(name="bench b")),
        _nested,
    ),
    # under install(): each step of a task is watched (held-across-await), and
    # a task holding an asyncio lock has it mirrored on its thread for the step
    ("step of a task holding a Lock", asyncio.Lock, aio.Lock, _steps),
]


def _measure(make: Callable[[], Any], body: Any, n: int, install: bool = False) -> float:
    async def run() -> float:
        lock = make()
        await body(lock, 100)  # warm: the chain is known from here on
        return await body(lock, n)

    if install:
        lockorder.install()
    try:
        return asyncio.run(run()) / n
    finally:
        if install:
            lockorder.uninstall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats of 10,000 ops")
    args = parser.parse_args()
    repeats, ops = (3, 10_000) if args.quick else (5, 50_000)
    lockorder.configure(mode="record")
    print(f"python    : {platform.python_version()} ({sys.executable})")
    print(f"method    : best of {repeats} repeats of {ops:,} ops, raw and checked interleaved")
    print()
    print(
        f"{'case':<44} {'raw ns/op':>10} {'checked':>8} {'ratio':>6} {'install()':>10} {'ratio':>6}"
    )
    for label, raw, checked, body in CASES:
        best_raw = best_checked = best_installed = float("inf")
        for _ in range(repeats):
            best_raw = min(best_raw, _measure(raw, body, ops))
            best_checked = min(best_checked, _measure(checked, body, ops))
            best_installed = min(best_installed, _measure(checked, body, ops, install=True))
        print(
            f"{label:<44} {best_raw * 1e9:>10,.0f} {best_checked * 1e9:>8,.0f} "
            f"{best_checked / best_raw:>5.2f}x {best_installed * 1e9:>10,.0f} "
            f"{best_installed / best_raw:>5.2f}x"
        )


if __name__ == "__main__":
    main()
