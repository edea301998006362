"""asyncio (issue 15, first part): tasks as holders of checked asyncio locks.

Every test drives its tasks with asyncio Events (never sleeps) and bounds each
wait with asyncio.wait_for, so a bug fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import lockorder
from lockorder import _install, _tasks, _threads
from lockorder._state import checker
from lockorder.aio import BoundedSemaphore, Condition, Lock, Semaphore
from lockorder.errors import DeadlockError, SelfDeadlockError
from tests.conftest import TIMEOUT as THREAD_TIMEOUT
from tests.conftest import lockorder_run, run_threads

TIMEOUT = 10


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(main(), TIMEOUT))


def asyncio_iscoroutinefunction(function: Any) -> bool:
    """asyncio.iscoroutinefunction(), which a program may still call: deprecated
    from Python 3.14 (one DeprecationWarning, the stdlib's own)."""
    if sys.version_info >= (3, 14):
        with pytest.warns(DeprecationWarning, match="iscoroutinefunction"):
            return asyncio.iscoroutinefunction(function)
    return asyncio.iscoroutinefunction(function)


def kinds() -> list[str]:
    return [f.kind for f in lockorder.findings()]


def test_an_inversion_between_two_tasks_is_a_potential_deadlock(record_mode: None) -> None:
    a = Lock(name="aio a")
    b = Lock(name="aio b")

    async def forward() -> None:
        async with a:
            async with b:
                pass

    async def backward() -> None:
        async with b:
            async with a:
                pass

    async def main() -> None:
        await asyncio.create_task(forward())
        await asyncio.create_task(backward())

    run(main)
    (finding,) = lockorder.findings()
    assert finding.kind == "potential-deadlock" and finding.severity == "error"
    assert [edge.holder for edge in finding.cycle] == ["task", "task"]
    names = {edge.thread for edge in finding.cycle}
    assert any("(forward)" in n for n in names) and any("(backward)" in n for n in names)
    assert "first made by task '" in finding.format()
    assert "asyncio.Lock" not in finding.message  # named classes
    assert {lock.kind for lock in finding.locks} == {"asyncio.Lock"}


ONE_TASK_BOTH_ORDERS = """
import asyncio

from lockorder.aio import Lock

stock = Lock(name="stock")
cash = Lock(name="cash")


async def both():
    async with stock:
        async with cash:
            pass
    async with cash:
        async with stock:
            pass


async def main():
    await asyncio.wait_for(asyncio.create_task(both()), 10)
"""


def test_a_cycle_one_task_made_names_the_task_as_a_task(record_mode: None) -> None:
    """The single-holder warning of a task says task, not thread: in its why,
    its possible scenario; it is one task that made every edge."""
    namespace: dict[str, Any] = {}
    exec(compile(ONE_TASK_BOTH_ORDERS, "shop.py", "exec"), namespace)
    asyncio.run(namespace["main"]())
    (finding,) = lockorder.findings()
    assert finding.severity == "warning" and finding.single_thread
    maker = finding.cycle[0].thread
    assert finding.reason == (
        f"every edge was made by task {maker!r} alone (seen in one task only): a real "
        "deadlock if two tasks can run these paths, a false alarm if the locks are private "
        "to one task; it becomes a full finding once a second task makes one of its edges"
    )
    text = finding.format()
    assert "thread" not in text, text
    assert "task 1" in text and "task 2" in text


def test_the_pytest_summary_says_task_for_a_cycle_one_task_made(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_shop=ONE_TASK_BOTH_ORDERS + "\n\ndef test_audit():\n    asyncio.run(main())\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lockorder", timeout=120)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "  warning ?test_shop.py::test_audit? lock-order inversion: stock (*) -> cash (*) "
            "-> stock (*) (seen in one task only)",
            "cycles seen in one task only are warnings: a deadlock needs two tasks on those "
            "paths, on the same locks; make them fail with *",
        ]
    )
    assert "one thread" not in result.stdout.str()


def test_instances_of_one_class_in_two_tasks(record_mode: None) -> None:
    class Account:
        def __init__(self) -> None:
            self.lock = Lock()

    async def transfer(source: Account, target: Account) -> None:
        async with source.lock:
            async with target.lock:
                pass

    async def main() -> None:
        x, y = Account(), Account()
        await asyncio.create_task(transfer(x, y))
        await asyncio.create_task(transfer(y, x))

    run(main)
    (finding,) = lockorder.findings()
    assert finding.severity == "error"
    assert finding.message.startswith("two locks of one class taken in both orders")


def test_ordered_acquisition_and_shared_conditions_stay_silent(record_mode: None) -> None:
    a = Lock(name="aio ordered a")
    b = Lock(name="aio ordered b")
    lock = Lock(name="aio shared")
    not_empty = Condition(lock)
    not_full = Condition(lock)
    items: list[int] = []

    async def ordered() -> None:
        async with a, b:
            pass

    async def producer() -> None:
        for i in range(3):
            async with not_full:
                await not_full.wait_for(lambda: not items)
                items.append(i)
                not_empty.notify()

    async def consumer() -> None:
        for _ in range(3):
            async with not_empty:
                await not_empty.wait_for(lambda: bool(items))
                items.pop()
                not_full.notify()

    async def main() -> None:
        await asyncio.gather(ordered(), ordered(), producer(), consumer())

    run(main)
    assert lockorder.findings() == []


def test_a_conditions_own_lock_is_labelled_condition(record_mode: None) -> None:
    cond = Condition()
    inner = Lock(name="aio inside the condition")

    async def first() -> None:
        async with cond:
            async with inner:
                pass

    async def second() -> None:
        async with inner:
            async with cond:
                pass

    async def main() -> None:
        await asyncio.create_task(first())
        await asyncio.create_task(second())

    run(main)
    (finding,) = lockorder.findings()
    assert "asyncio.Condition" in {lock.kind for lock in finding.locks}


