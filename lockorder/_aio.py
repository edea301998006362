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

This module has the classes and the fast ``async with``; their slow paths
(the holder, the edges, timed acquires, deadlocks among tasks, the findings)
are lockorder._aio_rules', and install()'s hooks into asyncio's own code
lockorder._aio_steps'.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Literal

from lockorder import _discipline, _held, _primitives, _sites, _tasks
from lockorder._aio_rules import (
    CONDITION_WAIT,
    another_unit,
    broken,
    chain,
    current_holder,
    deadline,
    self_deadlock,
    start_wait,
    thread_locks,
)
from lockorder._held import _tls, pop, push, steal
from lockorder._primitives import _OffSwitch, _setup, plain
from lockorder._state import checker
from lockorder.errors import hide_from_findings

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["BoundedSemaphore", "Condition", "Lock", "Semaphore"]

_getframe = sys._getframe

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


def _coroutine_function(function: Any) -> Any:
    """Mark a plain function that returns a coroutine as a coroutine function,
    for inspect (3.12+) and asyncio.iscoroutinefunction (before 3.12)."""
    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is not None:
        return mark(function)
    function._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    return function


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
        holder = current_holder()  # (as the acquire starts: in the task that runs it)
        timer = None
        if self._lo_owner is holder and not _held.is_signal(self) and not deadline(holder):
            if checker.settings.mode == "raise":
                raise self_deadlock(self, holder, None)
            # another task may release it (a signal): report only if none has
            # within self_deadlock_wait, from a timer, while this task waits
            wait = checker.settings.self_deadlock_wait
            timer = asyncio.get_running_loop().call_later(wait, self_deadlock, self, holder, wait)
        chain(holder, self)
        # the thread's state, in a task's step that install() watches (the same
        # after an await: a loop's tasks all run on its thread)
        step = _tls.__dict__.get("step") if holder.task is not None else None
        if step is not None and len(step.held) > len(step.mirrored) + 1:
            thread_locks(holder, step, self)  # the thread holds threading locks too
        try:
            if self.locked() and not deadline(holder):
                start_wait(holder, self, _getframe(1).f_code is CONDITION_WAIT)
                try:
                    taken = await super().acquire()
                except asyncio.CancelledError:
                    error = broken(holder)
                    if error is None:
                        raise
                    raise error from None
                finally:
                    holder.waiting_on = None
                    holder.wait_restore = False
            else:
                taken = await super().acquire()
        finally:
            if timer is not None:
                timer.cancel()
        if not self._locked:  # asyncio's acquire patched with one that took nothing
            return taken
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
        holder = current_holder()
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
        if holder in self._lo_holders and not self._lo_cls.signal and not deadline(holder):
            another_unit(self, holder, runner)  # (or capacity taken: a signal now)
        chain(holder, self)
        step = _tls.__dict__.get("step") if holder.task is not None else None
        if step is not None and len(step.held) > len(step.mirrored) + 1:
            thread_locks(holder, step, self)  # (as in Lock's acquire)
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


#: asyncio's own, which ours call (patched under install() through asyncio.Lock)
_BASE_ACQUIRE = _PlainLock.acquire
_BASE_RELEASE = _PlainLock.release


def _route(cls: type) -> None:
    """``cls`` (Lock or a subclass) had its acquire or release replaced or put
    back, or asyncio's own had (under install(), ``asyncio.Lock`` forwards a
    patch to it): its ``async with`` goes through them (asyncio's own
    __aenter__ and __aexit__, which call them) unless all are the originals."""
    if (
        cls.acquire is not _ACQUIRE  # type: ignore[attr-defined]
        or cls.release is not _RELEASE  # type: ignore[attr-defined]
        or _PlainLock.acquire is not _BASE_ACQUIRE
        or _PlainLock.release is not _BASE_RELEASE
    ):
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


def base_patched() -> None:
    """asyncio's own Lock.acquire or release was replaced or put back (a patch of
    ``asyncio.Lock`` under install(), forwarded to it): route Lock's ``async
    with`` accordingly."""
    _route(Lock)
