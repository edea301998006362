"""Tracking, the lock-order graph and potential-deadlock findings."""

from __future__ import annotations

import gc
import logging
import threading
import warnings
from typing import Any

import pytest

import lockorder
from lockorder import _sites, _threads
from lockorder._state import checker
from tests.conftest import TIMEOUT, run_threads


def _nest(outer: object, inner: object) -> None:
    with outer:  # type: ignore[attr-defined]
        with inner:  # type: ignore[attr-defined]
            pass


def potential(kind_filter: str = "potential-deadlock") -> list[lockorder.Finding]:
    return [f for f in lockorder.findings() if f.kind == kind_filter]


def test_inversion_across_two_threads_is_found_without_blocking() -> None:
    """Thread 1 takes A then B and ends before thread 2 takes B then A: a finding."""
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    errors: list[BaseException] = []

    def second() -> None:
        try:
            _nest(b, a)
        except lockorder.PotentialDeadlockError as exc:
            errors.append(exc)

    run_threads(lambda: _nest(a, b), second)
    assert len(errors) == 1
    finding = errors[0].finding  # type: ignore[attr-defined]
    assert finding.kind == "potential-deadlock"
    assert finding.severity == "error"
    assert not finding.single_thread
    assert {lock.name for lock in finding.locks} == {"A", "B"}
    assert [(e.src.name, e.dst.name) for e in finding.cycle] == [("A", "B"), ("B", "A")]
    assert len({e.thread for e in finding.cycle}) == 2
    assert all(e.stack and e.stack[-1].function == "_nest" for e in finding.cycle)
    assert "possible scenario" in finding.format()
    # raised before blocking: neither lock is held afterwards
    assert not a.locked() and not b.locked()
    assert lockorder.findings() == [finding]


def test_finding_names_creation_sites() -> None:
    """Unnamed locks are named by the path:line that created them."""
    a = lockorder.Lock()
    line = _line_of_previous_statement()
    b = lockorder.Lock()
    lockorder.configure(mode="record")
    run_threads(lambda: _nest(a, b), lambda: _nest(b, a))
    (finding,) = potential()
    sites = {lock.site for lock in finding.locks}
    assert sites == {f"tests/test_tracker.py:{line}", f"tests/test_tracker.py:{line + 2}"}
    assert all(
        lock.function.endswith("test_finding_names_creation_sites") for lock in finding.locks
    )


def _line_of_previous_statement() -> int:
    frame = _sites._getframe(1)
    return frame.f_lineno - 1


def test_three_thread_cycle_reports_the_shortest_cycle() -> None:
    """A->B, B->C, C->A across three threads is one finding with three edges."""
    a, b, c = (lockorder.Lock(name=n) for n in "ABC")
    lockorder.configure(mode="record")
    run_threads(lambda: _nest(a, b), lambda: _nest(b, c), lambda: _nest(c, a))
    (finding,) = potential()
    assert len(finding.cycle) == 3
    assert finding.format().count("lock(") == 6


def test_single_thread_cycle_is_a_warning_by_default() -> None:
    """Edges made by one thread only: reported as a warning, not raised."""
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    _nest(a, b)
    with pytest.warns(lockorder.LockOrderWarning, match="seen in one thread only"):
        _nest(b, a)
    (finding,) = potential()
    assert finding.severity == "warning" and finding.single_thread


def test_single_thread_cycle_becomes_full_when_a_second_thread_makes_an_edge() -> None:
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    lockorder.configure(mode="record")
    _nest(a, b)
    _nest(b, a)
    assert [f.severity for f in potential()] == ["warning"]
    run_threads(lambda: _nest(a, b))
    assert [f.severity for f in potential()] == ["error"]  # the warning superseded
    assert not potential()[0].single_thread