def test_a_real_deadlock_between_tasks_is_broken(record_mode: None) -> None:
    lockorder.configure(break_deadlocks=True)
    a = Lock(name="aio real a")
    b = Lock(name="aio real b")
    outcomes: dict[str, str] = {}

    async def one(mine: asyncio.Event, theirs: asyncio.Event) -> None:
        try:
            async with a:
                mine.set()
                await theirs.wait()
                async with b:
                    pass
            outcomes["one"] = "ok"
        except DeadlockError:
            outcomes["one"] = "DeadlockError"

    async def two(mine: asyncio.Event, theirs: asyncio.Event) -> None:
        try:
            async with b:
                await theirs.wait()
                mine.set()
                async with a:
                    pass
            outcomes["two"] = "ok"
        except DeadlockError:
            outcomes["two"] = "DeadlockError"

    async def main() -> None:
        first, second = asyncio.Event(), asyncio.Event()
        await asyncio.gather(one(first, second), two(second, first))

    run(main)
    assert sorted(outcomes.values()) == ["DeadlockError", "ok"]
    deadlock = [f for f in lockorder.findings() if f.kind == "deadlock"]
    assert len(deadlock) == 1
    text = deadlock[0].format()
    assert "every task of the cycle is blocked" in text
    assert text.count("  task '") == 2 and "holds: aio real a" in text


def test_a_deadlock_closed_by_a_conditions_reacquire_breaks_another_task(
    record_mode: None,
) -> None:
    """The task that closes the cycle is re-acquiring a Condition's lock in
    wait(): DeadlockError there would leave its ``async with cond`` releasing
    the lock the other task holds. The other task gets it instead, and the
    waiter ends normally."""
    lockorder.configure(break_deadlocks=True)
    a = Lock(name="aio cond a")
    cond = Condition(Lock(name="aio cond b"))
    outcomes: dict[str, str] = {}

    async def waiter(ready: asyncio.Event) -> None:
        async with a:
            async with cond:
                ready.set()
                # (not inside wait_for: before 3.12 it runs cond.wait() in a task of its own)
                await cond.wait()
        outcomes["waiter"] = "ok"

    async def notifier(ready: asyncio.Event) -> None:
        await asyncio.wait_for(ready.wait(), TIMEOUT)
        try:
            async with cond:
                cond.notify()
                async with a:  # held by the waiter, which wakes to re-acquire cond
                    pass
            outcomes["notifier"] = "ok"
        except DeadlockError:
            outcomes["notifier"] = "DeadlockError"

    async def main() -> None:
        ready = asyncio.Event()
        await asyncio.gather(waiter(ready), notifier(ready))

    run(main)
    assert outcomes == {"waiter": "ok", "notifier": "DeadlockError"}
    assert sorted(kinds()) == ["deadlock", "potential-deadlock"]  # no release-not-held
    (deadlock,) = [f for f in lockorder.findings() if f.kind == "deadlock"]
    assert "(notifier)' (the last to start waiting but " in deadlock.reason
    assert "re-acquiring a Condition's lock in wait()" in deadlock.reason
    assert not a.locked() and not cond.locked()


def _one_cycle_between(first: str, second: str) -> None:
    """The run's one finding is a potential deadlock whose edges the tasks running
    coroutines ``first`` and ``second`` made. Task names, "Task-N (coroutine)",
    are sorted by coroutine: N counts every task the process made before
    (Task-10 sorts before Task-9 as text)."""
    (finding,) = lockorder.findings()
    assert finding.kind == "potential-deadlock"
    names = sorted((edge.thread for edge in finding.cycle), key=lambda n: n.rpartition(" ")[2])
    assert f"({first})" in names[0] and f"({second})" in names[1], names


def test_an_acquire_run_in_a_task_of_its_own_is_held_by_its_caller(record_mode: None) -> None:
    """wait_for() (before 3.12), gather() and ensure_future() run ``lock.acquire()``
    in a task made for it, which ends at once: the caller holds the lock."""
    a = Lock(name="aio wrapped a")
    b = Lock(name="aio wrapped b")
    s = Semaphore(2, name="aio wrapped s")

    async def one() -> None:
        await asyncio.wait_for(a.acquire(), TIMEOUT)
        await asyncio.gather(s.acquire())
        try:
            async with b:
                pass
        finally:
            s.release()
            a.release()  # the caller's own release: no release-not-held

    async def two() -> None:
        async with b:
            await asyncio.ensure_future(a.acquire())
            a.release()

    async def main() -> None:
        await asyncio.create_task(one())
        await asyncio.create_task(two())

    run(main)
    _one_cycle_between("one", "two")
    assert inspect.iscoroutinefunction(a.acquire) or sys.version_info < (3, 12)
    assert asyncio_iscoroutinefunction(a.acquire) and asyncio_iscoroutinefunction(s.acquire)


def test_a_condition_wait_run_in_a_task_of_its_own_is_its_callers(record_mode: None) -> None:
    """asyncio.wait_for(cond.wait(), t) runs the wait in a task of its own before
    3.12 (gather() and ensure_future() do on every version; persist-queue's
    AsyncQueue.get): the wait releases and re-acquires the lock for its caller,
    so no release-not-held, and what the caller takes next is its edge."""
    cond = Condition(Lock(name="aio helper cond"))
    b = Lock(name="aio helper b")
    items: list[int] = []

    async def consumer(ready: list[asyncio.Event]) -> None:
        async with cond:
            ready[0].set()
            while not items:
                await asyncio.wait_for(cond.wait(), TIMEOUT)
            ready[1].set()
            await asyncio.gather(cond.wait())  # notified again
            with pytest.raises(asyncio.TimeoutError):  # and re-acquired after
                await asyncio.wait_for(cond.wait(), 0.01)
            async with b:
                pass

    async def producer(ready: list[asyncio.Event]) -> None:
        for event in ready:
            await asyncio.wait_for(event.wait(), TIMEOUT)
            async with cond:  # taken once the consumer's wait released it
                items.append(1)
                cond.notify()

    async def other() -> None:
        async with b:
            async with cond:
                pass

    async def main() -> None:
        ready = [asyncio.Event(), asyncio.Event()]
        await asyncio.gather(consumer(ready), producer(ready))
        await asyncio.create_task(other())

    run(main)
    _one_cycle_between("consumer", "other")
    assert not cond.locked() and not b.locked()
    assert asyncio_iscoroutinefunction(cond.wait)


