"""Recipe 9: ``ProcessPoolExecutor``: ``map``, ``submit``, and a done-callback.

CPU-bound work in Python threads takes turns on one interpreter lock; a process
pool runs it in other processes. Three ways to hand it work:

* ``pool.map(fn, items)``: results in the order of the items;
* ``pool.submit(fn, arg)`` returns a ``Future``; ``result()`` waits for it;
* ``future.add_done_callback(fn)``: ``fn(future)`` is called when the result is
  in, in a thread of the pool's (or at once, if it is already done).

The function must be importable by the workers: a module-level function.
Two workers and a few small tasks keep it quick. lockorder checks the locks of
this process (the executor's own, the futures', the callback's); the worker
processes have graphs of their own that are not collected (docs/limitations.md).

Run it: ``python docs/recipes/process_pool.py``.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ProcessPoolExecutor

__all__ = ["fib", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 30.0  # worker processes may be slow to start on a loaded machine


def fib(n: int) -> int:
    """The ``n``-th Fibonacci number, computed the slow way (CPU work)."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def main(workers: int = 2) -> dict[str, object]:
    """Compute a few Fibonacci numbers in a pool of ``workers`` processes.

    Returns:
        The results of map, of submit and of the done-callback.

    Raises:
        RuntimeError: the callback did not run within ``TIMEOUT``, or a result is wrong.
    """
    called_back = threading.Event()
    from_callback: list[int] = []

    def when_done(future: Future[int]) -> None:
        from_callback.append(future.result())
        called_back.set()

    with ProcessPoolExecutor(max_workers=workers) as pool:
        mapped = list(pool.map(fib, [15, 16, 17, 18], timeout=TIMEOUT))
        submitted = pool.submit(fib, 20).result(timeout=TIMEOUT)
        pool.submit(fib, 21).add_done_callback(when_done)
        if not called_back.wait(TIMEOUT):
            raise RuntimeError(f"the done-callback did not run within {TIMEOUT} s")
    results = {"map": mapped, "submit": submitted, "callback": from_callback}
    expected = {"map": [610, 987, 1597, 2584], "submit": 6765, "callback": [10946]}
    if results != expected:
        raise RuntimeError(f"unexpected results {results!r}")
    print(results)
    return results


if __name__ == "__main__":
    main()
