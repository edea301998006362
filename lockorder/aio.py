"""Checked asyncio primitives, for explicit use (docs/asyncio.md).

``lockorder.install()`` (and ``lockorder run``, and the pytest plugin) puts them
in place of ``asyncio.Lock``, ``asyncio.Condition``, ``asyncio.Semaphore`` and
``asyncio.BoundedSemaphore``; use these names to check one lock without
patching, to name its class (``name=``) or to declare a lock that another task
releases on purpose (``signal=True``). Each behaves as asyncio's own (they are
subclasses of it), with the current task as the holder.
"""

from __future__ import annotations

from lockorder._aio import BoundedSemaphore, Condition, Lock, Semaphore

__all__ = ["BoundedSemaphore", "Condition", "Lock", "Semaphore"]
