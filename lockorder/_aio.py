"""Checked asyncio primitives: ``Lock``, ``Condition``, ``Semaphore`` and
``BoundedSemaphore``, subclasses of asyncio's own, with the current task as the
holder (lockorder._tasks). install() puts them in place of ``asyncio.Lock`` and
the others (docs/asyncio.md).

An acquire records its edges "held -> acquired" as a thread's does: the task's
held asyncio locks, through the tracker's slow path, into the one lock-order
graph. What asyncio adds:

- a task that acquires an ``asyncio.Lock`` it holds (asyncio's locks are not
  reentrant) is a ``self-deadlock``: raised at once in raise mode; otherwise
  recorded, and the acquire waits as asyncio's does, yielding to the loop, in
  case another task releases the lock (then it is a signal, as for threads);
- the moment a task starts to wait for a lock, lockorder follows the wait-for
  chain over the tasks (on one loop nothing moves while this task runs, so the
  check is exact): a chain back to this task is a real deadlock, broken with
  ``DeadlockError`` raised in this task, the last to wait;
- a task holding a unit of a semaphore that waits for another unit of the same
  semaphore is a ``nested-acquire`` (asyncpg: nested ``pool.acquire()`` "will
  cause a deadlock under load").

Releases by another task than the acquirer are legal for asyncio's locks; the
first one marks the class as used as a signal, as for threads. Semaphore units
are holds of the task that took them until it gives them back; a release by a
task that holds none marks the semaphore a signal (a limiter handed over).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Literal

from lockorder import (
    _deadlock,
    _discipline,
    _emit,
    _held,
    _loops,
    _primitives,
    _sites,
    _tasks,
    _threads,
    _tracker,
)
from lockorder._held import _drain, _tls, pop, push, steal
from lockorder._primitives import _OffSwitch, _setup, plain
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

__all__ = ["BoundedSemaphore", "Condition", "Lock", "Semaphore"]

_getframe = sys._getframe
_ASYNCIO = ("asyncio.", "lockorder.")

#: asyncio's own classes, which the constructors return with checking off (not
#: the names install() replaces: this module is imported before it does)
_PlainLock = asyncio.Lock
_PlainCondition = asyncio.Condition
_PlainSemaphore = asyncio.Semaphore
_PlainBoundedSemaphore = asyncio.BoundedSemaphore


_Mixin = asyncio.locks._ContextManagerMixin
_get_running_loop = _tasks._get_running_loop
_current_task: Any = _tasks._current_task
#: what a lock's chain-key memo starts at: no key below (lockorder.aio.Lock)
_UNSET = object()
#: asyncio's ``async with`` enters through this method (asyncio.locks)
_AENTER = _Mixin.__aenter__.__code__
#: a Condition's wait() re-acquires its lock from this code
_CONDITION_WAIT = asyncio.locks.Condition.wait.__code__


def _coroutine_function(function: Any) -> Any:
    """Mark a plain function that returns a coroutine as a coroutine function,
    for inspect (3.12+) and asyncio.iscoroutinefunction (before 3.12)."""
    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is not None:
        return mark(function)
    function._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    return function


def _chain(holder: Any, st: Any) -> int:
    """Record the edges of a blocking acquire of ``st`` by ``holder`` (the slow
    path when the chain is new to it); return the chain key to push. An acquire
    under a deadline makes none, as a threading acquire with a timeout."""
    if holder.stolen:
        _drain(holder)
    chains = holder.chains
    if st._lo_user is holder:
        if chains:
            key = hash((chains[-1], st._lo_cid))
            if key not in holder.known and not _deadline(holder):
                if _tasks.current() is not holder:
                    return _standing_in(holder, slow_acquire, st, key)  # type: ignore[no-any-return]
                key = slow_acquire(holder, st, key)
            return key
        first: int = st._lo_cid
        if first not in holder.known:  # (nothing held: no edge, timed or not)
            first_take(holder, st)
        return first
    if chains and _deadline(holder):
        return hash((chains[-1], st._lo_cid))
    new_user(st, holder)
    return _chain(holder, st)


#: asyncio.wait_for's code: its frame, awaiting the acquire, has the timeout
_WAIT_FOR = asyncio.wait_for.__code__


def _top(holder: Any) -> int | None:
    """The key of what ``holder`` holds now (None: nothing)."""
    chains = holder.chains
    return chains[-1] if chains else None


def _deadline(holder: Any) -> bool:
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
    while frame is not None and frame.f_code not in _ACQUIRES:
        frame = frame.f_back
    awaiter = frame.f_back if frame is not None else None
    if awaiter is not None:
        if awaiter.f_code is _WAIT_FOR:
            return awaiter.f_locals.get("timeout") is not None
        if awaiter.f_code is _CONDITION_WAIT:
            return False  # the re-acquire after a wait: no deadline ends it
    top = _top(holder)
    for timeout in getattr(task, "_lo_timeouts", ()):
        if timeout._lo_top == top and timeout.when() is not None:
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


def _standing_in(holder: Any, record: Any, *args: Any) -> Any:
    """``record(holder, *args)`` run in a task made to run the acquire of
    ``holder`` (which waits on it): the edges show where ``holder`` awaited it,
    not the made task's frames, which are asyncio's."""
    _sites._stand_in.stack = lambda: _task_stack(holder)
    try:
        return record(holder, *args)
    finally:
        _sites._stand_in.stack = None


def _thread_locks(holder: Any, ts: Any, st: Any) -> None:
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


def _task_stack(holder: Any) -> tuple[Frame, ...]:
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


def _wait_for(holder: Any, st: Any, restore: bool) -> None:
    """``holder`` starts to wait for ``st`` (``restore``: in a Condition's wait()):
    a wait-for cycle back to it is a real deadlock among tasks, broken here.

    The victim is the task that waits last, unless it is re-acquiring a
    Condition's lock: DeadlockError there would leave its ``async with cond``
    releasing a lock another task holds (asyncio's locks have no owner). Then
    the last of the others gets it, through a cancel of its wait that its
    acquire turns into DeadlockError (_broken)."""
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


def _broken(holder: Any) -> DeadlockError | None:
    """A task's wait was cancelled: by _wait_for, to break a deadlock? Then the
    DeadlockError to raise instead (and the cancel request is taken back)."""
    task = _tasks.task_of(holder)
    finding = getattr(task, "_lo_broken", None)
    if finding is None:
        return None
    del task._lo_broken
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()
    return DeadlockError(finding.format(), finding)


def _stack_of(holder: Any) -> tuple[Frame, ...]:
    if holder.task is not None and holder is not _tasks.current():
        return _task_stack(holder)  # suspended: its await chain
    return _deadlock.thread_stack(holder)


def _holder() -> Any:
    """Who takes and releases a lock here: the running task, or the task whose
    Condition.wait() it runs (ThreadState.helper_for)."""
    state = _tasks.current()
    return state.helper_for or state


class _LockType(_OffSwitch):
    """Lock's metaclass: a class whose acquire or release is replaced after it was
    made (``mock.patch.object(Lock, "acquire")``, or on a subclass) enters and
    exits through them, as asyncio's own Lock does; the fast ``async with``
    comes back when both are put back. (A subclass that defines its own gets
    asyncio's entry from the start: Lock.__init_subclass__.)"""

    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in ("acquire", "release"):
            _route(cls)

    def __delattr__(cls, name: str) -> None:
        super().__delattr__(name)
        if name in ("acquire", "release"):
            _route(cls)


class Lock(asyncio.Lock, metaclass=_LockType):
    """A checked ``asyncio.Lock``: its holder is the task that acquired it.

    Args:
        name: the lock's class name in reports (default: its creation site).
        signal: the lock is used as a signal (released by another task than the
            one that acquired it): a re-acquire by its holder is not a finding.

    With checking disabled, returns a plain ``asyncio.Lock``.
    """

    _lo_plain = (_PlainLock,)

    def __new__(cls, *, name: str | None = None, signal: bool = False, _site: Any = None) -> Lock:
        if checker.settings.enabled:
            return object.__new__(cls)
        return plain(_PlainLock(), name, None, signal)  # type: ignore[no-any-return]

    _lo_sema = False
    _lo_kind = "asyncio.Lock"
    _lo_owner: Any
    _lo_at: Any
    _lo_cls: Any
    _lo_cid: int
    _lo_user: Any
    _locked: bool
    _waiters: Any

    def __init__(self, *, name: str | None = None, signal: bool = False, _site: Any = None) -> None:
        super().__init__()
        _setup(self, self._lo_kind, name, None, signal, _site or _sites.find_site(2))
        # the chain keys __aenter__ pushed last, and the keys below them
        self._lo_below: Any = _UNSET
        self._lo_key: Any = None
        self._lo_mbelow: Any = _UNSET
        self._lo_mkey: Any = None

    @_coroutine_function
    def acquire(self) -> Coroutine[Any, Any, Literal[True]]:
        """Acquire the lock, as ``asyncio.Lock.acquire``; records lock-order edges.

        The holder is the task that awaits the acquire's result: the task that
        runs it, or, when the acquire runs in a task made for it
        (``asyncio.wait_for(lock.acquire(), t)`` before Python 3.12,
        ``gather()``, ``ensure_future()``), the task waiting on that one acquire
        (lockorder._tasks)."""
        # the frame that called acquire(): the program's, past asyncio's
        # __aenter__ (whose frame, once it returns, links to nothing: it must be
        # taken now; where in it the lock was taken is worked out only when a
        # finding needs it, by _sites.acquired_at)
        caller: Any = _getframe(1)
        if caller is not None and caller.f_code is _AENTER:
            caller = caller.f_back
        return self._lo_acquire(caller)

    async def _lo_acquire(self, caller: Any) -> Literal[True]:
        holder = _holder()  # (as the acquire starts: in the task that runs it)
        timer = None
        if self._lo_owner is holder and not _held.is_signal(self) and not _deadline(holder):
            if checker.settings.mode == "raise":
                raise _self_deadlock(self, holder, None)
            # another task may release it (a signal): report only if none has
            # within self_deadlock_wait, from a timer, while this task waits
            wait = checker.settings.self_deadlock_wait
            timer = asyncio.get_running_loop().call_later(wait, _self_deadlock, self, holder, wait)
        _chain(holder, self)
        # the thread's state, in a task's step that install() watches (the same
        # after an await: a loop's tasks all run on its thread)
        step = _tls.__dict__.get("step") if holder.task is not None else None
        if step is not None and len(step.held) > len(step.mirrored) + 1:
            _thread_locks(holder, step, self)  # the thread holds threading locks too
        try:
            if self.locked() and not _deadline(holder):
                _wait_for(holder, self, _getframe(1).f_code is _CONDITION_WAIT)
                try:
                    await super().acquire()
                except asyncio.CancelledError:
                    error = _broken(holder)
                    if error is None:
                        raise
                    raise error from None
                finally:
                    holder.waiting_on = None
                    holder.wait_restore = False
            else:
                await super().acquire()
        finally:
            if timer is not None:
                timer.cancel()
        chains = holder.chains
        chains.append(hash((chains[-1], self._lo_cid)) if chains else self._lo_cid)
        holder.held.append(self)
        self._lo_owner = holder
        self._lo_at = caller
        if step is not None:
            if step.acting is holder:  # (mirror_take, inline: the common case)
                chains = step.chains
                chains.append(hash((chains[-1], self._lo_cid)) if chains else self._lo_cid)
                step.held.append(self)
                step.mirrored.append(self)
            else:
                _tasks.mirror_take(step, holder, self)
        return True

    # ``async with lock:`` takes and gives back the lock here itself when nothing
    # is new (the fast path, as a threading Lock's __enter__): the running task
    # does not hold it, took it last, its chain is known, the lock is free with
    # no task waiting (asyncio's own uncontended acquire, inline: one coroutine
    # less), and its thread, in a step install() watches, holds no threading
    # lock. Anything else goes through acquire() and release(). A subclass that
    # overrides acquire() or release() gets asyncio's __aenter__/__aexit__ back
    # (__init_subclass__), which call them.
    #
    # The chain keys pushed (the task's, and its thread's when it mirrors the
    # task's locks) are memoized on the lock by the object of the key below
    # them: a key is a function of that key and the lock's class, and hashing a
    # tuple is most of a push. On the thread, the memo also stands for the check
    # that it holds no threading lock: the key below is that of the same
    # classes as when the memo was made, which it was only after that check.
    async def __aenter__(self) -> None:
        try:
            holder = _current_task(_get_running_loop())._lo_state
        except (AttributeError, RuntimeError):  # not in a task (or its first acquire)
            holder = None
        if (
            holder is not None
            and self._lo_user is holder
            and not self._locked
            and not self._waiters
            and holder.helper_for is None
            and not holder.stolen
        ):
            chains = holder.chains
            if chains:
                below = chains[-1]
                if below is self._lo_below:
                    key = self._lo_key
                else:
                    key = self._lo_key = hash((below, self._lo_cid))
                    self._lo_below = below
            else:
                key = self._lo_cid
            if key in holder.known:
                # the thread acting for this task: running its step under
                # install(), since the task held an asyncio lock in it
                step = holder.actor
                if step is not None:
                    mirror = step.chains
                    below = mirror[-1] if mirror else None
                    if below is self._lo_mbelow:
                        mkey = self._lo_mkey
                    elif len(step.held) <= len(step.mirrored) + 1:
                        mkey = self._lo_mkey = (
                            hash((below, self._lo_cid)) if mirror else self._lo_cid
                        )
                        self._lo_mbelow = below
                    else:
                        mkey = None  # the thread holds threading locks
                    if mkey is not None:
                        self._locked = True
                        chains.append(key)
                        holder.held.append(self)
                        self._lo_owner = holder
                        self._lo_at = _getframe(1)
                        mirror.append(mkey)  # (mirror_take, inline)
                        step.held.append(self)
                        step.mirrored.append(self)
                        return None
                else:
                    step = _tls.__dict__.get("step")
                    if step is None or len(step.held) <= len(step.mirrored) + 1:
                        self._locked = True
                        chains.append(key)
                        holder.held.append(self)
                        self._lo_owner = holder
                        self._lo_at = _getframe(1)
                        if step is not None:
                            _tasks.mirror_take(step, holder, self)
                        return None
        await self._lo_acquire(_getframe(1))
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            holder = _current_task(_get_running_loop())._lo_state
        except (AttributeError, RuntimeError):
            holder = None
        if holder is self._lo_owner and holder is not None and holder.helper_for is None:
            held = holder.held
            step = holder.actor
            if (
                held
                and held[-1] is self
                and self._locked
                and (
                    step is None
                    or (step.mirrored and step.mirrored[-1] is self and step.held[-1] is self)
                )
            ):
                # asyncio's release, inline: the lock is locked
                self._locked = False
                if self._waiters:
                    self._wake_up_first()
                self._lo_owner = None
                self._lo_at = None
                held.pop()
                holder.chains.pop()
                if step is not None:
                    step.held.pop()
                    step.chains.pop()
                    step.mirrored.pop()
                return None
        self.release()
        return None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.acquire is not Lock.acquire or cls.release is not Lock.release:
            cls.__aenter__ = _Mixin.__aenter__  # type: ignore[method-assign]
            cls.__aexit__ = _Mixin.__aexit__  # type: ignore[method-assign]

    def release(self) -> None:
        """Release the lock, as ``asyncio.Lock.release`` (any task may)."""
        holder = _holder()
        owner = self._lo_owner
        super().release()  # raises RuntimeError if not locked: nothing changed
        self._lo_owner = None
        self._lo_at = None
        if owner is holder:
            held = holder.held
            if held and held[-1] is self:  # (pop, inline: the common case)
                held.pop()
                holder.chains.pop()
            else:
                pop(holder, self)
            if holder.task is not None:
                step = _tls.__dict__.get("step")
                if step is not None and step.acting is holder:
                    held, mirrored = step.held, step.mirrored
                    if held and held[-1] is self and mirrored[-1] is self:  # (inline)
                        held.pop()
                        step.chains.pop()
                        mirrored.pop()
                    else:
                        _tasks.mirror_drop(step, self)
        elif owner is not None:
            if owner.handoff:
                # taken by a task made only to acquire it, which ended: its result
                # handed the lock to whoever collected it (lockorder._tasks)
                pop(owner, self)
                return
            # legal for asyncio's locks; the first time, the class is a signal
            steal(owner, self)
            _discipline.release_not_held(self, holder, owner)


class Condition(asyncio.Condition, metaclass=_OffSwitch):
    """A checked ``asyncio.Condition``: its lock is a checked asyncio lock (its
    own, labelled Condition, unless one is given). With checking disabled,
    returns a plain ``asyncio.Condition``."""

    _lo_plain = (_PlainCondition,)

    def __new__(cls, lock: Any = None) -> Condition:
        if checker.settings.enabled:
            return object.__new__(cls)
        return _PlainCondition(lock)  # type: ignore[return-value]

    def __init__(self, lock: Any = None) -> None:
        if lock is None:
            lock = _ConditionLock(_site=_sites.find_site(2))
        super().__init__(lock)

    @_coroutine_function
    def wait(self) -> Coroutine[Any, Any, Literal[True]]:
        """Wait until notified, as ``asyncio.Condition.wait``.

        The lock is released and re-acquired by the task that *calls* wait(),
        also when the wait runs in a task made for it: ``asyncio.wait_for(cond.
        wait(), t)`` before Python 3.12, ``gather()``, ``ensure_future()``."""
        return self._lo_wait(_tasks.current())

    async def _lo_wait(self, holder: Any) -> Literal[True]:
        runner = _tasks.current()
        if runner is holder or runner.task is None or holder.task is None:
            return await super().wait()
        runner.helper_for = holder
        try:
            return await super().wait()
        finally:
            runner.helper_for = None


class _ConditionLock(Lock):
    _lo_kind = "asyncio.Condition"


class _SemaphoreMixin:
    """Units of a checked asyncio semaphore: each one a hold of the task that
    took it, until that task gives it back."""

    _lo_sema = True
    _lo_holders: list[Any]
    _lo_cls: Any
    _lo_user: Any

    def _lo_sem_init(self, kind: str, name: str | None, site: Any) -> None:
        self._lo_holders = []
        _setup(self, kind, name, None, False, site)

    @_coroutine_function
    def acquire(self) -> Coroutine[Any, Any, Literal[True]]:
        """Acquire a unit; the holder is the task that awaits its result (Lock.acquire)."""
        return self._lo_acquire()

    async def _lo_acquire(self) -> Literal[True]:
        runner = _tasks.current()
        holder = runner.helper_for or runner
        if holder in self._lo_holders and not self._lo_cls.signal and not _deadline(holder):
            _another_unit(self, holder, runner)  # (or capacity taken: a signal now)
        _chain(holder, self)
        step = _tls.__dict__.get("step") if holder.task is not None else None
        if step is not None and len(step.held) > len(step.mirrored) + 1:
            _thread_locks(holder, step, self)  # (as in Lock's acquire)
        await super().acquire()  # type: ignore[misc]
        if not self._lo_cls.signal:
            push(holder, self)
            self._lo_holders.append(holder)
            if step is not None:
                _tasks.mirror_take(step, holder, self)
        return True

    def release(self) -> None:
        super().release()  # type: ignore[misc]
        holder = _tasks.current()
        try:
            self._lo_holders.remove(holder)
        except ValueError:
            if self._lo_handed_on(holder):
                return
            # released by a task that holds no unit: a limiter handed over
            self._lo_unhold(_discipline.RELEASED_BY_ANOTHER)
            return
        pop(holder, self)
        if holder.task is not None:
            ts = _tls.__dict__.get("step")
            if ts is not None and ts.acting is holder:
                _tasks.mirror_drop(ts, self)

    def _lo_unhold(self, why: str) -> None:
        _primitives.unhold(self, why)  # as for threads

    def _lo_handed_on(self, holder: Any) -> bool:
        """``holder`` releases a unit it does not hold: one a task made only to
        acquire it took before it ended? Its result handed the unit on, to whoever
        collected it: this release gives it back (lockorder._tasks)."""
        for other in self._lo_holders:
            if other.handoff:
                self._lo_holders.remove(other)
                pop(other, self)
                return True
        return False


#: Lock's own acquire, release and fast entry and exit (_LockType)
_ACQUIRE = Lock.acquire
_RELEASE = Lock.release
_FAST_AENTER = Lock.__aenter__
_FAST_AEXIT = Lock.__aexit__


def _route(cls: type) -> None:
    """``cls`` (Lock or a subclass) had its acquire or release replaced or put
    back: its ``async with`` goes through them (asyncio's own __aenter__ and
    __aexit__, which call them) unless both are Lock's own again."""
    if cls.acquire is not _ACQUIRE or cls.release is not _RELEASE:  # type: ignore[attr-defined]
        type.__setattr__(cls, "__aenter__", _Mixin.__aenter__)
        type.__setattr__(cls, "__aexit__", _Mixin.__aexit__)
    elif cls is Lock:
        type.__setattr__(cls, "__aenter__", _FAST_AENTER)
        type.__setattr__(cls, "__aexit__", _FAST_AEXIT)
    else:  # a subclass: Lock's, inherited
        for name in ("__aenter__", "__aexit__"):
            if name in cls.__dict__:
                type.__delattr__(cls, name)


class Semaphore(_SemaphoreMixin, asyncio.Semaphore, metaclass=_OffSwitch):
    """A checked ``asyncio.Semaphore``: each unit is held by the task that took it.
    With checking disabled, returns a plain ``asyncio.Semaphore``."""

    _lo_plain = (_PlainSemaphore,)

    def __new__(cls, value: int = 1, *, name: str | None = None, _site: Any = None) -> Semaphore:
        if checker.settings.enabled:
            return object.__new__(cls)
        return plain(_PlainSemaphore(value), name, None)  # type: ignore[no-any-return]

    def __init__(self, value: int = 1, *, name: str | None = None, _site: Any = None) -> None:
        super().__init__(value)
        self._lo_sem_init("asyncio.Semaphore", name, _site or _sites.find_site(2))


class BoundedSemaphore(_SemaphoreMixin, asyncio.BoundedSemaphore, metaclass=_OffSwitch):
    """A checked ``asyncio.BoundedSemaphore``. With checking disabled, returns a
    plain ``asyncio.BoundedSemaphore``."""

    _lo_plain = (_PlainBoundedSemaphore,)

    def __new__(
        cls, value: int = 1, *, name: str | None = None, _site: Any = None
    ) -> BoundedSemaphore:
        if checker.settings.enabled:
            return object.__new__(cls)
        return plain(_PlainBoundedSemaphore(value), name, None)  # type: ignore[no-any-return]

    def __init__(self, value: int = 1, *, name: str | None = None, _site: Any = None) -> None:
        super().__init__(value)
        self._lo_sem_init("asyncio.BoundedSemaphore", name, _site or _sites.find_site(2))


#: a task whose coroutine is one of these was made to run an acquire (lockorder._tasks)
_tasks.ACQUIRES.update((Lock._lo_acquire.__code__, _SemaphoreMixin._lo_acquire.__code__))


# -- findings -----------------------------------------------------------------------------


def _created(name: str, frames: tuple[Frame, ...], task: bool) -> tuple[str, ...]:
    """A finding's line saying where its task was created (its thread started)."""
    if not frames:
        return ()
    text = _sites.started_text(frames, "created" if task else "started")
    return (f"{'task' if task else 'thread'} {name!r} was {text}",)


def _self_deadlock(st: Any, holder: Any, waited: float | None) -> SelfDeadlockError:
    """A task re-acquires an asyncio lock it holds: the finding, and the exception
    raise mode raises at once (``waited`` None). Otherwise called from a timer,
    ``waited`` seconds into the wait, if no other task released the lock: the
    finding is recorded (and warned of), the task goes on waiting."""
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
        details=_created(holder.name, holder.started_at, holder.task is not None),
    )
    error = SelfDeadlockError(finding.format(), finding)
    if waited is not None and not _held.is_signal(st) and _emit.add_finding(finding):
        _emit.emit([finding], holder)
    elif waited is None:
        _emit.add_finding(finding)
    return error


def _another_unit(st: Any, holder: Any, runner: Any) -> None:
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
        stack = _task_stack(holder)
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
        details=_created(holder.name, holder.started_at, holder.task is not None),
    )
    if not _emit.add_finding(finding):
        return None
    error = _emit.emit([finding], holder)
    if isinstance(error, PotentialDeadlockError):
        return error
    return None


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
        details=details + _created(name, _tasks.created_at(task), True),
        holder="task",
    )
    if _emit.add_finding(finding):
        _emit.emit([finding], ts)  # (raise mode: nothing to raise into, it is recorded)


#: the acquires' own code: the frame awaiting one is the program's, or wait_for's
_ACQUIRES = (Lock._lo_acquire.__code__, _SemaphoreMixin._lo_acquire.__code__)

_original_timeout: tuple[Any, Any] | None = None


def patch_timeouts() -> None:
    """Keep, on each task, the ``asyncio.timeout()`` blocks it is in (install()):
    an acquire inside one with a deadline set is a timed acquire (_deadline).
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
            self._lo_top = _top(state) if state is not None else None
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
