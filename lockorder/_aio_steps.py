"""Under install(): the hooks asyncio's own code gets. Every task step is
watched (``patch_steps``): a threading lock a step took and still holds is a
``held-across-await`` finding, a step of a task holding asyncio locks runs with
its thread acting for the task, and a task's last step says what it held at its
end. ``asyncio.timeout()`` blocks are kept on their task (``patch_timeouts``),
for lockorder._aio_rules.deadline to tell a timed acquire.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lockorder import _emit, _held, _sites, _tasks, _threads
from lockorder._aio_rules import await_chain, created_lines, top
from lockorder._held import _tls
from lockorder._state import checker
from lockorder.errors import hide_from_findings

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["patch_steps", "patch_timeouts", "unpatch_steps", "unpatch_timeouts"]

# -- a threading lock held across an await ------------------------------------------------

_original_run: Any = None


def _checked_run(self: Any) -> None:
    """asyncio.events.Handle._run under install(): after a task's step, a
    threading lock the step took and still holds is held across an await."""
    state = _tls.__dict__
    ts = state.get("ts")
    if ts is None:
        ts = _threads.current()
    before = len(ts.held)
    # a step of a task holding asyncio locks: its thread acts for it (lockorder._tasks)
    task: Any = getattr(self._callback, "__self__", None)
    task_state = getattr(task, "_lo_state", None)
    if task_state is not None and task_state.held:
        _tasks.act_for(ts, task_state)
    # (a thread acts for a task only inside a step this hook sees: not under uvloop)
    state["step"] = ts
    try:
        _original_run(self)
    finally:
        state["step"] = None
        if ts.acting is not None:
            _tasks.stop_acting(ts)
    if len(ts.held) > before:
        _after_step(self, ts, before)
    # the task's last step: what it still holds, it held at its end (held-at-exit),
    # said now, before the tasks that await it run
    task_state = getattr(task, "_lo_state", None)
    if task_state is not None and task_state.held and task.done():
        _tasks.ended(task)


def _after_step(handle: Any, ts: Any, before: int) -> None:
    task = getattr(handle._callback, "__self__", None)
    if task is None or not hasattr(task, "get_coro") or task.done():
        return  # a plain callback, or the task ended (held-at-exit is the thread's)
    for st in list(ts.held[before:]):
        if st._lo_sema or _held.is_signal(st) or st._lo_owner is not ts:
            continue
        try:
            _held_across_await(st, ts, task)
        except Exception as exc:  # bookkeeping must never break the loop
            _emit.internal_error(exc)


def _held_across_await(st: Any, ts: Any, task: Any) -> None:
    from lockorder._findings import Finding

    ref = _held.lock_ref(st)
    name = task._lo_state.name if hasattr(task, "_lo_state") else _tasks.name_of(task)
    stack = await_chain(task)
    where = _held.held_site(st)
    details: tuple[str, ...] = ()
    if where is not None:
        details = (
            f"{ref.label} acquired at {_sites.relpath(where.filename)}:{where.lineno} in "
            f"{where.function}",
        )
    finding = Finding(
        kind="held-across-await",
        severity="error",
        message=f"task {name!r} suspended at an await while holding {ref.label}, a "
        f"threading lock of thread {ts.name!r}",
        locks=(ref,),
        thread=name,
        stack=stack,
        reason="another task of this loop that takes it blocks the loop's thread until "
        "this task resumes, which it then never does (an RLock lets the other task in: "
        "the thread owns it); take an asyncio.Lock, or release it before the await",
        test=checker.current_test,
        signature=f"held-across-await:{ref.key}",
        details=details + created_lines(name, _tasks.created_at(task), True),
        holder="task",
    )
    if _emit.add_finding(finding):
        _emit.emit([finding], ts)  # (raise mode: nothing to raise into, it is recorded)


_original_timeout: tuple[Any, Any] | None = None


def patch_timeouts() -> None:
    """Keep, on each task, the ``asyncio.timeout()`` blocks it is in (install()):
    an acquire inside one with a deadline set is a timed acquire (deadline).
    ``asyncio.wait_for()`` uses one from Python 3.12 on. No-op before 3.11."""
    global _original_timeout
    timeouts = getattr(asyncio, "timeouts", None)
    if timeouts is None or _original_timeout is not None:
        return
    cls = timeouts.Timeout
    enter, leave = cls.__aenter__, cls.__aexit__
    _original_timeout = (enter, leave)

    async def __aenter__(self: Any) -> Any:
        entered = await enter(self)
        task = getattr(self, "_task", None)
        if task is not None:
            state = getattr(task, "_lo_state", None)
            self._lo_top = top(state) if state is not None else None
            try:
                task._lo_timeouts.append(self)
            except AttributeError:
                task._lo_timeouts = [self]
        return entered

    async def __aexit__(self: Any, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await leave(self, exc_type, exc, tb)
        finally:
            inside = getattr(getattr(self, "_task", None), "_lo_timeouts", None)
            if inside:
                for index in range(len(inside) - 1, -1, -1):
                    if inside[index] is self:
                        del inside[index]
                        break

    cls.__aenter__ = __aenter__
    cls.__aexit__ = __aexit__


def unpatch_timeouts() -> None:
    global _original_timeout
    if _original_timeout is not None:
        cls = asyncio.timeouts.Timeout  # type: ignore[attr-defined]
        cls.__aenter__, cls.__aexit__ = _original_timeout
    _original_timeout = None


def patch_steps() -> None:
    """Watch every task step for threading locks held across an await (install())."""
    global _original_run
    from asyncio import events

    if _original_run is None:
        _original_run = events.Handle._run
        events.Handle._run = _checked_run  # type: ignore[method-assign]


def unpatch_steps() -> None:
    global _original_run
    from asyncio import events

    if _original_run is not None and events.Handle._run is _checked_run:
        events.Handle._run = _original_run  # type: ignore[method-assign]
    _original_run = None
