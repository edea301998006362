"""Threads and tasks at parity (issue 24): every rule the threaded side learned,
run once with threads and threading locks and once with asyncio tasks and
asyncio locks, the same scenario step for step, expecting the same findings.

Each scenario's holders run one after the other (a thread is joined, a task
awaited, before the next starts), so nothing depends on timing; the rules
judge what each holder did, not when. Where a rule cannot apply to tasks,
docs/asyncio.md says why, and the test says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import lockorder
from lockorder import aio
from lockorder._state import checker
from tests.conftest import TIMEOUT

pytestmark = pytest.mark.usefixtures("record_mode")

Summary = list[tuple[str, str]]


def summary() -> Summary:
    """The findings as (kind, severity), sorted; withdrawn ones as ("withdrawn", kind)."""
    kept = [(f.kind, f.severity) for f in lockorder.findings()]
    withdrawn = [
        ("withdrawn", finding.kind)
        for rule, finding in checker.suppressed
        if rule.startswith("withdrawn")
    ]
    return sorted(kept + withdrawn)


def in_threads(*steps: Callable[[], Any]) -> Summary:
    """Each step in a thread of its own, one after the other."""
    for step in steps:
        thread = threading.Thread(target=step)
        thread.start()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), f"{step!r} did not finish within {TIMEOUT} s"
    return summary()


def in_tasks(*steps: Callable[[], Awaitable[Any]]) -> Summary:
    """Each step in a task of its own, one after the other, on one loop."""

    async def main() -> None:
        for step in steps:
            await asyncio.wait_for(asyncio.create_task(step()), TIMEOUT)

    asyncio.run(main())
    return summary()


def same(threads: Summary, tasks: Summary, expected: Summary) -> None:
    assert threads == expected, "threads"
    assert tasks == expected, "tasks"


Order = tuple[str, ...]


def nest(holders: list[list[Order]]) -> tuple[Summary, Summary]:
    """Each holder nests named locks in the orders given, one order after the
    other (``[["a", "b"], ["b", "a"]]``: ``with a, b:`` then ``with b, a:``):
    once with a thread per holder and threading locks, once with a task per
    holder and asyncio locks (a lock per name, each alone in its class).
    Returns the findings of each."""
    names = sorted({name for orders in holders for order in orders for name in order})
    locks = {name: lockorder.Lock(name=f"thread {name}") for name in names}

    def thread_holder(orders: list[Order]) -> Callable[[], None]:
        def run() -> None:
            for order in orders:
                with contextlib.ExitStack() as stack:
                    for name in order:
                        stack.enter_context(locks[name])

        return run

    threads = in_threads(*(thread_holder(orders) for orders in holders))
    lockorder.reset()
    alocks = {name: aio.Lock(name=f"task {name}") for name in names}

    def task_holder(orders: list[Order]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            for order in orders:
                async with contextlib.AsyncExitStack() as stack:
                    for name in order:
                        await stack.enter_async_context(alocks[name])

        return run

    tasks = in_tasks(*(task_holder(orders) for orders in holders))
    return threads, tasks


def test_an_inversion_by_two_holders_is_an_error() -> None:
    threads, tasks = nest([[("a", "b")], [("b", "a")]])
    same(threads, tasks, [("potential-deadlock", "error")])


def test_a_cycle_one_holder_made_alone_is_a_warning() -> None:
    threads, tasks = nest([[("a", "b"), ("b", "a")]])
    same(threads, tasks, [("potential-deadlock", "warning")])


def test_a_gate_held_around_both_orders_makes_the_cycle_safe() -> None:
    threads, tasks = nest([[("gate", "a", "b")], [("gate", "b", "a")]])
    same(threads, tasks, [])


def test_a_lock_taken_between_the_two_is_no_gate() -> None:
    threads, tasks = nest([[("a", "mid", "b")], [("b", "mid", "a")]])
    # a -> mid -> b and b -> mid -> a: the cycles a, mid and mid, b (a -> b and b -> a too)
    assert threads == tasks
    assert threads and all(kind == "potential-deadlock" for kind, _ in threads)
    assert ("potential-deadlock", "error") in threads


def test_a_gate_bypassed_once_no_longer_makes_the_cycle_safe() -> None:
    threads, tasks = nest([[("gate", "a", "b")], [("gate", "b", "a")], [("b", "a")]])
    same(threads, tasks, [("potential-deadlock", "error")])


class Session:
    """An object per holder: two locks taken in both orders by its two methods."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.send = make()
        self.recv = make()