class _Client:
    """paho-mqtt's shape: each client has its own two locks and its own thread."""

    def __init__(self) -> None:
        self.callback = lockorder.Lock(name="callback-mutex")
        self.out = lockorder.RLock(name="out-mutex")

    def callback_then_publish(self) -> None:
        _nest(self.callback, self.out)

    def puback(self) -> None:
        _nest(self.out, self.callback)


def _in_thread(name: str, *steps: object) -> None:
    def run() -> None:
        for step in steps:
            step()  # type: ignore[operator]

    thread = threading.Thread(target=run, name=name)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive()


def test_threads_each_on_locks_of_their_own_do_not_make_a_one_thread_cycle_full() -> None:
    """Thread 1 makes the whole cycle on its client's locks; thread 2 (same name)
    repeats one edge on its own client's locks: no lock was taken by two threads,
    so the cycle stays at the one-thread level, naming both threads apart."""
    lockorder.configure(mode="record")
    one, two = _Client(), _Client()
    _in_thread("client", one.callback_then_publish, one.puback)
    assert [f.severity for f in potential()] == ["warning"]
    _in_thread("client", two.callback_then_publish)
    (finding,) = potential()  # still the one warning: no error
    assert finding.severity == "warning" and finding.single_thread

    # paho's caller thread takes a client's message mutex too: one class shared is
    # not enough, nobody but the network thread takes the callback mutex
    _in_thread("caller", one.out.acquire, one.out.release)
    assert [f.severity for f in potential()] == ["warning"]
    # a thread takes client one's callback mutex as well: every class of the cycle
    # had a lock two threads took, the cycle is full
    _in_thread("other", one.callback.acquire, one.callback.release)
    assert [f.severity for f in potential()] == ["error"]  # the warning superseded
    full = potential()[0]
    assert not full.single_thread
    # the two threads named 'client' are told apart
    names = {t for t in full.reason.split("'") if t.startswith("client")}
    assert len(names) == 2 and all("(thread " in n for n in names), full.reason


def _probe(lock: Any) -> None:
    """paho's _packet_queue: ``if self._in_callback_mutex.acquire(False): release()``."""
    if lock.acquire(False):
        lock.release()


def test_a_try_acquire_by_another_thread_does_not_share_a_lock() -> None:
    """Regression (paho-mqtt, second pass): the test's thread publishes (the
    client's message mutex, blocking) and probes the callback mutex with a
    try-acquire; only the network thread ever waits for or holds the callback
    mutex while waiting: no second thread can deadlock on it."""
    lockorder.configure(mode="record")
    one, two = _Client(), _Client()
    _in_thread("network-1", one.callback_then_publish, one.puback)
    _in_thread("network-2", two.callback_then_publish)
    _in_thread("caller", lambda: _probe(one.callback), one.out.acquire, one.out.release)
    assert [f.severity for f in potential()] == ["warning"]

    # holding the probed lock while waiting for another is taking it for real
    def probe_then_wait() -> None:
        assert one.callback.acquire(False)
        try:
            with one.out:
                pass
        finally:
            one.callback.release()

    _in_thread("caller", probe_then_wait)
    assert [f.severity for f in potential()] == ["error"]  # the warning superseded


def test_the_private_verdict_says_why_it_is_one_thread() -> None:
    lockorder.configure(mode="record")
    one, two = _Client(), _Client()
    _in_thread("client-2", two.callback_then_publish)  # the other thread first
    _in_thread("client-1", one.callback_then_publish, one.puback)
    (finding,) = potential()
    assert finding.severity == "warning" and finding.single_thread
    assert "'client-1' made all of them alone" in finding.reason
    assert "no lock of callback-mutex (" in finding.reason
    assert "out-mutex (" in finding.reason.split("no lock of")[1]
    assert "was ever acquired by two threads" in finding.reason


