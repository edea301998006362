"""asyncio tasks as holders of locks: each task's state, made on its first use
of a checked asyncio primitive and kept on the task itself (``task._lo_state``).

The holder of an asyncio lock is the task that acquired it, never the thread
(every task of a loop runs on one thread) and never a ContextVar (a child task
gets a copy of its parent's context, and would look like the holder of its
parent's locks). Outside any task (no running loop, a plain callback) the
holder is the thread. A task's state is a ThreadState whose ``task`` is a weak
reference to the task: the tracker's slow path, edges and findings work on it
as on a thread's, so one graph holds both.
"""

from __future__ import annotations

import weakref
from asyncio import events, tasks
from typing import Any

from lockorder import _threads, _unpatched
from lockorder._held import ThreadState

__all__ = ["current", "name_of", "task_of"]

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
    task._lo_state = ts
    return ts


def task_of(ts: ThreadState) -> Any:
    """The task of a task's state (None for a thread's, or a task collected)."""
    ref = ts.task
    return ref() if ref is not None else None
