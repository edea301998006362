"""Wrong version of recipe 11: an exchange that delivers while holding its lock.

``Exchange.send()`` holds the exchange's lock while it calls each subscriber's
``send()``, and ``Task.send()`` takes the task's own lock: exchange, then task.
Another path goes the other way: ``Task.follow()`` attaches the task to an
exchange while holding the task's lock: task, then exchange. A publisher and a
following task that overlap each hold one lock and wait for the other.

Here the task follows first and the publisher sends afterwards, so the program
never hangs; lockorder reports the inversion between the two locks, named by the
lines that created them. The fix (pubsub_exchange.py): ``send()`` copies the
subscriber set under the lock and delivers after releasing it.
"""

from __future__ import annotations

import threading

__all__ = ["Exchange", "Task", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0


class Exchange:
    """Delivers messages to its subscribers, holding its lock meanwhile (wrong)."""

    def __init__(self) -> None:
        self._subscribers: set[Task] = set()
        self._lock = threading.Lock()

    def attach(self, task: Task) -> None:
        with self._lock:
            self._subscribers.add(task)

    def detach(self, task: Task) -> None:
        with self._lock:
            self._subscribers.discard(task)

    def send(self, msg: object) -> None:
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.send(msg)  # takes the subscriber's lock under ours


class Task:
    """A subscriber with a lock of its own."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self.received: list[object] = []
        self.following: list[Exchange] = []

    def send(self, msg: object) -> None:
        with self._lock:
            self.received.append(msg)

    def follow(self, exchange: Exchange) -> None:
        """Remember ``exchange`` and attach to it, both under the task's lock."""
        with self._lock:
            self.following.append(exchange)
            exchange.attach(self)  # takes the exchange's lock under ours


def main() -> list[object]:
    """A task follows the exchange in one thread; then a publisher sends in another.

    Returns:
        What the task received.
    """
    exchange = Exchange()
    task = Task("task_a")
    steps = [
        threading.Thread(target=task.follow, args=(exchange,), name="subscriber"),
        threading.Thread(target=exchange.send, args=("news",), name="publisher"),
    ]
    for thread in steps:
        thread.start()  # one after the other: this run cannot hang
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    if task.received != ["news"]:
        raise RuntimeError(f"unexpected messages {task.received!r}")
    print(f"{task.name} received {task.received}")
    return task.received


if __name__ == "__main__":
    main()
