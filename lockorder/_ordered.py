"""Ordered acquisition: ``lockorder.acquire(a, b, ...)`` takes locks in one stable order.

The order is the locks' ``rank`` (lower first; locks without a rank after all
ranked ones), then creation order. Creation order is a counter of lockorder's,
the same from run to run for the same program, unlike ``id()``. Plain stdlib
locks have no creation serial: they get one the first time ``acquire()`` sees
them, unless a constructor made them with ``rank=`` while checking was off
(lockorder._primitives.plain).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from lockorder import _emit, _held, _sites, _threads, _unpatched
from lockorder._findings import Finding, LockRef
from lockorder._primitives import plain_order as _foreign
from lockorder._primitives import plain_order_mu as _foreign_mu
from lockorder._state import checker
from lockorder._wrap import is_checked
from lockorder._wrap import state_of as _state
from lockorder.errors import LockOrderViolation, hide_from_findings

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["acquire"]

_LOCKLIKE = (
    _unpatched.LockType,
    _unpatched.RLockType,
    _unpatched.PyRLock,
    _unpatched.Condition,
    _unpatched.Semaphore,
)


def sort_key(lock: Any) -> tuple[bool, int, int]:
    """(unranked, rank, creation serial): the order acquire() takes locks in."""
    if is_checked(lock):
        state = _state(lock)
        if hasattr(state, "_lo_serial"):
            rank = state._lo_rank
            return (rank is None, rank or 0, state._lo_serial)
    with _foreign_mu:
        key = _foreign.get(lock)
        if key is None:
            key = _foreign[lock] = (True, 0, checker.next_serial())
    return key


def _describe(lock: Any) -> str:
    state = _state(lock)
    cls = getattr(state, "_lo_cls", None)
    return cls.label if cls is not None else repr(lock)


class acquire:
    """Take ``locks`` in one stable global order; release them in reverse.

    Within ``acquire()``, a thread may nest further ``acquire()`` calls only for
    locks that sort after every lock it already holds through ``acquire()``.

    Args:
        *locks: checked primitives, ``wrap()`` proxies or plain ``threading``
            locks, conditions and semaphores; no duplicates.

    Raises:
        TypeError: no locks, or something that is not a lock.
        ValueError: the same lock twice.
        LockOrderViolation: a nested call asks for a lock that sorts before one
            the thread already holds through ``acquire()`` (with checking off
            too: the order is acquire()'s contract, not a check).
    """

    __slots__ = ("_keys", "_locks", "_ts")

    def __init__(self, *locks: Any) -> None:
        if not locks:
            raise TypeError("lockorder.acquire() needs at least one lock")
        seen: set[int] = set()
        for lock in locks:
            if not (is_checked(lock) or isinstance(lock, _LOCKLIKE)):
                raise TypeError(
                    "lockorder.acquire() takes locks, conditions and semaphores, got "
                    f"{type(lock).__module__}.{type(lock).__qualname__} object"
                )
            if id(lock) in seen:
                raise ValueError(f"lockorder.acquire() got the same lock twice: {lock!r}")
            seen.add(id(lock))
        pairs = sorted(((sort_key(lock), lock) for lock in locks), key=lambda pair: pair[0])
        self._keys = [key for key, _ in pairs]
        self._locks = [lock for _, lock in pairs]

    def __enter__(self) -> tuple[Any, ...]:
        ts = _threads.current()
        ordered = ts.ordered
        if ordered:
            top_key, top = max(ordered, key=lambda pair: pair[0])
            if top_key >= self._keys[0]:
                self._violation(ts, top, self._locks[0])
        ordered.extend(zip(self._keys, self._locks, strict=True))
        # the locks' order among themselves is this acquisition's, not a class order
        ts.groups.append(frozenset(id(_state(lock)) for lock in self._locks))
        taken: list[Any] = []
        try:
            for lock in self._locks:
                lock.acquire()
                taken.append(lock)
        except BaseException:
            for lock in reversed(taken):
                lock.release()
            del ordered[-len(self._locks) :]
            raise
        finally:
            ts.groups.pop()
        self._ts = ts
        return tuple(self._locks)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            for lock in reversed(self._locks):
                lock.release()
        finally:
            del self._ts.ordered[-len(self._locks) :]

    def _violation(self, ts: Any, held: Any, wanted: Any) -> None:
        refs = tuple(
            LockRef(key=_describe(lock), site="", name=None, kind=type(lock).__name__)
            if getattr(_state(lock), "_lo_cls", None) is None
            else _held.lock_ref(_state(lock))
            for lock in (held, wanted)
        )
        finding = Finding(
            kind="order-violation",
            severity="error",
            message=(
                f"lockorder.acquire() asked for {_describe(wanted)} while holding "
                f"{_describe(held)}, which sorts after it"
            ),
            locks=refs,
            thread=ts.name,
            stack=_sites.capture_stack(3),
            reason="acquire() takes locks in one global order (rank, then creation "
            "order); a nested acquire() may only add locks that sort after those held",
            test=checker.current_test,
            signature=f"order-violation:{refs[0].key}>{refs[1].key}",
        )
        if checker.settings.enabled:  # with checking off nothing is recorded
            _emit.add_finding(finding)
        raise LockOrderViolation(finding.format(), finding)
