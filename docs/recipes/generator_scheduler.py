"""Recipe 12: generators as tasks, with a round-robin scheduler instead of threads.

Each task is a generator; ``yield`` is where it lets the others run. The
scheduler keeps a queue of ready tasks, advances the first one to its next
``yield`` and puts it back at the end, until every task has finished. One
thread, no preemption, no locks: a task is never interrupted between two
``yield``s, so it cannot race with another task, and there is nothing for
lockorder to check.

Run it: ``python docs/recipes/generator_scheduler.py``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator

__all__ = ["TaskScheduler", "countdown", "countup", "main"]

Task = Generator[None, None, None]


def countdown(n: int, log: list[str]) -> Task:
    """Count down from ``n``, yielding after each step."""
    while n > 0:
        log.append(f"T-minus {n}")
        yield
        n -= 1
    log.append("Blastoff!")


def countup(n: int, log: list[str]) -> Task:
    """Count up to ``n`` (excluded), yielding after each step."""
    for x in range(n):
        log.append(f"Counting up {x}")
        yield


class TaskScheduler:
    """Runs generator tasks round-robin."""

    def __init__(self) -> None:
        self._ready: deque[Task] = deque()

    def new_task(self, task: Task) -> None:
        """Add ``task`` to the end of the ready queue."""
        self._ready.append(task)

    def run(self, max_steps: int = 10_000) -> int:
        """Run until every task has finished; return the number of steps.

        Raises:
            RuntimeError: the tasks did not finish within ``max_steps`` steps.
        """
        steps = 0
        while self._ready:
            if steps == max_steps:
                raise RuntimeError(f"tasks still running after {max_steps} steps")
            task = self._ready.popleft()
            steps += 1
            try:
                next(task)
            except StopIteration:
                continue
            self._ready.append(task)
        return steps


def main() -> list[str]:
    """Interleave two countdowns and a count-up.

    Returns:
        The log of the three tasks, in the order they ran.
    """
    log: list[str] = []
    scheduler = TaskScheduler()
    scheduler.new_task(countdown(4, log))
    scheduler.new_task(countdown(2, log))
    scheduler.new_task(countup(3, log))
    scheduler.run()
    expected = [
        "T-minus 4", "T-minus 2", "Counting up 0",
        "T-minus 3", "T-minus 1", "Counting up 1",
        "T-minus 2", "Blastoff!", "Counting up 2",
        "T-minus 1",
        "Blastoff!",
    ]  # fmt: skip
    if log != expected:
        raise RuntimeError(f"unexpected order {log!r}")
    print("\n".join(log))
    return log


if __name__ == "__main__":
    main()
