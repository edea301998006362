"""The event loop as a lock (docs/asyncio.md, "The event loop as a lock").

While a loop runs, every task and callback of it runs on its thread: code on
the loop "holds" the loop, and a thread that waits for the loop to run
something (``run_coroutine_threadsafe(...).result()``) "acquires" it. So
under install():

- the thread that runs a loop holds a pseudo-lock of it for as long as
  ``run_forever()`` runs (``asyncio.run()``, ``run_until_complete()``): every
  blocking acquire of a threading lock on that thread makes the edge
  "loop -> lock", through the tracker's ordinary slow path and chain cache;
- a thread that waits on the future of ``run_coroutine_threadsafe(coro,
  loop)`` makes the edge "held locks -> loop";

and a cycle through a loop is a potential deadlock like any other: a thread
holds L and waits for a coroutine of the loop, while code on the loop takes L
(Airflow's ``DeadlockImminentError``, griptape, hivemind; docs/asyncio.md).
Waiting for the loop from the loop's own thread can only hang: it is a
``deadlock``, raised at once when the wait has no timeout.

The pseudo-lock is a lock class keyed by where the loop was run (the line of
``asyncio.run(...)``), of kind "event loop". It is never a mutex of its holder
(``_lo_sema``): it is not a leak, not a gate, not a signal.
"""

from __future__ import annotations

from typing import Any

from lockorder import _emit, _held, _sites, _threads, _tracker
from lockorder._held import pop, push
from lockorder._state import checker
from lockorder.errors import hide_from_findings

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["loop_lock", "patch", "unpatch"]

_saved: dict[str, Any] = {}


class LoopLock:
    """The lock state of one event loop (the tracker's LockState)."""

    __slots__ = (
        "__weakref__",
        "_lo_at",
        "_lo_cid",
        "_lo_cls",
        "_lo_leaked",
        "_lo_owner",
        "_lo_serial",
        "_lo_signal",
        "_lo_user",
        "_lo_watched",
        "loop",
    )
    _lo_sema = True  # held by running the loop, never a mutex of its thread

    def __init__(self, loop: Any, site: _sites.Site) -> None:
        self._lo_cls, self._lo_serial = _tracker.register(site, None, "event loop")
        self._lo_cid = self._lo_cls.cid
        self._lo_owner: Any = None
        self._lo_user: Any = None
        self._lo_signal = False
        self._lo_leaked = False
        self._lo_watched = False
        self._lo_at: Any = None
        self.loop = loop


def loop_lock(loop: Any, site: _sites.Site | None = None) -> LoopLock:
    """The pseudo-lock of ``loop``, made the first time it is asked for."""
    lock: LoopLock | None = getattr(loop, "_lo_loop_lock", None)
    if lock is None:
        lock = LoopLock(loop, site or _sites.find_site(3))
        loop._lo_loop_lock = lock
    return lock


def _run_forever(original: Any) -> Any:
    def run_forever(self: Any) -> Any:
        ts = _threads.current()
        lock = loop_lock(self)
        _take_loop(ts, lock)  # running a loop while holding locks: its code runs under them
        push(ts, lock)
        lock._lo_owner = ts
        try:
            return original(self)
        finally:
            lock._lo_owner = None
            pop(ts, lock)

    run_forever.__wrapped__ = original  # type: ignore[attr-defined]
    return run_forever


def _run_coroutine_threadsafe(original: Any) -> Any:
    def run_coroutine_threadsafe(coro: Any, loop: Any) -> Any:
        future = original(coro, loop)
        future._lo_loop = loop  # Future.result() knows it waits for this loop
        return future

    run_coroutine_threadsafe.__wrapped__ = original  # type: ignore[attr-defined]
    return run_coroutine_threadsafe


def waiting_for_loop(ts: Any, loop: Any, timeout: Any, done: bool) -> Exception | None:
    """``ts`` is about to wait on a future that ``loop`` completes (``done``: it
    already has): record the edges "held -> loop"; waiting from the loop's own
    running thread is a real deadlock (returned, to raise, when the wait has no
    timeout)."""
    lock = loop_lock(loop)
    if lock._lo_owner is ts:
        return None if done else _waits_for_itself(lock, ts, timeout)
    _take_loop(ts, lock)
    return None


def _take_loop(ts: Any, lock: LoopLock) -> None:
    """``ts`` takes ``lock`` (runs or waits for its loop): the edges "held -> loop",
    through the slow path when the chain is new to the thread. The thread takes
    the loop first, as an acquire takes its lock before its edges are judged: a
    loop run by one thread and waited for by another is shared (graph.judge)."""
    if lock._lo_user is not ts:
        _tracker.new_user(lock, ts)
    chains = ts.chains
    if chains and not ts.suppress:
        key = hash((chains[-1], lock._lo_cid))
        if key not in ts.known:
            _tracker.record(ts, lock, key)


def _waits_for_itself(lock: LoopLock, ts: Any, timeout: Any) -> Exception | None:
    from lockorder._findings import Finding
    from lockorder.errors import DeadlockError

    ref = _held.lock_ref(lock)
    timed = timeout is not None
    finding = Finding(
        kind="deadlock",
        severity="error",
        message=f"thread {ts.name!r} waits for a coroutine it submitted to {ref.label}, "
        "the loop it is running itself: the loop cannot run it until this wait ends",
        locks=(ref,),
        thread=ts.name,
        stack=_sites.capture_stack(3),
        reason=(
            f"the wait has a timeout ({timeout!r} s): it will end with TimeoutError"
            if timed
            else "the wait has no timeout: it would hang, so it raises DeadlockError now"
        ),
        test=checker.current_test,
        signature=f"deadlock:loop-waits-for-itself:{ref.key}",
    )
    if _emit.add_finding(finding) and not timed:
        return DeadlockError(finding.format(), finding)
    return None


def _create_task(original: Any) -> Any:
    def create_task(self: Any, *args: Any, **kwargs: Any) -> Any:
        task = original(self, *args, **kwargs)
        try:
            # findings that name the task say where the program created it
            task._lo_origin = _sites.task_origin(2)
        except Exception:  # a task factory's own class without a __dict__: unknown
            pass
        return task

    create_task.__wrapped__ = original  # type: ignore[attr-defined]
    return create_task


def patch() -> None:
    """Hold each loop while it runs; tag run_coroutine_threadsafe's futures and
    each task with where it was created."""
    import asyncio
    from asyncio import base_events, tasks

    if _saved:
        return
    _saved["create_task"] = base_events.BaseEventLoop.create_task
    base_events.BaseEventLoop.create_task = _create_task(  # type: ignore[method-assign]
        _saved["create_task"]
    )
    _saved["run_forever"] = base_events.BaseEventLoop.run_forever
    base_events.BaseEventLoop.run_forever = _run_forever(  # type: ignore[method-assign]
        _saved["run_forever"]
    )
    _saved["run_coroutine_threadsafe"] = tasks.run_coroutine_threadsafe
    wrapper = _run_coroutine_threadsafe(_saved["run_coroutine_threadsafe"])
    tasks.run_coroutine_threadsafe = wrapper
    asyncio.run_coroutine_threadsafe = wrapper


def unpatch() -> None:
    import asyncio
    from asyncio import base_events, tasks

    if not _saved:
        return
    base_events.BaseEventLoop.run_forever = _saved.pop("run_forever")  # type: ignore[method-assign]
    base_events.BaseEventLoop.create_task = _saved.pop("create_task")  # type: ignore[method-assign]
    original = _saved.pop("run_coroutine_threadsafe")
    tasks.run_coroutine_threadsafe = original
    asyncio.run_coroutine_threadsafe = original
