"""Checked primitives: Lock, RLock, Condition, Semaphore, BoundedSemaphore.

They are lean classes with ``__slots__`` (a wrapt proxy costs several times a
raw lock before any tracking, see docs/performance.md); lockorder._wrap's
``wrap()`` puts a proxy around an existing object, whose lock operations go
through these classes' code on a "shadow" checked lock.
"""

from __future__ import annotations

import re
import sys
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

from lockorder import _discipline, _forksafe, _held, _impl, _sites, _threads, _tracker, _unpatched
from lockorder._deadlock import wait_acquire
from lockorder._graph import LockClass
from lockorder._held import ThreadState, _drain, _tls, disown, pop, push, steal
from lockorder._state import checker
from lockorder._threads import current
from lockorder._tracker import (
    _record,
    first_take,
    new_user,
    record,
    slow_acquire,
)
from lockorder.errors import hide_from_findings

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

#: the frame that called an acquire: kept on the lock while it is held
_getframe: Callable[[int], FrameType] = sys._getframe

__all__ = [
    "BoundedSemaphore",
    "Condition",
    "Lock",
    "RLock",
    "Semaphore",
]

_new_ts = current
_allocate_lock = _unpatched.allocate_lock
_plain_rlock = _unpatched.RLock


def _validate_name(name: Any) -> str | None:
    if name is None or isinstance(name, str):
        return name
    raise TypeError(f"name must be a str or None, not {type(name).__name__!r}")


def _validate_rank(rank: Any) -> int | None:
    if rank is None or (isinstance(rank, int) and not isinstance(rank, bool)):
        return rank
    raise TypeError(f"rank must be an int or None, not {type(rank).__name__!r}")


def _validate_signal(signal: Any) -> bool:
    if signal is True or signal is False:
        return signal
    raise TypeError(f"signal must be a bool, not {type(signal).__name__!r}")


def _setup(
    obj: Any, kind: str, name: Any, rank: Any, signal: bool, site: _sites.Site | None
) -> None:
    name = _validate_name(name)
    signal = _validate_signal(signal)
    obj._lo_rank = _validate_rank(rank)
    if site is None:
        site = _sites.find_site(3)
    obj._lo_cls, obj._lo_serial = _tracker.register(site, name, kind)
    obj._lo_cid = obj._lo_cls.cid
    obj._lo_owner = None
    #: the thread that acquired it last (see _tracker.new_user)
    obj._lo_user = None
    obj._lo_signal = signal
    obj._lo_leaked = False
    obj._lo_watched = False
    obj._lo_at = None


#: the stdlib objects made with checking off, by plain_with_rank(), and any other
#: plain lock lockorder.acquire() has seen: their place in its order, (unranked,
#: rank, serial), as lockorder._ordered.sort_key gives a checked lock's
plain_order: weakref.WeakKeyDictionary[Any, tuple[bool, int, int]] = weakref.WeakKeyDictionary()
plain_order_mu = _forksafe.Mutex(_unpatched.allocate_lock)


def plain(obj: Any, name: Any, rank: Any, signal: Any = False) -> Any:
    """With checking off, what a constructor returns: ``obj``, the stdlib's own
    object, after the checks the checked constructor makes of ``name``, ``rank``
    and ``signal``; a rank is kept for :func:`lockorder.acquire`, whose order it
    sets."""
    _validate_signal(signal)
    if name is not None:
        _validate_name(name)
    if rank is not None:
        _validate_rank(rank)
        with plain_order_mu:
            plain_order[obj] = (False, rank, checker.next_serial())
    return obj


class _OffSwitch(type):
    """The metaclass of the checked primitives. With checking off their
    constructors return the stdlib's own objects (no cost on any operation), and
    the objects of those exact stdlib types count as instances, so that
    ``isinstance(lockorder.Lock(), lockorder.Lock)`` holds in both modes."""

    #: the stdlib types the constructor returns with checking off
    _lo_plain: tuple[type, ...] = ()

    def __instancecheck__(cls, obj: Any) -> bool:
        if type.__instancecheck__(cls, obj):
            return True
        return not checker.settings.enabled and type(obj) in cls._lo_plain


def _cannot_pickle(raw_type: type) -> NoReturn:
    raise TypeError(f"cannot pickle '{raw_type.__module__}.{raw_type.__qualname__}' object")


