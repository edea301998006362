"""The threading primitives as they were when lockorder was first imported.

lockorder's own bookkeeping locks are built from these, never from the names
in :mod:`threading` (which :func:`lockorder.install` replaces): the checker must
never track, or deadlock on, its own locks.
"""

from __future__ import annotations

import _thread
import threading

allocate_lock = _thread.allocate_lock
LockType = _thread.LockType
CRLock = _thread.RLock
get_ident = _thread.get_ident

Lock = threading.Lock
RLock = threading.RLock
Condition = threading.Condition
Semaphore = threading.Semaphore
BoundedSemaphore = threading.BoundedSemaphore
Event = threading.Event
PyRLock = threading._PyRLock  # type: ignore[attr-defined]

RLockType = type(_thread.RLock())
