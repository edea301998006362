"""Recipe 5: a counter shared by threads, with a ``Lock``; and with a class-level ``RLock``.

* :class:`SharedCounter` has one ``Lock`` per counter. ``incr()`` and ``decr()``
  each take it once; neither calls the other while holding it (a ``Lock`` taken
  twice by one thread waits for itself forever: wrong_counter_reentry.py).
* :class:`ClassLockedCounter` shares one ``RLock`` among all its instances (a
  class attribute), and its ``decr()`` calls ``incr()`` while holding it: an
  ``RLock`` may be re-acquired by the thread that holds it. One lock for every
  counter also means that two threads updating two different counters wait for
  each other: simple, but a bottleneck.

Run it: ``python docs/recipes/shared_counter.py``.
"""

from __future__ import annotations

import threading
from typing import ClassVar, Protocol

__all__ = ["ClassLockedCounter", "SharedCounter", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0


class SharedCounter:
    """An integer that several threads update; one ``Lock`` per counter."""

    def __init__(self, initial_value: int = 0) -> None:
        self._value = initial_value
        self._value_lock = threading.Lock()

    def incr(self, delta: int = 1) -> None:
        """Add ``delta``."""
        with self._value_lock:
            self._value += delta

    def decr(self, delta: int = 1) -> None:
        """Subtract ``delta``."""
        with self._value_lock:
            self._value -= delta

    @property
    def value(self) -> int:
        """The current value."""
        with self._value_lock:
            return self._value


class ClassLockedCounter:
    """An integer that several threads update; one ``RLock`` for all counters."""

    #: shared by every instance, however many there are
    _lock: ClassVar[threading.RLock] = threading.RLock()

    def __init__(self, initial_value: int = 0) -> None:
        self._value = initial_value

    def incr(self, delta: int = 1) -> None:
        """Add ``delta``."""
        with ClassLockedCounter._lock:
            self._value += delta

    def decr(self, delta: int = 1) -> None:
        """Subtract ``delta`` (through ``incr()``: the ``RLock`` is taken twice)."""
        with ClassLockedCounter._lock:
            self.incr(-delta)

    @property
    def value(self) -> int:
        """The current value."""
        with ClassLockedCounter._lock:
            return self._value


class Counter(Protocol):
    """What both counters offer."""

    def incr(self, delta: int = 1) -> None: ...
    def decr(self, delta: int = 1) -> None: ...
    @property
    def value(self) -> int: ...


def _hammer(counters: list[Counter], rounds: int) -> None:
    for _ in range(rounds):
        for counter in counters:
            counter.incr(3)
            counter.decr()


def main(nthreads: int = 4, rounds: int = 500) -> dict[str, int]:
    """Let ``nthreads`` threads update two counters of each kind.

    Returns:
        Each counter's final value, by name.

    Raises:
        RuntimeError: a thread did not finish, or an update was lost.
    """
    counters: dict[str, Counter] = {
        "lock-a": SharedCounter(),
        "lock-b": SharedCounter(100),
        "rlock-a": ClassLockedCounter(),
        "rlock-b": ClassLockedCounter(100),
    }
    threads = [
        threading.Thread(target=_hammer, args=(list(counters.values()), rounds), name=f"t{n}")
        for n in range(nthreads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    values = {name: counter.value for name, counter in counters.items()}
    gained = 2 * nthreads * rounds  # each round adds 3 and takes 1
    expected = {
        "lock-a": gained,
        "lock-b": 100 + gained,
        "rlock-a": gained,
        "rlock-b": 100 + gained,
    }
    if values != expected:
        raise RuntimeError(f"updates lost: {values!r}, expected {expected!r}")
    print(values)
    return values


if __name__ == "__main__":
    main()
