"""Recipe 3: Semaphore-gated workers.

Two uses of a semaphore:

* **A gate.** ``Semaphore(0)``: every worker blocks in ``acquire()`` until the
  main thread calls ``release()``, and each ``release()`` lets exactly one worker
  through (a ``Semaphore`` stores a release nobody waits for, for the next
  ``acquire()``; a ``BoundedSemaphore`` raises ``ValueError`` if released above
  its initial value).
* **A limit.** ``BoundedSemaphore(2)`` held around a piece of work: at most two
  workers are inside it at any time.

lockorder tracks a semaphore unit as a hold of the thread that acquired it until
that thread releases it; a release by a thread holding no unit (the gate) marks
the semaphore as a signal, which holds nothing (docs/concepts.md, "Semaphores").

Run it: ``python docs/recipes/semaphore_workers.py``.
"""

from __future__ import annotations

import queue
import threading

__all__ = ["gated_workers", "limited_workers", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")


def _gated_worker(n: int, gate: threading.Semaphore, done: queue.Queue[int]) -> None:
    if gate.acquire(timeout=TIMEOUT):
        done.put(n)


def gated_workers(nworkers: int = 5) -> list[int]:
    """Start ``nworkers`` workers behind a closed gate, then let them through one by one.

    Returns:
        The workers' numbers in the order they got through.

    Raises:
        RuntimeError: a release did not let exactly one worker through.
    """
    gate = threading.Semaphore(0)
    done: queue.Queue[int] = queue.Queue()
    workers = [
        threading.Thread(target=_gated_worker, args=(n, gate, done), name=f"gated-{n}")
        for n in range(nworkers)
    ]
    for worker in workers:
        worker.start()
    order = []
    for _ in range(nworkers):
        gate.release()
        try:
            order.append(done.get(timeout=TIMEOUT))
        except queue.Empty:
            raise RuntimeError(f"no worker got through the gate within {TIMEOUT} s") from None
        # The next worker needs the next release: nobody else can be through yet.
        if not done.empty():
            raise RuntimeError("one release let two workers through")
    _join(workers)
    return order


def _limited_worker(
    limit: threading.BoundedSemaphore,
    pair_up: threading.Barrier,
    stats_lock: threading.Lock,
    stats: dict[str, int],
    rounds: int,
) -> None:
    for _ in range(rounds):
        with limit:
            with stats_lock:
                stats["inside"] += 1
                stats["most"] = max(stats["most"], stats["inside"])
            # The limited work (a download, a database call) goes here. To show that
            # `limit` workers really are inside together, each one waits here for as
            # many others: a barrier of `limit` parties.
            pair_up.wait(TIMEOUT)
            with stats_lock:
                stats["inside"] -= 1
                stats["done"] += 1


def limited_workers(nworkers: int = 6, limit: int = 2, rounds: int = 20) -> dict[str, int]:
    """Let ``nworkers`` workers do ``rounds`` units of work, at most ``limit`` at a time.

    ``nworkers * rounds`` must be a multiple of ``limit`` (the barrier that shows
    the workers inside together needs full groups).

    Returns:
        ``done`` (units of work done) and ``most`` (most workers inside at once).

    Raises:
        RuntimeError: a thread did not finish, or not exactly ``limit`` workers
            were inside at once.
    """
    if nworkers * rounds % limit:
        raise ValueError("nworkers * rounds must be a multiple of limit")
    sema = threading.BoundedSemaphore(limit)
    pair_up = threading.Barrier(limit)
    stats_lock = threading.Lock()
    stats = {"inside": 0, "most": 0, "done": 0}
    workers = [
        threading.Thread(
            target=_limited_worker,
            args=(sema, pair_up, stats_lock, stats, rounds),
            name=f"limited-{n}",
        )
        for n in range(nworkers)
    ]
    for worker in workers:
        worker.start()
    _join(workers)
    if stats["most"] != limit or stats["done"] != nworkers * rounds:
        raise RuntimeError(f"the limit of {limit} did not hold: {stats!r}")
    return {"done": stats["done"], "most": stats["most"]}


def main() -> dict[str, object]:
    """Run both uses; return what each did."""
    order = gated_workers()
    print(f"gate: the workers got through in the order {order}")
    stats = limited_workers()
    print(f"limit: {stats['done']} units of work, at most {stats['most']} at a time")
    return {"gate": sorted(order), "limit": stats}


if __name__ == "__main__":
    main()