def test_same_class_instance_inversion_in_two_threads_is_still_full() -> None:
    """transfer(a, b) against transfer(b, a): the instances are shared, so it counts."""
    lockorder.configure(mode="record")
    accounts = [lockorder.Lock(name="account") for _ in range(2)]
    _in_thread("teller-1", lambda: _nest(accounts[0], accounts[1]))
    _in_thread("teller-2", lambda: _nest(accounts[1], accounts[0]))
    assert [f.severity for f in potential()] == ["error"]


class _Session:
    """Two methods take the session's locks in opposite orders (issue "First
    contact", item 8)."""

    def __init__(self) -> None:
        self.send = lockorder.Lock(name="send")
        self.recv = lockorder.Lock(name="recv")

    def request(self) -> None:
        _nest(self.send, self.recv)

    def drain(self) -> None:
        _nest(self.recv, self.send)


def test_an_object_per_thread_cycle_no_thread_made_alone_is_a_warning_until_shared() -> None:
    """Thread 'client' makes send -> recv on its session, thread 'server' recv ->
    send on another: no single thread made the cycle, but no lock of it was taken
    by two threads, so none could block another. Before: a full finding, raised in
    'server'. Once every class of it has a lock two threads took, it is full, raised
    from the acquire that shares the last class."""
    one, two = _Session(), _Session()
    _in_thread("client", one.request)
    with pytest.warns(lockorder.LockOrderWarning, match="seen in one thread only"):
        _in_thread("server", two.drain)  # raise mode: a warning, never raised
    (finding,) = potential()
    assert finding.severity == "warning" and finding.single_thread
    assert finding.reason.startswith("the edges were made by 'client', 'server', but no lock ")
    unshared = finding.reason.split("no lock of ")[1].split(" was ever acquired by two threads")[0]
    assert "send (" in unshared and "recv (" in unshared, finding.reason
    assert "made all of them alone" not in finding.reason
    assert "once a lock of every class of the cycle is acquired by two threads" in finding.reason

    _in_thread("server", one.send.acquire, one.send.release)  # one class shared: still one
    assert [f.severity for f in potential()] == ["warning"]
    errors: list[BaseException] = []

    def take_recv() -> None:
        try:
            one.recv.acquire()
        except lockorder.PotentialDeadlockError as exc:  # raised before the acquire
            errors.append(exc)
        else:
            one.recv.release()

    _in_thread("server", take_recv)
    assert [f.severity for f in potential()] == ["error"]  # the warning superseded
    (error,) = errors
    full = error.finding  # type: ignore[attr-defined]
    assert full is potential()[0] and not full.single_thread
    assert "no common lock was held" in full.reason
    assert not one.recv.locked()


@pytest.mark.parametrize("kind", ["Lock", "RLock", "Semaphore", "BoundedSemaphore"])
def test_the_acquire_that_closes_a_cycle_counts_as_its_threads_take(kind: str) -> None:
    """The classic ABBA on two single locks: thread 1 takes a then b and ends;
    thread 2 takes b, then a, which only thread 1 ever took before. Thread 2's
    blocking acquire of a is a take by a second thread: the cycle is full at that
    acquire, raised before it blocks, with no warning of it first (a semaphore
    noted its new thread only after the edges were judged)."""
    a = getattr(lockorder, kind)(name=f"closing {kind}")
    b = lockorder.Lock(name="closing b")
    errors: list[BaseException] = []

    def second() -> None:
        try:
            _nest(b, a)
        except lockorder.PotentialDeadlockError as exc:
            errors.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning-level finding first would fail here
        run_threads(lambda: _nest(a, b), second)
    (error,) = errors
    assert [f.severity for f in potential()] == ["error"]
    assert error.finding is potential()[0]  # type: ignore[attr-defined]
    assert error.finding.thread != potential()[0].cycle[0].thread  # type: ignore[attr-defined]
    assert not b.locked()


def test_single_thread_strict_raises() -> None:
    lockorder.configure(single_thread="strict")
    a = lockorder.Lock()
    b = lockorder.Lock()
    _nest(a, b)
    with pytest.raises(lockorder.PotentialDeadlockError, match="single_thread='strict'"):
        _nest(b, a)


