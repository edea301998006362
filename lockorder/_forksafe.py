"""lockorder's own mutexes, which a forked child never inherits locked.

``os.fork()`` copies a lock in whatever state it is in. If another thread held
one of lockorder's mutexes at that moment (recording a new edge, say), the
child's copy stays locked forever, and the child hangs the first time it needs
it. After-fork hooks cannot fix that alone: in the child, CPython first deletes
the other threads' states, which runs their weakref callbacks and finalizers
(lockorder's thread-exit callback among them), and other modules' hooks
(``threading``'s, ``logging``'s) run before ours and may reset checked locks;
all of that can need lockorder's mutexes before lockorder's own hook runs.
Taking the mutexes around fork instead, as ``logging`` does with its handler
locks, would deadlock the parent: ``logging``'s before-fork hook takes checked
locks, after ours.

So each :class:`Mutex` remembers the process it was made (or last renewed) in,
and the first use in another process replaces the inherited lock with a new
one. Until the child's after-fork hooks ran, the child has a single thread, so
nothing else can race for the new lock; our own after-fork hook then renews
every mutex at once, so that later, with threads of the child running, no two
of them can renew one mutex each their own way.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Mutex", "forked"]

_getpid = os.getpid
_pid = _getpid()
_all: weakref.WeakSet[Mutex] = weakref.WeakSet()


class Mutex:
    """A lock (made by ``factory``: a raw lock or RLock) that is new in every process."""

    __slots__ = ("__weakref__", "_factory", "_lock", "_pid")

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._lock = factory()
        self._pid = _getpid()
        _all.add(self)

    def _current(self) -> Any:
        if self._pid != _getpid():  # inherited by a forked child: maybe locked
            self._lock = self._factory()
            self._pid = _getpid()
        return self._lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._current().acquire(blocking, timeout)  # type: ignore[no-any-return]

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self._current().acquire()  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def forked() -> bool:
    """Whether this is a forked child whose after-fork hook has not run yet:
    the other threads of the parent are gone, their states are being deleted."""
    return _pid != _getpid()


def _after_fork_in_child() -> None:
    global _pid
    _pid = _getpid()
    for mutex in list(_all):
        mutex._current()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
