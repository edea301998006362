"""Recipe 13: queues that ``select()`` can wait on.

``select.select()`` waits on file descriptors, and a ``queue.Queue`` has none. A
:class:`PollableQueue` pairs the queue with a connected pair of sockets: each
``put()`` writes one byte after queueing the item, each ``get()`` reads one byte
after taking an item. The queue is "readable" exactly when an item is waiting,
so one consumer thread can wait on several queues (and sockets) at once.

The consumer stops when every queue has delivered ``None``, and every
``select()`` has a timeout.

Run it: ``python docs/recipes/pollable_queue.py``.
"""

from __future__ import annotations

import queue
import select
import socket
import threading
from typing import Generic, TypeVar

__all__ = ["PollableQueue", "consume", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0

T = TypeVar("T")


class PollableQueue(queue.Queue[T], Generic[T]):
    """A ``queue.Queue`` with a ``fileno()``: readable while an item is waiting."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        # socketpair() exists on every platform (emulated over TCP on Windows)
        self._putsocket, self._getsocket = socket.socketpair()

    def fileno(self) -> int:
        return self._getsocket.fileno()

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        self._putsocket.send(b"x")

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        item = super().get(block, timeout)
        # put() sends its byte right after queueing the item, so it is there or coming
        self._getsocket.recv(1)
        return item

    def close(self) -> None:
        """Close the socket pair."""
        self._putsocket.close()
        self._getsocket.close()


def consume(queues: list[PollableQueue[object]], got: dict[int, list[object]]) -> None:
    """Take items from whichever queue has one, until each queue has delivered ``None``."""
    open_queues = list(queues)
    while open_queues:
        readable, _, _ = select.select(open_queues, [], [], TIMEOUT)
        if not readable:
            raise TimeoutError(f"no queue had an item within {TIMEOUT} s")
        for q in readable:
            item = q.get(timeout=TIMEOUT)
            if item is None:
                open_queues.remove(q)
            else:
                got[queues.index(q)].append(item)


def main() -> dict[int, list[object]]:
    """One consumer thread serves three queues.

    Returns:
        The items each queue delivered, by queue number.
    """
    queues: list[PollableQueue[object]] = [PollableQueue() for _ in range(3)]
    got: dict[int, list[object]] = {n: [] for n in range(len(queues))}
    consumer = threading.Thread(target=consume, args=(queues, got), name="consumer")
    consumer.start()
    try:
        q1, q2, q3 = queues
        q1.put(1)
        q2.put(10)
        q3.put("hello")
        q2.put(15)
        for q in queues:
            q.put(None)
        consumer.join(TIMEOUT)
        if consumer.is_alive():
            raise RuntimeError(f"the consumer did not finish within {TIMEOUT} s")
    finally:
        for q in queues:
            q.close()
    if got != {0: [1], 1: [10, 15], 2: ["hello"]}:
        raise RuntimeError(f"unexpected items {got!r}")
    for n, items in got.items():
        print(f"queue {n + 1}: got {items}")
    return got


if __name__ == "__main__":
    main()
