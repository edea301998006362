"""The checked primitives behave like the stdlib's, plus the discipline checks."""

from __future__ import annotations

import copy
import gc
import pickle
import re
import sys
import threading
import time
import weakref
from typing import Any

import pytest

import lockorder
from tests.conftest import TIMEOUT, run_threads

FACTORIES: dict[str, Any] = {
    "Lock": lockorder.Lock,
    "RLock": lockorder.RLock,
    "wrap(Lock)": lambda: lockorder.wrap(threading.Lock()),
    "wrap(RLock)": lambda: lockorder.wrap(threading.RLock()),
}


@pytest.fixture(params=sorted(FACTORIES))
def make_lock(request: pytest.FixtureRequest) -> Any:
    return FACTORIES[request.param]


def test_with_returns_true_and_releases(make_lock: Any) -> None:
    lock = make_lock()
    with lock as value:
        assert value is True
    assert lock.acquire(blocking=False)
    lock.release()


RAW = {
    "Lock": threading.Lock,
    "RLock": threading.RLock,
    "wrap(Lock)": threading.Lock,
    "wrap(RLock)": threading.RLock,
}


def _outcome(call: Any) -> tuple[str, str]:
    try:
        return ("returned", repr(call()))
    except Exception as exc:
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize(
    "args",
    [(False, 1), (True, -5), (True, float("inf")), (True, 1e300), ("yes", 0.0), (0,)],
)
def test_acquire_arguments_behave_like_the_stdlib(
    make_lock: Any, request: pytest.FixtureRequest, args: tuple[Any, ...]
) -> None:
    """Same return values and the same exceptions and messages as the raw lock."""
    kind = request.node.callspec.params["make_lock"]
    raw, checked = RAW[kind](), make_lock()
    outcome = _outcome(lambda: checked.acquire(*args))
    assert outcome == _outcome(lambda: raw.acquire(*args))
    if outcome == ("returned", "True"):
        checked.release()
        assert not lockorder.is_checked(checked) or checked.acquire(blocking=False)
        checked.release()
    assert lockorder.findings() == []


def test_release_unlocked_raises_like_the_stdlib() -> None:
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        lockorder.Lock().release()
    with pytest.raises(RuntimeError, match="cannot release un-acquired lock"):
        lockorder.RLock().release()


@pytest.mark.parametrize(
    ("factory", "raw_name"),
    [
        (lockorder.Lock, "_thread.lock"),
        (lockorder.RLock, "_thread.RLock"),
        (lambda: lockorder.wrap(threading.Lock()), "_thread.lock"),
    ],
)
def test_pickling_and_copying_fail_like_the_stdlib(factory: Any, raw_name: str) -> None:
    lock = factory()
    for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match=f"cannot pickle '{raw_name}' object"):
            attempt(lock)


def test_checked_locks_pass_stdlib_type_checks() -> None:
    """Code checking isinstance(x, type(threading.Lock())) or __class__ keeps working."""
    assert isinstance(lockorder.Lock(), type(threading.Lock()))
    assert isinstance(lockorder.RLock(), type(threading.RLock()))
    assert lockorder.RLock().__class__.__module__ == "_thread"
    assert isinstance(lockorder.Condition(), threading.Condition)
    assert isinstance(lockorder.Semaphore(), threading.Semaphore)
    assert isinstance(lockorder.BoundedSemaphore(), threading.BoundedSemaphore)


def test_repr_names_state_name_and_site() -> None:
    lock = lockorder.Lock(name="db")
    assert repr(lock).startswith("<unlocked lockorder.Lock object name='db' site=tests/")
    with lock:
        assert repr(lock).startswith("<locked lockorder.Lock object")
    rlock = lockorder.RLock()
    with rlock:
        assert "owner=" in repr(rlock) and "count=1" in repr(rlock)

    # a semaphore's repr is the stdlib's with our module (3.10's shows no value)
    def shape(obj: object) -> str:
        return re.sub(r"0x[0-9a-f]+", "0x?", repr(obj))

    plain = shape(threading.Semaphore(3)).replace("<threading.", "<lockorder.")
    assert shape(lockorder.Semaphore(3)) == plain