def _extra_repr(obj: Any) -> str:
    cls = obj._lo_cls
    name = f"name={cls.name!r} " if cls.name else ""
    return f"{name}site={cls.site} "


class _Checked(metaclass=_OffSwitch):
    """State shared by Lock and RLock (the tracker's LockState)."""

    __slots__ = (
        "__weakref__",
        "_lo_acquire",
        "_lo_at",
        "_lo_cid",
        "_lo_cls",
        "_lo_leaked",
        "_lo_memo_key",
        "_lo_memo_known",
        "_lo_memo_previous",
        "_lo_owner",
        "_lo_rank",
        "_lo_raw",
        "_lo_release",
        "_lo_serial",
        "_lo_signal",
        "_lo_user",
        "_lo_watched",
    )
    _lo_sema = False
    _lo_acquire: Any
    _lo_release: Any
    _lo_raw: Any
    _lo_cls: LockClass
    _lo_cid: int
    _lo_serial: int
    _lo_owner: Any
    _lo_user: Any
    _lo_rank: int | None
    _lo_signal: bool
    _lo_leaked: bool
    _lo_watched: bool
    #: while held: the frame that acquired it (where it was taken, resolved only
    #: when an edge or a finding needs it: _sites.acquired_at)
    _lo_at: Any

    def _lo_init(
        self,
        raw: Any,
        kind: str,
        name: Any,
        rank: Any,
        signal: bool,
        site: _sites.Site | None = None,
    ) -> None:
        self._lo_raw = raw
        self._lo_acquire = raw.acquire
        self._lo_release = raw.release
        _setup(self, kind, name, rank, signal, site)

    def _lo_restore(self, reacquire: Any = None) -> None:
        """Blocking re-acquire after Condition.wait(): a finding is raised only
        once the lock is held again, so the caller's ``with`` stays balanced."""
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if ts.stolen:
            _drain(ts)
        error = None
        # the thread takes it before the edges into it are judged, as __enter__ does
        if self._lo_user is not ts:
            try:
                new_user(self, ts)
            except Exception as exc:  # raised once the lock is held again
                error = exc
        chains = ts.chains
        cid = self._lo_cls.cid
        key = hash((chains[-1], cid)) if chains else cid
        if chains and key not in ts.known:
            error = _record(ts, self, key) or error
        acquire = reacquire or self._lo_acquire
        if not acquire(False):
            wait_acquire(self, ts, acquire, restore=True)
        chains.append(key)
        ts.held.append(self)
        self._lo_owner = ts
        if error is not None:
            raise error

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        _cannot_pickle(type(self._lo_raw))

    def __copy__(self) -> NoReturn:
        _cannot_pickle(type(self._lo_raw))

    def __deepcopy__(self, memo: Any) -> NoReturn:
        _cannot_pickle(type(self._lo_raw))


