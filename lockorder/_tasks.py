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

The holder of an acquire is the task that awaits its result for the lock's
use. A task made only to run a checked ``acquire()`` (``ensure_future()``,
``gather()``, ``wait_for()`` before 3.12, ``create_task()``, a TaskGroup) is
judged when it starts, from the callbacks on it (never from timing): a task
waiting on that one acquire (awaiting the task itself, or a ``gather()``,
``shield()`` or ``wait_for()`` of it) is its holder; otherwise the task holds
what it takes, and since it ends holding it, the lock or unit passes to
whichever task releases it (``ThreadState.handoff``): the tasks are collected
later, by ``asyncio.wait()``, ``as_completed()``, a TaskGroup or a cancel.
"""

from __future__ import annotations

import functools
import types
import weakref
from asyncio import events, tasks
from typing import Any

from lockorder import _emit, _sites, _threads, _unpatched
from lockorder._held import ThreadState, pop, push

__all__ = [
    "ACQUIRES",
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
    if getattr(task.get_coro(), "cr_code", None) in ACQUIRES:
        _made_to_acquire(ts, task)
    return ts


#: the code of the checked primitives' acquire coroutines (lockorder._aio adds them)
ACQUIRES: set[types.CodeType] = set()

#: the names of a task's callback that resumes it when a future it awaits is done
_WAKEUPS = frozenset({"task_wakeup", "__wakeup", "_Task__wakeup"})

#: asyncio's task classes: the C one and the Python one
_TASKS = (tasks.Task, getattr(tasks, "_PyTask", tasks.Task))

#: how deep gather()s and shield()s are followed to the task waiting on them
_DEPTH = 8


def _inner(function: Any, name: str) -> types.CodeType | None:
    """The code of the function ``name`` nested in ``function`` (asyncio's own)."""
    for const in getattr(function, "__code__", types.SimpleNamespace(co_consts=())).co_consts:
        if isinstance(const, types.CodeType) and const.co_name == name:
            return const
    return None


#: the callbacks gather() and shield() put on what they wait for, which lead to
#: the future they complete (their closure's ``outer``)
_OUTERS = tuple(
    code
    for code in (
        _inner(getattr(tasks, "gather", None), "_done_callback"),
        _inner(getattr(tasks, "shield", None), "_inner_done_callback"),
    )
    if code is not None and "outer" in code.co_freevars
)
#: wait_for()'s callback before Python 3.12: partial(_release_waiter, waiter)
_RELEASE_WAITER = getattr(tasks, "_release_waiter", None)


def _made_to_acquire(ts: ThreadState, task: Any) -> None:
    """``task`` was made to run a checked acquire() and starts it now: its holder
    is the task waiting on it, if one is (``helper_for``); else the task itself,
    whose lock passes on when it ends with it (``handoff``)."""
    waiter = _awaited_by(task, 0)
    if waiter is not None and waiter is not task:
        state = getattr(waiter, "_lo_state", None)
        ts.helper_for = state if state is not None else _new_task_state(waiter)
    else:
        ts.handoff = True


def _awaited_by(future: Any, depth: int) -> Any:
    """The task waiting on ``future`` now: awaiting it, or a gather(), shield()
    or (before 3.12) wait_for() of it; None if none is (asyncio.wait(),
    as_completed() and a TaskGroup collect it later)."""
    for entry in getattr(future, "_callbacks", None) or ():
        callback = entry[0] if isinstance(entry, tuple) else entry
        owner = getattr(callback, "__self__", None)
        if getattr(callback, "__name__", None) in _WAKEUPS and isinstance(owner, _TASKS):
            return owner
        if depth >= _DEPTH:
            continue
        outer: Any = None
        if isinstance(callback, functools.partial):
            if callback.func is _RELEASE_WAITER and callback.args:
                outer = callback.args[0]
        elif getattr(callback, "__code__", None) in _OUTERS:
            cell = callback.__closure__[callback.__code__.co_freevars.index("outer")]
            try:
                outer = cell.cell_contents
            except ValueError:  # (not set yet)
                outer = None
        if outer is not None:
            found = _awaited_by(outer, depth + 1)
            if found is not None:
                return found
    return None


def ended(task: Any) -> None:
    """A task that used a checked asyncio primitive is done: what it still holds
    is a held-at-exit finding (lockorder._threads.task_ended). Its done callback;
    under install() the end of its last step calls it first (lockorder._aio), as
    a thread's leaks are reported before a join() of it returns."""
    ts = getattr(task, "_lo_state", None)
    if ts is None or not ts.held or ts.handoff or getattr(task, "_lo_ended", False):
        return  # (a task made to run acquire() hands what it took on: not a leak)
    task._lo_ended = True
    try:
        _threads.task_ended(ts)
    except Exception as exc:  # bookkeeping must never break the loop
        _emit.internal_error(exc)
    _emit.log_new()


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
