"""Waiting while holding: joins and futures (waker known), other waits (warnings)."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import lockorder
from lockorder._state import checker
from tests.conftest import TIMEOUT


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    lockorder.configure(mode="record", break_deadlocks=True, deadlock_check=0.1)
    lockorder.install()
    try:
        yield
    finally:
        lockorder.uninstall()


def kinds() -> list[str]:
    return [f.kind for f in lockorder.findings()]


def test_join_while_holding_a_lock_the_thread_takes_hangs_and_is_broken() -> None:
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with lock:
                pass
        except lockorder.DeadlockError as exc:
            errors.append(exc)

    try:
        with lock:
            thread = threading.Thread(target=worker, name="worker")
            thread.start()
            thread.join()  # worker waits for lock, we wait for worker: broken
    except lockorder.DeadlockError as exc:  # the victim is whoever started waiting last
        errors.append(exc)
    thread.join(TIMEOUT)
    assert len(errors) == 1
    assert "deadlock" in kinds() and "join-while-holding" in kinds()
    (finding,) = [f for f in lockorder.findings() if f.kind == "join-while-holding"]
    assert "join('worker')" in finding.message and finding.severity == "error"


def test_join_while_holding_is_found_when_the_run_did_not_hang() -> None:
    lock = threading.Lock()

    def worker() -> None:
        with lock:
            pass

    thread = threading.Thread(target=worker, name="worker")
    thread.start()
    thread.join(TIMEOUT)  # the worker took the lock before we did: no hang
    with lock:  # the joiner takes it
        thread.join()
    (finding,) = lockorder.findings()
    assert finding.kind == "join-while-holding"
    assert "possible scenario:" in finding.format()
    # where the joiner took the lock it holds, as edges and deadlock reports say it
    here = "tests/test_waits.py"
    assert finding.details[0] == (
        f"{finding.locks[0].label} acquired at {here}:{_line_of('# the joiner takes it')} in "
        "test_join_while_holding_is_found_when_the_run_did_not_hang"
    )


def test_joining_a_worker_that_never_takes_the_lock_is_clean() -> None:
    lock = threading.Lock()
    other = threading.Lock()

    def worker() -> None:
        with other:
            pass

    with lock:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert lockorder.findings() == []


def test_future_result_while_holding_a_lock_its_item_takes() -> None:
    lock = threading.Lock()

    def item() -> int:
        with lock:
            return 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(item)
        concurrent.futures.wait([future], timeout=TIMEOUT)
        other = pool.submit(lambda: 2)  # the same worker thread, another item
        with lock:  # the caller of result() takes it
            assert other.result() == 2  # that item took no lock: clean
            assert lockorder.findings() == []
            assert future.result() == 1
    (finding,) = lockorder.findings()
    assert finding.kind == "join-while-holding" and "Future.result()" in finding.message
    line = _line_of("# the caller of result() takes it")
    assert finding.details[0] == (
        f"{finding.locks[0].label} acquired at tests/test_waits.py:{line} in "
        "test_future_result_while_holding_a_lock_its_item_takes"
    )


def test_future_result_hang_is_broken() -> None:
    lock = threading.Lock()

    def item() -> int:
        with lock:
            return 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool, lock:
        future = pool.submit(item)
        with pytest.raises(lockorder.DeadlockError):
            future.result()
    assert "deadlock" in kinds()


@pytest.mark.parametrize(
    "wait",
    [
        lambda: threading.Event().wait,
        lambda: threading.Barrier(1).wait,
        lambda: queue.Queue().get,
        lambda: threading.Condition().wait,
    ],
    ids=["Event", "Barrier", "Queue.get", "Condition"],
)
def test_untimed_wait_while_holding_is_a_warning(wait: Any) -> None:
    lock = threading.Lock()
    waiter = wait()
    owner = getattr(waiter, "__self__", None)
    done = threading.Event()

    def wake() -> None:
        done.wait(TIMEOUT)
        if isinstance(owner, threading.Event().__class__):
            owner.set()
        elif isinstance(owner, queue.Queue):
            owner.put(1)
        elif isinstance(owner, threading.Condition):
            with owner:
                owner.notify_all()

    if isinstance(owner, threading.Condition):
        cond = owner

        def call() -> None:
            with cond:
                done.set()
                waiter()
    else:

        def call() -> None:
            done.set()
            waiter()

    helper = threading.Thread(target=wake)
    helper.start()
    with lock:  # the waiter holds it
        call()
    helper.join(TIMEOUT)
    warnings = [f for f in lockorder.findings() if f.kind == "wait-while-holding"]
    assert len(warnings) == 1, lockorder.findings()
    assert warnings[0].severity == "warning"
    assert warnings[0].locks[0].site.startswith("tests/test_waits.py:")
    # the line after the wait: where the held lock was taken
    assert warnings[0].details[1] == (
        f"{warnings[0].locks[0].label} acquired at tests/test_waits.py:"
        f"{_line_of('# the waiter holds it')} in test_untimed_wait_while_holding_is_a_warning"
    )


def test_a_put_into_a_bounded_queue_with_room_is_no_wait() -> None:
    """urllib3's pool fills a fresh Queue(maxsize) with maxsize items under its
    manager's lock: such a put never waits (it was reported as a wait)."""
    lock = threading.Lock()
    slots: queue.Queue[int] = queue.Queue(3)
    with lock:
        for n in range(3):
            slots.put(n)
    assert slots.full()
    assert "wait-while-holding" not in kinds(), lockorder.findings()


