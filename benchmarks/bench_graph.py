#!/usr/bin/env python
"""The lock-order graph at scale: lockorder's incremental cycle check (Pearce-Kelly
order in ``lockorder._graph.LockGraph``) against the naive networkx approach.

Run from the repository root::

    python benchmarks/bench_graph.py            # 20,000 classes, 200,000 edges
    python benchmarks/bench_graph.py --quick    # 2,000 classes, 20,000 edges

The edge stream: ``--edges`` distinct edges between ``--classes`` lock classes,
all consistent with a hidden random topological order (so no edge closes a
cycle), drawn as uniform random pairs and inserted in random order (fixed
``--seed``). Each edge goes through ``LockGraph.add_edge``, the call the tracker
makes on its slow path (cycle check included). Edge objects are built outside
the timed loops; the timed loop also counts how many edges disagreed with the
current order (two list lookups per edge, a few tens of ns).

Then one deliberate back edge closes a long cycle (it must be found), and a few
more consistent edges are added while that back edge exists.

The comparison: a ``networkx.DiGraph`` where each new edge (x, y) first asks
``nx.has_path(G, y, x)``, on the same stream, for as many edges as fit in
``--nx-seconds``; the rest is extrapolated (and printed as such).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import subprocess
import sys
import time
from collections import deque
from itertools import pairwise

from lockorder._graph import Edge, Evidence, LockGraph

EVIDENCE = Evidence("bench", 1, (), (), None)
#: block size for the fine-grained timing (per-edge means are kept per block)
BLOCK = 1_000


def make_stream(classes: int, edges: int, seed: int) -> tuple[list[int], list[tuple[int, int]]]:
    """``edges`` distinct pairs (x, y), x before y in a hidden random order of
    ``classes`` ids; returns (hidden order, pairs in insertion order)."""
    if edges > classes * (classes - 1) // 2:
        raise SystemExit(f"--edges {edges} is more than {classes} classes allow")
    rng = random.Random(seed)
    hidden = list(range(classes))
    rng.shuffle(hidden)
    seen: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int]] = []
    randrange = rng.randrange
    while len(pairs) < edges:
        i, j = randrange(classes), randrange(classes)
        if i == j:
            continue
        if i > j:
            i, j = j, i
        pair = (hidden[i], hidden[j])
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return hidden, pairs


def new_graph(classes: int) -> LockGraph:
    g = LockGraph()
    for cid in range(classes):
        g.lock_class(f"bench.py:{cid}", "bench.py", cid, "bench", None, "Lock")
    return g


def run_lockorder(g: LockGraph, pairs: list[tuple[int, int]]) -> tuple[list[float], int, int]:
    """Insert every pair; return (seconds per BLOCK-edge block, edges that
    disagreed with the current order, cycles reported)."""
    blocks: list[float] = []
    against = cycles = 0
    order = g._ord
    add = g.add_edge
    perf_counter = time.perf_counter
    batch_size = 10 * BLOCK
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        batch = [(x, y, Edge(x, y, EVIDENCE)) for x, y in chunk]
        for b in range(0, len(batch), BLOCK):
            t0 = perf_counter()
            for x, y, edge in batch[b : b + BLOCK]:
                if order[y] <= order[x]:
                    against += 1
                if add(edge) is not None:
                    cycles += 1
            blocks.append(perf_counter() - t0)
    return blocks, against, cycles


def block_sizes(total: int, block: int) -> list[int]:
    return [min(block, total - start) for start in range(0, total, block)]


def mean_us(blocks: list[float], sizes: list[int], first: int, last: int) -> float:
    """Mean µs per edge over blocks [first, last)."""
    return sum(blocks[first:last]) / sum(sizes[first:last]) * 1e6


def bfs_far(g: LockGraph, start: int, position: dict[int, int]) -> tuple[int, int]:
    """The reachable node farthest from ``start`` (most edges on its shortest path;
    ties: latest in the hidden order), and that distance."""
    dist = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in g.succ[node]:
            if nxt not in dist:
                dist[nxt] = dist[node] + 1
                queue.append(nxt)
    far = max(dist, key=lambda node: (dist[node], position[node]))
    return far, dist[far]


def run_networkx(
    classes: int, pairs: list[tuple[int, int]], budget: float, block: int
) -> tuple[list[float], int]:
    """Naive check: ``nx.has_path(G, y, x)`` before each ``G.add_edge(x, y)``, until
    ``budget`` seconds are spent; returns (seconds per block, cycles seen)."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(range(classes))
    has_path = nx.has_path
    add = graph.add_edge
    blocks: list[float] = []
    cycles = 0
    spent = 0.0
    perf_counter = time.perf_counter
    for start in range(0, len(pairs), block):
        t0 = perf_counter()
        for x, y in pairs[start : start + block]:
            if has_path(graph, y, x):
                cycles += 1
            add(x, y)
        elapsed = perf_counter() - t0
        blocks.append(elapsed)
        spent += elapsed
        if spent >= budget:
            break
    return blocks, cycles


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return my, 0.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - slope * mx, slope