def test_a_task_reacquiring_its_lock_raises_at_once_in_raise_mode() -> None:
    lockorder.configure(mode="raise")
    lock = Lock(name="aio not reentrant")

    async def main() -> str:
        async with lock:
            try:
                async with lock:
                    return "entered"
            except SelfDeadlockError as exc:
                return str(exc)

    text = run(main)
    assert "acquires aio not reentrant" in text and "which it already holds" in text
    assert kinds() == ["self-deadlock"]


def test_a_reacquire_waits_yielding_and_a_release_by_another_task_is_a_signal(
    record_mode: None,
) -> None:
    lockorder.configure(self_deadlock_wait=5.0)
    gate = Lock(name="aio gate")

    async def main() -> None:
        await gate.acquire()
        waiting = asyncio.Event()

        async def opener() -> None:
            await waiting.wait()
            gate.release()  # another task opens the gate: a signal

        task = asyncio.create_task(opener())
        loop = asyncio.get_running_loop()
        loop.call_soon(waiting.set)  # runs only if the re-acquire yields to the loop
        await gate.acquire()
        gate.release()
        await task

    run(main)
    assert kinds() == ["release-not-held"]
    assert checker.graph.by_key["aio gate"].signal


def test_a_reacquire_no_task_releases_is_reported_after_the_wait(record_mode: None) -> None:
    lockorder.configure(self_deadlock_wait=0.05)
    lock = Lock(name="aio stuck")

    async def main() -> None:
        async with lock:
            # cancelled after a second, in this very task (wait_for would run the
            # acquire in a task of its own before 3.12: another holder)
            me = asyncio.current_task()
            assert me is not None
            timer = asyncio.get_running_loop().call_later(1.0, me.cancel)
            with pytest.raises(asyncio.CancelledError):
                await lock.acquire()
            timer.cancel()
            if hasattr(me, "uncancel"):
                me.uncancel()

    run(main)
    (finding,) = lockorder.findings()
    assert finding.kind == "self-deadlock"
    assert "no other task released it within 0.05 s" in finding.reason


@pytest.mark.parametrize(
    "settings",
    [{"mode": "warn"}, {"mode": "record", "break_deadlocks": True}],
    ids=["warn", "record-breaking"],
)
def test_a_reacquire_no_task_releases_raises_where_deadlocks_are_broken(
    settings: dict[str, Any],
) -> None:
    # as a thread's re-acquire: with break_deadlocks (warn mode's default, and what
    # lockorder run and the pytest plugin set) the wait ends in SelfDeadlockError
    # after self_deadlock_wait, instead of for ever
    lockorder.configure(self_deadlock_wait=0.05, **settings)
    lock = Lock(name="aio stuck for ever")

    async def main() -> None:
        async with lock:
            async with lock:
                pass

    with pytest.raises(SelfDeadlockError, match="aio stuck for ever"):
        if settings["mode"] == "warn":
            with pytest.warns(lockorder.LockOrderWarning):
                run(main)
        else:
            run(main)
    assert kinds() == ["self-deadlock"]
    assert not lock.locked()  # the outer `async with` gave it back


def test_a_limiter_is_silent_and_a_nested_unit_is_reported(record_mode: None) -> None:
    limit = Semaphore(2, name="aio limiter")
    pool = BoundedSemaphore(2, name="aio pool")
    gate = asyncio.Event()

    async def fetch() -> None:
        async with limit:
            await gate.wait()

    async def main() -> None:
        tasks = [asyncio.create_task(fetch()) for _ in range(5)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*tasks)
        assert lockorder.findings() == []
        async with pool:
            async with pool:
                pass

    run(main)
    (finding,) = lockorder.findings()
    assert finding.kind == "nested-acquire" and "holds a unit of aio pool" in finding.message


# -- who holds an acquire run in a task of its own (issue 28) ------------------------------


async def _collected_later(acquire: Callable[[], Awaitable[Any]], count: int) -> set[Any]:
    """Issue 28's shape: a task made per acquire(), collected with asyncio.wait()
    and a timeout, the ones still waiting cancelled. (The tasks' first steps run
    before the timeout can: those that can take a unit have it, the others wait
    until cancelled.)"""
    waiters = [asyncio.ensure_future(acquire()) for _ in range(count)]
    done, pending = await asyncio.wait(waiters, timeout=0.01)
    for waiter in pending:
        waiter.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return done


async def _with_as_completed(acquire: Callable[[], Awaitable[Any]], count: int) -> set[Any]:
    """The first done from as_completed(), then the others still waiting cancelled
    (no timeout: what the first steps took is taken, whatever the machine's speed)."""
    waiters = [asyncio.ensure_future(acquire()) for _ in range(count)]
    for first in asyncio.as_completed(waiters):
        await first
        break
    taken = {waiter for waiter in waiters if waiter.done()}
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    return taken


async def _in_a_task_group(acquire: Callable[[], Awaitable[Any]], count: int) -> set[Any]:
    async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined]
        waiters = [group.create_task(acquire()) for _ in range(count)]
        done, pending = await asyncio.wait(waiters, timeout=0.01)
        for waiter in pending:
            waiter.cancel()
    return done  # type: ignore[no-any-return]


async def _awaited_later(acquire: Callable[[], Awaitable[Any]], count: int) -> set[Any]:
    """Started, then awaited after another await: nobody waited on it when it began."""
    waiter = asyncio.ensure_future(acquire())
    await asyncio.sleep(0)
    await waiter
    return {waiter}


