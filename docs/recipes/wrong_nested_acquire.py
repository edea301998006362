"""Wrong version of recipe 6: ``lockorder.acquire()`` nested in the wrong order.

``acquire()`` orders the locks of *one* call. A thread that holds ``y_lock``
through one ``acquire()`` and then asks for ``x_lock`` through a nested one takes
them in the order y, x, against the order x, y of ``thread_1``: the deadlock that
``acquire()`` exists to prevent. So the nested call raises ``LockOrderViolation``
(a ``RuntimeError``) before it takes anything, in every lockorder mode, and an
``order-violation`` finding names both locks.

The fix: one call, ``lockorder.acquire(x_lock, y_lock)``, or nest in the global
order (``x_lock`` outside).

Run it: ``python docs/recipes/wrong_nested_acquire.py`` (ends with the
``LockOrderViolation`` traceback).
"""

from __future__ import annotations

import threading

import lockorder

__all__ = ["main", "thread_1", "thread_2", "x_lock", "y_lock"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0

x_lock = lockorder.Lock(name="x_lock")
y_lock = lockorder.Lock(name="y_lock")


def thread_1(rounds: int) -> None:
    """Right: both locks in one call."""
    for _ in range(rounds):
        with lockorder.acquire(x_lock, y_lock):
            pass


def thread_2(rounds: int) -> None:
    """Wrong: y_lock first, then x_lock through a nested call."""
    for _ in range(rounds):
        with lockorder.acquire(y_lock):
            with lockorder.acquire(x_lock):  # raises LockOrderViolation
                pass


class _Thread(threading.Thread):
    """A thread that keeps the exception its target raised, for the caller."""

    error: BaseException | None = None

    def run(self) -> None:
        try:
            super().run()
        except BaseException as exc:
            self.error = exc


def main(rounds: int = 3) -> None:
    """Run thread_1, then thread_2; re-raise what thread_2 raised.

    Raises:
        lockorder.LockOrderViolation: from thread_2's nested ``acquire()``.
    """
    for target in (thread_1, thread_2):
        thread = _Thread(target=target, args=(rounds,), name=target.__name__)
        thread.start()
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
        if thread.error is not None:
            raise thread.error
        print(f"{thread.name} done")


if __name__ == "__main__":
    main()