class Lock(_Checked):
    """A checked ``threading.Lock``.

    Args:
        name: the lock's class name in reports; locks sharing a name share a
            class. Default: the creation site ``path:line``.
        rank: position in :func:`lockorder.acquire`'s order (lower first).
        signal: the lock is used as a signal (released by another thread than
            the one that acquired it): a re-acquire by its holder waits for that
            release instead of being reported as a self-deadlock.

    With checking disabled, returns a plain ``threading.Lock``.
    """

    __slots__ = ()
    _lo_plain = (_unpatched.LockType,)

    def __new__(
        cls, *, name: str | None = None, rank: int | None = None, signal: bool = False
    ) -> Lock:
        if checker.settings.enabled:
            return object.__new__(cls)
        lock = _allocate_lock()
        if rank is None and (name is None or isinstance(name, str)) and signal is False:
            return lock  # type: ignore[return-value]
        return plain(lock, name, rank, signal)  # type: ignore[no-any-return]

    def __init__(
        self, *, name: str | None = None, rank: int | None = None, signal: bool = False
    ) -> None:
        self._lo_init(_unpatched.allocate_lock(), "Lock", name, rank, signal)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # what isinstance(lock, type(threading.Lock())) checks
        return _unpatched.LockType

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock, as ``threading.Lock.acquire``; records lock-order edges."""
        if blocking and timeout == -1:
            entered = self.__enter__()
            self._lo_at = _getframe(1)  # taken by acquire()'s caller, not by acquire()
            return entered
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        # a try-acquire never waits: it does not make the lock shared (a thread
        # that holds it and then waits makes an edge, which does: record())
        if self._lo_acquire(blocking, timeout):
            push(ts, self)
            self._lo_owner = ts
            self._lo_at = _getframe(1)
            return True
        return False

    # __enter__/__exit__ repeat acquire()/release() rather than call them: on the
    # hot path, one Python call more is ~20 ns against ~110 ns for a raw `with`.
    def __enter__(self) -> bool:
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if self._lo_owner is ts:
            return _reacquire(self, ts)
        if self._lo_user is not ts:
            new_user(self, ts)
        chains = ts.chains
        if chains:
            key = hash((chains[-1], self._lo_cid))
            if key not in ts.known:
                key = slow_acquire(ts, self, key)
        else:
            key = self._lo_cid
            if key not in ts.known:  # first blocking acquire of this class by the thread
                first_take(ts, self)
        if not self._lo_acquire(False):
            wait_acquire(self, ts, self._lo_acquire)
        chains.append(key)
        ts.held.append(self)
        self._lo_owner = ts
        self._lo_at = _getframe(1)
        return True

    def release(self) -> None:
        """Release the lock, as ``threading.Lock.release``."""
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if self._lo_owner is ts:
            self._lo_owner = None
            self._lo_at = None
            held = ts.held
            if held and held[-1] is self:
                held.pop()
                ts.chains.pop()
            else:
                pop(ts, self)
            self._lo_release()
        else:
            _release_other(self, ts)

    # three parameters, not *exc: packing a tuple cost ~190 instructions a `with`
    def __exit__(self, exc_type: object = None, exc: object = None, tb: object = None) -> None:
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if self._lo_owner is ts:
            self._lo_owner = None
            self._lo_at = None
            held = ts.held
            if held and held[-1] is self:
                held.pop()
                ts.chains.pop()
            else:
                pop(ts, self)
            self._lo_release()
        else:
            _release_other(self, ts)

    def locked(self) -> bool:
        return self._lo_raw.locked()  # type: ignore[no-any-return]

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def _at_fork_reinit(self) -> None:
        self._lo_raw._at_fork_reinit()
        disown(self)

    def __repr__(self) -> str:
        state = "locked" if self._lo_raw.locked() else "unlocked"
        return f"<{state} lockorder.Lock object {_extra_repr(self)}at {id(self):#x}>"


#: seconds a re-acquire waits for a thread no count shows yet (see _reacquire)
_FOREIGN_THREAD_GRACE = 0.05


def _reacquire(st: Any, ts: Any) -> bool:
    """A blocking acquire of a Lock by the thread that holds it (see docs/concepts.md)."""
    if not _held.is_signal(st):
        # a thread just started with _thread is not counted until it runs: give
        # it a moment before calling the wait certain to last forever
        if not _threads.other_threads_alive(ts) and st._lo_acquire(True, _FOREIGN_THREAD_GRACE):
            return _reacquired(st, ts)
        if not _threads.other_threads_alive(ts):
            error = _discipline.self_deadlock(st, ts, None)
        else:
            wait = checker.settings.self_deadlock_wait
            if st._lo_acquire(True, wait):
                # another thread released it: the lock is used as a signal
                return _reacquired(st, ts)
            error = _discipline.self_deadlock(st, ts, wait)
        if error is not None:
            raise error
    st._lo_acquire()
    return _reacquired(st, ts)


def _reacquired(st: Any, ts: Any) -> bool:
    _drain(ts)
    push(ts, st)
    st._lo_owner = ts
    return True


def _release_other(st: Any, ts: Any) -> None:
    """``ts`` releases a lock it does not hold (legal for a Lock)."""
    owner = st._lo_owner
    st._lo_owner = None
    try:
        st._lo_release()
    except BaseException:
        st._lo_owner = owner
        raise
    if owner is not None:
        steal(owner, st)
        _discipline.release_not_held(st, ts, owner)
    st._lo_at = None  # keep no frame alive


_RLOCK_REPR = re.compile(r"^<(\w+) \S+ object (.*)at 0x[0-9a-f]+>$")


class RLock(_Checked):
    """A checked ``threading.RLock`` (same arguments as :class:`Lock`, but no ``signal``).

    With checking disabled, returns a plain ``threading.RLock``.
    """

    __slots__ = ("_lo_count",)
    _lo_plain = (type(_unpatched.RLock()),)

    def __new__(cls, *, name: str | None = None, rank: int | None = None) -> RLock:
        if checker.settings.enabled:
            return object.__new__(cls)
        lock = _plain_rlock()
        if rank is None and (name is None or isinstance(name, str)):
            return lock  # type: ignore[return-value]
        return plain(lock, name, rank)  # type: ignore[no-any-return]

    def __init__(self, *, name: str | None = None, rank: int | None = None) -> None:
        self._lo_count = 0
        self._lo_init(_unpatched.CRLock(), "RLock", name, rank, False)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._lo_raw)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock, as ``threading.RLock.acquire``; re-entry makes no edge."""
        if blocking and timeout == -1:
            entered = self.__enter__()
            if self._lo_count == 1:  # taken now (not re-entered): by acquire()'s caller
                self._lo_at = _getframe(1)
            return entered
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if self._lo_owner is ts:
            rc = self._lo_acquire(blocking, timeout)
            if rc:
                self._lo_count += 1
            return rc  # type: ignore[no-any-return]
        if not self._lo_acquire(blocking, timeout):  # a try-acquire: see Lock.acquire
            return False
        push(ts, self)
        self._lo_owner = ts
        self._lo_count = 1
        self._lo_at = _getframe(1)
        return True

    # See Lock: the bodies are repeated for speed.
    def __enter__(self) -> bool:
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if self._lo_owner is ts:
            self._lo_acquire()
            self._lo_count += 1
            return True
        if self._lo_user is not ts:
            new_user(self, ts)
        chains = ts.chains
        if chains:
            key = hash((chains[-1], self._lo_cid))
            if key not in ts.known:
                key = slow_acquire(ts, self, key)
        else:
            key = self._lo_cid
            if key not in ts.known:  # first blocking acquire of this class by the thread
                first_take(ts, self)
        if not self._lo_acquire(False):
            wait_acquire(self, ts, self._lo_acquire)
        chains.append(key)
        ts.held.append(self)
        self._lo_owner = ts
        self._lo_count = 1
        self._lo_at = _getframe(1)
        return True

    def release(self) -> None:
        """Release the lock, as ``threading.RLock.release``."""
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if self._lo_owner is ts:
            if self._lo_count > 1:
                self._lo_count -= 1
            else:
                self._lo_owner = None
                self._lo_count = 0
                self._lo_at = None
                held = ts.held
                if held and held[-1] is self:
                    held.pop()
                    ts.chains.pop()
                else:
                    pop(ts, self)
        self._lo_release()

    # three parameters, not *exc: packing a tuple cost ~190 instructions a `with`
    def __exit__(self, exc_type: object = None, exc: object = None, tb: object = None) -> None:
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if self._lo_owner is ts:
            if self._lo_count > 1:
                self._lo_count -= 1
            else:
                self._lo_owner = None
                self._lo_count = 0
                self._lo_at = None
                held = ts.held
                if held and held[-1] is self:
                    held.pop()
                    ts.chains.pop()
                else:
                    pop(ts, self)
        self._lo_release()

    def _is_owned(self) -> bool:
        return self._lo_raw._is_owned()  # type: ignore[no-any-return]

    def _release_save(self) -> Any:
        state = self._lo_raw._release_save()
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if self._lo_owner is ts:
            self._lo_owner = None
            self._lo_count = 0
            pop(ts, self)
        return state

    def _acquire_restore(self, state: Any) -> None:
        raw = self._lo_raw
        count = state[0] if isinstance(state, tuple) and state[0] >= 1 else 1

        def reacquire(blocking: bool = True, timeout: float = -1) -> bool:
            # the RLock's own _acquire_restore cannot time out: take it once,
            # with a timeout, then re-enter to the saved recursion count
            if not raw.acquire(blocking, timeout):
                return False
            for _ in range(count - 1):
                raw.acquire()
            self._lo_count = count
            return True

        self._lo_restore(reacquire)

    if hasattr(_unpatched.CRLock, "_recursion_count"):

        def _recursion_count(self) -> int:
            return self._lo_raw._recursion_count()  # type: ignore[no-any-return]

    if hasattr(_unpatched.CRLock, "locked"):  # Python 3.14

        def locked(self) -> bool:
            return self._lo_raw.locked()  # type: ignore[no-any-return]

    def _at_fork_reinit(self) -> None:
        self._lo_raw._at_fork_reinit()
        self._lo_count = 0
        disown(self)

    def __repr__(self) -> str:
        raw = repr(self._lo_raw)
        match = _RLOCK_REPR.match(raw)
        if match is None:  # pragma: no cover - an RLock repr we do not know
            return f"<lockorder.RLock object {_extra_repr(self)}at {id(self):#x}>"
        state, rest = match.groups()
        return f"<{state} lockorder.RLock object {rest}{_extra_repr(self)}at {id(self):#x}>"