COLLECTED_LATER = [
    pytest.param(_collected_later, id="wait-timeout"),
    pytest.param(_with_as_completed, id="as_completed"),
    pytest.param(
        _in_a_task_group,
        id="task-group",
        marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is 3.11+"),
    ),
    pytest.param(_awaited_later, id="awaited-later"),
]


@pytest.mark.parametrize("collect", COLLECTED_LATER)
@pytest.mark.parametrize("kind", ["Semaphore", "Lock", "Condition"])
def test_tasks_made_to_acquire_and_collected_later_hold_their_own_units(
    kind: str, collect: Callable[..., Awaitable[set[Any]]]
) -> None:
    """Issue 28: ``ensure_future(gate.acquire())`` eight times, collected by
    ``asyncio.wait(..., timeout)`` (or as_completed, a TaskGroup, an await after
    another), then the caller releases what was taken. The caller waited on no
    one acquire: each task holds its own unit, and its result hands it to the
    caller, whose release is no finding (was: nested-acquire, the caller
    "holding" three units and "waiting" for more; with a Lock, a self-deadlock
    or a release-not-held). In raise mode: no finding may be made at all."""
    gate: Any = {
        "Semaphore": lambda: Semaphore(3, name="aio gate"),
        "Lock": Lock,
        "Condition": Condition,
    }[kind]()

    async def main() -> None:
        done = await collect(gate.acquire, 8)
        assert done
        for _ in done:
            gate.release()

    run(main)
    assert lockorder.findings() == []
    if kind == "Semaphore":
        # a unit handed on is given back by the release: no signal learned, and a
        # nested unit is still found afterwards
        assert not checker.graph.by_key["aio gate"].signal
        lockorder.configure(mode="record")

        async def nested() -> None:
            async with gate:
                async with gate:
                    pass

        run(nested)
        assert kinds() == ["nested-acquire"]


def test_units_taken_by_tasks_and_threads_then_released_by_their_starter() -> None:
    """The threaded twin of the shape: threads made to take a unit each, which
    end, and the thread that started them releases the units. Silent both ways."""
    threaded = lockorder.Semaphore(3, name="threaded gate")
    takers = [threading.Thread(target=threaded.acquire) for _ in range(3)]
    for taker in takers:
        taker.start()
    for taker in takers:
        taker.join(THREAD_TIMEOUT)
    for _ in takers:
        threaded.release()
    tasked = Semaphore(3, name="aio gate")

    async def main() -> None:
        for _ in await _collected_later(tasked.acquire, 3):
            tasked.release()

    run(main)
    assert lockorder.findings() == []


ASYNCIO_DIR = str(Path(asyncio.__file__).parent)

NESTED_THROUGH = {
    # (not wait_for: an acquire it is given with a timeout is a timed acquire,
    # which cannot wait for ever: no nested-acquire, as for a threading
    # acquire(timeout=...); tests/test_parity.py)
    "gather": lambda pool: asyncio.gather(pool.acquire()),
    "ensure_future": lambda pool: asyncio.ensure_future(pool.acquire()),
    "shield": lambda pool: asyncio.shield(pool.acquire()),
    "nested gather": lambda pool: asyncio.gather(asyncio.gather(pool.acquire())),
}


@pytest.mark.parametrize("through", list(NESTED_THROUGH))
def test_a_unit_awaited_through_a_helper_by_a_holder_is_a_nested_acquire(
    record_mode: None, through: str
) -> None:
    """The task waiting on that one acquire holds it: a holder of a unit that
    awaits another through wait_for(), gather(), an awaited ensure_future() or
    shield() is a nested-acquire, and the finding's stack is where the program
    awaited it (was: asyncio's frames, the helper task's stack)."""
    pool = Semaphore(2, name="aio pool")

    async def handler() -> None:
        async with pool:
            await NESTED_THROUGH[through](pool)  # the line the finding shows
            pool.release()

    run(handler)
    (finding,) = lockorder.findings()
    assert finding.kind == "nested-acquire" and "holds a unit of aio pool" in finding.message
    innermost = finding.stack[-1]
    assert innermost.filename == __file__ and innermost.function.endswith(".handler"), finding.stack
    source = Path(__file__).read_text().splitlines()
    assert source[innermost.lineno - 1].strip().endswith("# the line the finding shows")
    assert not any(frame.filename.startswith(ASYNCIO_DIR) for frame in finding.stack), finding.stack


@pytest.mark.parametrize("through", ["gather", "ensure_future"])
def test_a_lock_reacquired_through_a_helper_raises_where_the_program_awaited_it(
    through: str,
) -> None:
    """Raise mode: the self-deadlock of a holder awaiting its own lock through a
    task made for the acquire shows the program's line, not the loop's frames."""
    lock = Lock(name="aio not reentrant")

    async def handler() -> None:
        async with lock:
            await NESTED_THROUGH[through](lock)  # the line the finding shows

    with pytest.raises(SelfDeadlockError) as raised:
        run(handler)
    innermost = raised.value.finding.stack[-1]
    assert innermost.filename == __file__ and innermost.function.endswith(".handler")
    source = Path(__file__).read_text().splitlines()
    assert source[innermost.lineno - 1].strip().endswith("# the line the finding shows")


@pytest.mark.parametrize("through", ["gather", "ensure_future"])
def test_an_edge_made_through_a_helper_shows_where_its_holder_awaited_it(
    record_mode: None, through: str
) -> None:
    """The edge a task makes by awaiting an acquire run in a task made for it
    shows the task's line, not the made task's frames (the loop's, asyncio's)."""
    a = Lock(name="aio helper edge a")
    b = Lock(name="aio helper edge b")

    async def one() -> None:
        async with a:
            await NESTED_THROUGH[through](b)  # the line the finding shows
            b.release()

    async def two() -> None:
        async with b:
            async with a:
                pass

    async def main() -> None:
        await asyncio.create_task(one())
        await asyncio.create_task(two())

    run(main)
    (finding,) = lockorder.findings()
    (edge,) = [edge for edge in finding.cycle if "(one)" in edge.thread]
    innermost = edge.stack[-1]
    assert innermost.filename == __file__ and innermost.function.endswith(".one"), edge.stack
    source = Path(__file__).read_text().splitlines()
    assert source[innermost.lineno - 1].strip().endswith("# the line the finding shows")


