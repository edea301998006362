"""Recipe 6: taking several locks in one global order, with ``lockorder.acquire``.

Most deadlocks come from threads that take the same locks in different orders.
``lockorder.acquire(*locks)`` takes its locks in one order whatever order they
are passed in (``rank`` first, then creation order: the same from run to run,
unlike ``id()``), and releases them in reverse. ``thread_1`` asks for
``(x_lock, y_lock)`` and ``thread_2`` for ``(y_lock, x_lock)``; both take
``x_lock`` first, so the two threads can run at the same time without deadlock.

A thread inside ``acquire()`` may nest another ``acquire()`` only for locks that
sort after those it holds; asking for one that sorts before raises
``LockOrderViolation`` (wrong_nested_acquire.py). Taking the same two locks with
plain nested ``with`` blocks in opposite orders is the bug this prevents
(wrong_unordered_xy.py).

Run it: ``python docs/recipes/ordered_acquire.py``.
"""

from __future__ import annotations

import threading

import lockorder

__all__ = ["main", "thread_1", "thread_2", "x_lock", "y_lock"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0

x_lock = lockorder.Lock(name="x_lock")
y_lock = lockorder.Lock(name="y_lock")


def thread_1(rounds: int, log: list[str]) -> None:
    """Take x_lock and y_lock together, ``rounds`` times."""
    for _ in range(rounds):
        with lockorder.acquire(x_lock, y_lock) as taken:
            log.append("thread_1 took " + ("x, y" if taken == (x_lock, y_lock) else "y, x"))


def thread_2(rounds: int, log: list[str]) -> None:
    """Take y_lock and x_lock together (asked in the other order), ``rounds`` times."""
    for _ in range(rounds):
        with lockorder.acquire(y_lock, x_lock) as taken:
            log.append("thread_2 took " + ("x, y" if taken == (x_lock, y_lock) else "y, x"))


def main(rounds: int = 10) -> dict[str, int]:
    """Run both threads at the same time.

    Returns:
        How many times each thread took the locks in the order x, y.

    Raises:
        RuntimeError: a thread did not finish, or took the locks as y, x.
    """
    log: list[str] = []
    threads = [
        threading.Thread(target=thread_1, args=(rounds, log), name="thread_1"),
        threading.Thread(target=thread_2, args=(rounds, log), name="thread_2"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    counts = {name: log.count(f"{name} took x, y") for name in ("thread_1", "thread_2")}
    if counts != {"thread_1": rounds, "thread_2": rounds}:
        raise RuntimeError(f"the locks were not always taken as x, y: {log!r}")
    print(f"both threads took x_lock before y_lock every time: {counts}")
    return counts


if __name__ == "__main__":
    main()