def fmt_s(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds >= 100 else f"{seconds:.3g} s"


def import_ms(module: str) -> float:
    """Milliseconds to import ``module`` in a fresh interpreter (best of 3)."""
    code = (
        f"import time; t = time.perf_counter(); import {module}; "
        "print((time.perf_counter() - t) * 1e3)"
    )
    best = float("inf")
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        )
        best = min(best, float(out.stdout))
    return best


def max_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # not on Unix
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024


def print_machine(args: argparse.Namespace) -> None:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    impl = platform.python_implementation()
    print(f"python    : {impl} {platform.python_version()} ({sys.executable})")
    print(f"platform  : {platform.platform()} [{platform.machine()}]")
    print(f"cpu       : os.cpu_count()={os.cpu_count()}, usable={usable}")
    print(
        f"stream    : {args.classes:,} classes, {args.edges:,} distinct edges consistent "
        f"with a hidden random order, random insertion order, seed {args.seed}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 classes, 20,000 edges")
    parser.add_argument("--classes", type=int, help="lock classes (default 20,000)")
    parser.add_argument("--edges", type=int, help="edges (default 200,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the lockorder stream, best kept (default 3)"
    )
    parser.add_argument(
        "--nx-seconds", type=float, help="time budget of the networkx run (default 30, quick 5)"
    )
    parser.add_argument(
        "--after-seconds",
        type=float,
        help="time budget for edges added while a back edge exists (default 5, quick 2)",
    )
    args = parser.parse_args(argv)
    args.classes = args.classes or (2_000 if args.quick else 20_000)
    args.edges = args.edges or (20_000 if args.quick else 200_000)
    nx_budget = args.nx_seconds if args.nx_seconds is not None else (5.0 if args.quick else 30.0)
    after_budget = (
        args.after_seconds if args.after_seconds is not None else (2.0 if args.quick else 5.0)
    )
    started = time.perf_counter()
    print_machine(args)

    t0 = time.perf_counter()
    hidden, pairs = make_stream(args.classes, args.edges, args.seed)
    position = {cid: pos for pos, cid in enumerate(hidden)}
    g = new_graph(args.classes)
    print(f"setup     : stream and classes built in {time.perf_counter() - t0:.1f} s (untimed)")

    # -- lockorder: every edge ---------------------------------------------------------
    # The whole stream `--repeat` times on a fresh graph; per 1,000-edge block the
    # best (lowest) time is kept, which takes out most of a shared machine's noise.
    totals: list[float] = []
    blocks: list[float] = []
    for run in range(args.repeat):
        if run:
            del g
            gc.collect()
            g = new_graph(args.classes)
        run_blocks, against, cycles = run_lockorder(g, pairs)
        totals.append(sum(run_blocks))
        blocks = (
            run_blocks if run == 0 else [min(a, b) for a, b in zip(blocks, run_blocks, strict=True)]
        )
    sizes = block_sizes(len(pairs), BLOCK)
    total = min(totals)
    chunk_blocks = min(10_000, max(len(pairs) // 10, BLOCK)) // BLOCK
    chunk = chunk_blocks * BLOCK
    nblocks = len(blocks)
    first_us = mean_us(blocks, sizes, 0, chunk_blocks)
    last_us = mean_us(blocks, sizes, nblocks - chunk_blocks, nblocks)
    chunk_means = [
        mean_us(blocks, sizes, i, min(i + chunk_blocks, nblocks))
        for i in range(0, nblocks, chunk_blocks)
    ]
    worst_block = max(b / s for b, s in zip(blocks, sizes, strict=True)) * 1e6

    print()
    print("lockorder LockGraph.add_edge (Pearce-Kelly order, cycle check on every edge)")
    print(f"  edges inserted               {len(pairs):>12,}")
    print(
        f"  total (best of {args.repeat} runs)      {total:>12.2f} s  "
        f"(all runs: {', '.join(f'{t:.2f}' for t in totals)} s)"
    )
    print(f"  mean per edge, all (best run) {total / len(pairs) * 1e6:>11.2f} us")
    print(f"  mean per edge, first {chunk:>6,}  {first_us:>12.2f} us")
    print(f"  mean per edge, last  {chunk:>6,}  {last_us:>12.2f} us")
    print(f"  worst {BLOCK:,}-edge block         {worst_block:>12.2f} us/edge")
    print(
        f"  edges against the current order (searched) {against:,} "
        f"({against / len(pairs):.1%}); cycles reported: {cycles} (expected 0)"
    )
    print(
        f"  per-{chunk:,}-edge chunk means (us/edge): " + " ".join(f"{m:.1f}" for m in chunk_means)
    )

    # -- one deliberate back edge ---------------------------------------------------------
    u = next(cid for cid in hidden if g.succ[cid])
    v, dist = bfs_far(g, u, position)
    back = Edge(v, u, EVIDENCE)
    t0 = time.perf_counter()
    cycle = g.add_edge(back)
    back_ms = (time.perf_counter() - t0) * 1e3
    ok = (
        cycle is not None
        and cycle[0] is back
        and all(a.dst == b.src for a, b in pairwise(cycle))
        and cycle[-1].dst == back.src
    )
    print()
    print(
        f"back edge   {v} -> {u} (hidden positions {position[v]:,} -> {position[u]:,}; "
        f"{u} reaches {v} in {dist} edges)"
    )
    print(
        f"  found: {'yes' if ok else 'NO'}, shortest cycle of {len(cycle) if cycle else 0} edges, "
        f"in {back_ms:.2f} ms"
    )

    # -- consistent edges added while that back edge exists ----------------------------------
    rng = random.Random(args.seed + 1)
    existing = {(x, y) for x, y in pairs}
    after_times: list[float] = []
    after_cycles = 0
    limit = 10_000
    while sum(after_times) < after_budget and len(after_times) < limit:
        i, j = rng.randrange(args.classes), rng.randrange(args.classes)
        if i == j:
            continue
        i, j = min(i, j), max(i, j)
        x, y = hidden[i], hidden[j]
        if (x, y) in existing or (x, y) == (u, v):
            continue
        existing.add((x, y))
        edge = Edge(x, y, EVIDENCE)
        t0 = time.perf_counter()
        found = g.add_edge(edge)
        after_times.append(time.perf_counter() - t0)
        if found is not None:
            after_cycles += 1
    after_mean = sum(after_times) / len(after_times) * 1e6
    print(
        f"  then {len(after_times):,} more consistent edges with the back edge present: "
        f"{after_mean:,.1f} us/edge ({after_mean / (total / len(pairs) * 1e6):,.0f}x the "
        f"mean above); {after_cycles:,} of them closed a cycle through the back edge"
    )

    del g, existing
    gc.collect()

    # -- networkx: nx.has_path before each add ---------------------------------------------
    nx_block = 100
    nx_blocks, nx_cycles = run_networkx(args.classes, pairs, nx_budget, nx_block)
    nx_sizes = block_sizes(len(pairs), nx_block)[: len(nx_blocks)]
    done = sum(nx_sizes)
    nx_total = sum(nx_blocks)
    nx_first = nx_blocks[0] / nx_sizes[0] * 1e6
    nx_last = nx_blocks[-1] / nx_sizes[-1] * 1e6
    # lockorder at the same point of the stream (its BLOCK-edge block)
    pk_same = blocks[min((done - 1) // BLOCK, nblocks - 1)] / BLOCK * 1e6
    pk_prefix = sum(blocks[: done // BLOCK]) + (
        blocks[done // BLOCK] * (done % BLOCK) / BLOCK if done % BLOCK else 0.0
    )
    print()
    print("networkx DiGraph, nx.has_path(G, y, x) before each add_edge(x, y)")
    print(
        f"  edges inserted within {nx_budget:g} s   {done:>12,} of {len(pairs):,} "
        f"({nx_total:.2f} s; lockorder took {pk_prefix:.2f} s for the same prefix)"
    )
    print(f"  per edge, first {nx_block} edges      {nx_first:>12.1f} us")
    print(
        f"  per edge, last {nx_block} edges       {nx_last:>12.1f} us "
        f"(edges {done - nx_sizes[-1]:,}-{done:,}; lockorder there: {pk_same:.2f} us)"
    )
    print(f"  cycles reported: {nx_cycles} (expected 0)")
    nx_label = fmt_s(nx_total)
    if done < len(pairs):
        rest = len(pairs) - done
        flat = nx_total + rest * nx_last / 1e6
        xs, at = [], 0
        for size in nx_sizes:
            xs.append(at + size / 2)
            at += size
        ys = [b / s for b, s in zip(nx_blocks, nx_sizes, strict=True)]
        a, b = linear_fit(xs, ys)
        linear = nx_total + sum(max(a + b * (k + 0.5), 0.0) for k in range(done, len(pairs)))
        print(
            f"  EXTRAPOLATED to all {len(pairs):,} edges: {fmt_s(flat)} if the per-edge cost "
            f"stayed at the last block's; {fmt_s(linear)} if it kept the measured linear trend "
            f"({b * 1e9:.2f} us more per edge per 1,000 edges)"
        )
        nx_label = f"~{fmt_s(flat)} to {fmt_s(linear)} (EXTRAPOLATED)"

    # -- summary ----------------------------------------------------------------------------
    per = chunk // nx_block
    nx_done_blocks = len(nx_blocks)
    nx_first_chunk = nx_last_chunk = "n/a"
    if nx_done_blocks >= per:
        nx_first_chunk = f"{mean_us(nx_blocks, nx_sizes, 0, per):.2f} us"
    if done == len(pairs) and nx_done_blocks >= 2 * per:
        nx_last_chunk = (
            f"{mean_us(nx_blocks, nx_sizes, nx_done_blocks - per, nx_done_blocks):.2f} us"
        )
    elif nx_done_blocks >= 2 * per:
        last = mean_us(nx_blocks, nx_sizes, nx_done_blocks - per, nx_done_blocks)
        nx_last_chunk = f"{last:.2f} us (edges {done - chunk:,}-{done:,} only)"
    rows = [
        (f"total, {len(pairs):,} edges", fmt_s(total), nx_label),
        (f"mean per edge, first {chunk:,}", f"{first_us:.2f} us", nx_first_chunk),
        (f"mean per edge, last {chunk:,}", f"{last_us:.2f} us", nx_last_chunk),
        (
            "mean per edge, all",
            f"{total / len(pairs) * 1e6:.2f} us",
            f"{nx_total / done * 1e6:.2f} us"
            + ("" if done == len(pairs) else f" (first {done:,})"),
        ),
        (f"back edge found ({len(cycle) if cycle else 0}-edge cycle)", f"{back_ms:.2f} ms", ""),
        ("new edge while a back edge exists", f"{after_mean:,.1f} us", ""),
    ]
    print()
    print(f"summary ({args.classes:,} classes, {len(pairs):,} edges, seed {args.seed})")
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len("lockorder (PK)"), *(len(r[1]) for r in rows))
    print(f"  {'':<{w0}}  {'lockorder (PK)':>{w1}}  networkx (has_path per edge)")
    for label, pk, nx_cell in rows:
        print(f"  {label:<{w0}}  {pk:>{w1}}  {nx_cell}")

    print(
        f"\nimport cost in a fresh interpreter: networkx {import_ms('networkx'):.0f} ms, "
        f"lockorder {import_ms('lockorder'):.0f} ms (lockorder imports networkx only for "
        "graph() and reports)"
    )
    rss = max_rss_mb()
    if rss is not None:
        print(f"\npeak RSS {rss:,.0f} MB; total run time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