def test_name_and_rank_are_validated() -> None:
    with pytest.raises(TypeError, match="name must be a str or None, not 'int'"):
        lockorder.Lock(name=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rank must be an int or None, not 'str'"):
        lockorder.Lock(rank="1")  # type: ignore[arg-type]


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
def test_signal_is_a_bool_on_and_off(enabled: bool) -> None:
    from lockorder import aio

    lockorder.configure(enabled=enabled)
    with pytest.raises(TypeError, match="signal must be a bool, not 'str'"):
        lockorder.Lock(signal="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="signal must be a bool, not 'int'"):
        aio.Lock(signal=1)  # type: ignore[arg-type]
    assert lockorder.Lock(signal=True).acquire(blocking=False)


def test_wrap_rejects_non_locks() -> None:
    with pytest.raises(TypeError, match=r"lockorder.wrap\(\) expects a Lock.*got builtins.int"):
        lockorder.wrap(3)


def test_wrap_of_a_checked_object_returns_it() -> None:
    lock = lockorder.Lock()
    assert lockorder.wrap(lock) is lock


def test_wrapped_objects_are_tracked() -> None:
    a = lockorder.wrap(threading.Lock(), name="A")
    b = lockorder.wrap(threading.Semaphore(), name="B")
    c = lockorder.wrap(threading.Condition(), name="C")
    lockorder.configure(mode="record")

    def forward() -> None:
        with a, b, c:
            pass

    def backward() -> None:
        with c, a:
            pass

    run_threads(forward, backward)
    (finding,) = lockorder.findings()
    assert {ref.name for ref in finding.locks} == {"A", "C"}


def test_wrapped_condition_shares_waiters_with_the_original() -> None:
    original = threading.Condition()
    proxy = lockorder.wrap(original)
    woken = threading.Event()
    waiting = threading.Event()

    def waiter() -> None:
        with original:
            waiting.set()
            if original.wait(TIMEOUT):
                woken.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(TIMEOUT)
    with proxy:
        proxy.notify_all()
    thread.join(TIMEOUT)
    assert woken.is_set()


# -- self-deadlock -------------------------------------------------------------


def test_reacquire_nonreentrant_lock_raises_at_once_without_other_threads() -> None:
    if threading.active_count() > 1:  # e.g. pytest-xdist's execnet thread
        pytest.skip("needs a process whose only thread is the test's")
    lock = lockorder.Lock(name="counter")
    lock.acquire()
    with pytest.raises(lockorder.SelfDeadlockError, match="already holds") as info:
        lock.acquire()
    assert info.value.finding is not None
    assert info.value.finding.kind == "self-deadlock"
    assert "no other thread" in info.value.finding.reason
    lock.release()
    assert not lock.locked()


def test_shared_counter_decr_calling_incr_is_a_self_deadlock() -> None:
    """The seed's SharedCounter with a plain Lock: decr() calls incr() under the lock."""

    class SharedCounter:
        def __init__(self) -> None:
            self.value = 0
            self.lock = lockorder.Lock()

        def incr(self, delta: int = 1) -> None:
            with self.lock:
                self.value += delta

        def decr(self, delta: int = 1) -> None:
            with self.lock:
                self.incr(-delta)

    counter = SharedCounter()
    with pytest.raises(lockorder.SelfDeadlockError):
        counter.decr()
    assert not counter.lock.locked()
    assert counter.value == 0


def test_reacquire_waits_then_raises_when_no_other_thread_releases() -> None:
    lockorder.configure(self_deadlock_wait=0.2)
    idle = threading.Event()
    bystander = threading.Thread(target=idle.wait, args=(TIMEOUT,))
    bystander.start()
    try:
        lock = lockorder.Lock()
        lock.acquire()
        started = time.monotonic()
        with pytest.raises(lockorder.SelfDeadlockError, match=r"within 0\.2 s"):
            lock.acquire()
        assert time.monotonic() - started >= 0.15
        lock.release()
    finally:
        idle.set()
        bystander.join(TIMEOUT)


def test_reacquire_of_a_lock_used_as_a_signal_succeeds() -> None:
    """lock_tests' test_reacquire pattern: another thread's release wakes the holder."""
    lockorder.configure(mode="record")
    signal = lockorder.Lock()
    signal.acquire()
    waiting = threading.Event()

    def releaser() -> None:
        waiting.wait(TIMEOUT)
        signal.release()

    thread = threading.Thread(target=releaser)
    thread.start()
    waiting.set()
    assert signal.acquire(timeout=TIMEOUT) is True
    thread.join(TIMEOUT)
    signal.release()
    assert [f.kind for f in lockorder.findings()] == ["release-not-held"]


def test_lock_declared_as_signal_is_no_finding() -> None:
    signal = lockorder.Lock(signal=True)
    signal.acquire()
    run_threads(signal.release)
    assert signal.acquire(timeout=TIMEOUT)
    signal.release()
    assert lockorder.findings() == []


def test_self_deadlock_in_record_mode_blocks_like_the_stdlib() -> None:
    """Record mode stays silent; the acquire then waits as the stdlib's would."""
    lockorder.configure(mode="record", self_deadlock_wait=0.05)
    lock = lockorder.Lock()
    lock.acquire()
    releaser = threading.Timer(0.3, lock.release)
    releaser.start()
    assert lock.acquire() is True  # released by the timer thread
    releaser.join(TIMEOUT)
    lock.release()
    assert "self-deadlock" in {f.kind for f in lockorder.findings()}


# -- configuration -------------------------------------------------------------


def test_configure_rejects_unknown_mode() -> None:
    with pytest.raises(lockorder.ConfigurationError) as info:
        lockorder.configure(mode="rase")
    assert str(info.value) == (
        "mode must be one of raise, warn, record (got 'rase' from lockorder.configure())"
    )


def test_configure_rejects_bad_values() -> None:
    with pytest.raises(lockorder.ConfigurationError, match="single_thread must be one of"):
        lockorder.configure(single_thread="maybe")
    with pytest.raises(lockorder.ConfigurationError, match="self_deadlock_wait must be"):
        lockorder.configure(self_deadlock_wait=-1)
    # True is no duration (float(True) would be 1.0)
    with pytest.raises(lockorder.ConfigurationError, match="self_deadlock_wait must be"):
        lockorder.configure(self_deadlock_wait=True)
    with pytest.raises(lockorder.ConfigurationError, match=r"enabled must be a boolean.*got 2"):
        lockorder.configure(enabled=2)


def test_configure_takes_1_and_0_for_a_boolean_as_its_message_says() -> None:
    assert lockorder.configure(break_deadlocks=0).break_deadlocks is False
    assert lockorder.configure(break_deadlocks=1).break_deadlocks is True
    assert lockorder.configure(enabled=1).enabled is True


def test_settings_from_environment_name_the_variable() -> None:
    from lockorder._config import settings_from_env

    assert settings_from_env({"LOCKORDER_MODE": "warn"}).mode == "warn"
    assert settings_from_env({"LOCKORDER": "0"}).enabled is False
    with pytest.raises(
        lockorder.ConfigurationError,
        match=r"^LOCKORDER_MODE must be one of raise, warn, record \(got 'loud' from the "
        r"environment\)$",
    ):
        settings_from_env({"LOCKORDER_MODE": "loud"})


def test_disabled_factories_return_plain_stdlib_objects() -> None:
    lockorder.configure(enabled=False)
    assert type(lockorder.Lock()) is type(threading.Lock())
    assert type(lockorder.RLock()) is type(threading.RLock())
    assert type(lockorder.Condition()) is threading.Condition
    assert type(lockorder.Semaphore(2, name="s")) is threading.Semaphore
    raw = threading.Lock()
    assert lockorder.wrap(raw) is raw


def test_checking_off_at_import_makes_the_stdlib_objects(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        check="""
        import threading, lockorder
        assert type(lockorder.Lock(name="a")) is type(threading.Lock())
        assert type(lockorder.Condition(name="c")) is threading.Condition
        print("plain")
        """
    )
    monkeypatch.setenv("LOCKORDER", "0")
    result = pytester.run(sys.executable, "check.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["plain"])


def test_bad_environment_value_warns_and_keeps_the_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in the environment must not break every program importing lockorder."""
    monkeypatch.setenv("LOCKORDER_MODE", "loud")
    result = pytester.run(
        sys.executable, "-c", "import lockorder; print(lockorder.settings().mode)"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["raise"])
    # one line: no source line of lockorder's own after it
    assert result.stderr.lines == [
        "<environment>:0: LockOrderWarning: LOCKORDER_MODE must be one of raise, warn, "
        "record (got 'loud' from the environment); using the default"
    ]


_KINDS = {
    "Lock": lockorder.Lock,
    "RLock": lockorder.RLock,
    "Condition": lockorder.Condition,
    "Semaphore": lambda: lockorder.Semaphore(2),
    "BoundedSemaphore": lambda: lockorder.BoundedSemaphore(2),
    "wrap-Lock": lambda: lockorder.wrap(threading.Lock()),
    "wrap-RLock": lambda: lockorder.wrap(threading.RLock()),
    "wrap-Condition": lambda: lockorder.wrap(threading.Condition()),
    "wrap-Semaphore": lambda: lockorder.wrap(threading.Semaphore(2)),
    "wrap-BoundedSemaphore": lambda: lockorder.wrap(threading.BoundedSemaphore(2)),
}


@pytest.mark.parametrize("kind", list(_KINDS))
def test_checked_primitives_are_freed_by_reference_counting_alone(kind: str) -> None:
    """As the stdlib's are: code keeping locks in a WeakValueDictionary (oslo.concurrency)
    sees an unused one go at once, not at the next cyclic collection."""
    make: Any = _KINDS[kind]
    outer = lockorder.Lock(name="outer")
    gc.disable()
    try:
        fresh = make()
        assert lockorder.is_checked(fresh)
        ref = weakref.ref(fresh)
        del fresh
        assert ref() is None, f"a checked {kind} outlived its last reference"

        used = make()
        with outer, used:  # a new edge: the slow path keeps evidence, not the lock
            pass
        with used:
            pass
        ref = weakref.ref(used)
        del used
        assert ref() is None, f"a checked {kind} outlived its last reference after use"
    finally:
        gc.enable()