# -- a limiter: the dispatcher takes the units, the workers give them back (issue 24) -------


def test_a_dispatcher_taking_units_for_its_workers_is_a_limiter_for_tasks_and_threads() -> None:
    """Issue 24, item 1: the dispatcher takes a unit per worker it starts (in a
    loop, before any worker gave one back), each worker releases its unit. In raise
    mode nothing is raised at any moment, with tasks as with threads (was, with
    tasks: nested-acquire at the dispatcher's second unit); a nested unit by a task
    that holds one outside a loop is still found."""
    threaded = lockorder.Semaphore(2, name="threaded total")
    workers: list[threading.Thread] = []

    def thread_worker() -> None:
        threaded.release()

    def thread_dispatcher() -> None:
        for _ in range(5):
            threaded.acquire()
            worker = threading.Thread(target=thread_worker)
            worker.start()
            workers.append(worker)

    run_threads(thread_dispatcher)
    for worker in workers:
        worker.join(THREAD_TIMEOUT)
    total = Semaphore(2, name="aio total")
    pool = Semaphore(2, name="aio pool")

    async def worker() -> None:
        try:
            await asyncio.sleep(0)
        finally:
            total.release()  # the unit handed to the worker, which gives it back

    async def dispatcher() -> None:
        tasks = []
        for _ in range(5):
            await total.acquire()  # a unit for each worker it starts
            tasks.append(asyncio.create_task(worker()))
        await asyncio.gather(*tasks)

    run(dispatcher)
    assert lockorder.findings() == []
    assert checker.graph.by_key["aio total"].signal  # capacity, as for threads
    assert checker.graph.by_key["threaded total"].signal
    lockorder.configure(mode="record")

    async def nested() -> None:
        async with pool:
            async with pool:  # asyncpg's nested pool.acquire()
                pass

    run(nested)
    assert kinds() == ["nested-acquire"]


SCRIPT_ACROSS_AWAIT = """
import asyncio
import threading

cache_lock = threading.Lock()
log_lock = threading.Lock()


async def refresh():
    with cache_lock:
        await asyncio.sleep(0)  # suspended while holding a threading lock


async def log():
    with log_lock:
        pass
    await asyncio.sleep(0)  # released before the await: fine


async def main():
    await asyncio.gather(refresh(), log())


asyncio.run(main())
"""


def test_a_threading_lock_held_across_an_await(tmp_path: Path) -> None:
    script = tmp_path / "across.py"
    script.write_text(SCRIPT_ACROSS_AWAIT)
    done = lockorder_run(str(script))
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("ERROR: held-across-await") == 1
    assert "task 'Task-2 (refresh)' suspended at an await while holding Lock" in done.stderr
    assert "across.py:5" in done.stderr and "log_lock" not in done.stderr
    assert "in refresh" in done.stderr  # where it was acquired, and where it waits
    assert "task 'Task-2 (refresh)' was created at " in done.stderr  # by gather() in main
    assert "across.py:21 in main" in done.stderr


# --------------------------------------------------------------- asyncio and threading locks


def test_a_cycle_mixing_a_tasks_asyncio_lock_and_a_threading_lock(
    record_mode: None, installed: None
) -> None:
    """One task holds an asyncio lock across an await, then takes a threading lock
    in a later step; another takes them the other way round, in one step (no
    await suspends, so it is not held across one): one cycle, of both kinds."""
    a = asyncio.Lock()
    t = lockorder.Lock(name="aio mixed t")

    async def asyncio_first() -> None:
        async with a:
            await asyncio.sleep(0)  # the next step still holds a: mirrored on the thread
            with t:
                pass

    async def threading_first() -> None:
        with t:
            async with a:  # uncontended: no suspension
                pass

    async def main() -> None:
        await asyncio.create_task(asyncio_first())
        await asyncio.create_task(threading_first())

    run(main)
    (finding,) = lockorder.findings()
    assert finding.kind == "potential-deadlock" and finding.severity == "error"
    assert {lock.kind for lock in finding.locks} == {"asyncio.Lock", "Lock"}
    by_source = {edge.src.kind: edge for edge in finding.cycle}
    assert "(asyncio_first)" in by_source["asyncio.Lock"].thread
    assert "(threading_first)" in by_source["Lock"].thread
    assert [edge.holder for edge in finding.cycle] == ["task", "task"]
    text = finding.format()
    assert "acquired at tests/test_asyncio.py:" in text and ".asyncio_first" in text
    # where each task was created: main's create_task line, in this file
    assert "(asyncio_first)' was created at tests/test_asyncio.py:" in text
    assert all(edge.thread_started_at for edge in finding.cycle)
    assert "asyncio/locks.py" not in text  # asyncio's __aenter__ is not the user's line
    main_thread = _threads.current()
    assert main_thread.held == [] and main_thread.acting is None  # the mirror is down