class Condition(_unpatched.Condition, metaclass=_OffSwitch):
    """A ``threading.Condition`` over a checked lock.

    Args:
        lock: the lock to use; default a new checked :class:`RLock`. A plain
            ``threading`` lock is wrapped (:func:`wrap`) so it is checked;
            another object with ``acquire()`` and ``release()`` is used as it
            is, as ``threading.Condition`` uses it.
        name: the name of the default lock's class (ignored when ``lock`` is given).

    ``wait()`` releases the lock and re-acquires it: the re-acquire records the
    same edges as any blocking acquire, and a finding it closes is raised only
    once the lock is held again.
    """

    _lo_plain = (_unpatched.Condition,)

    def __new__(cls, lock: Any = None, *, name: str | None = None) -> Condition:
        if checker.settings.enabled:
            return object.__new__(cls)
        cond = _unpatched.Condition(lock)
        if name is None or lock is not None:  # (as checked: the name of its own lock)
            return cond  # type: ignore[return-value]
        return plain(cond, name, None)  # type: ignore[no-any-return]

    def __enter__(self) -> bool:
        lock = self._lock  # type: ignore[attr-defined]
        entered = lock.__enter__()
        if getattr(lock, "_lo_count", 1) == 1 and hasattr(lock, "_lo_at"):
            # taken now, not re-entered: it was taken here, where `with cond:` is,
            # not in threading's Condition.__enter__
            lock._lo_at = _getframe(1)
        return entered  # type: ignore[no-any-return]

    def __init__(self, lock: Any = None, *, name: str | None = None) -> None:
        if lock is None:
            # the condition's own RLock: its class is labelled a Condition in
            # reports, where an RLock of that line would puzzle a reader
            lock = object.__new__(RLock)
            lock._lo_count = 0
            lock._lo_init(_unpatched.CRLock(), "Condition", name, None, False)
        else:
            from lockorder import _wrap  # (it builds on these classes)

            # a stdlib lock is wrapped so it is checked; another lock-like object
            # (a class of the program's with acquire() and release()) is used as
            # it is, as threading.Condition does: the locks it takes inside are
            # checked if they were made checked
            if not _wrap.is_checked(lock) and _wrap.wrappable(lock):
                lock = _wrap.wrap(lock)
        super().__init__(lock)

    def _acquire_restore(self, x: Any) -> None:
        # Reached for a non-reentrant lock only (an RLock brings its own).
        lock = self._lock  # type: ignore[attr-defined]
        restore = getattr(lock, "_lo_restore", None)
        if restore is not None:
            restore()
        else:  # pragma: no cover - a foreign lock type
            lock.acquire()


