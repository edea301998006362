"""Recipe 4: producer and consumer, with an ``Event`` per item.

The producer puts ``(item, event)`` pairs on a queue and waits on each item's
event until the consumer has handled that item: a hand-off that tells the
producer when its item is done, not only that it was queued.

The producer waits *without holding any lock*: the consumer needs the queue's
lock to take the item, so a producer that waited while holding a lock the
consumer needs would wait forever (that mistake is wrong_producer_holds_lock.py,
waiting on an event, and wrong_producer_joins_consumer.py, joining the consumer).

The stream ends with ``None``, rather than with a consumer that gives up after a
few seconds without items.

Run it: ``python docs/recipes/producer_consumer_event.py``.
"""

from __future__ import annotations

import queue
import threading

__all__ = ["consumer", "main", "producer"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0

Item = tuple[str, threading.Event]


def producer(letters: list[str], out_q: queue.Queue[Item | None], acked: list[str]) -> None:
    """Hand each letter over and wait until the consumer has handled it."""
    for letter in letters:
        handled = threading.Event()
        out_q.put((letter, handled))
        if not handled.wait(TIMEOUT):
            raise TimeoutError(f"{letter!r} was not handled within {TIMEOUT} s")
        acked.append(letter)
    out_q.put(None)


def consumer(in_q: queue.Queue[Item | None], handled: list[str]) -> None:
    """Handle letters (upper-case them) until ``None`` comes."""
    while True:
        item = in_q.get(timeout=TIMEOUT)
        if item is None:
            return
        letter, done = item
        handled.append(letter.upper())
        done.set()


def main(letters: str = "abcd") -> list[str]:
    """Hand ``letters`` from a producer thread to a consumer thread.

    Returns:
        What the consumer made of them, in order.

    Raises:
        RuntimeError: a thread did not finish, or an item was lost.
    """
    q: queue.Queue[Item | None] = queue.Queue()
    acked: list[str] = []
    handled: list[str] = []
    threads = [
        threading.Thread(target=consumer, args=(q, handled), name="consumer"),
        threading.Thread(target=producer, args=(list(letters), q, acked), name="producer"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    if acked != list(letters) or handled != [c.upper() for c in letters]:
        raise RuntimeError(f"items lost: acked {acked!r}, handled {handled!r}")
    print(" ".join(handled))
    return handled


if __name__ == "__main__":
    main()
