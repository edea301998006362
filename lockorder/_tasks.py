"""asyncio tasks as holders of locks: each task's state, made on its first use
of a checked asyncio primitive and kept on the task itself (``task._lo_state``).

The holder of an asyncio lock is the task that acquired it, never the thread
(every task of a loop runs on one thread) and never a ContextVar (a child task
gets a copy of its parent's context, and would look like the holder of its
parent's locks). Outside any task (no running loop, a plain callback) the
holder is the thread. A task's state is a ThreadState whose ``task`` is a weak
reference to the task: the tracker's slow path, edges and findings work on it
as on a thread's, so one graph holds both.

The locks of the two kinds meet on the loop's thread: a task that holds an
asyncio lock and takes a threading lock (or the reverse) orders the two. While
a step of a task that holds asyncio locks runs, its thread *acts for* the task:
the task's asyncio locks are mirrored on the thread's held stack, so the
thread's acquires make the edges "asyncio lock -> threading lock" through the
ordinary fast and slow paths (and the edges are the task's). The mirror is
taken down when the step ends.
"""

from __future__ import annotations

import weakref
from asyncio import events, tasks
from typing import Any

from lockorder import _sites, _threads, _unpatched
from lockorder._held import ThreadState, pop, push

__all__ = [
    "act_for",
    "created_at",
    "current",
    "ended",
    "mirror_drop",
    "mirror_take",
    "name_of",
    "recheck",
    "stop_acting",
    "task_of",
]

_get_running_loop = events._get_running_loop
_current_task = tasks.current_task


def current() -> ThreadState:
    """The holder state of the running task, else of this thread."""
    loop = _get_running_loop()
    if loop is not None:
        task = _current_task(loop)
        if task is not None:
            try:
                return task._lo_state  # type: ignore[attr-defined,no-any-return]
            except AttributeError:
                return _new_task_state(task)
    return _threads.current()


def name_of(task: Any) -> str:
    """How findings name a task: its name and its coroutine's, "Task-2 (transfer)"."""
    coro = task.get_coro()
    # the function's own name, as threading names a thread by its target's
    function = getattr(coro, "__name__", None)
    name = str(task.get_name())
    return f"{name} ({function})" if function else name


def _new_task_state(task: Any) -> ThreadState:
    ts = ThreadState(_threads.next_serial(), _unpatched.get_ident(), name_of(task))
    ts.task = weakref.ref(task)
    # where the program created it (under install(): lockorder._loops)
    ts.started_at = created_at(task)
    task._lo_state = ts
    task.add_done_callback(ended)
    return ts


def ended(task: Any) -> None:
    """A task that used a checked asyncio primitive is done: what it still holds
    is a held-at-exit finding (lockorder._threads.task_ended). Its done callback;
    under install() the end of its last step calls it first (lockorder._aio), as
    a thread's leaks are reported before a join() of it returns."""
    ts = getattr(task, "_lo_state", None)
    if ts is None or not ts.held or getattr(task, "_lo_ended", False):
        return
    task._lo_ended = True
    try:
        _threads.task_ended(ts)
    except Exception as exc:  # bookkeeping must never break the loop
        from lockorder import _emit

        _emit.internal_error(exc)


def created_at(task: Any) -> tuple[_sites.Frame, ...]:
    """The program's lines that created ``task`` (under install(): lockorder._loops)."""
    origin = getattr(task, "_lo_origin", None)
    return _sites.origin_frames(origin) if origin else ()


def task_of(ts: ThreadState) -> Any:
    """The task of a task's state (None for a thread's, or a task collected)."""
    ref = ts.task
    return ref() if ref is not None else None


# -- a thread acting for the task whose step it runs ----------------------------------------


def act_for(ts: ThreadState, task_state: ThreadState) -> None:
    """``ts`` runs a step of the task of ``task_state``: mirror its held locks."""
    if ts.acting is not None:
        ts.acting.actor = None
    ts.acting = task_state
    task_state.actor = ts
    held, chains = ts.held, ts.chains
    top = chains[-1] if chains else None
    for st in task_state.held:
        cid = st._lo_cls.cid
        top = cid if top is None else hash((top, cid))
        chains.append(top)
        held.append(st)
    ts.mirrored.extend(task_state.held)


def stop_acting(ts: ThreadState) -> None:
    """The step ended (or another task's began): take the mirror down."""
    mirrored = ts.mirrored
    count = len(mirrored)
    held = ts.held
    if count and held[-count:] == mirrored:  # on top, as mirrored (the common case)
        del held[-count:]
        del ts.chains[-count:]
        mirrored.clear()
    else:
        while mirrored:
            pop(ts, mirrored.pop())
    if ts.acting is not None:
        ts.acting.actor = None
    ts.acting = None


def mirror_take(ts: ThreadState, holder: ThreadState, st: Any) -> None:
    """The task of ``holder``, in a step on the thread of ``ts``, now holds ``st``
    (pushed on its own stack)."""
    if ts.acting is holder:
        push(ts, st)
        ts.mirrored.append(st)
        return
    if ts.acting is not None:
        stop_acting(ts)  # (an eager task's first step ran inside another task's)
    act_for(ts, holder)


def mirror_drop(ts: ThreadState, st: Any) -> None:
    """The task ``ts`` acts for released ``st``."""
    mirrored = ts.mirrored
    for index in range(len(mirrored) - 1, -1, -1):
        if mirrored[index] is st:
            del mirrored[index]
            pop(ts, st)
            return


def recheck(ts: ThreadState) -> bool:
    """On the slow path of a thread that acts for a task: is the mirror still
    the running task's? Puts it right if not; returns whether it changed."""
    loop = _get_running_loop()
    task = _current_task(loop) if loop is not None else None
    state: ThreadState | None = getattr(task, "_lo_state", None)
    if state is ts.acting:
        return False
    stop_acting(ts)
    if state is not None and state.held:
        act_for(ts, state)
    return True
