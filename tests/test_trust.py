"""Trustworthy under load, forks, interrupts and misuse (no crash, no lost edge, no false alarm)."""

from __future__ import annotations

import _thread
import concurrent.futures
import gc
import itertools
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Iterator

import pytest

import lockorder
from lockorder import _threads
from lockorder._state import checker
from tests.conftest import TIMEOUT, run_inversion, run_threads


def _workload(
    locks: list[lockorder.Lock], seed: int, rounds: int, inversion: tuple[int, int] | None = None
) -> set[tuple[str, str]]:
    """Nest random subsets of ``locks`` in their index order; return the edges it made."""
    rng = random.Random(seed)
    edges: set[tuple[str, str]] = set()
    for _ in range(rounds):
        chosen = sorted(rng.sample(range(len(locks)), rng.randint(1, 4)))
        for i, j in itertools.combinations(chosen, 2):
            edges.add((f"L{i}", f"L{j}"))
        taken = []
        for index in chosen:
            locks[index].acquire()
            taken.append(locks[index])
        for lock in reversed(taken):
            lock.release()
    if inversion is not None:
        high, low = inversion
        with locks[high], locks[low]:
            edges.add((f"L{high}", f"L{low}"))
    return edges


def _run_workers(count: int, target: object) -> None:
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            target(i)  # type: ignore[operator]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 6)
        assert not thread.is_alive()
    assert errors == []


def test_stress_consistent_order_no_finding_and_no_lost_edge() -> None:
    """Many threads x many locks in one global order: no finding, the graph is the workload's."""
    locks = [lockorder.Lock(name=f"L{i}") for i in range(24)]
    made: list[set[tuple[str, str]]] = [set() for _ in range(8)]

    def work(i: int) -> None:
        made[i] = _workload(locks, seed=i, rounds=400)

    _run_workers(8, work)
    assert lockorder.findings() == []
    expected = set().union(*made)
    recorded = {(a, b) for a, b in lockorder.graph().edges if a.startswith("L")}
    assert recorded == expected


def test_stress_with_one_hidden_inversion_finds_exactly_it() -> None:
    lockorder.configure(mode="record")
    locks = [lockorder.Lock(name=f"L{i}") for i in range(24)]
    # the inversion comes once every worker's rounds are done: a worker 5 that ran
    # ahead of the others (a loaded machine) closed a longer cycle first, and the
    # others' later L3 -> L17 a second, shorter one (two findings, seen once)
    rounds_done = threading.Barrier(8, timeout=TIMEOUT * 6)

    def work(i: int) -> None:
        _workload(locks, seed=100 + i, rounds=300)
        rounds_done.wait()
        if i == 5:
            _workload(locks, seed=100 + i, rounds=0, inversion=(17, 3))

    _run_workers(8, work)
    findings = lockorder.findings()
    assert [f.kind for f in findings] == ["potential-deadlock"]
    names = {lock.name for lock in findings[0].locks}
    assert "L17" in names and "L3" in names
    assert findings[0].severity == "error"


def test_many_threads_started_and_ended_leave_state_flat() -> None:
    lock = lockorder.Lock()

    def work() -> None:
        with lock:
            pass

    def batch(n: int) -> None:
        threads = [threading.Thread(target=work) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)

    batch(50)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(10):
        batch(50)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(
        stat.size_diff
        for stat in after.compare_to(before, "filename")
        if "lockorder" in str(stat.traceback)
    )
    assert grown < 100_000, f"{grown} bytes kept by lockorder after 500 threads"
    assert len(_threads.states()) < 20


# -- process boundaries -----------------------------------------------------------------


def _child_inversion() -> int:
    """In a child process: make an inversion with fresh locks, return the findings count."""
    lockorder.configure(mode="record")
    a = lockorder.Lock(name="child-a")
    b = lockorder.Lock(name="child-b")
    run_inversion(a, b)
    return sum(1 for f in lockorder.findings() if f.kind == "potential-deadlock")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_fork_while_another_thread_holds_a_lock() -> None:
    held = lockorder.Lock(name="held-at-fork")
    holding = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with held:
            holding.set()
            done.wait(TIMEOUT)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(TIMEOUT)
    read, write = os.pipe()
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: only the forking thread's state, locks usable
            status = 0
            try:
                states = _threads.states()
                if [ts.name for ts in states] not in ([], ["MainThread"]):
                    status = 10
                elif _child_inversion() != 1:
                    status = 11
            except BaseException:
                status = 12
            os.write(write, bytes([status]))
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 1) == bytes([0])
    finally:
        done.set()
        thread.join(TIMEOUT)


