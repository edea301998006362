"""Wrong version of recipe 5: ``decr()`` calls ``incr()`` under a plain ``Lock``.

The class-level ``RLock`` version of the counter may call ``incr()`` from
``decr()`` while holding its lock; with a ``Lock`` the same code waits for
itself: ``incr()`` asks for the lock its own thread holds, and a ``Lock`` is not
re-entrant. Without lockorder the thread hangs forever. With lockorder the
re-acquire is a ``self-deadlock`` finding, and ``SelfDeadlockError`` is raised
from it at once (no other thread exists that could release the lock).

* ``pytest --lockorder``: the test calling :func:`main` gets ``SelfDeadlockError``.
* ``python -m lockorder run docs/recipes/wrong_counter_reentry.py``: the same
  (``lockorder run`` breaks certain deadlocks in every mode), exit status 1.
* ``python docs/recipes/wrong_counter_reentry.py`` (lockorder not in the game):
  ``decr()`` runs in a daemon thread, which the example shows still blocked after
  half a second, then leaves behind.

The fix: an ``RLock`` (shared_counter.py), or a private ``_incr_locked()`` that
both methods call with the lock already held.
"""

from __future__ import annotations

import threading

import lockorder

__all__ = ["SharedCounter", "main"]

#: how long the example lets the unchecked decr() hang before it gives up on it
HANG_SHOWN_FOR = 0.5


class SharedCounter:
    """The Lock counter, with ``decr()`` written through ``incr()``: wrong."""

    def __init__(self, initial_value: int = 0) -> None:
        self._value = initial_value
        self._value_lock = threading.Lock()

    def incr(self, delta: int = 1) -> None:
        with self._value_lock:
            self._value += delta

    def decr(self, delta: int = 1) -> None:
        with self._value_lock:
            self.incr(-delta)  # takes _value_lock again: waits for itself

    @property
    def checked(self) -> bool:
        """Whether lockorder checks this counter's lock."""
        return lockorder.is_checked(self._value_lock)


def main() -> str:
    """Call ``decr()`` once.

    Returns:
        What happened, when lockorder does not check the lock.

    Raises:
        lockorder.SelfDeadlockError: lockorder checks the lock.
    """
    counter = SharedCounter(10)
    if counter.checked:
        counter.decr()  # raises SelfDeadlockError
        return "decr() returned"  # not reached
    hung = threading.Thread(target=counter.decr, name="decr", daemon=True)
    hung.start()
    hung.join(HANG_SHOWN_FOR)
    outcome = (
        f"decr() still blocked after {HANG_SHOWN_FOR} s: the thread waits for itself forever"
        if hung.is_alive()
        else "decr() returned"
    )
    print(outcome)
    return outcome


if __name__ == "__main__":
    main()
