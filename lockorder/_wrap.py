"""wrap(): a checked proxy around an existing lock, RLock, Condition or semaphore.

The proxy (wrapt's ``BaseObjectProxy``) forwards every attribute to the wrapped
object; its lock operations go through the checked primitives' code
(lockorder._primitives), on a "shadow" checked lock that shares the wrapped
object's underlying lock. Also: which objects are checked, and where a checked
object keeps its tracking state.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

import wrapt

from lockorder import _sites, _unpatched
from lockorder._primitives import (
    BoundedSemaphore,
    Condition,
    Lock,
    RLock,
    Semaphore,
    _cannot_pickle,
    _extra_repr,
    _SemaphoreMixin,
    _validate_name,
)
from lockorder._state import checker
from lockorder.errors import hide_from_findings

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["is_checked", "state_of", "wrap"]

_getframe: Callable[[int], FrameType] = sys._getframe


class _SemaphoreShadow(_SemaphoreMixin):
    """Tracking state for a wrapped stdlib semaphore (calls its own methods)."""

    def __init__(self, sem: Any, name: Any, site: _sites.Site) -> None:
        self._lo_raw_acquire = sem.acquire
        self._lo_raw_release = sem.release
        self._lo_sem_init(name, None, site, type(sem).__name__)


def _shadow_lock(raw: Any, name: Any, site: _sites.Site) -> Any:
    if isinstance(raw, _unpatched.LockType):
        lock: Any = object.__new__(Lock)
        lock._lo_init(raw, "Lock", name, None, False, site)
    else:
        lock = object.__new__(RLock)
        lock._lo_count = 0
        lock._lo_init(raw, "RLock", name, None, False, site)
    return lock


def _taken_by_caller(st: Any) -> None:
    """A delegating acquire (a wrap() proxy's) took ``st``: it was taken where the
    delegate was called, two frames up, not in lockorder (whose frame would also
    keep ``st`` alive). A re-entered RLock keeps the site of its first hold."""
    if getattr(st, "_lo_count", 1) == 1 and hasattr(st, "_lo_at"):
        st._lo_at = _getframe(2)


class _Proxy(wrapt.BaseObjectProxy):  # type: ignore[type-arg,unused-ignore]
    """A checked proxy: lock operations go to ``_self_checked``, the rest to the
    wrapped object."""

    def __init__(self, wrapped: Any, checked: Any) -> None:
        super().__init__(wrapped)
        self._self_checked = checked

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        taken = self._self_checked.acquire(*args, **kwargs)
        if taken:
            _taken_by_caller(self._self_state)
        return taken

    def release(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_checked.release(*args, **kwargs)

    def __enter__(self) -> Any:
        entered = self._self_checked.__enter__()
        _taken_by_caller(self._self_state)
        return entered

    def __exit__(self, *exc: Any) -> Any:
        return self._self_checked.__exit__(*exc)

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        _cannot_pickle(type(self.__wrapped__))

    def __copy__(self) -> NoReturn:
        _cannot_pickle(type(self.__wrapped__))

    def __deepcopy__(self, memo: Any) -> NoReturn:
        _cannot_pickle(type(self.__wrapped__))

    def __repr__(self) -> str:
        return f"<lockorder.wrap({self.__wrapped__!r}) {_extra_repr(self._self_state).strip()}>"

    @property
    def _self_state(self) -> Any:
        checked = self._self_checked
        return checked._lock if isinstance(checked, Condition) else checked  # type: ignore[attr-defined]


class _LockProxy(_Proxy):
    def locked(self) -> bool:
        return self._self_checked.locked()  # type: ignore[no-any-return]

    def _lo_restore(self) -> None:
        self._self_checked._lo_restore()

    def _at_fork_reinit(self) -> None:
        self._self_checked._at_fork_reinit()


class _RLockProxy(_Proxy):
    def _is_owned(self) -> bool:
        return self._self_checked._is_owned()  # type: ignore[no-any-return]

    def _release_save(self) -> Any:
        return self._self_checked._release_save()

    def _acquire_restore(self, state: Any) -> None:
        self._self_checked._acquire_restore(state)

    def _at_fork_reinit(self) -> None:
        self._self_checked._at_fork_reinit()


class _ConditionProxy(_Proxy):
    def wait(self, timeout: float | None = None) -> bool:
        return self._self_checked.wait(timeout)  # type: ignore[no-any-return]

    def wait_for(self, predicate: Any, timeout: float | None = None) -> Any:
        return self._self_checked.wait_for(predicate, timeout)

    def notify(self, n: int = 1) -> None:
        self._self_checked.notify(n)

    def notify_all(self) -> None:
        self._self_checked.notify_all()

    notifyAll = notify_all

    def _is_owned(self) -> bool:
        return self._self_checked._is_owned()  # type: ignore[no-any-return]

    def _at_fork_reinit(self) -> None:
        self._self_checked._at_fork_reinit()


class _SemaphoreProxy(_Proxy):
    pass


_CHECKED_TYPES = (Lock, RLock, Condition, Semaphore, BoundedSemaphore, _Proxy)


def state_of(lock: Any) -> Any:
    """The object that carries the tracking state of a checked primitive or proxy
    (a Condition's: its lock's)."""
    if isinstance(lock, _Proxy):
        return lock._self_state
    if isinstance(lock, Condition):
        return state_of(lock._lock)  # type: ignore[attr-defined]
    return lock


def is_checked(obj: Any) -> bool:
    """Whether ``obj`` is one of lockorder's checked primitives or proxies."""
    return isinstance(type(obj), type) and issubclass(type(obj), _CHECKED_TYPES)


def wrappable(obj: Any) -> bool:
    """Whether :func:`wrap` takes ``obj``: a stdlib lock, RLock, Condition or
    semaphore (``_thread``'s lock types too)."""
    return isinstance(
        obj,
        (
            _unpatched.LockType,
            _unpatched.RLockType,
            _unpatched.PyRLock,
            _unpatched.Condition,
            _unpatched.Semaphore,
        ),
    )


def wrap(obj: Any, name: str | None = None) -> Any:
    """Return a checked proxy around an existing lock, RLock, Condition or semaphore.

    The proxy forwards every attribute to ``obj``; its lock operations are
    tracked. ``obj`` itself stays unchecked: code that still uses it directly is
    not seen. Wrapping a checked object returns it unchanged; with checking off,
    ``obj`` itself is returned.

    Args:
        obj: a ``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` or
            ``BoundedSemaphore`` (or ``_thread``'s lock types).
        name: the lock class name in reports (default: the site of this call).

    Raises:
        TypeError: ``obj`` is not one of those.
    """
    if is_checked(obj):
        return obj
    name = _validate_name(name)
    kind = type(obj)
    if not checker.settings.enabled:
        if wrappable(obj):
            return obj
        raise _not_wrappable(kind)
    site = _sites.find_site(2)
    if isinstance(obj, _unpatched.LockType):
        return _LockProxy(obj, _shadow_lock(obj, name, site))
    if isinstance(obj, (_unpatched.RLockType, _unpatched.PyRLock)):
        return _RLockProxy(obj, _shadow_lock(obj, name, site))
    if isinstance(obj, _unpatched.Condition):
        inner = obj._lock  # type: ignore[attr-defined]
        lock = inner if is_checked(inner) else _shadow_lock(inner, name, site)
        shadow = object.__new__(Condition)
        _unpatched.Condition.__init__(shadow, lock)
        shadow._waiters = obj._waiters  # type: ignore[attr-defined]  # notify reaches both
        return _ConditionProxy(obj, shadow)
    if isinstance(obj, _unpatched.Semaphore):
        return _SemaphoreProxy(obj, _SemaphoreShadow(obj, name, site))
    raise _not_wrappable(kind)


def _not_wrappable(kind: type) -> TypeError:
    return TypeError(
        "lockorder.wrap() expects a Lock, RLock, Condition, Semaphore or "
        f"BoundedSemaphore, got {kind.__module__}.{kind.__qualname__} object"
    )