def test_only_the_task_holding_the_lock_orders_the_threading_locks_of_its_thread(
    record_mode: None, installed: None
) -> None:
    """While a task waits holding an asyncio lock, other tasks and callbacks of
    the loop take threading locks on the same thread: those are not under it."""
    a = asyncio.Lock()
    t = lockorder.Lock(name="aio mixed t2")

    async def holder(holding: asyncio.Event, go: asyncio.Event) -> None:
        async with a:
            holding.set()
            await asyncio.wait_for(go.wait(), TIMEOUT)

    def callback() -> None:
        with t:
            pass

    async def other() -> None:
        with t:
            pass

    async def main() -> None:
        holding, go = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(holder(holding, go))
        await asyncio.wait_for(holding.wait(), TIMEOUT)
        asyncio.get_running_loop().call_soon(callback)
        await asyncio.create_task(other())
        go.set()
        await task
        # ordered the same way everywhere: a, then t, is no finding either
        async with a:
            with t:
                pass

    run(main)
    assert lockorder.findings() == []
    graph = lockorder.graph()
    kind = graph.nodes.data("kind")
    a_to_t = [
        data
        for src, dst, data in graph.edges(data=True)
        if kind[src] == "asyncio.Lock" and kind[dst] == "Lock"
    ]
    # only main's task (named for wait_for's coroutine from 3.12): not holder's
    # (its thread took t while holder waited), and not the thread's
    assert [data["threads"] for data in a_to_t] == [[a_to_t[0]["thread"]]]
    assert a_to_t[0]["thread"].startswith("Task-") and "(holder)" not in a_to_t[0]["thread"]


def test_held_asyncio_locks_are_mirrored_only_while_their_tasks_steps_run(
    record_mode: None, installed: None
) -> None:
    a = asyncio.Lock()
    seen: list[list[Any]] = []

    async def holder(holding: asyncio.Event, go: asyncio.Event) -> None:
        async with a:
            seen.append(list(_threads.current().held))  # this step: loop, a
            holding.set()
            await asyncio.wait_for(go.wait(), TIMEOUT)
            seen.append(list(_threads.current().held))  # a later step: loop, a

    async def main() -> None:
        holding, go = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(holder(holding, go))
        await asyncio.wait_for(holding.wait(), TIMEOUT)
        seen.append(list(_threads.current().held))  # main's step: the loop only
        go.set()
        await task

    run(main)
    kinds_held = [[type(st).__name__ for st in held] for held in seen]
    assert kinds_held == [["LoopLock", "Lock"], ["LoopLock"], ["LoopLock", "Lock"]]
    assert _threads.current().held == []


def test_install_checks_asyncio_primitives_and_uninstall_restores() -> None:
    original = asyncio.Lock
    before = original()
    lockorder.install()
    try:
        assert _install.installed()
        made = asyncio.Lock()
        assert isinstance(made, Lock) and isinstance(made, original)
        assert isinstance(before, asyncio.Lock)  # a lock made before still is one
        assert isinstance(asyncio.Condition()._lock, Lock)  # type: ignore[attr-defined]
        assert isinstance(asyncio.locks.Semaphore(3), Semaphore)
        assert isinstance(asyncio.BoundedSemaphore(), BoundedSemaphore)
    finally:
        lockorder.uninstall()
    assert asyncio.Lock is original and asyncio.locks.Lock is original
    assert type(asyncio.Lock()) is original


def test_under_install_a_patch_of_asyncio_lock_acquire_is_called_and_leaves_no_hold(
    record_mode: None, installed: None
) -> None:
    # asyncio.Lock is install()'s factory: a patch of its acquire reaches
    # asyncio's own class, which `async with` of asyncio's own Lock calls each time
    from unittest import mock

    from lockorder import _aio

    original = _aio._BASE_ACQUIRE  # asyncio's own Lock.acquire, as imported
    calls: list[str] = []

    def spy(self: Any) -> Any:
        calls.append("acquire")
        return original(self)

    lock = asyncio.Lock()

    async def main() -> None:
        for _ in range(3):
            async with lock:
                pass

    with mock.patch.object(asyncio.Lock, "acquire", spy):
        run(main)
    assert calls == ["acquire"] * 3
    assert Lock.__aenter__ is _aio._FAST_AENTER  # the fast entry is back

    # a stand-in that takes nothing: asyncio's own error on exit, and no hold left
    async def stand_in() -> None:
        with pytest.raises(RuntimeError, match="not acquired"):
            async with lock:
                pass
        assert lock._lo_owner is None

    with mock.patch.object(asyncio.Lock, "acquire", mock.AsyncMock()):
        run(stand_in)
    run(main)  # nothing is held: no self-deadlock, no held-at-exit
    assert kinds() == []


def test_outside_a_task_the_holder_is_the_thread(record_mode: None) -> None:
    lock = Lock(name="aio driven by hand")
    coroutine = lock.acquire()
    with pytest.raises(StopIteration):
        coroutine.send(None)  # no running loop: an uncontended acquire needs none
    assert lock._lo_owner is _threads.current()
    assert lock in _threads.current().held
    lock.release()
    assert lock._lo_owner is None and lock not in _threads.current().held


def test_a_cycle_made_by_tasks_is_not_attempted_by_confirm(tmp_path: Path) -> None:
    """A steered rerun pauses threads; pausing a task would block its loop."""
    import json

    example = Path(__file__).parent.parent / "examples" / "asyncio_bank.py"
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "lockorder", "run", "--json", str(out), "--confirm", str(example)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    (finding,) = json.loads(out.read_text())["findings"]
    assert [edge["holder"] for edge in finding["cycle"]] == ["task", "task"]
    assert finding["confirmation"]["status"] == "not-attempted"
    assert "a task cannot be paused without blocking" in finding["confirmation"]["reason"]


# --------------------------------------------------------------------------- async with's fast path


