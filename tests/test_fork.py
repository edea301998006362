"""A forked child never inherits one of lockorder's own mutexes locked."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from collections.abc import Callable

import pytest

import lockorder
from lockorder import _install, _ordered, _threads
from lockorder._state import checker
from tests.conftest import TIMEOUT

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")


def _fork_and_wait(child: Callable[[], int]) -> int:
    """Fork; run ``child`` in the child; return its status, or fail if it hangs."""
    with warnings.catch_warnings():  # "this process is multi-threaded" (3.12+)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        status = 99
        try:
            status = child()
        finally:
            os._exit(status)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"the forked child hung for {TIMEOUT} s")


def _use_everything() -> int:
    """In a child: every lockorder mutex works, and the parent's threads are gone."""
    lockorder.configure(mode="record")
    if any(ts.name != "MainThread" for ts in _threads.states()):
        return 10
    a = lockorder.Lock(name="child-a")
    b = lockorder.Lock(name="child-b")
    with a, b:  # a new edge: the slow path, under _tracker's mutex
        pass
    with lockorder.acquire(threading.Lock(), a):  # _ordered's mutex (a foreign lock)
        pass
    lockorder.install()  # _install's mutex
    lockorder.uninstall()
    worker = threading.Thread(target=lambda: a.acquire() and a.release())
    worker.start()  # a thread state made and torn down in the child
    worker.join(TIMEOUT)
    return 0 if not worker.is_alive() else 11


@pytest.mark.parametrize(
    "mutex",
    [lambda: checker.mu, lambda: _install._mu, lambda: _ordered._foreign_mu],
    ids=["tracker", "install", "ordered"],
)
def test_fork_while_another_thread_holds_a_lockorder_mutex(mutex: Callable[[], object]) -> None:
    """The child's teardown of the parent's other threads (their exit callbacks run
    before any after-fork hook) and everything after it work."""
    holding = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with lockorder.Lock(name="worker-lock"):  # this thread has a state and exit callback
            pass
        with mutex():  # type: ignore[attr-defined]
            holding.set()
            done.wait(TIMEOUT)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(TIMEOUT)
        assert _fork_and_wait(_use_everything) == 0
    finally:
        done.set()
        thread.join(TIMEOUT)


def _take(lock: lockorder.Lock) -> None:
    with lock:
        pass


def test_fork_while_other_threads_record_new_edges_many_times() -> None:
    """A stress test: threads keep lockorder's slow path busy (new classes, new
    edges, new thread states) while the main thread forks over and over."""
    lockorder.configure(mode="record")
    stop = threading.Event()
    started = threading.Barrier(3, timeout=TIMEOUT)

    def churn(tag: str) -> None:
        started.wait()
        n = 0
        while not stop.is_set():
            n += 1
            outer = lockorder.Lock(name=f"{tag}-outer-{n}")
            inner = lockorder.RLock(name=f"{tag}-inner-{n}")
            with outer, inner:
                pass
            helper = threading.Thread(target=_take, args=(outer,))
            helper.start()
            helper.join(TIMEOUT)

    threads = [threading.Thread(target=churn, args=(tag,)) for tag in ("x", "y")]
    for thread in threads:
        thread.start()
    try:
        started.wait()
        for _ in range(40):
            assert _fork_and_wait(_use_everything) == 0
    finally:
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT)