def test_a_put_into_a_full_bounded_queue_is_a_wait() -> None:
    lock = threading.Lock()
    slots: queue.Queue[int] = queue.Queue(1)
    slots.put(0)
    putting = threading.Event()

    def take() -> None:
        putting.wait(TIMEOUT)
        slots.get(timeout=TIMEOUT)

    taker = threading.Thread(target=take)
    taker.start()
    with lock:
        putting.set()
        slots.put(1)  # full: waits for the taker
    taker.join(TIMEOUT)
    (finding,) = [f for f in lockorder.findings() if f.kind == "wait-while-holding"]
    label = finding.locks[0].label
    assert finding.message == (
        f"thread 'MainThread' waited in Queue.put() on a bounded queue while holding {label}"
    )
    assert finding.details[0] == (
        "the wait: Queue.put() on a bounded queue at tests/test_waits.py:"
        f"{_line_of('# full: waits for the taker')} in "
        "test_a_put_into_a_full_bounded_queue_is_a_wait"
    )


MARK = "# waits for the other thread's get"


def test_a_put_that_finds_the_queue_filled_meanwhile_is_a_wait() -> None:
    """The queue had room when the put began; another thread filled it before the
    put took the queue's mutex: the put waits, and is reported as the put."""
    lock = threading.Lock()
    main = threading.current_thread()
    checked, filled, full_inside = threading.Event(), threading.Event(), threading.Event()

    class Racy(queue.Queue):  # type: ignore[type-arg]
        calls = 0

        def _qsize(self) -> int:
            size = len(self.queue)
            if threading.current_thread() is main:
                self.calls += 1
                if self.calls == 1:  # lockorder's look, before the put: room
                    checked.set()
                    assert filled.wait(TIMEOUT)
                elif self.calls == 2:  # the put's own, under the mutex: full
                    full_inside.set()
            return size

    slots = Racy(1)

    def fill_then_take() -> None:
        checked.wait(TIMEOUT)
        slots.put_nowait(0)
        filled.set()
        full_inside.wait(TIMEOUT)
        slots.get(timeout=TIMEOUT)  # the mutex is free once the put waits

    other = threading.Thread(target=fill_then_take)
    other.start()
    with lock:
        slots.put(1)  # waits for the other thread's get
    other.join(TIMEOUT)
    (finding,) = [f for f in lockorder.findings() if f.kind == "wait-while-holding"]
    label = finding.locks[0].label
    assert finding.message == (
        f"thread 'MainThread' waited in Queue.put() on a bounded queue while holding {label}"
    )
    assert [lock.label for lock in finding.locks] == [label]  # not the queue's mutex
    assert finding.details[0] == (
        "the wait: Queue.put() on a bounded queue at tests/test_waits.py:"
        f"{_line_of(MARK)} in "
        "test_a_put_that_finds_the_queue_filled_meanwhile_is_a_wait"
    )
    assert finding.stack[-1].lineno == _line_of(MARK)