def _general_acquires(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The checked asyncio locks whose acquire takes the general path
    (``Lock._lo_acquire``), in order."""
    calls: list[Any] = []
    general = Lock._lo_acquire

    def counted(self: Lock, caller: Any) -> Any:
        calls.append(self)
        return general(self, caller)

    monkeypatch.setattr(Lock, "_lo_acquire", counted)
    return calls


@pytest.mark.parametrize("install", [False, True], ids=["direct", "install"])
def test_async_with_on_a_known_chain_takes_the_fast_path(
    record_mode: None, monkeypatch: pytest.MonkeyPatch, install: bool
) -> None:
    """Issue 24, item 4: once a task's chain is known, ``async with`` takes and
    gives back the lock itself, the mirror on the thread included under
    install(); the general path only the first time."""
    a = Lock(name="fast a")
    b = Lock(name="fast b")
    calls = _general_acquires(monkeypatch)
    actors: list[Any] = []

    async def main() -> None:
        for _ in range(3):
            async with a:
                async with b:
                    actors.append(_tasks.current().actor)
        await asyncio.sleep(0)  # a new step, holding nothing: no thread acts for it
        actors.append(_tasks.current().actor)

    if install:
        lockorder.install()
    try:
        run(main)
    finally:
        if install:
            lockorder.uninstall()
    assert calls == [a, b]
    assert lockorder.findings() == []
    assert not a.locked() and not b.locked() and a._lo_owner is None and b._lo_owner is None
    thread = _threads.current()
    assert actors == ([thread] * 3 if install else [None] * 3) + [None]
    assert thread.held == [] and thread.mirrored == [] and thread.acting is None


class _General(Lock):
    """A checked Lock whose every ``async with`` takes the general path: a
    subclass that overrides acquire() gets asyncio's __aenter__ back, which calls it."""

    overridden = 0

    def acquire(self) -> Any:
        _General.overridden += 1
        return self._lo_acquire(sys._getframe(1))


def test_a_subclass_overriding_acquire_gets_it_called_by_async_with(record_mode: None) -> None:
    lock = _General(name="fast subclass")
    _General.overridden = 0

    async def main() -> None:
        for _ in range(3):
            async with lock:
                pass

    run(main)
    assert _General.overridden == 3 and not lock.locked()


@pytest.mark.parametrize("make", [asyncio.Lock, Lock], ids=["asyncio", "lockorder"])
def test_acquire_and_release_patched_on_the_class_are_called_by_async_with(
    record_mode: None, make: type[asyncio.Lock]
) -> None:
    # mock.patch.object(Lock, "acquire") sees every `async with lock:` of
    # asyncio's own Lock (its __aenter__ calls self.acquire()): so of lockorder's,
    # whose fast entry comes back when the patch goes
    from unittest import mock

    from lockorder import _aio

    calls: list[str] = []
    acquire, release = make.acquire, make.release

    def counting_acquire(self: Any) -> Any:
        calls.append("acquire")
        return acquire(self)

    def counting_release(self: Any) -> None:
        calls.append("release")
        release(self)

    lock = make()

    async def main() -> None:
        for _ in range(3):
            async with lock:
                pass

    with (
        mock.patch.object(make, "acquire", counting_acquire),
        mock.patch.object(make, "release", counting_release),
    ):
        run(main)
    assert calls == ["acquire", "release"] * 3
    assert not lock.locked()
    assert Lock.__aenter__ is _aio._FAST_AENTER and Lock.__aexit__ is _aio._FAST_AEXIT
    run(main)
    assert len(calls) == 6


def _mixed_scenario(make: type[Lock], prefix: str) -> list[tuple[str, str, str]]:
    """Tasks that repeat known chains (asyncio locks, and a threading lock under
    one), then invert them: the findings, with the locks' names made alike."""
    a = make(name=f"{prefix} a")
    b = make(name=f"{prefix} b")
    t = lockorder.Lock(name=f"{prefix} t")
    signal = make(name=f"{prefix} signal")

    async def forward() -> None:
        for _ in range(3):
            async with a:
                async with b:
                    with t:
                        pass
                await asyncio.sleep(0)  # the next step mirrors a again
        await signal.acquire()

    async def backward() -> None:
        for _ in range(2):
            async with b:
                async with a:
                    pass
        signal.release()  # released by another task than its acquirer: a signal
        with t:
            async with a:  # a threading lock held: the general path
                pass

    async def main() -> None:
        await asyncio.create_task(forward())
        await asyncio.create_task(backward())

    lockorder.install()
    try:
        run(main)
    finally:
        lockorder.uninstall()
    return sorted(
        (f.kind, f.severity, re.sub(r"Task-\d+", "Task-N", f.format().split("\n")[0]))
        for f in lockorder.findings()
    )


def test_the_fast_path_finds_what_the_general_path_finds(record_mode: None) -> None:
    fast = _mixed_scenario(Lock, "mixed")
    lockorder.reset()
    general = _mixed_scenario(_General, "mixed")
    assert _General.overridden > 0
    assert fast == general
    assert [kind for kind, _, _ in fast] == [
        "potential-deadlock",
        "potential-deadlock",
        "release-not-held",
    ]


def test_async_with_driven_by_hand_outside_a_loop_is_the_threads(record_mode: None) -> None:
    lock = Lock(name="fast by hand")
    with pytest.raises(StopIteration):
        lock.__aenter__().send(None)
    assert lock._lo_owner is _threads.current() and lock in _threads.current().held
    with pytest.raises(StopIteration):
        lock.__aexit__(None, None, None).send(None)
    assert lock._lo_owner is None and not lock.locked() and _threads.current().held == []


# --------------------------------------------------------------------------- the loop as a lock

DATA = Path(__file__).parent / "data" / "aio"


def _run_program(name: str) -> subprocess.CompletedProcess[str]:
    return lockorder_run(name, DATA)


def test_a_thread_waiting_for_the_loop_while_holding_what_the_loop_takes() -> None:
    """loopcycle.py: a coroutine takes config_lock on the loop; a worker thread
    holds it and waits for a coroutine of the loop. No hang in this run; the
    cycle goes through the loop's pseudo-lock."""
    done = _run_program("loopcycle.py")
    assert done.returncode == 3, done.stderr
    assert (
        "lockorder ERROR: potential-deadlock: lock-order inversion: event loop loopcycle.py:37 "
        "-> Lock loopcycle.py:4 -> event loop loopcycle.py:37" in done.stderr
    )
    assert "join-while-holding" not in done.stderr  # said once, through the loop
    assert "held-at-exit" not in done.stderr  # running a loop is not a leak


def test_a_real_deadlock_through_the_loop_is_broken() -> None:
    """realloop.py: the worker holds config_lock and waits for the loop; the loop's
    thread blocks on config_lock. The wait-for cycle runs through the loop."""
    done = _run_program("realloop.py")
    # the victim is whichever started waiting last: the loop's thread or the worker
    victims = [line for line in done.stdout.splitlines() if line.endswith(": DeadlockError")]
    assert victims in (["loop: DeadlockError"], ["worker: DeadlockError"]), done.stderr
    (headline,) = [line for line in done.stderr.splitlines() if "ERROR: deadlock:" in line]
    assert "'MainThread' waits for Lock realloop.py:4 held by 'worker'" in headline
    assert "'worker' waits for Future.result() (to be ended by 'MainThread')" in headline


def test_waiting_for_the_loop_from_its_own_thread_raises_at_once() -> None:
    done = _run_program("selfwait.py")
    assert "bridge: DeadlockError" in done.stdout, done.stderr
    assert "the loop it is running itself" in done.stderr
    assert "it would hang, so it raises DeadlockError now" in done.stderr


# --------------------------------------------------------------------------- pytest

#: two asyncio locks and the two orders of taking them, for the async test plugins
FORWARD_BACKWARD = """
import asyncio

import pytest

a = asyncio.Lock()
b = asyncio.Lock()


async def forward():
    async with a:
        async with b:
            pass


async def backward():
    async with b:
        async with a:
            pass
"""

ANYIO_TESTS = (
    FORWARD_BACKWARD
    + """

@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_forward_then_backward():
    await asyncio.create_task(forward())
    await asyncio.create_task(backward())


@pytest.mark.anyio
async def test_clean():
    await forward()
"""
)


def test_async_tests_get_their_findings(pytester: pytest.Pytester) -> None:
    """anyio's pytest plugin (asyncio backend) runs the tests' coroutines on a
    loop of its own: what their tasks do is attributed to the test, as for
    threads, and fails it in raise mode."""
    import json

    pytester.makepyfile(test_anyio=ANYIO_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--lockorder", "--lockorder-report=json:r.json", timeout=120
    )
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "FAILED test_anyio.py::test_forward_then_backward" in text
    (finding,) = json.loads((pytester.path / "r.json").read_text())["findings"]
    assert finding["test"] == "test_anyio.py::test_forward_then_backward"
    assert [edge["holder"] for edge in finding["cycle"]] == ["task", "task"]


PYTEST_ASYNCIO_TESTS = (
    FORWARD_BACKWARD
    + """
import pytest_asyncio


@pytest_asyncio.fixture
async def forward_done():
    await asyncio.create_task(forward())


@pytest.mark.asyncio
async def test_clean():
    await forward()


@pytest.mark.asyncio
async def test_backward_after_a_fixture(forward_done):
    await asyncio.create_task(backward())


@pytest.mark.asyncio(loop_scope="module")
async def test_on_a_module_loop():
    await asyncio.gather(forward(), forward())
"""
)


def test_pytest_asyncio_tests_get_their_findings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-asyncio runs each test (and its async fixtures) on a loop of its
    own or a shared one: the tasks' findings go to the test that ran them."""
    import json

    monkeypatch.setenv("PYTEST_ADDOPTS", "")  # conftest.py keeps pytest-asyncio out of other runs
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_pa=PYTEST_ASYNCIO_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--lockorder", "--lockorder-report=json:r.json", timeout=120
    )
    result.assert_outcomes(passed=2, failed=1)
    assert "FAILED test_pa.py::test_backward_after_a_fixture" in result.stdout.str()
    (finding,) = json.loads((pytester.path / "r.json").read_text())["findings"]
    assert finding["kind"] == "potential-deadlock"
    assert finding["test"] == "test_pa.py::test_backward_after_a_fixture"
    assert [edge["holder"] for edge in finding["cycle"]] == ["task", "task"]


