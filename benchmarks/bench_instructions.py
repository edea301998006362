#!/usr/bin/env python
"""Hot-path cost in CPU instructions, counted by valgrind's callgrind.

Run from the repository root (needs ``valgrind`` on the PATH)::

    python benchmarks/bench_instructions.py            # 20,000 ops per case
    python benchmarks/bench_instructions.py --ops 50000
    python benchmarks/bench_instructions.py --impl c   # the C column only, half the time
    python benchmarks/bench_instructions.py --asyncio  # the asyncio primitives

Wall-clock timings on a shared or virtual machine vary by a factor of two from
one minute to the next (docs/performance.md); an instruction count does not: the
same program, inputs and environment give the same count whatever else the machine
is doing. For each case this script runs a small child program twice under
``valgrind --tool=callgrind``: once with 0 operations and once with ``--ops``, and
divides the difference by ``--ops``. That is the instructions of one operation
(the loop's own included, for raw and checked alike), with the interpreter's
start-up and lockorder's import subtracted. Ratios are checked / raw. The
children run with ``PYTHONHASHSEED=0``: with random string hashes, the probes
of a dict lookup, so the count, change from run to run (by up to about 4%).

The checked side is counted twice, side by side with raw: under the C
implementation (``LOCKORDER_IMPL=c``, when the extension is built) and under the
Python one (``LOCKORDER_IMPL=python``).

Cases: ``with lock:`` with nothing else held, and a nested ``with a: with b:``
whose edge is already known, for ``Lock`` and ``RLock``. The two locks of the
nested case are made on two lines: two classes (two locks of one class are
checked per instance, every time: the slow path, not this one).

With ``--asyncio``: ``async with lock:`` and a nested ``async with a: async
with b:`` whose edge is known, in one task on one loop, asyncio's own
(``asyncio.Lock``) against lockorder's checked one made directly
(``lockorder.aio.Lock``) and under ``install()`` (which also mirrors a task's
asyncio locks on its thread while its step runs). bench_asyncio.py times the
same cases.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

CHILD = """
import sys, threading
import lockorder

lockorder.configure(mode="record")
kind, shape, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
factory = {
    ("raw", "Lock"): threading.Lock,
    ("raw", "RLock"): threading.RLock,
    ("checked", "Lock"): lockorder.Lock,
    ("checked", "RLock"): lockorder.RLock,
}[kind, sys.argv[4]]
a = factory()
b = factory()
with a, b:  # the edge a -> b is known from here on
    pass


def single(n=n, a=a):
    for _ in range(n):
        with a:
            pass


def nested(n=n, a=a, b=b):
    for _ in range(n):
        with a:
            with b:
                pass


(nested if shape == "nested" else single)()
"""

ASYNC_CHILD = """
import asyncio, sys
import lockorder
from lockorder import aio

lockorder.configure(mode="record")
kind, shape, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
make = asyncio.Lock if kind == "raw" else aio.Lock


async def single(a, n):
    for _ in range(n):
        async with a:
            pass


async def nested(a, b, n):
    for _ in range(n):
        async with a:
            async with b:
                pass


async def main():
    a = make()
    b = make()  # (a line of its own: a class of its own)
    await nested(a, b, 100)  # the chains are known from here on
    if shape == "nested":
        await nested(a, b, n)
    else:
        await single(a, n)


if kind == "install":
    lockorder.install()
asyncio.run(main())
"""

ASYNC_CASES = [
    ("async with Lock, nothing held", "single"),
    ("async with a: async with b: (edge known)", "nested"),
]

CASES = [
    ("with Lock, nothing held", "single", "Lock"),
    ("with RLock, nothing held", "single", "RLock"),
    ("with a: with b: (Lock, edge known)", "nested", "Lock"),
    ("with a: with b: (RLock, edge known)", "nested", "RLock"),
]


def _count(child: str, kind: str, shape: str, lock: str, ops: int) -> int:
    impl = "python" if kind == "raw" else kind
    if lock == "asyncio":  # (the asyncio child: kind is raw, direct or install)
        impl, arguments = lockorder_impl(), [kind, shape, str(ops)]
    else:
        arguments = ["raw" if kind == "raw" else "checked", shape, str(ops), lock]
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    result = subprocess.run(
        [*command, child, *arguments],
        capture_output=True,
        text=True,
        check=False,
        # one hash seed: string hashes place dict and set entries, and a lookup's
        # probes (so the count) depend on where they land
        env={**os.environ, "LOCKORDER_IMPL": impl, "PYTHONHASHSEED": "0"},
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or match is None:
        sys.exit(f"valgrind failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return int(match.group(1))


def _per_op(child: str, kind: str, shape: str, lock: str, ops: int) -> float:
    base = _count(child, kind, shape, lock, 0)
    return (_count(child, kind, shape, lock, ops) - base) / ops


def lockorder_impl() -> str:
    import lockorder

    return lockorder.implementation()


def _asyncio_table(tmp: str, ops: int) -> None:
    child = os.path.join(tmp, "async_child.py")
    with open(child, "w", encoding="utf-8") as handle:
        handle.write(ASYNC_CHILD)
    print(
        f"{'case':44s} {'raw/op':>8s} {'direct/op':>10s} {'ratio':>6s} "
        f"{'install()':>10s} {'ratio':>6s}"
    )
    for label, shape in ASYNC_CASES:
        raw = _per_op(child, "raw", shape, "asyncio", ops)
        line = f"{label:44s} {raw:8,.0f}"
        for kind in ("direct", "install"):
            checked = _per_op(child, kind, shape, "asyncio", ops)
            line += f" {checked:10,.0f} {checked / raw:5.2f}x"
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=20_000, help="operations per case")
    parser.add_argument(
        "--impl",
        choices=("c", "python", "both"),
        default="both",
        help="which implementation's column to count (default: both; c needs the extension)",
    )
    parser.add_argument(
        "--asyncio",
        action="store_true",
        help="the asyncio primitives instead (raw, direct, install())",
    )
    args = parser.parse_args()
    if args.ops <= 0:
        parser.error("--ops must be positive")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    import lockorder
    from lockorder import _impl

    impls = ["c", "python"] if lockorder.implementation() == "c" else ["python"]
    if args.impl == "c" and "c" not in impls:
        parser.error(f"--impl c: the C implementation cannot run here ({_impl.why_python()})")
    if args.impl != "both":
        impls = [args.impl]
    print(f"python    : {sys.version.split()[0]} ({sys.executable})")
    print(f"method    : callgrind instruction counts, ({args.ops:,} ops - 0 ops) / {args.ops:,}")
    if impls == ["python"] and lockorder.implementation() != "c":
        print(f"C         : not measured ({_impl.why_python()})")
    print()
    if args.asyncio:
        with tempfile.TemporaryDirectory() as tmp:
            _asyncio_table(tmp, args.ops)
        return 0
    header = f"{'case':40s} {'raw/op':>8s}"
    for impl in impls:
        header += f" {impl + '/op':>10s} {'ratio':>6s}"
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        child = os.path.join(tmp, "child.py")
        with open(child, "w", encoding="utf-8") as handle:
            handle.write(CHILD)
        for label, shape, lock in CASES:
            raw = _per_op(child, "raw", shape, lock, args.ops)
            line = f"{label:40s} {raw:8,.0f}"
            for impl in impls:
                checked = _per_op(child, impl, shape, lock, args.ops)
                line += f" {checked:10,.0f} {checked / raw:5.2f}x"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
