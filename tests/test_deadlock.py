"""Real deadlocks broken with DeadlockError; long waits; lockorder.dump()."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import lockorder
from tests.conftest import TIMEOUT


@pytest.fixture(autouse=True)
def breaking() -> None:
    # record mode: the lock-order check must not raise first, so the deadlock forms
    lockorder.configure(mode="record", break_deadlocks=True, deadlock_check=0.1)


def _run_cycle(
    locks: list[Any], taker: Callable[[Any, Any, threading.Barrier], None] | None = None
) -> tuple[list[lockorder.DeadlockError], list[str], float]:
    """Thread i takes locks[i], waits for all, then takes locks[i + 1]: a deadlock."""
    n = len(locks)
    barrier = threading.Barrier(n, timeout=TIMEOUT)
    errors: list[lockorder.DeadlockError] = []
    finished: list[str] = []

    def default_taker(first: Any, second: Any, barrier: threading.Barrier) -> None:
        with first:
            barrier.wait()
            with second:
                pass

    take = taker or default_taker

    def work(i: int) -> None:
        try:
            take(locks[i], locks[(i + 1) % n], barrier)
            finished.append(threading.current_thread().name)
        except lockorder.DeadlockError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), name=f"t{i}") for i in range(n)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "the deadlock was not broken"
    return errors, finished, time.monotonic() - started


def test_two_thread_deadlock_is_broken_within_a_second() -> None:
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    errors, finished, took = _run_cycle([a, b])
    assert took < 1.0
    (error,) = errors
    assert len(finished) == 1
    finding = error.finding
    assert finding is not None and finding.kind == "deadlock" and finding.severity == "error"
    text = finding.format()
    assert "held by" in text and "holds: A" in text and "holds: B" in text
    assert text.count("stack (most recent call last):") == 2
    assert "_run_cycle.<locals>.default_taker" in text
    assert not a.locked() and not b.locked()
    assert [f.kind for f in lockorder.findings()].count("deadlock") == 1


def test_three_thread_deadlock_is_broken() -> None:
    locks = [lockorder.Lock(name=f"L{i}") for i in range(3)]
    errors, finished, _ = _run_cycle(locks)
    assert len(errors) == 1 and len(finished) == 2
    assert errors[0].finding is not None
    assert errors[0].finding.message.count("waits for") == 3


def test_rlock_deadlock_is_broken() -> None:
    a = lockorder.RLock(name="RA")
    b = lockorder.RLock(name="RB")

    def reentrant(first: Any, second: Any, barrier: threading.Barrier) -> None:
        with first, first:
            barrier.wait()
            with second:
                pass

    errors, finished, _ = _run_cycle([a, b], reentrant)
    assert len(errors) == 1 and len(finished) == 1


def test_deadlock_on_condition_wait_reacquire_is_broken() -> None:
    """A waiter woken from Condition.wait() must re-take a lock the notifier's partner holds."""
    cond = lockorder.Condition(lockorder.Lock(name="C"))
    other = lockorder.Lock(name="O")
    waiting = threading.Event()
    holds_other = threading.Event()
    errors: list[BaseException] = []

    def waiter() -> None:
        try:
            with other:
                holds_other.set()
                with cond:
                    waiting.set()
                    cond.wait(TIMEOUT)
        except lockorder.DeadlockError as exc:
            errors.append(exc)

    def notifier() -> None:
        try:
            assert waiting.wait(TIMEOUT)
            with cond:
                cond.notify()
                with other:  # held by the waiter, who needs cond's lock back
                    pass
        except lockorder.DeadlockError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=waiter), threading.Thread(target=notifier)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert len(errors) == 1


def test_acquire_with_timeout_keeps_its_semantics() -> None:
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    results: list[bool] = []

    def timed(first: Any, second: Any, barrier: threading.Barrier) -> None:
        with first:
            barrier.wait()
            got = second.acquire(timeout=0.5)
            results.append(got)
            if got:
                second.release()

    errors, _, _ = _run_cycle([a, b], timed)
    # the first to time out lets the other through (or both time out): no exception
    assert errors == [] and len(results) == 2 and False in results
    assert "deadlock" not in [f.kind for f in lockorder.findings()]


def test_without_breaking_the_deadlock_is_recorded_once() -> None:
    """break_deadlocks=False: recorded (once), the threads stay blocked as the stdlib's would."""
    lockorder.configure(break_deadlocks=False)
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    errors: list[BaseException] = []

    def take(first: Any, second: Any) -> None:
        try:
            with first:
                barrier.wait()
                with second:
                    pass
        except lockorder.DeadlockError as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=take, args=(a, b)),
        threading.Thread(target=take, args=(b, a)),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and "deadlock" not in [f.kind for f in lockorder.findings()]:
        time.sleep(0.01)
    time.sleep(0.3)  # several more checks: still one finding
    assert [f.kind for f in lockorder.findings()].count("deadlock") == 1
    assert errors == [] and all(thread.is_alive() for thread in threads)
    lockorder.configure(break_deadlocks=True)  # now let the next check break it
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert len(errors) == 1


def test_long_wait_is_a_warning_naming_the_holder() -> None:
    lockorder.configure(mode="record", long_wait=0.2, deadlock_check=0.05)
    lock = lockorder.Lock(name="slow")
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with lock:
            holding.set()
            release.wait(TIMEOUT)

    thread = threading.Thread(target=holder, name="holder")
    thread.start()
    assert holding.wait(TIMEOUT)
    timer = threading.Timer(0.5, release.set)
    timer.start()
    with lock:
        pass
    thread.join(TIMEOUT)
    timer.join(TIMEOUT)
    (finding,) = [f for f in lockorder.findings() if f.kind == "long-wait"]
    assert finding.severity == "warning"
    assert "held by thread 'holder'" in finding.message
    assert any("holder 'holder' stack" in line for line in finding.details)


def test_dump_shows_holders_and_waiters_while_wedged() -> None:
    lockorder.configure(deadlock_check=0)  # a plain hang, for the dump to see
    lock = lockorder.Lock(name="wedge")
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with lock:
            holding.set()
            release.wait(TIMEOUT)

    def waiter() -> None:
        with lock:
            pass

    threads = [
        threading.Thread(target=holder, name="holder"),
        threading.Thread(target=waiter, name="waiter"),
    ]
    threads[0].start()
    assert holding.wait(TIMEOUT)
    threads[1].start()
    deadline = time.monotonic() + TIMEOUT
    text = ""
    while time.monotonic() < deadline:
        text = lockorder.dump(file=False)
        if "waits for: wedge" in text:
            break
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(TIMEOUT)
    assert "thread 'holder'" in text and "holds: wedge" in text
    assert "waits for: wedge (tests/test_deadlock.py:" in text and "held by 'holder'" in text
    out = io.StringIO()
    lockorder.dump(file=out)
    assert out.getvalue().startswith("lockorder dump:")


def test_dump_names_a_bad_file_argument() -> None:
    with pytest.raises(TypeError, match=r"lockorder.dump\(file=...\) takes a file .* not 'int'"):
        lockorder.dump(file=3)