TASK_LEAKS = """
import asyncio

async def worker(lock):
    await lock.acquire()  # returns holding it

async def main():
    lock = asyncio.Lock()
    await asyncio.create_task(worker(lock), name="leaky")
    print("locked:", lock.locked())  # then main drops the lock and ends

asyncio.run(main())
"""


def test_a_task_that_ends_holding_a_lock_is_held_at_exit_before_its_awaiter_resumes(
    tmp_path: Path,
) -> None:
    """A task's leak is said at the end of its last step (under install()), as a
    thread's is before join() returns: its awaiter, which then drops the lock,
    does not hide it."""
    program = tmp_path / "leaks.py"
    program.write_text(TASK_LEAKS)
    done = lockorder_run(str(program), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "locked: True\n"
    assert "1 finding(s) (0 error(s), 1 warning(s))" in done.stderr
    assert (
        "lockorder WARNING: held-at-exit: task 'leaky (worker)' ended while holding "
        "asyncio.Lock leaks.py:8" in done.stderr
    )
    assert "task 'leaky (worker)' was created at leaks.py:9 in main" in done.stderr


def test_the_task_user_of_a_threading_lock_is_forgotten_when_the_lock_dies(
    record_mode: None, installed: None
) -> None:
    """A long-running service makes and drops threading locks in its tasks: the
    map of which task took each one last (two tasks taking one threading lock
    make it shared) must not keep an entry per lock for ever."""
    import gc

    outer = Lock(name="aio soak outer")

    async def task() -> None:
        async with outer:
            # one class (one line): nested per instance, on the slow path each time
            first, second = lockorder.Lock(), lockorder.Lock()
            with first, second:
                pass

    async def main() -> None:
        await asyncio.gather(*(task() for _ in range(50)))

    run(main)
    gc.collect()
    a = lockorder.Lock(name="aio soak a")
    b = lockorder.Lock(name="aio soak b")
    with a, b:  # a slow-path record: the dead locks are processed there
        pass
    assert len(checker.task_users) <= 2, len(checker.task_users)
