"""Threads as holders of locks: each thread's ThreadState, made on its first
use of a checked lock and forgotten when it ends (a thread that ends holding
locks is a ``held-at-exit`` finding), the registry of live states, and what a
test's end or a fork does to them.

The registry is guarded by the tracker's mutex (:data:`lockorder._held.mu`);
a thread's own state is touched by that thread only (lockorder._held).
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
import weakref
from typing import Any

from lockorder import _forksafe, _sites, _unpatched
from lockorder._findings import Finding
from lockorder._held import (
    ThreadState,
    _drain,
    _tls,
    is_signal,
    lock_ref,
    mu,
    prune_orphans,
    where_taken,
)
from lockorder._state import checker

__all__ = [
    "ThreadState",
    "abandon_held",
    "current",
    "internal_thread_started",
    "main_ended",
    "other_threads_alive",
    "states",
    "task_ended",
]

_thread_count = getattr(_thread, "_count", lambda: 0)

#: raw threads lockorder itself started (the long-hold monitor, the plugin's
#: watchdog): they never release a program's lock
internal_threads = 0
#: their idents, each added by the thread itself as it starts (dumps leave them out)
internal_idents: set[int] = set()


def internal_thread_started() -> None:
    """Called first by each of lockorder's own raw threads: note its ident, and
    block the signals a process receives in it, so that the kernel delivers them
    to the program's threads. (A SIGTERM delivered to a thread of lockorder's
    would leave the main thread blocked in its read or wait: Python runs the
    handler only when the main thread wakes.)"""
    internal_idents.add(_thread.get_ident())
    import signal

    if hasattr(signal, "pthread_sigmask"):
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        except (OSError, ValueError):  # pragma: no cover - a platform without it
            pass


#: every live thread's state, by serial (guarded by mu): the checker's registry
#: of holders (lockorder._state), the same dict
by_serial: dict[int, ThreadState] = checker.holders
_exit_refs: dict[Any, ThreadState] = {}
_thread_serial = 0
MAIN_SERIAL = 0

#: why a lock left held by a thread that ended is a bug, and the fix (held-at-exit)
ENDED_HOLDING_WHY = (
    "every later acquire of it waits forever, unless another thread releases it; "
    "release it on every path: take it with 'with lock:', or release it in a finally"
)
#: the same for an asyncio task that ended holding an asyncio lock
TASK_ENDED_HOLDING_WHY = (
    "every later acquire of it waits forever, unless another task releases it; "
    "release it on every path: take it with 'async with lock:', or release it in a finally"
)
#: the same for a thread that goes on (held-at-test-end, the pytest plugin)
LEFT_HELD_WHY = (
    "a lock left held blocks every later acquire by another thread forever, and a "
    "later acquire by this thread is a self-deadlock; release it on every path: take "
    "it with 'with lock:', or release it in a finally"
)


class _ExitToken:
    """Lives in the thread-local storage only: it dies when its thread ends."""

    __slots__ = ("__weakref__",)


def thread_object(ident: int) -> threading.Thread | None:
    """The Thread object of ``ident``, also while it starts: before Python 3.11 a
    new thread sets its ``_started`` Event before threading lists it as active."""
    thread: threading.Thread | None = threading._active.get(ident)  # type: ignore[attr-defined]
    if thread is None:
        for starting in list(threading._limbo):  # type: ignore[attr-defined]
            if getattr(starting, "_ident", None) == ident:
                return starting  # type: ignore[no-any-return]
    return thread


def next_serial() -> int:
    """A new holder serial (threads and asyncio tasks share the numbering)."""
    global _thread_serial
    with mu:
        _thread_serial += 1
        return _thread_serial


def _new_thread_state() -> ThreadState:
    global _thread_serial
    ident = _unpatched.get_ident()
    # allocate outside mu: an allocation may run a GC callback that takes a
    # checked lock in this very thread
    thread = thread_object(ident)
    ts = ThreadState(0, ident, thread.name if thread is not None else f"thread-{ident}")
    token = _ExitToken()
    ref = weakref.ref(token, _thread_exited)
    with mu:
        if ident == threading.main_thread().ident and MAIN_SERIAL not in by_serial:
            # the main thread has serial 0 in every process: merged runs (xdist
            # workers) see their test runners' main threads as one thread
            ts.serial = MAIN_SERIAL
        else:
            _thread_serial += 1
            ts.serial = _thread_serial
        by_serial[ts.serial] = ts
        _exit_refs[ref] = ts
    if thread is not None:  # lets a join() find what the joined thread acquired
        thread._lo_state = ts  # type: ignore[attr-defined]
        ts.started_at = getattr(thread, "_lo_started_at", ())
    _tls.ts = ts
    _tls.token = token
    return ts


def current() -> ThreadState:
    """This thread's state, created on first use."""
    try:
        return _tls.ts  # type: ignore[no-any-return]
    except AttributeError:
        return _new_thread_state()