class _SemaphoreMixin:
    """Tracking for semaphores: each unit a thread acquires is a hold of that
    thread until the same thread releases it. A release by a thread that holds
    no unit marks the semaphore's class as a signal: its units are no longer
    holds (see docs/concepts.md)."""

    _lo_sema = True
    _lo_raw_acquire: Any
    _lo_raw_release: Any
    _lo_holders: list[Any]
    _lo_user: Any
    _lo_cls: Any

    def _lo_sem_init(self, name: Any, rank: Any, site: _sites.Site | None, kind: str) -> None:
        self._lo_holders = []
        _setup(self, kind, name, rank, False, site)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Acquire one unit, as ``threading.Semaphore.acquire``."""
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        if ts.stolen:
            _drain(ts)
        # the thread takes it before the edges into it are judged (as Lock's
        # __enter__): the acquire that closes a cycle counts as its thread's
        if blocking and timeout is None and self._lo_user is not ts:
            new_user(self, ts)
        if blocking and timeout is None and ts.chains:
            key = hash((ts.chains[-1], self._lo_cls.cid))
            if key not in ts.known:
                record(ts, self, key)
        rc = self._lo_raw_acquire(blocking, timeout)
        if rc and not self._lo_cls.signal:
            holders = self._lo_holders
            if ts in holders and _sites.taken_in_loop(2):
                # another unit, in a loop, by a thread holding one: capacity taken
                # (httpcore shrinks a fresh Semaphore(100) to 1), not holds
                self._lo_unhold(_discipline.TAKEN_AS_CAPACITY)
            else:
                push(ts, self)
                holders.append(ts)
        return rc  # type: ignore[no-any-return]

    __enter__ = acquire

    def release(self, n: int = 1) -> None:
        """Release ``n`` units, as ``threading.Semaphore.release``."""
        self._lo_raw_release(n)
        try:
            ts = _tls.ts
        except AttributeError:
            ts = _new_ts()
        holders = self._lo_holders
        for _ in range(n):
            try:
                holders.remove(ts)
            except ValueError:
                # released by a thread that holds no unit: used as a signal
                self._lo_unhold(_discipline.RELEASED_BY_ANOTHER)
                break
            pop(ts, self)

    def _lo_unhold(self, why: str) -> None:
        unhold(self, why)

    def __exit__(self, *exc: object) -> None:
        self.release()


def unhold(sem: Any, why: str) -> None:
    """A semaphore's class is a signal: no unit of it is a hold any more (its
    holders, threads or asyncio tasks, forget theirs)."""
    _discipline.learned_signal(sem._lo_cls, why)
    holders = sem._lo_holders
    for other in holders[:]:
        steal(other, sem)
    holders.clear()


def _semaphore_state(obj: Any, value: int) -> None:
    if value < 0:
        raise ValueError("semaphore initial value must be >= 0")
    obj._cond = _unpatched.Condition(_unpatched.allocate_lock())
    obj._value = value


class Semaphore(_SemaphoreMixin, _unpatched.Semaphore, metaclass=_OffSwitch):
    """A checked ``threading.Semaphore`` (plus keywords ``name`` and ``rank``)."""

    # functions, not bound methods stored on the instance: a semaphore that
    # referred to itself would outlive its last reference until the cyclic GC
    _lo_raw_acquire = _unpatched.Semaphore.acquire
    _lo_raw_release = _unpatched.Semaphore.release

    _lo_plain = (_unpatched.Semaphore,)

    def __new__(
        cls, value: int = 1, *, name: str | None = None, rank: int | None = None
    ) -> Semaphore:
        if checker.settings.enabled:
            return object.__new__(cls)
        return plain(_unpatched.Semaphore(value), name, rank)  # type: ignore[no-any-return]

    def __init__(self, value: int = 1, *, name: str | None = None, rank: int | None = None) -> None:
        _semaphore_state(self, value)
        self._lo_sem_init(name, rank, None, "Semaphore")


class BoundedSemaphore(_SemaphoreMixin, _unpatched.BoundedSemaphore, metaclass=_OffSwitch):
    """A checked ``threading.BoundedSemaphore`` (plus keywords ``name`` and ``rank``)."""

    _lo_raw_acquire = _unpatched.BoundedSemaphore.acquire  # see Semaphore
    _lo_raw_release = _unpatched.BoundedSemaphore.release

    _lo_plain = (_unpatched.BoundedSemaphore,)

    def __new__(
        cls, value: int = 1, *, name: str | None = None, rank: int | None = None
    ) -> BoundedSemaphore:
        if checker.settings.enabled:
            return object.__new__(cls)
        return plain(_unpatched.BoundedSemaphore(value), name, rank)  # type: ignore[no-any-return]

    def __init__(self, value: int = 1, *, name: str | None = None, rank: int | None = None) -> None:
        _semaphore_state(self, value)
        self._initial_value = value
        self._lo_sem_init(name, rank, None, "BoundedSemaphore")


for _cls in (Lock, RLock, Condition, Semaphore, BoundedSemaphore):
    _cls.__module__ = "lockorder"


# the compiled steady state of Lock and RLock, when it runs (lockorder._impl)
_impl.speed_up(Lock, RLock, _Checked, ThreadState, _tls)
