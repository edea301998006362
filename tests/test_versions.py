"""What differs between the CPython versions lockorder supports (3.10 to 3.13)."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

import lockorder
from lockorder import _sites, _threads
from tests.conftest import TIMEOUT


def test_the_suite_has_a_per_test_time_limit(pytestconfig: pytest.Config) -> None:
    """A lockorder bug that hangs a test costs a red test, not a lost CI hour."""
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert float(pytestconfig.getini("timeout")) > 0


class _Outer:
    def method(self) -> Any:
        def inner() -> Any:
            return _sites.capture_stack(1)[-1].function, _sites.find_site(1).function

        return inner()

    @staticmethod
    def static() -> str:
        return _sites.capture_stack(1)[-1].function


def test_stacks_and_sites_name_functions_by_qualified_name() -> None:
    """3.10's code objects have no co_qualname: the names are found all the same."""
    assert _Outer().method() == ("_Outer.method.<locals>.inner",) * 2
    assert _Outer.static() == "_Outer.static"

    def local() -> str:
        return _sites.capture_stack(1)[-1].function

    expected = "test_stacks_and_sites_name_functions_by_qualified_name.<locals>.local"
    assert local() == expected


def test_a_starting_thread_is_found_before_threading_lists_it_active() -> None:
    """Before 3.11 a new thread runs threading code before it is in threading._active."""
    go = threading.Event()
    thread = threading.Thread(target=go.wait, args=(TIMEOUT,), name="starting")
    thread.start()
    try:
        ident = thread.ident
        assert ident is not None
        with threading._active_limbo_lock:  # type: ignore[attr-defined]
            del threading._active[ident]  # type: ignore[attr-defined]
            threading._limbo[thread] = thread  # type: ignore[attr-defined]
            try:
                assert _threads.thread_object(ident) is thread
            finally:
                del threading._limbo[thread]  # type: ignore[attr-defined]
                threading._active[ident] = thread  # type: ignore[attr-defined]
    finally:
        go.set()
        thread.join(TIMEOUT)


@pytest.mark.skipif(sys.version_info < (3, 13), reason="threading.Lock is a class from 3.13 on")
def test_patched_lock_class_keeps_working_as_a_type_on_3_13() -> None:
    lockorder.install()
    try:
        lock = threading.Lock()
        assert lockorder.is_checked(lock)
        assert isinstance(lock, threading.Lock)
        assert isinstance(threading._allocate_lock(), threading.Lock)  # type: ignore[attr-defined]
    finally:
        lockorder.uninstall()