def _owns_as_mutex(ts: ThreadState, st: Any) -> bool:
    """Whether ``ts`` holds ``st`` as a mutex, whose release is its own job: not a
    semaphore unit, nor a Lock used as a signal, which another thread is meant
    to release."""
    return st._lo_owner is ts and not st._lo_sema and not is_signal(st)


def _thread_exited(ref: Any) -> None:
    # Runs as the thread's local storage is torn down: never raise, never block long.
    try:
        if _forksafe.forked():
            # a forked child deletes the parent's other threads before its
            # after-fork hooks run: they did not end, they are not in this
            # process (the hook below forgets them)
            return
        with mu:
            ts = _exit_refs.pop(ref, None)
            if ts is None:
                return
            by_serial.pop(ts.serial, None)
            _report_leaks(ts)
        # not logged here: a log record asks threading.current_thread(), which in
        # a thread threading already forgot makes a _DummyThread that stays for
        # ever; the next finding's flush, or the exit, logs it (lockorder._emit)
        live = sys.modules.get("lockorder._live")
        if live is not None and checker.unlogged:
            live.changed()
    except Exception:  # pragma: no cover - teardown must not fail
        pass


def _report_leaks(ts: ThreadState) -> None:
    """``ts`` ended (a thread, or an asyncio task): the locks it still holds as a
    mutex are a held-at-exit finding. Called under mu."""
    prune_orphans(ts)  # locks the thread dropped while holding them leak nothing
    leaked = [st for st in ts.held if _owns_as_mutex(ts, st)]
    if not leaked:
        return
    for st in leaked:
        st._lo_leaked = True
    refs = tuple(lock_ref(st) for st in leaked)
    stack, taken = where_taken(leaked)
    who = ts.kind
    if ts.started_at:
        verb = "created" if who == "task" else "started"
        taken += (f"{who} {ts.name!r} was {_sites.started_text(ts.started_at, verb)}",)
    finding = Finding(
        kind="held-at-exit",
        severity="warning",
        message=(f"{who} {ts.name!r} ended while holding " + ", ".join(ref.label for ref in refs)),
        locks=refs,
        thread=ts.name,
        stack=stack,
        reason=TASK_ENDED_HOLDING_WHY if who == "task" else ENDED_HOLDING_WHY,
        test=checker.current_test,
        signature="held-at-exit:" + "|".join(ref.key for ref in refs),
        details=taken,
        holder=who,
    )
    checker.add_locked(finding)


def task_ended(ts: ThreadState) -> None:
    """An asyncio task whose state is ``ts`` is done: the asyncio locks it still
    holds as a mutex are a held-at-exit finding, as for a thread that ends.
    The caller logs it (lockorder._emit.log_new)."""
    _drain(ts)  # locks another task released for it
    with mu:
        _report_leaks(ts)


def main_ended() -> None:
    """The program's main code returned or raised, and its non-daemon threads
    ended (``lockorder run``): the locks the main thread still holds as a mutex
    are a held-at-exit finding, as for any thread that ends. The interpreter
    ends the main thread itself only after the report is written. The caller
    logs it (lockorder._emit.log_new)."""
    ts = _tls.__dict__.get("ts")
    if ts is None:  # the main thread never used a checked lock
        return
    _drain(ts)  # locks a test's end or another thread took from it
    with mu:
        _report_leaks(ts)