@pytest.mark.parametrize(
    "make",
    [
        lambda: lockorder.Lock(name="reinit"),
        lambda: lockorder.RLock(name="reinit"),
        lambda: lockorder.wrap(threading.Lock(), name="reinit"),
        lambda: lockorder.wrap(threading.RLock(), name="reinit"),
    ],
    ids=["Lock", "RLock", "wrap-Lock", "wrap-RLock"],
)
def test_at_fork_reinit_forgets_the_holder(make: object) -> None:
    """``_at_fork_reinit()`` (what threading does to its locks in a fork child) leaves
    the lock unlocked and held by nobody: no phantom edge out of it afterwards."""
    lock = make()  # type: ignore[operator]
    other = lockorder.Lock(name="after-reinit")
    lock.acquire()
    lock._at_fork_reinit()
    assert _threads.current().held == []
    assert not lock._is_owned() if hasattr(lock, "_is_owned") else not lock.locked()
    with other:
        pass
    assert [(a, b) for a, b in lockorder.graph().edges if "reinit" in a] == []
    with lock, other:  # usable and checked as before
        pass
    assert ("reinit", "after-reinit") in lockorder.graph().edges


def test_at_fork_reinit_of_a_lock_another_thread_holds() -> None:
    lock = lockorder.Lock(name="reinit-other")
    after = lockorder.Lock(name="after-other")
    holding, reset = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def holder() -> None:
        try:
            lock.acquire()
            holding.set()
            assert reset.wait(TIMEOUT)
            with after:  # the holder no longer holds the reinitialised lock
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(TIMEOUT)
    lock._at_fork_reinit()
    assert not lock.locked()
    reset.set()
    thread.join(TIMEOUT)
    assert errors == []
    assert ("reinit-other", "after-other") not in lockorder.graph().edges
    assert [f.kind for f in lockorder.findings()] == []


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_and_process_pools_work_installed(method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    lockorder.install()
    try:
        with warnings.catch_warnings():
            # a fork where another thread runs (pytest-xdist's worker has one) warns
            # from 3.12; from 3.15 the warning is raised as an error after the fork,
            # where it leaves the forked child orphaned, blocked on its queue forever
            warnings.filterwarnings(
                "ignore", r"This process .* is multi-threaded, use of fork\(\)", DeprecationWarning
            )
            context = multiprocessing.get_context(method)
            with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
                assert list(pool.map(_square, range(5))) == [0, 1, 4, 9, 16]
            queue = context.Queue()
            process = context.Process(target=queue.put, args=(42,))
            process.start()
            assert queue.get(timeout=TIMEOUT) == 42
            process.join(TIMEOUT)
            assert process.exitcode == 0
    finally:
        lockorder.uninstall()
    assert [f for f in lockorder.findings() if f.severity == "error"] == []


# -- interrupts ---------------------------------------------------------------------------


@pytest.fixture
def interrupt_main() -> Iterator[object]:
    """later(seconds): a KeyboardInterrupt in the main thread after ``seconds``.

    SIGINT gets Python's own handler for the test: an asyncio runner (anyio's,
    pytest-asyncio's backport on 3.10) installs one that cancels its main task
    instead of raising, and a test run earlier in this worker may have left it;
    and _thread.interrupt_main() does nothing under SIG_IGN or SIG_DFL."""
    timers: list[threading.Timer] = []
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def later(seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, _thread.interrupt_main)
        timers.append(timer)
        timer.start()
        return timer

    try:
        yield later
    finally:
        for timer in timers:
            timer.cancel()
            timer.join(TIMEOUT)
        signal.signal(signal.SIGINT, previous)


def test_keyboard_interrupt_while_blocked_leaves_no_phantom_hold(interrupt_main: object) -> None:
    lock = lockorder.Lock(name="contended")
    other = lockorder.Lock(name="outer")
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with lock:
            holding.set()
            release.wait(TIMEOUT)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(TIMEOUT)
    ts = _threads.current()
    caught = False
    try:
        timer = interrupt_main(0.3)  # type: ignore[operator]
        try:
            with other:
                deadline = time.monotonic() + TIMEOUT
                while time.monotonic() < deadline:
                    lock.acquire()  # blocks until the interrupt
                    lock.release()
        except KeyboardInterrupt:
            caught = True
    finally:
        release.set()
        thread.join(TIMEOUT)
    assert caught, (
        f"no KeyboardInterrupt in {TIMEOUT} s: interrupt sent {timer.finished.is_set()}, "
        f"SIGINT handler {signal.getsignal(signal.SIGINT)!r}, settings {lockorder.settings()}"
    )
    assert ts.held == [] and ts.chains == [] and ts.waiting_on is None
    assert not other.locked()
    with lock:  # and the lock works normally afterwards
        assert ts.held == [lock]


def test_exception_inside_the_with_body_releases_and_pops() -> None:
    a = lockorder.Lock()
    b = lockorder.RLock()
    ts = _threads.current()
    with pytest.raises(ZeroDivisionError), a, b, b:
        1 / 0  # noqa: B018
    assert ts.held == [] and not a.locked()


# -- misuse and bad input ---------------------------------------------------------------------


def test_a_lock_made_under_install_keeps_working_after_uninstall() -> None:
    lockorder.configure(mode="record")
    lockorder.install()
    a = threading.Lock()
    b = threading.Lock()
    lockorder.uninstall()
    assert lockorder.is_checked(a)
    run_inversion(a, b)
    assert [f.kind for f in lockorder.findings()] == ["potential-deadlock"]


def test_misuse_raises_the_stdlib_exception_and_records_nothing() -> None:
    with pytest.raises(RuntimeError, match="cannot release un-acquired lock"):
        lockorder.RLock().release()
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        lockorder.wrap(threading.Lock()).release()
    with pytest.raises(ValueError, match="Semaphore released too many times"):
        lockorder.BoundedSemaphore(1).release()
    with pytest.raises(TypeError, match="expects a Lock"):
        lockorder.wrap(object())
    with pytest.raises(TypeError):
        lockorder.acquire(lockorder.Lock(), 3)
    assert lockorder.findings() == []


def test_a_thread_started_with_thread_can_release_for_a_reacquire() -> None:
    """CPython's test_foreign_thread: a thread threading does not list yet releases the lock."""
    lockorder.configure(mode="record")  # the release by another thread is a warning
    mutex = lockorder.Lock()
    mutex.acquire()
    released = threading.Event()

    def release() -> None:
        mutex.release()
        released.set()  # the finding is recorded after the raw release: wait for it too

    _thread.start_new_thread(release, ())
    assert mutex.acquire()  # the stdlib waits for that release: no SelfDeadlockError
    mutex.release()
    # the warning must be recorded under this test's mode, not under the next test's
    assert released.wait(10)
    assert [f.kind for f in lockorder.findings()] == ["release-not-held"]


def test_patched_factories_pickle_by_name() -> None:
    """A multiprocessing Manager pickles threading's factories (spawn, forkserver)."""
    import pickle

    lockorder.install()
    try:
        restored = pickle.loads(pickle.dumps(threading.Lock))
        assert restored is threading.Lock
    finally:
        lockorder.uninstall()
    assert pickle.loads(pickle.dumps(threading.Lock)) is threading.Lock


def test_spawn_manager_works_installed() -> None:
    if "spawn" not in multiprocessing.get_all_start_methods():
        pytest.skip("no spawn start method here")
    lockorder.install()
    try:
        with multiprocessing.get_context("spawn").Manager() as manager:
            assert manager.Event().is_set() is False
    finally:
        lockorder.uninstall()


def test_gc_callback_taking_locks_inside_lockorders_mutex_does_not_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A finalizer that runs while lockorder holds its own mutex and takes checked locks."""
    from lockorder import _graph

    real = _graph.LockGraph.lock_class
    fired: list[bool] = []

    def with_callback(self: _graph.LockGraph, *args: object) -> object:
        if not fired:
            fired.append(True)
            inner = lockorder.Lock(name="made-in-a-finalizer")  # re-enters register()
            with inner:
                pass
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_graph.LockGraph, "lock_class", with_callback)
    done = threading.Event()

    def work() -> None:
        outer = lockorder.Lock(name="outer-new-class")
        with outer:
            pass
        done.set()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(TIMEOUT)
    assert done.is_set() and fired


# -- locks held on behalf of a group (reader-writer locks built from Locks) --------------


class _ReaderGroupLock:
    """A read-preferring reader-writer lock from two Locks, as readerwriterlock's
    RWLockRead: the first reader takes ``resource`` for the group, the last one
    (often another thread) releases it."""

    def __init__(self) -> None:
        self.resource = lockorder.Lock(name="group-resource")
        self.count_lock = lockorder.Lock(name="group-count")
        self.readers = 0

    def read_acquire(self) -> None:
        with self.count_lock:
            self.readers += 1
            if self.readers == 1:
                self.resource.acquire()

    def read_release(self) -> None:
        with self.count_lock:
            self.readers -= 1
            if self.readers == 0:
                self.resource.release()

    def write(self) -> None:
        with self.resource:
            pass


def _group_round(rw: _ReaderGroupLock) -> None:
    """Reader 1 enters first (takes resource for the group), reader 2 enters,
    reader 1 leaves (takes count while "holding" resource), reader 2 leaves last
    (releases resource for the group); then a writer."""
    steps = [threading.Event() for _ in range(4)]
    errors: list[BaseException] = []

    def reader(enter_after: int, entered: int, leave_after: int, left: int) -> None:
        try:
            if enter_after >= 0:
                assert steps[enter_after].wait(TIMEOUT)
            rw.read_acquire()
            steps[entered].set()
            assert steps[leave_after].wait(TIMEOUT)
            rw.read_release()
            if left >= 0:
                steps[left].set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    one = threading.Thread(target=reader, args=(-1, 0, 1, 2))
    two = threading.Thread(target=reader, args=(0, 1, 2, -1))
    for thread in (one, two):
        thread.start()
    for thread in (one, two):
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert errors == []
    run_threads(rw.write)


def test_a_lock_held_for_a_reader_group_is_no_potential_deadlock() -> None:
    """Regression (readerwriterlock 1.0.10's suite): once the group's lock is seen
    released by another thread than its acquirer, its holds make no edges, and the
    cycle its holds made before that is withdrawn."""
    lockorder.configure(mode="raise")
    rw = _ReaderGroupLock()
    with pytest.warns(lockorder.LockOrderWarning) as caught:
        _group_round(rw)  # round 1: single-thread cycle, then the release by reader 2
    assert any("release-not-held" in str(w.message) for w in caught)
    for _ in range(3):  # later rounds: no finding, in raise mode
        _group_round(rw)
    assert [f.kind for f in lockorder.findings()] == ["release-not-held"]
    withdrawn = [f for rule, f in checker.suppressed if rule.startswith("withdrawn")]
    (cycle,) = [f for f in withdrawn if f.kind == "potential-deadlock"]
    assert cycle.single_thread
    # reader 1 may end before reader 2 releases for the group: that held-at-exit
    # is withdrawn too
    assert {f.kind for f in withdrawn} <= {"potential-deadlock", "held-at-exit"}
    rw_edges = set(lockorder.graph().edges)
    assert ("group-count", "group-resource") in rw_edges


def test_a_signal_locks_holds_make_no_edges_but_other_holds_still_do() -> None:
    lockorder.configure(mode="record")
    flag = lockorder.Lock(name="flag", signal=True)
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")

    def work() -> None:
        with flag, a, b:
            pass

    run_threads(work)
    edges = set(lockorder.graph().edges)
    assert edges == {("A", "B")}


def test_a_full_cycle_through_a_group_lock_is_withdrawn_at_the_first_release() -> None:
    """Two threads close the cycle before any cross-thread release: an error
    finding, withdrawn as soon as the last reader releases for the group."""
    lockorder.configure(mode="record")
    rw = _ReaderGroupLock()

    def alone() -> None:  # first and last reader: count -> resource, one thread
        rw.read_acquire()
        rw.read_release()

    run_threads(alone)  # also resource -> count on its way out: a one-thread cycle
    assert [(f.kind, f.severity) for f in lockorder.findings()] == [
        ("potential-deadlock", "warning")
    ]
    _group_round(rw)  # reader 1 leaves holding resource: resource -> count, a second thread
    assert [f.kind for f in lockorder.findings()] == ["release-not-held"]
    cycles = [f for _, f in checker.suppressed if f.kind == "potential-deadlock"]
    assert sorted(f.severity for f in cycles) == ["error", "warning"]


# -- locks dropped while held --------------------------------------------------------------


def test_a_lock_dropped_while_held_is_forgotten_and_collected() -> None:
    """Nothing can ever acquire or release a lock nobody refers to: it orders nothing,
    makes no wait-while-holding warning, and is collected as without lockorder."""
    import weakref

    lockorder.configure(mode="record")
    dropped = lockorder.Lock(name="dropped")
    dropped.acquire()
    ref = weakref.ref(dropped)
    del dropped
    after = lockorder.Lock(name="after")
    with after:  # the next slow-path acquire forgets it
        pass
    gc.collect()
    assert ref() is None
    assert _threads.current().held == []
    assert not any("dropped" in a for a, _ in lockorder.graph().edges)


def test_a_kept_lock_is_never_forgotten_while_held() -> None:
    lockorder.configure(mode="record")
    kept = {"lock": lockorder.Lock(name="kept")}
    kept["lock"].acquire()
    try:
        with lockorder.Lock(name="inner"):
            pass
        assert ("kept", "inner") in lockorder.graph().edges
    finally:
        kept["lock"].release()
    assert _threads.current().held == []


def test_waiting_after_dropping_a_held_lock_is_no_wait_while_holding() -> None:
    lockorder.configure(mode="record")
    lockorder.install()
    try:
        threading.Lock().acquire()  # CPython's test_threading does this on purpose
        done = threading.Event()
        threading.Timer(0.01, done.set).start()
        done.wait()
    finally:
        lockorder.uninstall()
    assert [f.kind for f in lockorder.findings()] == []


def test_a_thread_ending_after_dropping_a_held_lock_leaks_nothing() -> None:
    lockorder.configure(mode="record")

    def drop() -> None:
        lockorder.Lock(name="dropped-in-thread").acquire()

    run_threads(drop)
    gc.collect()
    assert [f.kind for f in lockorder.findings()] == []


# -- garbage collection re-entering lockorder --------------------------------------------


@pytest.mark.skipif(
    not getattr(sys, "_is_gil_enabled", lambda: True)(),
    reason="free-threaded CPython collects only after allocations of a quarter of the live "
    "objects, whatever the threshold: no collection runs where this test needs one",
)
def test_gc_callback_taking_a_checked_lock_on_a_new_threads_first_lock_operation() -> None:
    """Regression (cheroot's suite): a GC pass that runs while a brand-new thread's
    state is being made, and takes checked locks itself, neither hangs nor loses
    the thread's acquire."""
    lockorder.configure(mode="record")
    inner = lockorder.Lock(name="gc-inner")
    outer = lockorder.Lock(name="gc-outer")
    calls: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            with inner:
                calls.append(1)

    def first_lock_operation() -> None:
        with outer:
            pass

    thresholds = gc.get_threshold()
    gc.callbacks.append(on_gc)
    gc.set_threshold(1, 1, 1)
    try:
        for _ in range(5):
            thread = threading.Thread(target=first_lock_operation)
            thread.start()
            thread.join(TIMEOUT)
            assert not thread.is_alive(), "a GC callback hung lockorder"
    finally:
        gc.callbacks.remove(on_gc)
        gc.set_threshold(*thresholds)
    assert calls
    assert [f.kind for f in lockorder.findings()] == []


def test_a_semaphore_learned_as_a_signal_withdraws_its_cycles() -> None:
    lockorder.configure(mode="record")
    sem = lockorder.Semaphore(1, name="sem-signal")
    lock = lockorder.Lock(name="after-sem")
    run_inversion(sem, lock)
    assert [f.kind for f in lockorder.findings()] == ["potential-deadlock"]
    sem.acquire()
    run_threads(sem.release)  # a thread holding no unit releases one: a signal
    assert lockorder.findings() == []
    assert [f.kind for _, f in checker.suppressed] == ["potential-deadlock"]


# -- semaphore units taken as capacity (issue 17.5, httpcore) ---------------------------------


def _shrink(sem: lockorder.Semaphore, units: int) -> None:
    """httpcore's HTTP/2 connection: take capacity away from a fresh semaphore."""
    for _ in range(units):
        sem.acquire()


def test_units_taken_in_a_loop_are_capacity_not_holds() -> None:
    """Reduced from httpcore: under its init lock, a connection takes 99 units of a
    fresh Semaphore(100) in a loop, for the server's SETTINGS (read by any thread)
    to give back. They were holds, so every lock the thread took later made an edge
    out of the semaphore, and another thread's nesting of one of those locks around
    an acquire of a unit closed a cycle."""
    lockorder.configure(mode="record")
    init_lock = lockorder.Lock(name="init")
    write_lock = lockorder.Lock(name="write")
    streams = lockorder.Semaphore(100, name="streams")

    def connect() -> None:
        with init_lock:
            _shrink(streams, 99)
        with write_lock:  # was: an edge streams -> write
            pass

    def request() -> None:
        with write_lock, streams:  # write -> streams
            pass

    run_threads(connect, request)
    assert lockorder.findings() == []
    assert lockorder.graph().has_edge("init", "streams")  # edges into it stay
    assert not lockorder.graph().has_edge("streams", "write")
    assert checker.graph.by_key["streams"].signal
    run_threads(lambda: streams.release(99))  # the SETTINGS frame gives them back
    assert lockorder.findings() == []


def test_taking_capacity_withdraws_the_cycles_its_holds_made() -> None:
    lockorder.configure(mode="record")
    sem = lockorder.BoundedSemaphore(3, name="capacity")
    lock = lockorder.Lock(name="after-capacity")
    run_inversion(sem, lock)
    assert [f.kind for f in lockorder.findings()] == ["potential-deadlock"]
    run_threads(lambda: _shrink(sem, 2))
    assert lockorder.findings() == []
    ((rule, finding),) = checker.suppressed
    assert finding.kind == "potential-deadlock"
    assert "counts capacity, not holds" in rule


def test_a_second_unit_taken_outside_a_loop_is_still_a_hold() -> None:
    """Nesting two units of one semaphore (no loop) keeps both as holds: the
    semaphore is no signal and edges out of it are made."""
    lockorder.configure(mode="record")
    sem = lockorder.Semaphore(2, name="nested-units")
    lock = lockorder.Lock(name="under-two-units")

    def nest() -> None:
        with sem:
            with sem, lock:
                pass

    run_threads(nest)
    assert not checker.graph.by_key["nested-units"].signal
    assert lockorder.graph().has_edge("nested-units", "under-two-units")


def test_a_second_unit_taken_after_a_with_block_is_still_a_hold() -> None:
    """Python 3.12 compiles a ``with`` block's exception handler with a jump back
    to the line after the block: every acquire after a ``with`` looked like a
    loop's body, and a nested unit there was taken as capacity (the semaphore a
    signal, its holds making no edges)."""
    lockorder.configure(mode="record")
    sem = lockorder.Semaphore(2, name="after-with")
    lock = lockorder.Lock(name="under-units-after-with")
    other = lockorder.Lock(name="before-the-units")

    def nest() -> None:
        with other:
            pass
        with sem:
            with sem, lock:
                pass

    run_threads(nest)
    assert not checker.graph.by_key["after-with"].signal
    assert lockorder.graph().has_edge("after-with", "under-units-after-with")


def test_a_loop_taking_one_unit_per_round_and_giving_it_back_is_holds() -> None:
    lockorder.configure(mode="record")
    sem = lockorder.Semaphore(1, name="per-round")
    lock = lockorder.Lock(name="in-round")

    def rounds() -> None:
        for _ in range(3):
            with sem, lock:
                pass

    run_threads(rounds)
    assert not checker.graph.by_key["per-round"].signal
    assert lockorder.graph().has_edge("per-round", "in-round")


class _Limiter:
    """As httpcore's ``_synchronization.Semaphore``: acquire() in a wrapper."""

    def __init__(self, units: int) -> None:
        self._sem = lockorder.Semaphore(units, name="wrapped-capacity")

    def acquire(self) -> None:
        self._sem.acquire()

    def release(self) -> None:
        self._sem.release()


def test_capacity_taken_through_a_wrapper_is_seen_at_the_wrappers_caller() -> None:
    limiter = _Limiter(5)

    def shrink() -> None:
        for _ in range(4):
            limiter.acquire()

    run_threads(shrink)
    assert checker.graph.by_key["wrapped-capacity"].signal


def test_a_function_returning_with_its_own_lock_held_leaks_nothing_and_frees_it() -> None:
    """lockorder keeps the frame that took a held lock (to say where it was
    taken); when that frame has ended and its locals were the lock's last other
    reference, the lock is still an orphan: forgotten, and freed by reference
    counting alone, as without lockorder."""
    import weakref

    lockorder.configure(mode="record")
    refs: list[weakref.ref[lockorder.Lock]] = []

    def take_and_return() -> None:
        lock = lockorder.Lock(name="own-local")
        lock.acquire()
        refs.append(weakref.ref(lock))

    gc.disable()
    try:
        run_threads(take_and_return)
        take_and_return()  # in this thread: forgotten at the next slow path
        with lockorder.Lock(name="after-own-local"):
            pass
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()
    assert [f.kind for f in lockorder.findings()] == []
