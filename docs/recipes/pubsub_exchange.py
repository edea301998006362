"""Recipe 11: a publish/subscribe exchange with ``subscribe()``.

An :class:`Exchange` delivers each message sent to it to every subscriber
attached at that moment. ``with exchange.subscribe(a, b):`` attaches the tasks
for the duration of the block. Exchanges are found by name with
:func:`get_exchange`, so publishers and subscribers need not know each other.

The classic version has no lock at all: a thread that attaches while another
sends changes the set under the sender's loop (``RuntimeError: Set changed size
during iteration``), and two threads calling ``get_exchange()`` for a new name
can each create their own exchange. Here the subscriber set and the registry
each have a lock, and ``send()`` delivers from a copy of the set taken under the
lock, *after* releasing it: a subscriber's ``send()`` runs foreign code that may
take its own locks, or attach to an exchange. Delivering while holding the
exchange's lock is the mistake of wrong_exchange.py.

Run it: ``python docs/recipes/pubsub_exchange.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Exchange", "Subscriber", "Task", "get_exchange", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0


class Subscriber(Protocol):
    """Anything with a ``send(msg)`` method."""

    def send(self, msg: object) -> None: ...


class Exchange:
    """Delivers each message to the subscribers attached when it is sent."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()

    def attach(self, task: Subscriber) -> None:
        with self._lock:
            self._subscribers.add(task)

    def detach(self, task: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(task)

    @contextmanager
    def subscribe(self, *tasks: Subscriber) -> Iterator[None]:
        """Attach ``tasks`` for the duration of the ``with`` block."""
        attached: list[Subscriber] = []
        try:
            for task in tasks:
                self.attach(task)
                attached.append(task)
            yield
        finally:
            for task in attached:
                self.detach(task)

    def send(self, msg: object) -> None:
        """Deliver ``msg`` to every subscriber attached now."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:  # outside the lock: foreign code runs here
            subscriber.send(msg)


_exchanges: dict[str, Exchange] = {}
_exchanges_lock = threading.Lock()


def get_exchange(name: str) -> Exchange:
    """The exchange called ``name``, made on first use (once, whichever thread asks)."""
    with _exchanges_lock:
        exchange = _exchanges.get(name)
        if exchange is None:
            exchange = _exchanges[name] = Exchange()
        return exchange


class Task:
    """A subscriber that keeps what it receives; safe to call from several senders."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._received: list[object] = []

    def send(self, msg: object) -> None:
        with self._lock:
            self._received.append(msg)

    @property
    def received(self) -> list[object]:
        with self._lock:
            return list(self._received)


def _publish(name: str, publisher: str, count: int) -> None:
    exchange = get_exchange(name)
    for n in range(count):
        exchange.send(f"{publisher}:{n}")


def main(count: int = 5) -> dict[str, list[str]]:
    """Two publisher threads send ``count`` messages each to two subscribed tasks.

    Returns:
        Each task's messages, sorted, by task name.

    Raises:
        RuntimeError: a thread did not finish, or a message went missing or astray.
    """
    exchange = get_exchange("recipes")
    task_a, task_b = Task("task_a"), Task("task_b")
    with exchange.subscribe(task_a, task_b):
        publishers = [
            threading.Thread(target=_publish, args=("recipes", name, count), name=name)
            for name in ("pub-1", "pub-2")
        ]
        for thread in publishers:
            thread.start()
        for thread in publishers:
            thread.join(TIMEOUT)
            if thread.is_alive():
                raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    exchange.send("after the with block: nobody listens")
    expected = sorted(f"{p}:{n}" for p in ("pub-1", "pub-2") for n in range(count))
    got = {task.name: sorted(map(str, task.received)) for task in (task_a, task_b)}
    if got != {"task_a": expected, "task_b": expected}:
        raise RuntimeError(f"unexpected deliveries {got!r}")
    print(f"each task received {len(expected)} messages from 2 publishers")
    return got


if __name__ == "__main__":
    main()
