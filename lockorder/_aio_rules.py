"""asyncio's rules for the checked primitives of lockorder._aio: who holds an
acquire (the task awaiting its result, or the task a helper task stands in
for), the edges of a blocking acquire (``chain``), timed acquires (an acquire
under ``asyncio.wait_for()`` or an ``asyncio.timeout()`` deadline makes no
edge: ``deadline``), real deadlocks among waiting tasks (``start_wait``,
broken with ``DeadlockError``), and the findings only tasks make
(``self_deadlock`` of an asyncio lock, ``nested-acquire`` of a semaphore, or
capacity taken: ``another_unit``). Run on the slow paths only; the fast
``async with`` is lockorder._aio's.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from lockorder import _deadlock, _discipline, _emit, _held, _loops, _sites, _tasks, _tracker
from lockorder._held import _drain
from lockorder._sites import Frame
from lockorder._state import checker
from lockorder._tracker import first_take, new_user, slow_acquire
from lockorder.errors import (
    DeadlockError,
    PotentialDeadlockError,
    SelfDeadlockError,
    hide_from_findings,
)

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = [
    "CONDITION_WAIT",
    "another_unit",
    "await_chain",
    "broken",
    "chain",
    "created_lines",
    "current_holder",
    "deadline",
    "self_deadlock",
    "standing_in",
    "start_wait",
    "thread_locks",
    "top",
]

_getframe = sys._getframe
#: the modules of the frames an await chain leaves out
_ASYNCIO = ("asyncio.", "lockorder.")
#: a Condition's wait() re-acquires its lock from this code
CONDITION_WAIT = asyncio.locks.Condition.wait.__code__


def chain(holder: Any, st: Any) -> int:
    """Record the edges of a blocking acquire of ``st`` by ``holder`` (the slow
    path when the chain is new to it); return the chain key to push. An acquire
    under a deadline makes none, as a threading acquire with a timeout."""
    if holder.stolen:
        _drain(holder)
    chains = holder.chains
    if st._lo_user is holder:
        if chains:
            key = hash((chains[-1], st._lo_cid))
            if key not in holder.known and not deadline(holder):
                if _tasks.current() is not holder:
                    return standing_in(holder, slow_acquire, st, key)  # type: ignore[no-any-return]
                key = slow_acquire(holder, st, key)
            return key
        first: int = st._lo_cid
        if first not in holder.known:  # (nothing held: no edge, timed or not)
            first_take(holder, st)
        return first
    if chains and deadline(holder):
        return hash((chains[-1], st._lo_cid))
    new_user(st, holder)
    return chain(holder, st)


#: asyncio.wait_for's code: its frame, awaiting the acquire, has the timeout
_WAIT_FOR = asyncio.wait_for.__code__


def top(holder: Any) -> int | None:
    """The key of what ``holder`` holds now (None: nothing)."""
    chains = holder.chains
    return chains[-1] if chains else None


def deadline(holder: Any) -> bool:
    """Whether the acquire running now for ``holder`` has a timeout of its own,
    as a threading ``acquire(timeout=...)`` has: it is awaited directly by
    ``asyncio.wait_for()`` with a timeout, or it is made inside an
    ``asyncio.timeout()``/``timeout_at()`` block with a deadline set that the
    holder entered holding what it holds now (no lock taken inside the block
    before this one: seen under install(), patch_timeouts; ``wait_for`` uses
    such a block from Python 3.12 on). Such an acquire cannot wait for ever,
    so, as a timed threading acquire, it makes no edge, no wait-for entry and
    no nested or self-deadlock check. A deadline around a block that takes
    several locks bounds the whole operation, not one acquire: the acquires
    nested in it are checked as any other. Called on the slow paths only."""
    task = _tasks.task_of(holder)
    if task is None:
        return False
    # the frame awaiting the acquire: wait_for's, if it was given the acquire
    frame: Any = _getframe(1)
    while frame is not None and frame.f_code not in _tasks.ACQUIRES:
        frame = frame.f_back
    awaiter = frame.f_back if frame is not None else None
    if awaiter is not None:
        if awaiter.f_code is _WAIT_FOR:
            return awaiter.f_locals.get("timeout") is not None
        if awaiter.f_code is CONDITION_WAIT:
            return False  # the re-acquire after a wait: no deadline ends it
    held_top = top(holder)
    for timeout in getattr(task, "_lo_timeouts", ()):
        if timeout._lo_top == held_top and timeout.when() is not None:
            return True
    if task is asyncio.current_task():
        return False
    # before 3.12, wait_for runs the acquire in a task of its own: the holder
    # awaits wait_for, innermost in its await chain
    coro = task.get_coro()
    innermost: Any = None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        innermost = frame
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return (
        innermost is not None
        and innermost.f_code is _WAIT_FOR
        and innermost.f_locals.get("timeout") is not None
    )


def standing_in(holder: Any, record: Any, *args: Any) -> Any:
    """``record(holder, *args)`` run in a task made to run the acquire of
    ``holder`` (which waits on it): the edges show where ``holder`` awaited it,
    not the made task's frames, which are asyncio's."""
    _sites._stand_in.stack = lambda: task_stack(holder)
    try:
        return record(holder, *args)
    finally:
        _sites._stand_in.stack = None


def thread_locks(holder: Any, ts: Any, st: Any) -> None:
    """A task takes ``st`` while its thread (``ts``) holds threading locks, taken
    in this step or held across an await: record their edges to ``st`` too.
    (Besides them the thread holds the loop it runs, and the task's mirrored
    asyncio locks: the caller checked there is more.)"""
    mirrored = ts.mirrored
    held = [
        entry
        for entry in ts.held
        if not isinstance(entry, _loops.LoopLock) and not any(entry is m for m in mirrored)
    ]
    if held:
        _tracker.record_held(holder, held, st)


def task_stack(holder: Any) -> tuple[Frame, ...]:
    """Where a waiting task is suspended (its await chain), innermost last."""
    task = _tasks.task_of(holder)
    return await_chain(task) if task is not None else ()


def await_chain(task: Any) -> tuple[Frame, ...]:
    """The frames of a suspended task, outermost first: each coroutine awaiting
    the next, down to the innermost await (``Task.get_stack()`` gives one frame)."""
    frames: list[Frame] = []
    coro = task.get_coro()
    while coro is not None and len(frames) < _sites.STACK_LIMIT:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(_ASYNCIO):
            frames.append(Frame(frame.f_code.co_filename, frame.f_lineno, _sites.qualname(frame)))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return tuple(frames)


def start_wait(holder: Any, st: Any, restore: bool) -> None:
    """``holder`` starts to wait for ``st`` (``restore``: in a Condition's wait()):
    a wait-for cycle back to it is a real deadlock among tasks, broken here.

    The victim is the task that waits last, unless it is re-acquiring a
    Condition's lock: DeadlockError there would leave its ``async with cond``
    releasing a lock another task holds (asyncio's locks have no owner). Then
    the last of the others gets it, through a cancel of its wait that its
    acquire turns into DeadlockError (broken)."""
    holder.waiting_on = st
    holder.wait_since = _deadlock.monotonic()
    holder.wait_restore = restore
    cycle = _deadlock.find_cycle(holder)
    if cycle is None or len(cycle) == 1:
        # (a task waiting for a lock it holds itself: another task may release
        # it, asyncio's locks have no owner; the self-deadlock finding said it)
        return
    candidates = [
        node
        for node, waited in cycle
        if not node.wait_restore and (node is holder or _breakable(node, waited))
    ]
    victim = max(candidates, key=lambda node: (node.wait_since, node.serial), default=holder)
    finding = _deadlock.deadlock_finding(cycle, victim, stack_of=_stack_of)
    _emit.add_finding(finding)
    if not _discipline.breaks_deadlocks():
        return
    if victim is holder:
        holder.waiting_on = None
        raise DeadlockError(finding.format(), finding)
    task = _tasks.task_of(victim)
    task._lo_broken = finding
    task.cancel()


def _breakable(node: Any, waited: Any) -> bool:
    """Whether a cancel of ``node``'s task ends its wait for ``waited`` in the
    acquire itself (its task awaits that lock's own future: not a helper task's
    result, as in ``wait_for(lock.acquire())`` before Python 3.12)."""
    task = _tasks.task_of(node)
    if task is None or task.done():
        return False
    future = getattr(task, "_fut_waiter", None)
    return future is not None and any(future is w for w in getattr(waited, "_waiters", None) or ())


def broken(holder: Any) -> DeadlockError | SelfDeadlockError | None:
    """A task's wait was cancelled: by start_wait, to break a deadlock, or by
    self_deadlock's timer? Then the DeadlockError (SelfDeadlockError) to raise
    instead (and the cancel request is taken back)."""
    task = _tasks.task_of(holder)
    finding = getattr(task, "_lo_broken", None)
    if finding is None:
        return None
    del task._lo_broken
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()
    if finding.kind == "self-deadlock":
        return SelfDeadlockError(finding.format(), finding)
    return DeadlockError(finding.format(), finding)


def _stack_of(holder: Any) -> tuple[Frame, ...]:
    if holder.task is not None and holder is not _tasks.current():
        return task_stack(holder)  # suspended: its await chain
    return _deadlock.thread_stack(holder)


def current_holder() -> Any:
    """Who takes and releases a lock here: the running task, or the task whose
    Condition.wait() it runs (ThreadState.helper_for)."""
    state = _tasks.current()
    return state.helper_for or state


# -- findings -----------------------------------------------------------------------------


def created_lines(name: str, frames: tuple[Frame, ...], task: bool) -> tuple[str, ...]:
    """A finding's line saying where its task was created (its thread started)."""
    if not frames:
        return ()
    text = _sites.started_text(frames, "created" if task else "started")
    return (f"{'task' if task else 'thread'} {name!r} was {text}",)


def self_deadlock(st: Any, holder: Any, waited: float | None) -> SelfDeadlockError:
    """A task re-acquires an asyncio lock it holds: the finding, and the exception
    raise mode raises at once (``waited`` None). Otherwise called from a timer,
    ``waited`` seconds into the wait, if no other task released the lock: the
    finding is recorded (and warned of), and with break_deadlocks the task's
    wait ends in SelfDeadlockError (else it goes on waiting)."""
    from lockorder._findings import Finding

    ref = _held.lock_ref(st)
    if waited is None:
        why = "in raise mode a re-acquire raises at once"
    else:
        why = f"no other task released it within {waited:g} s (self_deadlock_wait)"
    finding = Finding(
        kind="self-deadlock",
        severity="error",
        message=f"task {holder.name!r} acquires {ref.label}, which it already holds: "
        "asyncio's locks are not reentrant, it waits until another task releases it",
        locks=(ref,),
        thread=holder.name,
        # (raise mode: here, unless a task made to run the acquire runs this for
        # its holder; a timer: where the waiting task is suspended)
        stack=(
            _sites.capture_stack(3)
            if waited is None and _tasks.current() is holder
            else _stack_of(holder)
        ),
        reason=why + "; a lock another task releases on purpose is a signal: "
        "lockorder.aio.Lock(signal=True)",
        test=checker.current_test,
        signature=f"self-deadlock:{st._lo_cls.key}",
        holder=holder.kind,
        details=created_lines(holder.name, holder.started_at, holder.task is not None),
    )
    error = SelfDeadlockError(finding.format(), finding)
    if waited is None:
        _emit.add_finding(finding)
        return error
    if _held.is_signal(st):  # another task released one of its class meanwhile
        return error
    if _emit.add_finding(finding):
        _emit.emit([finding], holder)
    # certain now, as a thread's re-acquire after self_deadlock_wait: with
    # break_deadlocks (lockorder run, the pytest plugin, raise and warn modes) the
    # wait ends in SelfDeadlockError in the task (broken()), instead of for ever
    if (
        _discipline.breaks_deadlocks()
        and holder.waiting_on is st
        and st._lo_owner is holder
        and _breakable(holder, st)
    ):
        task = _tasks.task_of(holder)
        task._lo_broken = finding
        task.cancel()
    return error


def another_unit(st: Any, holder: Any, runner: Any) -> None:
    """``holder`` holds a unit of the semaphore ``st`` and starts to acquire another
    (itself, or through ``runner``, a task made to run the acquire that it waits
    on). Decided now, before the wait, as for threads (docs/concepts.md): taken
    in a loop of the program's code, it is capacity taken (the class is a signal
    from now on: a dispatcher taking a unit per worker it starts, the workers
    giving them back); else a nested-acquire."""
    if runner is holder:
        frame = _sites._program_frame(3)  # (past _lo_acquire and asyncio's __aenter__)
        stack = _sites.capture_stack(3)
    else:
        frame = _suspended_at(holder)
        stack = task_stack(holder)
    if _sites.in_loop(frame):
        st._lo_unhold(_discipline.TAKEN_AS_CAPACITY)
        return
    error = _nested_acquire(st, holder, stack)
    if error is not None:
        raise error


def _suspended_at(holder: Any) -> Any:
    """The innermost frame of the program's in a suspended task's await chain."""
    task = _tasks.task_of(holder)
    coro = task.get_coro() if task is not None else None
    found = None
    for _ in range(_sites.STACK_LIMIT):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        if not str(frame.f_globals.get("__name__", "")).startswith(_ASYNCIO):
            found = frame
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return found


def _nested_acquire(st: Any, holder: Any, stack: tuple[Frame, ...]) -> Exception | None:
    from lockorder._findings import Finding

    ref = _held.lock_ref(st)
    finding = Finding(
        kind="nested-acquire",
        severity="error",
        message=f"task {holder.name!r} holds a unit of {ref.label} and waits for another "
        "unit of it: once every unit is held by a task doing the same, all wait for ever",
        locks=(ref,),
        thread=holder.name,
        stack=stack,
        reason="a semaphore (a pool, a limiter) acquired again by a holder of one of its "
        "units deadlocks under load",
        test=checker.current_test,
        signature=f"nested-acquire:{st._lo_cls.key}",
        holder=holder.kind,
        details=created_lines(holder.name, holder.started_at, holder.task is not None),
    )
    if not _emit.add_finding(finding):
        return None
    error = _emit.emit([finding], holder)
    if isinstance(error, PotentialDeadlockError):
        return error
    return None