def test_single_thread_ignore_is_silent_until_a_second_thread() -> None:
    lockorder.configure(single_thread="ignore", mode="record")
    a = lockorder.Lock()
    b = lockorder.Lock()
    _nest(a, b)
    _nest(b, a)
    assert potential() == []
    run_threads(lambda: _nest(b, a))
    assert [f.severity for f in potential()] == ["error"]


def test_rlock_reentry_is_not_a_finding() -> None:
    r = lockorder.RLock()
    x = lockorder.Lock()
    with r, x, r:
        pass
    run_threads(lambda: _nest(r, x))
    assert lockorder.findings() == []


def test_condition_wait_is_not_a_finding() -> None:
    """wait() releases and re-acquires its own lock: no edge, no finding."""
    cond = lockorder.Condition()
    ready = threading.Event()
    done: list[bool] = []

    def waiter() -> None:
        with cond:
            ready.set()
            done.append(cond.wait_for(lambda: bool(done) or False, timeout=TIMEOUT) or True)

    thread = threading.Thread(target=waiter)
    thread.start()
    assert ready.wait(TIMEOUT)
    with cond:
        done.append(True)
        cond.notify_all()
    thread.join(TIMEOUT)
    assert lockorder.findings() == []


def test_consistent_order_through_different_paths_is_clean() -> None:
    a, b, c = lockorder.Lock(), lockorder.Lock(), lockorder.Lock()

    def path1() -> None:
        with a, b, c:
            pass

    def path2() -> None:
        with a, c:
            pass

    def path3() -> None:
        with b, c:
            pass

    run_threads(path1, path2, path3, path1)
    assert lockorder.findings() == []


@pytest.mark.parametrize("try_kwargs", [{"blocking": False}, {"timeout": 0.5}])
def test_try_acquire_in_reverse_order_is_not_a_finding(try_kwargs: dict[str, object]) -> None:
    a = lockorder.Lock()
    b = lockorder.Lock()

    def reverse() -> None:
        with b:
            assert a.acquire(**try_kwargs)  # type: ignore[arg-type]
            a.release()

    run_threads(lambda: _nest(a, b), reverse)
    assert lockorder.findings() == []


def test_gate_lock_around_every_edge_makes_the_cycle_safe() -> None:
    gate = lockorder.Lock(name="gate")
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")

    def ab() -> None:
        with gate:
            _nest(a, b)

    def ba() -> None:
        with gate:
            _nest(b, a)

    run_threads(ab, ba)
    assert lockorder.findings() == []
    # the same inversion once without the gate is a finding
    lockorder.configure(mode="record")
    run_threads(lambda: _nest(b, a))
    (finding,) = potential()
    assert "no common lock" in finding.reason


def test_lock_taken_between_the_pair_is_no_gate() -> None:
    """T1: A, G, B and T2: B, G, A can deadlock: G is acquired after the first lock."""
    gate = lockorder.Lock(name="G")
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    lockorder.configure(mode="record")

    def one() -> None:
        with a, gate, b:
            pass

    def two() -> None:
        with b, gate, a:
            pass

    run_threads(one, two)
    assert potential()


def test_gate_of_a_class_with_several_locks_is_not_credited() -> None:
    """T1: G1, A, B then G2, A, B (one class G); T2: G1, B, A deadlocks with T1's G2 path."""
    g1, g2 = _account_locks(2)
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    lockorder.configure(mode="record")

    def one() -> None:
        with g1, a, b:
            pass
        with g2, a, b:
            pass

    def two() -> None:
        with g1, b, a:
            pass

    run_threads(one, two)
    (finding,) = potential()
    assert {ref.name for ref in finding.locks} == {"A", "B"}


def _account_locks(n: int) -> list[lockorder.Lock]:
    return [lockorder.Lock() for _ in range(n)]  # one creation site: one class


