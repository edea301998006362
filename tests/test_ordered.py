"""lockorder.acquire(): one stable global order, LockOrderViolation on misuse."""

from __future__ import annotations

import threading

import pytest

import lockorder
from lockorder._ordered import sort_key
from tests.conftest import TIMEOUT, run_threads


def test_takes_locks_in_creation_order_whatever_the_argument_order() -> None:
    x = lockorder.Lock(name="x")
    y = lockorder.Lock(name="y")
    with lockorder.acquire(y, x) as taken:
        assert taken == (x, y)
        assert x.locked() and y.locked()
    assert not x.locked() and not y.locked()


def test_rank_sorts_before_creation_order() -> None:
    late = lockorder.Lock(name="late", rank=1)
    early = lockorder.Lock(name="early")
    first = lockorder.RLock(name="first", rank=0)
    with lockorder.acquire(early, late, first) as taken:
        assert taken == (first, late, early)


def test_the_seed_demo_is_deadlock_free_and_clean() -> None:
    """thread_1 takes (x, y), thread_2 takes (y, x), both through acquire(), many times."""
    x_lock = lockorder.Lock()
    y_lock = lockorder.Lock()
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    def thread_1() -> None:
        barrier.wait()
        for _ in range(200):
            with lockorder.acquire(x_lock, y_lock):
                pass

    def thread_2() -> None:
        barrier.wait()
        for _ in range(200):
            with lockorder.acquire(y_lock, x_lock):
                pass

    threads = [threading.Thread(target=thread_1), threading.Thread(target=thread_2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert lockorder.findings() == []


def test_nested_acquire_in_the_wrong_order_raises_violation() -> None:
    x_lock = lockorder.Lock(name="x")
    y_lock = lockorder.Lock(name="y")
    with lockorder.acquire(y_lock):
        with pytest.raises(lockorder.LockOrderViolation, match="sorts after it") as info:
            with lockorder.acquire(x_lock):
                pass
        assert y_lock.locked() and not x_lock.locked()
    assert isinstance(info.value, RuntimeError)
    assert info.value.finding is not None and info.value.finding.kind == "order-violation"
    # the thread's ordered stack is clean again: the right order works
    with lockorder.acquire(x_lock), lockorder.acquire(y_lock):
        pass


def test_violation_raises_in_every_mode() -> None:
    lockorder.configure(mode="record")
    a = lockorder.Lock()
    b = lockorder.Lock()
    with lockorder.acquire(b), pytest.raises(lockorder.LockOrderViolation):
        with lockorder.acquire(a):
            pass


def test_works_with_plain_stdlib_locks_in_a_stable_order() -> None:
    a = threading.Lock()
    b = threading.RLock()
    order = [sort_key(a), sort_key(b)]
    assert order == sorted(order)
    with lockorder.acquire(b, a) as taken:
        assert taken == (a, b)
    with lockorder.acquire(a, b) as taken:
        assert taken == (a, b)


def test_rejects_duplicates_non_locks_and_nothing() -> None:
    lock = lockorder.Lock()
    with pytest.raises(ValueError, match="the same lock twice"):
        lockorder.acquire(lock, lock)
    with pytest.raises(TypeError, match=r"conditions and semaphores, got builtins\.str"):
        lockorder.acquire(lock, "lock")
    with pytest.raises(TypeError, match="needs at least one lock"):
        lockorder.acquire()


def test_failure_while_acquiring_releases_what_was_taken() -> None:
    ok = lockorder.Lock()
    sem = lockorder.BoundedSemaphore(1)

    class Boom(Exception):
        pass

    original = sem.acquire

    def exploding_acquire(*args: object, **kwargs: object) -> bool:
        raise Boom

    sem.acquire = exploding_acquire  # type: ignore[method-assign]
    with pytest.raises(Boom), lockorder.acquire(ok, sem):
        pass
    sem.acquire = original  # type: ignore[method-assign]
    assert not ok.locked()
    with lockorder.acquire(ok):
        pass


# -- edges among the locks of one acquire() are not class-order evidence --------------


def _xy_locks(order: str) -> list[lockorder.Lock]:
    """Locks of two classes, made in ``order`` ("xy": an x, then a y). Not a
    factory that returns a lock: each lock's class is one of these two lines."""
    made: list[lockorder.Lock] = []
    for letter in order:
        if letter == "x":
            made.append(lockorder.Lock())  # class "x": this line
        else:
            made.append(lockorder.Lock())  # class "y": this line
    return made


def test_two_classes_taken_in_creation_order_both_ways_are_no_finding() -> None:
    """acquire() orders instances by creation: x1 before y1, but y2 before x2. Each
    pair is always taken in one order, so the class cycle x -> y -> x is safe."""
    lockorder.configure(mode="record")
    x1, y1, y2, x2 = _xy_locks("xyyx")

    def one() -> None:
        with lockorder.acquire(x1, y1):
            pass

    def two() -> None:
        with lockorder.acquire(x2, y2):
            pass

    run_threads(one, two)
    assert len(lockorder.graph().edges) == 2  # both edges recorded, marked ordered
    assert all(data["ordered"] for _, _, data in lockorder.graph().edges(data=True))
    assert lockorder.findings() == []


def test_plain_nesting_against_an_ordered_acquisition_is_a_finding() -> None:
    """Only acquire() keeps the order: code that nests the same locks by hand, in
    the other order, can deadlock against it."""
    lockorder.configure(mode="record")
    y2, x2 = _xy_locks("yx")

    def plain() -> None:
        with x2, y2:
            pass

    def ordered() -> None:
        with lockorder.acquire(x2, y2):  # takes y2 first (created first)
            pass

    run_threads(plain, ordered)
    (finding,) = lockorder.findings()
    assert finding.kind == "potential-deadlock" and finding.severity == "error"


def test_a_plain_nesting_after_an_ordered_one_is_still_recorded() -> None:
    """The thread's chain cache must not let an ordered acquisition hide a later
    plain nesting of the same classes."""
    lockorder.configure(mode="record")
    x1, y1, y2, x2 = _xy_locks("xyyx")

    def ordered_then_plain() -> None:
        with lockorder.acquire(x1, y1):
            pass
        with x1, y1:  # the same class chain, by hand this time
            pass

    def reverse() -> None:
        with lockorder.acquire(x2, y2):
            pass

    run_threads(ordered_then_plain, reverse)
    (finding,) = lockorder.findings()
    assert finding.kind == "potential-deadlock"


def test_locks_held_around_an_ordered_acquisition_make_plain_edges() -> None:
    lockorder.configure(mode="record")
    outer = lockorder.Lock(name="outer")
    x1, y1 = _xy_locks("xy")

    def around() -> None:
        with outer, lockorder.acquire(x1, y1):
            pass

    def reverse() -> None:
        with y1, outer:
            pass

    run_threads(around, reverse)
    (finding,) = lockorder.findings()
    assert finding.kind == "potential-deadlock"
    assert "outer" in finding.message