def test_an_object_per_holder_is_a_warning_until_two_holders_share_one() -> None:
    def forward(session: Session) -> None:
        with session.send, session.recv:
            pass

    def backward(session: Session) -> None:
        with session.recv, session.send:
            pass

    shared = Session(lockorder.Lock)
    threads = [
        in_threads(
            lambda: forward(Session(lockorder.Lock)), lambda: backward(Session(lockorder.Lock))
        )
    ]
    lockorder.reset()
    threads.append(in_threads(lambda: forward(shared), lambda: backward(shared)))
    lockorder.reset()

    async def forward_task(session: Session) -> None:
        async with session.send, session.recv:
            pass

    async def backward_task(session: Session) -> None:
        async with session.recv, session.send:
            pass

    tshared = Session(aio.Lock)
    tasks = [
        in_tasks(lambda: forward_task(Session(aio.Lock)), lambda: backward_task(Session(aio.Lock)))
    ]
    lockorder.reset()
    tasks.append(in_tasks(lambda: forward_task(tshared), lambda: backward_task(tshared)))
    assert threads == tasks
    assert threads == [[("potential-deadlock", "warning")], [("potential-deadlock", "error")]]


def test_two_locks_of_one_class_in_both_orders() -> None:
    accounts = [lockorder.Lock() for _ in range(2)]

    def transfer(first: Any, second: Any) -> None:
        with first, second:
            pass

    one = in_threads(lambda: (transfer(*accounts), transfer(*reversed(accounts))))
    lockorder.reset()
    two = in_threads(lambda: transfer(*accounts), lambda: transfer(*reversed(accounts)))
    lockorder.reset()
    taccounts = [aio.Lock() for _ in range(2)]

    async def ttransfer(first: Any, second: Any) -> None:
        async with first, second:
            pass

    async def both() -> None:
        await ttransfer(*taccounts)
        await ttransfer(*reversed(taccounts))

    tone = in_tasks(both)
    lockorder.reset()
    ttwo = in_tasks(lambda: ttransfer(*taccounts), lambda: ttransfer(*reversed(taccounts)))
    same(one, tone, [("potential-deadlock", "warning")])
    same(two, ttwo, [("potential-deadlock", "error")])


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        # released by another holder first: a signal, so its nesting makes no edges;
        # the holder that took it ended holding it (held-at-exit), withdrawn once
        # another released it
        (
            ("take", "give", "forward", "backward"),
            [("release-not-held", "warning"), ("withdrawn", "held-at-exit")],
        ),
        # the cycle through it came first: withdrawn when it turns out a signal
        (
            ("forward", "backward", "take", "give"),
            [
                ("release-not-held", "warning"),
                ("withdrawn", "held-at-exit"),
                ("withdrawn", "potential-deadlock"),
            ],
        ),
    ],
    ids=["signal-first", "cycle-first"],
)
def test_a_lock_released_by_another_holder_is_a_signal(
    order: tuple[str, ...], expected: list[tuple[str, str]]
) -> None:
    s, x = lockorder.Lock(name="s"), lockorder.Lock(name="x")

    def forward() -> None:
        with s, x:
            pass

    def backward() -> None:
        with x, s:
            pass

    steps = {"take": s.acquire, "give": s.release, "forward": forward, "backward": backward}
    threads = in_threads(*(steps[name] for name in order))
    lockorder.reset()
    ts, tx = aio.Lock(name="task s"), aio.Lock(name="task x")

    async def take_task() -> None:
        await ts.acquire()

    async def give_task() -> None:
        ts.release()

    async def forward_task() -> None:
        async with ts, tx:
            pass

    async def backward_task() -> None:
        async with tx, ts:
            pass

    task_steps = {
        "take": take_task,
        "give": give_task,
        "forward": forward_task,
        "backward": backward_task,
    }
    tasks = in_tasks(*(task_steps[name] for name in order))
    same(threads, tasks, expected)


def test_a_holder_that_ends_holding_a_lock_is_held_at_exit() -> None:
    kept = lockorder.Lock(name="kept")
    threads = in_threads(kept.acquire)
    (finding,) = lockorder.findings()
    assert finding.message.startswith("thread 'Thread-")
    lockorder.reset()
    tkept = aio.Lock(name="task kept")

    async def take() -> None:
        await tkept.acquire()

    tasks = in_tasks(take)
    (tfinding,) = lockorder.findings()
    assert re.fullmatch(
        r"task 'Task-\d+ \(take\)' ended while holding task kept \(tests/test_parity\.py:\d+\)",
        tfinding.message,
    )
    assert tfinding.holder == "task" and "'async with lock:'" in tfinding.reason
    same(threads, tasks, [("held-at-exit", "warning")])


def timed_threads() -> Summary:
    a, b = lockorder.Lock(name="thread timed a"), lockorder.Lock(name="thread timed b")

    def forward() -> None:
        with a:
            assert b.acquire(timeout=TIMEOUT)
            b.release()

    def backward() -> None:
        with b, a:
            pass

    return in_threads(forward, backward)


def test_an_acquire_with_a_timeout_makes_no_edge_into_its_lock() -> None:
    """threading: acquire(timeout=...); asyncio: wait_for(lock.acquire(), t)."""
    threads = timed_threads()
    lockorder.reset()
    x, y = aio.Lock(name="task timed x"), aio.Lock(name="task timed y")

    async def forward() -> None:
        async with x:
            await asyncio.wait_for(y.acquire(), TIMEOUT)
            y.release()

    async def backward() -> None:
        async with y, x:
            pass

    tasks = in_tasks(forward, backward)
    same(threads, tasks, [])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is new in 3.11")