def test_same_class_nesting_is_checked_per_instance() -> None:
    """transfer(a, b) and transfer(b, a) on two locks of one class is a finding."""
    a, b, c, d = _account_locks(4)
    lockorder.configure(mode="record")
    run_threads(lambda: _nest(a, b), lambda: _nest(c, d), lambda: _nest(a, b))
    assert lockorder.findings() == []
    run_threads(lambda: _nest(d, c))
    (finding,) = potential()
    assert finding.locks[0].key == finding.locks[1].key
    assert finding.locks[0].instance != finding.locks[1].instance
    assert "two locks of one class" in finding.message


def test_semaphores_make_edges_both_ways() -> None:
    lock = lockorder.Lock(name="L")
    sem = lockorder.Semaphore(2, name="S")
    lockorder.configure(mode="record")
    run_threads(lambda: _nest(lock, sem), lambda: _nest(sem, lock))
    (finding,) = potential()
    assert {ref.name for ref in finding.locks} == {"L", "S"}


def test_semaphore_used_as_a_signal_makes_no_holds() -> None:
    """A semaphore released by a thread that holds none of it is a signal."""
    sem = lockorder.Semaphore(0, name="S")
    lock = lockorder.Lock(name="L")
    got = threading.Event()

    def consumer() -> None:
        assert sem.acquire(timeout=TIMEOUT)
        with lock:
            pass
        got.set()

    thread = threading.Thread(target=consumer)
    thread.start()
    sem.release()
    assert got.wait(TIMEOUT)
    thread.join(TIMEOUT)
    sem.release()
    assert sem.acquire(timeout=TIMEOUT)
    with lock:  # a unit of a signal semaphore is no hold: no edge S -> L
        pass
    assert lockorder.findings() == []
    assert list(lockorder.graph().edges) == []
    assert not any(st is sem for ts in _threads.states() for st in ts.held)


def test_release_by_another_thread_ends_the_hold() -> None:
    """A Lock released by another thread no longer counts as held by its acquirer."""
    handoff = lockorder.Lock(name="handoff")
    other = lockorder.Lock(name="other")
    lockorder.configure(mode="record")
    handoff.acquire()
    run_threads(handoff.release)
    with other:  # must not make the edge handoff -> other
        pass
    kinds = [f.kind for f in lockorder.findings()]
    assert kinds == ["release-not-held"]
    (finding,) = lockorder.findings()
    assert finding.severity == "warning"
    assert "MainThread" in finding.message
    assert list(lockorder.graph().edges) == []
    assert all(st is not handoff for st in _threads.current().held)


def test_release_not_held_warns_in_raise_mode() -> None:
    lock = lockorder.Lock()
    lock.acquire()
    with pytest.warns(lockorder.LockOrderWarning, match="release-not-held"):
        run_threads(lock.release)


def test_thread_ending_with_locks_held_is_recorded() -> None:
    lockorder.configure(mode="record")
    lock = lockorder.Lock(name="leaked")
    run_threads(lock.acquire)
    gc.collect()
    (finding,) = [f for f in lockorder.findings() if f.kind == "held-at-exit"]
    assert finding.locks[0].name == "leaked"
    lock.release()


def test_thread_ending_with_a_signal_lock_taken_is_no_leak() -> None:
    lockorder.configure(mode="record")
    declared = lockorder.Lock(name="declared-signal", signal=True)
    learned = lockorder.Lock(name="learned-signal")
    learned.acquire()
    run_threads(learned.release)  # release-not-held: the class is a signal from now on
    run_threads(declared.acquire, learned.acquire)
    gc.collect()
    assert [f.kind for f in lockorder.findings()] == ["release-not-held"]
    declared.release()
    learned.release()


