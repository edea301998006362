"""Wrong version of recipe 4: the producer joins the consumer while holding its lock.

A one-slot hand-off: ``put_and_join()`` queues an item under the hand-off's lock,
wakes the consumer, and then, still holding the lock, waits for the consumer
thread to finish (``consumer.join()``, no timeout). The consumer needs that lock
to take the item (a plain ``with self._lock:``). Neither can go on: a real
deadlock, with one lock and one join in it, so there is no lock-order cycle.

Unlike an ``Event.wait()`` (wrong_producer_holds_lock.py), a ``join()`` names the
thread that ends it, so under ``install()`` lockorder follows it. About 0.2 s
after the producer starts to join, it finds

* ``join-while-holding``: it waits on ``join('consumer')`` while holding the
  hand-off's lock, which the consumer acquires;
* ``deadlock``: the wait-for chain producer -> ``join('consumer')`` -> the lock
  (held by the producer) comes back to it. The producer started waiting last, so
  it is the victim: its ``join()`` raises ``lockorder.DeadlockError``, its
  ``with`` block releases the lock, and the consumer takes the item.

The order is fixed by the ``taking`` event: the consumer sets it just before it
asks for the lock, and the producer joins only once it is set. The consumer
keeps the GIL from ``set()`` until its acquire blocks (pure Python in between),
so it is waiting for the lock before the producer, woken, runs a line: the
producer always starts waiting last, and both findings come from its thread, in
this order.

The run is bounded by lockorder breaking the deadlock: the producer's untimed
``join()`` is the mistake and must stay untimed (a timed join takes no part in
the wait-for check). Without lockorder both threads would wait forever, so
:func:`main` refuses to run unless lockorder is installed and breaks deadlocks
(``pytest --lockorder``, ``python -m lockorder run``). Even then the two threads
are daemons and the main thread waits for them at most ``TIMEOUT`` seconds: if
the deadlock was not broken, :func:`main` raises instead of hanging.

The fix (producer_consumer_event.py): release the lock before waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import lockorder

__all__ = ["Handoff", "main"]

#: the main thread's guard on the two threads: a deadlock lockorder did not break
TIMEOUT = 5.0


class Handoff:
    """Hands items from a producer to a consumer thread, one at a time (wrong)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[str] = deque()
        self._offered = threading.Event()
        self._taking = threading.Event()

    def put_and_join(self, item: str, consumer: threading.Thread) -> None:
        """Offer ``item`` and wait until the consumer thread has finished."""
        with self._lock:
            self._items.append(item)
            self._offered.set()
            # this example's choreography: join only once the consumer asks for the lock
            self._taking.wait(TIMEOUT)
            consumer.join()  # wrong: waits for the consumer holding the lock it needs

    def take(self) -> str | None:
        """Take the offered item; ``None`` if none came within ``TIMEOUT``."""
        if not self._offered.wait(TIMEOUT):
            return None
        self._taking.set()
        with self._lock:  # a plain blocking acquire: the producer holds the lock
            return self._items.popleft()

    @property
    def checked(self) -> bool:
        """Whether lockorder checks this hand-off's lock."""
        return lockorder.is_checked(self._lock)


def _refuse_unless_broken(handoff: Handoff) -> None:
    """Raise RuntimeError unless lockorder is there to break the deadlock."""
    settings = lockorder.settings()
    breaking = settings.break_deadlocks
    if breaking is None:
        breaking = settings.mode != "record"
    checking = lockorder.installed() and settings.enabled and handoff.checked
    if not (checking and breaking and settings.deadlock_check > 0):
        raise RuntimeError(
            "wrong_producer_joins_consumer deadlocks for real: it runs only where lockorder "
            "is installed and breaks deadlocks (pytest --lockorder, python -m lockorder run); "
            "without it both threads would wait forever"
        )


def main() -> dict[str, str]:
    """Run one producer and one consumer on a hand-off, under lockorder.

    Returns:
        For each thread (``producer``, ``consumer``), how it ended: ``"done"``
        (the consumer: ``"took <item>"``), or the name of the lockorder
        exception that stopped it (``DeadlockError`` for the producer).

    Raises:
        RuntimeError: lockorder is not installed or does not break deadlocks
            (nothing is started), a thread did not finish within ``TIMEOUT``
            seconds, or the deadlock was not broken in exactly one thread.
    """
    handoff = Handoff()
    _refuse_unless_broken(handoff)
    outcome: dict[str, str] = {}

    def produce() -> str:
        handoff.put_and_join("item", threads["consumer"])
        return "done"

    def consume() -> str:
        return f"took {handoff.take()}"

    def guarded(work: Callable[[], str]) -> Callable[[], None]:
        def run() -> None:
            name = threading.current_thread().name
            try:
                outcome[name] = work()
            except lockorder.LockOrderError as exc:  # the victim's DeadlockError
                outcome[name] = type(exc).__name__

        return run

    # daemon threads: should the deadlock stay, they cannot keep the process alive
    threads = {
        "consumer": threading.Thread(target=guarded(consume), name="consumer", daemon=True),
        "producer": threading.Thread(target=guarded(produce), name="producer", daemon=True),
    }
    threads["consumer"].start()  # waits for the offer
    threads["producer"].start()
    deadline = time.monotonic() + TIMEOUT
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            raise RuntimeError(
                f"{thread.name} did not finish within {TIMEOUT} s: the deadlock was not broken"
            )
    stopped = [name for name, how in outcome.items() if not how.startswith(("done", "took"))]
    if len(outcome) != 2 or len(stopped) != 1:
        raise RuntimeError(f"unexpected outcome {outcome!r}")
    print(
        f"{stopped[0]}: {outcome[stopped[0]]}; the deadlock was broken and both threads "
        f"ended: {outcome!r}"
    )
    return outcome


if __name__ == "__main__":
    main()