class _Bus:
    """A bus wrapper whose recv() holds its lock while the receive waits."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.message = threading.Event()

    def recv(self) -> None:
        with self.lock:
            self.message.wait()  # recv waits holding it

    def state(self) -> int:
        with self.lock:  # the bus's state takes it
            return 1

    def shutdown(self) -> None:
        with self.lock:  # the bus's shutdown takes it
            pass


def test_a_wait_while_holding_lists_the_places_the_rest_of_the_run_takes_the_lock() -> None:
    """The warning listed only the places seen before the wait; shutdown() taking
    the lock later, in a chain this thread knew, was not there (it makes the
    wait a hang on a quiet bus). Every later place joins the list, from any thread."""
    bus = _Bus()
    assert bus.state() == 1  # the thread's first take: noted
    bus.message.set()
    bus.recv()  # the warning; the wait ends at once (the event is set)
    bus.shutdown()  # after the warning, a chain this thread knows
    stopper = threading.Thread(target=bus.shutdown, name="stopper")
    stopper.start()
    stopper.join(TIMEOUT)
    (finding,) = [f for f in lockorder.findings() if f.kind == "wait-while-holding"]
    here = "tests/test_waits.py"
    label = finding.locks[0].label
    state, shutdown = (
        _line_of("# the bus's state takes it"),
        _line_of("# the bus's shutdown takes it"),
    )
    start = finding.details.index(f"{label} is taken at:")
    assert finding.details[start + 1 :] == (
        f"  {here}:{state} in _Bus.state (by thread 'MainThread')",
        f"  {here}:{shutdown} in _Bus.shutdown (by threads 'MainThread', 'stopper')",
    )


def test_a_watched_lock_class_is_fast_again_once_its_places_are_full() -> None:
    """After the warning, the held lock's class takes the slow path (to note each
    place that takes it) only until TAKEN_AT_LIMIT places are noted."""
    from lockorder._graph import TAKEN_AT_LIMIT

    bus = _Bus()
    bus.message.set()
    bus.recv()
    cls = bus.lock._lo_cls  # type: ignore[attr-defined]
    assert cls.watch_takes
    for n in range(TAKEN_AT_LIMIT + 1):  # one place more than are kept
        namespace: dict[str, Any] = {}
        exec(
            compile(f"def take_{n}(lock):\n    with lock:\n        pass\n", "taker.py", "exec"),
            namespace,
        )
        namespace[f"take_{n}"](bus.lock)
    assert len(cls.taken_at) == TAKEN_AT_LIMIT
    assert not cls.watch_takes


def test_correct_waits_are_clean() -> None:
    """Timed waits, and a Condition whose own lock is the only one held."""
    lock = threading.Lock()
    cond = threading.Condition()
    event = threading.Event()
    with lock:
        assert not event.wait(0.01)
        assert queue.Queue().empty()
    with cond:
        cond.wait(0.01)
    notified = threading.Event()

    def notifier() -> None:
        notified.wait(TIMEOUT)
        with cond:
            cond.notify_all()

    thread = threading.Thread(target=notifier)
    thread.start()
    with cond:
        notified.set()
        cond.wait(TIMEOUT)
    thread.join(TIMEOUT)
    assert lockorder.findings() == []


def test_join_while_holding_another_lock_of_the_same_class_is_clean() -> None:
    """alice.lock and bob.lock share a class; the worker only takes bob's."""

    class Account:
        def __init__(self) -> None:
            self.lock = threading.Lock()

    alice, bob = Account(), Account()

    def audit_bob() -> None:
        with bob.lock:
            pass

    with alice.lock:
        worker = threading.Thread(target=audit_bob, name="audit-bob")
        worker.start()
        worker.join()
    assert lockorder.findings() == []


def _future_x() -> concurrent.futures.Future[int]:
    return concurrent.futures.Future()


def _future_y() -> concurrent.futures.Future[int]:
    return concurrent.futures.Future()


@pytest.mark.parametrize("call", ["wait", "as_completed"])
def test_waiting_on_futures_of_two_sites_from_two_threads_is_clean(call: str) -> None:
    """wait()/as_completed() lock every future's condition in id() order: one order
    over the instances, whichever creation site (lock class) comes first."""
    # id() order is allocation order, mostly: make pairs both ways round (an x
    # first, a y first), then pick one of each id order
    pairs = [(_future_x(), _future_y()) for _ in range(32)]
    for _ in range(32):
        y = _future_y()
        pairs.append((_future_x(), y))
    xy = next(pair for pair in pairs if id(pair[0]) < id(pair[1]))
    yx = next(pair for pair in pairs if id(pair[1]) < id(pair[0]))
    for pair in (xy, yx):
        for future in pair:
            future.set_result(1)

    def waiter(pair: tuple[Any, Any]) -> None:
        if call == "wait":
            concurrent.futures.wait(pair, timeout=TIMEOUT)
        else:
            list(concurrent.futures.as_completed(pair, timeout=TIMEOUT))

    for pair in (xy, yx):
        thread = threading.Thread(target=waiter, args=(pair,))
        thread.start()
        thread.join(TIMEOUT)
    graph = lockorder.graph()
    assert graph.number_of_edges() >= 2  # x -> y and y -> x, both ordered
    assert kinds() == []