def test_warn_mode_warns_once_per_finding_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    lockorder.configure(mode="warn")
    a = lockorder.Lock()
    b = lockorder.Lock()
    run_threads(lambda: _nest(a, b))
    with (
        pytest.warns(lockorder.LockOrderWarning) as caught,
        caplog.at_level(logging.WARNING, logger="lockorder"),
    ):
        run_threads(lambda: _nest(b, a), lambda: _nest(b, a))
    assert len(caught) == 1
    assert caught[0].message.finding.kind == "potential-deadlock"  # type: ignore[union-attr]
    assert [r.name for r in caplog.records] == ["lockorder"]


def test_record_mode_only_stores() -> None:
    lockorder.configure(mode="record")
    a = lockorder.Lock()
    b = lockorder.Lock()
    run_threads(lambda: _nest(a, b), lambda: _nest(b, a))
    assert len(potential()) == 1


def test_known_chain_takes_no_global_lock_and_captures_no_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The steady state: a chain this thread validated costs no _mu and no stack."""
    a = lockorder.Lock()
    b = lockorder.Lock()
    done = threading.Event()
    release = threading.Event()

    def worker() -> None:
        _nest(a, b)  # validates the chain
        release.wait(TIMEOUT)
        for _ in range(100):
            _nest(a, b)
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()

    def no_stack(*args: object, **kwargs: object) -> None:
        raise AssertionError("stack captured on the fast path")

    with checker.mu:
        monkeypatch.setattr(_sites, "capture_stack", no_stack)
        release.set()
        assert done.wait(TIMEOUT), "the fast path waited for the global lock"
    thread.join(TIMEOUT)


def test_reentry_from_gc_during_the_slow_path_defers_the_edge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A callback taking checked locks inside our slow path neither deadlocks nor loses edges."""
    a, b, x, y = (lockorder.Lock(name=n) for n in ("a", "b", "x", "y"))
    real = _sites.capture_stack
    calls = []

    def reentering(*args: object, **kwargs: object) -> object:
        if not calls:
            calls.append(1)
            _nest(x, y)  # as a __del__ or weakref callback would
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_sites, "capture_stack", reentering)
    _nest(a, b)
    edges = set(lockorder.graph().edges)
    assert ("a", "b") in edges and ("x", "y") in edges


def test_internal_error_warns_and_the_acquire_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    a = lockorder.Lock()
    b = lockorder.Lock()

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(_sites, "capture_stack", broken)
    with pytest.warns(lockorder.LockOrderWarning, match="internal error"):
        with a, b:
            assert b.locked()
    assert not a.locked() and not b.locked()


def test_graph_view_carries_evidence() -> None:
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    run_threads(lambda: _nest(a, b))
    graph = lockorder.graph()
    assert list(graph.edges) == [("A", "B")]
    data = graph.edges["A", "B"]
    assert data["thread"].startswith("Thread-")
    assert data["stack"][-1][2] == "_nest"
    assert graph.nodes["A"]["kind"] == "Lock"


def test_reset_forgets_edges_and_findings() -> None:
    lockorder.configure(mode="record")
    a = lockorder.Lock()
    b = lockorder.Lock()
    run_threads(lambda: _nest(a, b), lambda: _nest(b, a))
    assert lockorder.findings()
    lockorder.reset()
    assert lockorder.findings() == [] and list(lockorder.graph().edges) == []
    run_threads(lambda: _nest(b, a))
    assert lockorder.findings() == []


def test_dropped_locks_leave_memory_flat() -> None:
    """Creating and dropping many locks does not grow lockorder's state."""
    import tracemalloc

    def churn(count: int) -> None:
        for _ in range(count):
            lock = lockorder.Lock()
            with lock:
                pass

    churn(2000)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    churn(50_000)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 200_000, f"{grown} bytes kept after 50,000 locks"


def test_ended_threads_are_forgotten() -> None:
    lock = lockorder.Lock()
    before = len(_threads.states())

    def work() -> None:
        with lock:
            pass

    for _ in range(50):
        run_threads(work)
    gc.collect()
    assert len(_threads.states()) <= before + 1


