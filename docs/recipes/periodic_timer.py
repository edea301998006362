"""Recipe 2: a periodic timer on a ``Condition``, with two waiting threads.

A background thread ticks every ``interval`` seconds; each tick wakes every
thread blocked in :meth:`PeriodicTimer.wait_for_tick`. Unlike an ``Event``, the
condition can be signalled again and again without a race on ``clear()``.

Each tick bumps a counter under the condition's lock, and a waiter waits until
the counter differs from the value it saw. (Toggling a 0/1 flag instead, as the
classic version of this recipe does, loses ticks: a waiter that is late by two
ticks sees the flag back at its old value and sleeps through both.)

This recipe is about timing, so it sleeps: ticks come every 10 ms, and the timer
stops after the waiters are done (or after ``max_ticks`` in any case).

Run it: ``python docs/recipes/periodic_timer.py``.
"""

from __future__ import annotations

import threading

__all__ = ["PeriodicTimer", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0


class PeriodicTimer:
    """Wakes every waiter once per tick; ticks come every ``interval`` seconds.

    Args:
        interval: seconds between ticks.
        max_ticks: the timer stops by itself after this many ticks.
    """

    def __init__(self, interval: float, *, max_ticks: int = 1000) -> None:
        self._interval = interval
        self._max_ticks = max_ticks
        self._ticks = 0
        self._cv = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="periodic-timer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and wait for the timer thread to end.

        Raises:
            RuntimeError: the timer thread did not end within ``TIMEOUT``.
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(TIMEOUT)
            if self._thread.is_alive():
                raise RuntimeError(f"the timer thread did not stop within {TIMEOUT} s")

    def _run(self) -> None:
        # Only this thread writes _ticks, so reading it here without the lock is safe;
        # the Event doubles as an interruptible sleep.
        while self._ticks < self._max_ticks and not self._stopping.wait(self._interval):
            with self._cv:
                self._ticks += 1
                self._cv.notify_all()

    def wait_for_tick(self, timeout: float = TIMEOUT) -> int:
        """Block until the next tick; return the tick number.

        Raises:
            TimeoutError: no tick came within ``timeout`` seconds.
        """
        with self._cv:
            seen = self._ticks
            if not self._cv.wait_for(lambda: self._ticks != seen, timeout):
                raise TimeoutError(f"no tick within {timeout} s")
            return self._ticks


def countdown(timer: PeriodicTimer, ticks: int, log: list[str]) -> None:
    """Count down from ``ticks``, one step per tick."""
    for remaining in range(ticks, 0, -1):
        timer.wait_for_tick()
        log.append(f"T-minus {remaining}")


def countup(timer: PeriodicTimer, last: int, log: list[str]) -> None:
    """Count up to ``last`` (excluded), one step per tick."""
    for n in range(last):
        timer.wait_for_tick()
        log.append(f"Counting {n}")


def main(interval: float = 0.01) -> dict[str, list[str]]:
    """Run a countdown from 5 and a count-up to 3 on one timer.

    Returns:
        Each counting thread's log, by thread name.

    Raises:
        RuntimeError: a thread did not finish within ``TIMEOUT``.
    """
    timer = PeriodicTimer(interval)
    logs: dict[str, list[str]] = {"countdown": [], "countup": []}
    threads = [
        threading.Thread(target=countdown, args=(timer, 5, logs["countdown"]), name="countdown"),
        threading.Thread(target=countup, args=(timer, 3, logs["countup"]), name="countup"),
    ]
    timer.start()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
            if thread.is_alive():
                raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    finally:
        timer.stop()
    expected = {
        "countdown": [f"T-minus {i}" for i in range(5, 0, -1)],
        "countup": [f"Counting {i}" for i in range(3)],
    }
    if logs != expected:
        raise RuntimeError(f"unexpected logs {logs!r}")
    for name, log in logs.items():
        print(f"{name}: {', '.join(log)}")
    return logs


if __name__ == "__main__":
    main()