class _Executor:
    """futurist's ThreadPoolExecutor, reduced (issue 17.6): shutdown(wait=True)
    holds the shutdown lock while it waits for the queue to drain, and submit()
    takes that lock: a task that submits while shutdown waits blocks forever."""

    def __init__(self) -> None:
        self._shutdown_lock = threading.Lock()  # the shutdown lock
        self._work_queue: queue.Queue[Any] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="pool-worker")
        self._worker.start()

    def _work(self) -> None:
        while True:
            task = self._work_queue.get(timeout=TIMEOUT)
            try:
                if task is None:
                    return
                task()
            finally:
                self._work_queue.task_done()

    def submit(self, task: Any) -> None:
        with self._shutdown_lock:  # submit takes it
            self._work_queue.put(task)

    def shutdown(self) -> None:
        with self._shutdown_lock:  # shutdown takes it
            self._work_queue.put(None)
            self._work_queue.join()  # shutdown waits
        self._worker.join(TIMEOUT)


def _line_of(marker: str) -> int:
    with open(__file__, encoding="utf-8") as handle:
        return next(n for n, text in enumerate(handle, 1) if text.rstrip().endswith(marker))


def test_a_wait_while_holding_names_the_wait_and_where_the_lock_is_taken() -> None:
    executor = _Executor()
    done = threading.Event()
    # a task submitting follow-up work: the hazard, had shutdown been waiting then
    executor.submit(lambda: executor.submit(done.set))
    assert done.wait(TIMEOUT)
    executor.shutdown()
    (finding,) = [f for f in lockorder.findings() if f.kind == "wait-while-holding"]
    here = "tests/test_waits.py"
    lock = f"Lock {here}:{_line_of('# the shutdown lock')}"
    assert finding.message == f"thread 'MainThread' waited in Queue.join() while holding {lock}"
    assert finding.details[0] == (
        "the wait: Queue.join() (inside it: Condition.wait()) at "
        f"{here}:{_line_of('# shutdown waits')} in _Executor.shutdown"
    )
    assert finding.details[1:] == (
        f"{lock} acquired at {here}:{_line_of('# shutdown takes it')} in _Executor.shutdown",
        f"{lock} is taken at:",
        f"  {here}:{_line_of('# submit takes it')} in _Executor.submit"
        " (by threads 'MainThread', 'pool-worker')",
    )
    assert "the thread that would end this wait" in finding.reason


def test_waiting_on_many_futures_checks_each_held_lock_once_per_acquire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """wait() over n futures holds n conditions at once: each acquire's edges look
    at the locks below it once (n), not once per held lock each (n**2, so n**3 for
    the wait: pyrate-limiter's wait() on 1,250 futures took a minute)."""
    from lockorder import _tracker

    futures = [concurrent.futures.Future() for _ in range(60)]
    for future in futures:
        future.set_result(1)
    calls = 0
    is_signal = _tracker.is_signal

    def counting(st: Any) -> bool:
        nonlocal calls
        calls += 1
        return is_signal(st)

    monkeypatch.setattr(_tracker, "is_signal", counting)
    done, _ = concurrent.futures.wait(futures, timeout=TIMEOUT)
    assert len(done) == 60
    # one look per held lock per acquire: at most 2 * (1 + 2 + ... + 60) = 3,660
    # (before, about 60**3 / 6 = 36,000)
    assert calls <= 2 * 60 * 61 // 2 + 60, calls
    assert kinds() == []


def test_waiting_on_many_futures_makes_no_instance_edges_between_them() -> None:
    """wait() takes the futures' conditions in id() order, the only code that
    nests them: they make no edge between them (n futures made n**2 instance
    edges, 11 s for 1,250), while a lock held around the wait still makes its
    edge into them."""
    futures = [concurrent.futures.Future() for _ in range(60)]
    for future in futures:
        future.set_result(1)
    outer = lockorder.Lock(name="around the wait")

    def instance_edges() -> int:
        return sum(len(targets) for targets in checker.graph.isucc.values())

    edges_before = instance_edges()
    with outer:
        done, _ = concurrent.futures.wait(futures, timeout=TIMEOUT)
    assert len(done) == 60
    assert instance_edges() == edges_before
    assert [edge for edge in lockorder.graph().edges if edge[0] == "around the wait"]
    assert kinds() == []


def test_two_locks_of_one_class_in_an_ordered_acquire_still_make_their_edge() -> None:
    """Only wait()'s id() order drops the pairs: lockorder.acquire(a, b) with a and
    b of one class, then b and a nested plainly, is an inversion still."""
    locks = [lockorder.Lock() for _ in range(2)]  # one line: one class
    a, b = locks
    with lockorder.acquire(a, b):
        pass
    first, second = sorted(locks, key=lambda lock: lock._lo_serial)  # acquire()'s order

    def backward() -> None:
        with second, first:
            pass

    thread = threading.Thread(target=backward)
    thread.start()
    thread.join(TIMEOUT)
    assert "potential-deadlock" in kinds()
