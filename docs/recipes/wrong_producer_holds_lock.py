"""Wrong version of recipe 4: the producer waits for the consumer while holding a lock.

A one-slot hand-off: ``put_and_wait()`` queues an item under the hand-off's lock,
wakes the consumer, and then waits for the consumer's answer, still holding the
lock. The consumer needs that lock to take the item. Neither can go on: a real
deadlock, with only one lock in it, so there is no lock-order cycle.

Here the run ends because the consumer is impatient: it tries the lock for 0.1 s
(a timed acquire), gives up, and answers "not taken" (its answer needs no lock).
A consumer written ``with self._lock:`` would wait forever, and so would the
producer. The producer's own wait is the usual untimed ``Event.wait()``: it ends
because the consumer always answers.

lockorder reports the producer's untimed wait on an event while it holds a lock
(``wait-while-holding``, a warning: lockorder cannot know that the thread that
would set the event needs that lock). A wait that names who ends it is followed:
the same producer joining the consumer thread is found as a real deadlock, and
broken (wrong_producer_joins_consumer.py). The fix (producer_consumer_event.py):
release the lock before waiting.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["Handoff", "main"]

#: how long the consumer tries to get the lock before it gives up
CONSUMER_PATIENCE = 0.1
#: every other wait of this example is bounded by this many seconds
TIMEOUT = 5.0


class Handoff:
    """Hands items from a producer to a consumer, one at a time (wrong)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[str] = deque()
        self._offered = threading.Event()
        self._answered = threading.Event()
        self._taken = False

    def put_and_wait(self, item: str) -> bool:
        """Offer ``item`` and wait for the consumer's answer: whether it took the item."""
        with self._lock:
            self._items.append(item)
            self._offered.set()
            self._answered.wait()  # wrong: waits holding the lock the consumer needs
            return self._taken

    def take(self, patience: float) -> str | None:
        """Take the offered item; ``None`` if none came or the lock stayed taken."""
        if not self._offered.wait(TIMEOUT):
            return None
        try:
            if not self._lock.acquire(timeout=patience):
                return None  # the producer holds it, and will until we answer
            try:
                item = self._items.popleft()
                self._taken = True
                return item
            finally:
                self._lock.release()
        finally:
            self._answered.set()  # always answer, so the producer's wait ends


def main() -> dict[str, object]:
    """Run one producer and one consumer on a hand-off.

    Returns:
        ``taken``: whether the producer's item was taken (never);
        ``consumer_got``: what the consumer got (``None``: it gave up).

    Raises:
        RuntimeError: a thread did not finish, or the item was taken after all.
    """
    handoff = Handoff()
    outcome: dict[str, object] = {}

    def produce() -> None:
        outcome["taken"] = handoff.put_and_wait("item")

    def consume() -> None:
        outcome["consumer_got"] = handoff.take(CONSUMER_PATIENCE)

    # daemon threads: should a bug leave one blocked, it cannot keep the process alive
    threads = [
        threading.Thread(target=produce, name="producer", daemon=True),
        threading.Thread(target=consume, name="consumer", daemon=True),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    if outcome != {"taken": False, "consumer_got": None}:
        raise RuntimeError(f"unexpected outcome {outcome!r}")
    print(
        f"the consumer gave up on the lock after {CONSUMER_PATIENCE} s and the item was "
        "never taken: without the consumer's timeout both threads would wait forever"
    )
    return outcome


if __name__ == "__main__":
    main()