@pytest.mark.usefixtures("installed")
def test_an_acquire_alone_in_a_timeout_block_makes_no_edge_into_its_lock() -> None:
    threads = timed_threads()
    lockorder.reset()
    x, y = aio.Lock(name="task block x"), aio.Lock(name="task block y")

    async def forward() -> None:
        async with x:
            async with asyncio.timeout(TIMEOUT):  # type: ignore[attr-defined]
                await y.acquire()
            y.release()

    async def backward() -> None:
        async with y, x:
            pass

    tasks = in_tasks(forward, backward)
    same(threads, tasks, [])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is new in 3.11")
@pytest.mark.usefixtures("installed")
def test_a_deadline_around_several_acquires_bounds_the_operation_not_each_acquire() -> None:
    """No threaded twin: a deadline on a block of work (a request handler's) does
    not make the acquires nested in it timed; their inversion is still found."""
    x, y = aio.Lock(name="task handler x"), aio.Lock(name="task handler y")

    async def forward() -> None:
        async with asyncio.timeout(TIMEOUT), x, y:  # type: ignore[attr-defined]
            pass

    async def backward() -> None:
        async with y, x:
            pass

    async def forward_wait_for() -> None:
        async def handler() -> None:
            async with x, y:
                pass

        await asyncio.wait_for(handler(), TIMEOUT)

    assert in_tasks(forward, backward) == [("potential-deadlock", "error")]
    lockorder.reset()
    assert in_tasks(forward_wait_for, backward) == [("potential-deadlock", "error")]


class ThreadWrapper:
    """A project's own lock class over a threading lock (httpcore's shape)."""

    def __init__(self) -> None:
        self._lock = lockorder.Lock()

    def acquire(self) -> bool:
        return self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> ThreadWrapper:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class TaskWrapper:
    """The same over an asyncio lock (an async client's own lock class)."""

    def __init__(self) -> None:
        self._lock = aio.Lock()

    async def acquire(self) -> bool:
        return await self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    async def __aenter__(self) -> TaskWrapper:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()


def test_a_lock_wrapper_s_locks_belong_to_the_lines_that_made_the_wrappers() -> None:
    a = ThreadWrapper()
    b = ThreadWrapper()
    x = TaskWrapper()
    y = TaskWrapper()
    labels = [w._lock._lo_cls.label for w in (a, b, x, y)]
    line = sys._getframe().f_lineno
    site = "tests/test_parity.py:"
    thread_via = ThreadWrapper.__init__.__code__.co_firstlineno + 1
    task_via = TaskWrapper.__init__.__code__.co_firstlineno + 1
    assert labels == [
        f"Lock {site}{line - 5} via {site}{thread_via}",
        f"Lock {site}{line - 4} via {site}{thread_via}",
        f"asyncio.Lock {site}{line - 3} via {site}{task_via}",
        f"asyncio.Lock {site}{line - 2} via {site}{task_via}",
    ]

    def forward() -> None:
        with a, b:
            pass

    def backward() -> None:
        with b, a:
            pass

    async def forward_task() -> None:
        async with x, y:
            pass

    async def backward_task() -> None:
        async with y, x:
            pass

    threads = in_threads(forward, backward)
    lockorder.reset()
    same(threads, in_tasks(forward_task, backward_task), [("potential-deadlock", "error")])


def test_a_task_still_holding_a_lock_when_its_test_ends_is_held_at_exit_in_that_test(
    pytester: pytest.Pytester,
) -> None:
    """A test's loop ends with the test and cancels its tasks: a task left holding
    a lock ends holding it, and the finding is that test's (docs/asyncio.md)."""
    pytester.makepyfile(
        test_it="""
        import asyncio

        def test_leaks():
            async def main():
                lock = asyncio.Lock()
                async def server():
                    await lock.acquire()
                    await asyncio.sleep(3600)
                asyncio.create_task(server(), name="server")
                while not lock.locked():
                    await asyncio.sleep(0)
            asyncio.run(main())

        def test_later():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "--lockorder", "--lockorder-report=json:r.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
    data = json.loads((pytester.path / "r.json").read_text())
    found = [(f["kind"], f["test"], f["message"]) for f in data["findings"]]
    assert found == [
        (
            "held-at-exit",
            "test_it.py::test_leaks",
            "task 'server (server)' ended while holding asyncio.Lock test_it.py:5",
        )
    ]


def test_a_one_holder_warning_that_becomes_a_full_cycle_is_one_finding() -> None:
    """The warning (one holder made every edge) is superseded by the full finding
    when a second holder makes the cycle: one cycle, one finding, the warning in
    the suppressed list with the reason (as lockorder merge keeps the stronger)."""
    threads, tasks = nest([[("a", "b"), ("b", "a")], [("b", "a")]])
    expected = [("potential-deadlock", "error"), ("withdrawn", "potential-deadlock")]
    same(threads, tasks, expected)
    rules = [rule for rule, _ in checker.suppressed]
    assert rules == ["withdrawn: superseded: the same cycle became a full finding"]