def other_threads_alive(ts: ThreadState) -> bool:
    """Whether any thread but this one could release a lock: a thread of the
    program, not one of the test runner's (:func:`_runner_threads`)."""
    runners: frozenset[int] = frozenset()
    # _thread._count(): threads started with _thread (or by C code), which
    # threading does not list
    if threading.active_count() > 1 or _thread_count() > internal_threads:
        found = _runner_threads()
        if found is None:
            return True
        runners = found
    with mu:  # a runner's thread has a state once it used a checked lock
        return any(other is not ts and other.ident not in runners for other in by_serial.values())


#: modules whose threads are the test runner's: a thread that started in one of
#: them before any test ran (execnet's receiver thread, on which an xdist worker
#: talks to the controller) runs none of the program's code
RUNNER_THREAD_MODULES = ("execnet", "xdist", "_pytest", "pluggy")
_runner_prefixes = tuple(name + "." for name in RUNNER_THREAD_MODULES)
#: the test runner's threads (ident -> its outermost frame, which tells it from
#: a later thread given the same ident), noted by the pytest plugin as it starts
runner_threads: dict[int, Any] = {}


def note_runner_threads() -> None:
    """Note the test runner's threads alive now (the pytest plugin, before any
    conftest or test runs): those started in a function of
    :data:`RUNNER_THREAD_MODULES`, but never the main thread. A thread a test
    starts later, in any module (execnet's own test suite starts execnet's
    threads), is the program's."""
    main = threading.main_thread().ident
    runner_threads.clear()
    for ident, frame in sys._current_frames().items():
        if ident == main or ident in internal_idents:
            continue
        entry, outermost = _entry(frame)
        if entry in RUNNER_THREAD_MODULES or entry.startswith(_runner_prefixes):
            runner_threads[ident] = outermost


def _entry(frame: Any) -> tuple[str, Any]:
    """The module of a thread's first function (threading's bootstrap left
    out), and its outermost frame, from its innermost ``frame``."""
    entry = ""
    outermost = frame
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "threading" and isinstance(module, str):
            entry = module
        outermost = frame
        frame = frame.f_back
    return entry, outermost


def _runner_threads() -> frozenset[int] | None:
    """The idents of the test runner's threads (:data:`runner_threads`), if
    every thread but the calling one (and lockorder's own) is one of them; else
    None. Any doubt counts as a thread of the program: one not running Python
    code yet, or one threading lists that runs none (C code's)."""
    if not runner_threads:
        return None
    me = _thread.get_ident()
    main = threading.main_thread().ident
    frames = sys._current_frames()
    others = 0  # threads seen running, other than the main thread
    runners = set()
    for ident, frame in frames.items():
        if ident != main:
            others += 1
        if ident == me or ident in internal_idents:
            continue
        if runner_threads.get(ident) is not _entry(frame)[1]:
            return None
        runners.add(ident)
    # threads started with _thread but not running Python code yet
    if _thread_count() > others:
        return None
    # threads threading lists (a C thread that asked for current_thread()) that
    # run no Python code now
    if any(ident not in frames for ident in list(threading._active)):  # type: ignore[attr-defined]
        return None
    return frozenset(runners)


def abandon_held() -> list[tuple[ThreadState, list[Any]]]:
    """Make every lock held by any thread make no more edges (a test ended with
    them held): the calling thread forgets them now, the others at their next
    slow-path acquire (a known chain makes no edge anyway). The locks stay
    locked and owned. Returns (thread state, locks) for each thread that held
    some as a mutex (semaphore units and signal Locks are forgotten silently,
    as at thread exit)."""
    me = current()
    prune_orphans(me)  # locks the test dropped while holding them: no leak
    with mu:
        states = list(by_serial.values())
    abandoned = []
    for ts in states:
        held = list(ts.held)
        if not held:
            continue
        mutexes = [st for st in held if _owns_as_mutex(ts, st)]
        if mutexes:
            abandoned.append((ts, mutexes))
        with ts.mu:
            ts.stolen.extend(held)
    _drain(me)
    return abandoned


def states() -> list[ThreadState]:
    """Every live thread's state."""
    with mu:
        return list(by_serial.values())


def _after_fork_in_child() -> None:
    # mu and each thread's mu are new in the child already (_forksafe)
    me = _tls.__dict__.get("ts")
    by_serial.clear()
    _exit_refs.clear()
    if me is not None:
        by_serial[me.serial] = me
        token = _tls.__dict__.get("token")
        if token is not None:
            _exit_refs[weakref.ref(token, _thread_exited)] = me


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
