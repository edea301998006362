"""CPython's own Lib/test/lock_tests.py, run against lockorder's primitives.

The suite checks return values, exceptions, timeouts, repr, weak references,
``_is_owned``, ``_recursion_count``, ``_release_save`` and ``_at_fork_reinit``.
It releases locks from other threads and re-acquires a held Lock on purpose
(``test_reacquire``), so the checker runs in record mode here; what it records
is asserted in test_primitives.py.
"""

from __future__ import annotations

import threading
import unittest

import pytest

import lockorder
from lockorder._state import checker

lock_tests = pytest.importorskip(
    "test.lock_tests", reason="CPython's test package is not installed"
)

_saved = checker.settings


def setUpModule() -> None:
    lockorder.configure(mode="record")


def tearDownModule() -> None:
    checker.restore(_saved)


class _RecordMode(unittest.TestCase):
    def setUp(self) -> None:
        lockorder.configure(mode="record")
        super().setUp()


class LockTests(_RecordMode, lock_tests.LockTests):
    locktype = staticmethod(lockorder.Lock)


class RLockTests(_RecordMode, lock_tests.RLockTests):
    locktype = staticmethod(lockorder.RLock)


class WrappedLockTests(_RecordMode, lock_tests.LockTests):
    locktype = staticmethod(lambda: lockorder.wrap(threading.Lock()))


class WrappedRLockTests(_RecordMode, lock_tests.RLockTests):
    locktype = staticmethod(lambda: lockorder.wrap(threading.RLock()))


class ConditionTests(_RecordMode, lock_tests.ConditionTests):
    condtype = staticmethod(lockorder.Condition)


class WrappedConditionTests(_RecordMode, lock_tests.ConditionTests):
    condtype = staticmethod(lambda *args: lockorder.wrap(threading.Condition(*args)))


class SemaphoreTests(_RecordMode, lock_tests.SemaphoreTests):
    semtype = staticmethod(lockorder.Semaphore)


class BoundedSemaphoreTests(_RecordMode, lock_tests.BoundedSemaphoreTests):
    semtype = staticmethod(lockorder.BoundedSemaphore)


class _Installed(_RecordMode):
    """threading's factories are patched for the duration of each test."""

    def setUp(self) -> None:
        lockorder.install()
        self.addCleanup(lockorder.uninstall)
        super().setUp()


class InstalledLockTests(_Installed, lock_tests.LockTests):
    locktype = staticmethod(lambda: threading.Lock())


class InstalledRLockTests(_Installed, lock_tests.RLockTests):
    locktype = staticmethod(lambda: threading.RLock())


class InstalledConditionTests(_Installed, lock_tests.ConditionTests):
    condtype = staticmethod(lambda *args: threading.Condition(*args))


class InstalledSemaphoreTests(_Installed, lock_tests.SemaphoreTests):
    semtype = staticmethod(lambda *args, **kwargs: threading.Semaphore(*args, **kwargs))


class InstalledBoundedSemaphoreTests(_Installed, lock_tests.BoundedSemaphoreTests):
    semtype = staticmethod(lambda *args, **kwargs: threading.BoundedSemaphore(*args, **kwargs))


class InstalledEventTests(_Installed, lock_tests.EventTests):
    eventtype = staticmethod(lambda: threading.Event())


class InstalledBarrierTests(_Installed, lock_tests.BarrierTests):
    barriertype = staticmethod(lambda *args, **kwargs: threading.Barrier(*args, **kwargs))
