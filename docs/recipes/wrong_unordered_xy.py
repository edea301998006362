"""Wrong version of recipe 6: two threads take x_lock and y_lock in opposite orders.

``thread_1`` takes ``x_lock`` then ``y_lock``; ``thread_2`` takes ``y_lock`` then
``x_lock``, with plain nested ``with`` blocks instead of an ordered ``acquire()``.
If the threads ever overlap, each holds one lock and waits for the other: a
deadlock. Here they run one after the other, so this program never hangs and a
test of it passes, yet lockorder reports the inversion from this one run.

Plain ``threading`` code: lockorder sees it under ``pytest --lockorder`` or
``python -m lockorder run docs/recipes/wrong_unordered_xy.py``, which name the
two locks by the lines that created them. The fix: ordered_acquire.py.
"""

from __future__ import annotations

import threading

__all__ = ["main", "thread_1", "thread_2", "x_lock", "y_lock"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0

x_lock = threading.Lock()
y_lock = threading.Lock()


def thread_1(rounds: int, log: list[str]) -> None:
    """Take x_lock, then y_lock."""
    for _ in range(rounds):
        with x_lock:
            with y_lock:
                log.append("thread_1")


def thread_2(rounds: int, log: list[str]) -> None:
    """Take y_lock, then x_lock: the opposite order."""
    for _ in range(rounds):
        with y_lock:
            with x_lock:
                log.append("thread_2")


def main(rounds: int = 10) -> list[str]:
    """Run thread_1 to its end, then thread_2: the run cannot hang.

    Returns:
        The threads' log.
    """
    log: list[str] = []
    for target in (thread_1, thread_2):
        thread = threading.Thread(target=target, args=(rounds, log), name=target.__name__)
        thread.start()
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    print(f"{log.count('thread_1')} x thread_1, then {log.count('thread_2')} x thread_2")
    return log


if __name__ == "__main__":
    main()
