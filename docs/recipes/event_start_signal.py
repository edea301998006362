"""Recipe 1: an ``Event`` as a start signal.

The main thread launches a countdown thread and goes on only once that thread
has said it is running: the thread calls ``started.set()``, the main thread
``started.wait()``. Every thread blocked in ``wait()`` wakes up when ``set()`` is
called, and a ``wait()`` after ``set()`` returns at once.

An ``Event`` is best used once: ``clear()`` cannot know whether the waiters of the
previous round have woken up yet, so a reused event can lose a signal. Make a new
one per round, or use a ``Condition`` with a counter (recipe 2, periodic_timer.py).

Run it: ``python docs/recipes/event_start_signal.py``.
"""

from __future__ import annotations

import threading

__all__ = ["countdown", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0


def countdown(n: int, started: threading.Event, log: list[str]) -> None:
    """Announce the start through ``started``, then count down from ``n``."""
    log.append("countdown starting")
    started.set()
    for remaining in range(n, 0, -1):
        log.append(f"T-minus {remaining}")


def main(n: int = 5) -> list[str]:
    """Start the countdown, wait for its start signal, then for its end.

    Returns:
        The countdown thread's log.

    Raises:
        RuntimeError: the thread did not start or finish within ``TIMEOUT``.
    """
    started = threading.Event()
    log: list[str] = []
    print("launching countdown")
    worker = threading.Thread(target=countdown, args=(n, started, log), name="countdown")
    worker.start()
    if not started.wait(TIMEOUT):
        raise RuntimeError(f"the countdown did not signal its start within {TIMEOUT} s")
    print("countdown is running")
    worker.join(TIMEOUT)
    if worker.is_alive():
        raise RuntimeError(f"the countdown did not finish within {TIMEOUT} s")
    expected = ["countdown starting", *(f"T-minus {i}" for i in range(n, 0, -1))]
    if log != expected:
        raise RuntimeError(f"unexpected countdown log {log!r}")
    print("\n".join(log))
    return log


if __name__ == "__main__":
    main()
