"""Wrong version of recipe 4: the producer waits for the consumer while holding a lock.

A one-slot hand-off: ``put_and_wait()`` queues an item under the hand-off's lock,
wakes the consumer, and then waits until the consumer has taken the item, still
holding the lock. The consumer needs that lock to take the item. Neither can go
on: a real deadlock, with only one lock in it, so no lock-order cycle exists and
lockorder's lock-order check cannot see it. Seeing it takes a check of threads
that wait (on an event, a queue, a condition) while holding a lock that the
thread they wait for needs: lockorder does not have one yet.

Here every wait is bounded, so the run ends: the consumer gives up on the lock
after 0.1 s, and the producer's wait always times out after 0.3 s (nobody can set
its event while it holds the lock). The fix (producer_consumer_event.py): release
the lock before waiting.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["Handoff", "main"]

#: how long the producer waits for the consumer (the timeout stands for "forever")
PRODUCER_WAIT = 0.3
#: how long the consumer tries to get the lock
CONSUMER_WAIT = 0.1
#: every other wait of this example is bounded by this many seconds
TIMEOUT = 5.0


class Handoff:
    """Hands items from a producer to a consumer, one at a time (wrong)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[str] = deque()
        self._offered = threading.Event()
        self._taken = threading.Event()

    def put_and_wait(self, item: str, timeout: float) -> bool:
        """Offer ``item``; return whether the consumer took it within ``timeout``."""
        with self._lock:
            self._items.append(item)
            self._offered.set()
            return self._taken.wait(timeout)  # waits while holding the lock

    def take(self, timeout: float) -> str | None:
        """Take the offered item; ``None`` if none came or the lock stayed taken."""
        if not self._offered.wait(TIMEOUT):
            return None
        if not self._lock.acquire(timeout=timeout):  # the producer holds it
            return None
        try:
            item = self._items.popleft()
            self._taken.set()
            return item
        finally:
            self._lock.release()


def main() -> dict[str, object]:
    """Run one producer and one consumer on a hand-off.

    Returns:
        ``taken_in_time``: whether the producer saw its item taken (never);
        ``consumer_got``: what the consumer got (``None``: it gave up).
    """
    handoff = Handoff()
    outcome: dict[str, object] = {}

    def produce() -> None:
        outcome["taken_in_time"] = handoff.put_and_wait("item", PRODUCER_WAIT)

    def consume() -> None:
        outcome["consumer_got"] = handoff.take(CONSUMER_WAIT)

    threads = [
        threading.Thread(target=produce, name="producer"),
        threading.Thread(target=consume, name="consumer"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    if outcome.get("taken_in_time") is not False:
        raise RuntimeError(f"unexpected outcome {outcome!r}")
    print(
        f"the producer waited {PRODUCER_WAIT} s in vain; the consumer got "
        f"{outcome.get('consumer_got')!r}: without timeouts both would wait forever"
    )
    return outcome


if __name__ == "__main__":
    main()