def test_instance_graph_forgets_dead_locks() -> None:
    lockorder.configure(mode="record")
    for _ in range(100):
        a, b = _account_locks(2)
        _nest(a, b)
        del a, b
    gc.collect()
    _nest(*_account_locks(2))  # processes the dead instances
    assert len(checker.graph.isucc) <= 4


def test_fork_child_keeps_only_the_forking_thread() -> None:
    import os

    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    lock = lockorder.Lock()
    other = lockorder.Lock()
    holding = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with other:
            holding.set()
            done.wait(TIMEOUT)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(TIMEOUT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
            pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                with lock:
                    pass
                if len(_threads.states()) != 1:
                    code = 3
            except BaseException:
                code = 4
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        done.set()
        thread.join(TIMEOUT)


@pytest.mark.parametrize("lock_kind", ["RLock", "Lock"])
def test_cycle_closed_by_condition_wait_raises_with_locks_balanced(lock_kind: str) -> None:
    """wait() re-acquires its lock while X is held: X -> L closes L -> X; raised once re-held."""
    inner = lockorder.RLock(name="L") if lock_kind == "RLock" else lockorder.Lock(name="L")
    cond = lockorder.Condition(inner)
    x = lockorder.Lock(name="X")
    run_threads(lambda: _nest(cond, x))  # L -> X by another thread
    with pytest.raises(lockorder.PotentialDeadlockError) as info:
        with cond, x:
            cond.wait(0.01)
    assert {ref.name for ref in info.value.finding.locks} == {"L", "X"}  # type: ignore[union-attr]
    assert not x.locked()
    assert inner.acquire(blocking=False)
    inner.release()
    assert _threads.current().held == []


def test_lock_and_semaphore_made_on_one_line_are_two_classes() -> None:
    """A semaphore learned as a signal must not make the Lock of its line a signal too."""
    lock, sem = lockorder.Lock(), lockorder.Semaphore(0)
    assert lock._lo_cls is not sem._lo_cls
    run_threads(sem.release)
    assert sem.acquire(timeout=TIMEOUT)
    with lock, pytest.raises(lockorder.SelfDeadlockError):
        lock.acquire()


def test_a_lock_held_while_waiting_for_another_is_used_by_the_thread_however_taken() -> None:
    """A try-acquire makes no user; waiting for another lock while holding it does
    (the next thread to take it then makes its class shared)."""
    a = lockorder.Lock(name="tried a")
    b = lockorder.Lock(name="waited b")
    assert a.acquire(blocking=False)
    assert a._lo_user is None
    with b:
        pass
    assert a._lo_user is _threads.current()
    a.release()


# -- which threads could release a Lock its holder re-acquires ---------------------------

#: a thread of a test runner: its function is of module execnet.gateway_base, as
#: the receiver thread of an xdist worker is
RUNNER_THREAD = """
def serve(started, stop):
    started.release()
    stop.acquire()
"""


def _start_raw_thread(module: str) -> Any:
    """A thread started with _thread (as execnet starts its own) in a function of
    ``module``, running until the returned lock is released."""
    import _thread

    from lockorder import _unpatched

    namespace: dict[str, Any] = {"__name__": module}
    exec(compile(RUNNER_THREAD, module.replace(".", "/") + ".py", "exec"), namespace)
    started, stop = _unpatched.allocate_lock(), _unpatched.allocate_lock()
    started.acquire()
    stop.acquire()
    _thread.start_new_thread(namespace["serve"], (started, stop))
    assert started.acquire(timeout=TIMEOUT)
    return stop


def test_a_test_runners_thread_cannot_release_the_programs_lock() -> None:
    """Under xdist the worker has execnet's threads: the self-deadlock is certain
    at once, as without xdist, not after self_deadlock_wait."""
    if threading.active_count() > 1:
        pytest.skip("needs a process whose only threading thread is the test's")
    lockorder.configure(self_deadlock_wait=TIMEOUT)
    stop = _start_raw_thread("execnet.gateway_base")
    saved = dict(_threads.runner_threads)
    _threads.note_runner_threads()  # as the pytest plugin does before any test
    try:
        lock = lockorder.Lock(name="counter")
        with lock:
            with pytest.raises(lockorder.SelfDeadlockError) as info:
                lock.acquire()
        assert info.value.finding is not None
        assert info.value.finding.reason == "no other thread exists that could release it"
    finally:
        _threads.runner_threads.clear()
        _threads.runner_threads.update(saved)
        stop.release()


@pytest.mark.parametrize("module", ["shop.workers", "execnet.gateway_base"])
def test_a_thread_started_after_the_runners_were_noted_still_could_release_it(
    module: str,
) -> None:
    """Any thread of the program counts, execnet's too when a test starts it
    (execnet's own test suite): only the runner's threads noted before the tests
    do not."""
    lockorder.configure(self_deadlock_wait=0.2)
    saved = dict(_threads.runner_threads)
    _threads.note_runner_threads()
    stop = _start_raw_thread(module)
    try:
        lock = lockorder.Lock(name="counter")
        with lock:
            with pytest.raises(lockorder.SelfDeadlockError, match=r"within 0\.2 s"):
                lock.acquire()
    finally:
        _threads.runner_threads.clear()
        _threads.runner_threads.update(saved)
        stop.release()


class _Resource:
    """Closes under its own lock in __del__, and logs while holding it elsewhere;
    each instance is in a reference cycle, so only the cyclic GC frees it."""

    finalized = 0

    def __init__(self, handler: Any, registry: Any = None) -> None:
        self.lock = lockorder.Lock(name="resource")
        self.handler = handler
        self.registry = registry
        self.me = self

    def log(self) -> None:
        with self.lock:
            with self.handler:  # as logging's Handler.handle() takes its lock
                pass

    def __del__(self) -> None:
        with self.registry if self.registry is not None else self.lock:
            _Resource.finalized += 1


class _Registry:
    def __init__(self) -> None:
        self.lock = lockorder.Lock(name="registry")


def _finalized_inside(held: Any, make: Any) -> None:
    """The cyclic GC finalizes a resource ``make()`` returns, made garbage, while
    ``held`` is held (as when it runs inside a logging handler's flush())."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()  # earlier tests' garbage: not inside ``held``
        before = _Resource.finalized
        # (made here: before 3.11 a caller's argument stays on its stack until
        # the call returns, alive)
        resource = make()
        del resource
        with held:
            gc.collect()
        assert _Resource.finalized == before + 1
    finally:
        if enabled:
            gc.enable()


@pytest.mark.usefixtures("record_mode")
def test_a_finalizer_makes_no_edge_onto_the_lock_of_the_garbage_it_finalizes() -> None:
    """The object the GC finalizes is unreachable: no thread holds its lock or
    can take it, so handler -> resource closed no cycle that can deadlock; it was
    an error (each edge made by two threads, the resource lock taken by two)."""
    handler = lockorder.RLock(name="handler")
    live = _Resource(handler)
    run_threads(live.log, live.log)  # resource -> handler, by two threads
    _finalized_inside(handler, lambda: _Resource(handler))
    assert ("handler", "resource") not in set(lockorder.graph().edges)
    assert lockorder.findings() == []


@pytest.mark.usefixtures("record_mode")
def test_a_finalizer_still_makes_edges_onto_locks_that_live_code_can_take() -> None:
    """A finalizer taking a lock that live objects refer to (a registry's) runs at
    whatever point the GC runs: its edges count as any other's."""
    handler = lockorder.RLock(name="handler")
    registry = _Registry()
    _finalized_inside(handler, lambda: _Resource(handler, registry.lock))
    assert ("handler", "registry") in set(lockorder.graph().edges)
