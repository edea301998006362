"""install() / uninstall(): patch threading's factories so code that never
imports lockorder (queue, concurrent.futures, the user's modules) makes checked
locks.

Patched: ``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` and
``BoundedSemaphore``, each with a wrapt ``FunctionWrapper`` around the original,
so the patched names stay usable as the originals are (subclassing a class,
``isinstance`` where the original is a class). Not patched: ``_thread``'s
functions and names bound before install (``from threading import Lock``); the
per-thread internals of ``threading.Thread`` stay plain (docs/limitations.md).
Nested install()/uninstall() pairs are counted; the last uninstall restores the
originals, but only those still ours.
"""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any

import wrapt

from lockorder import _config, _emit, _forksafe, _primitives, _sites, _unpatched, _waits
from lockorder._state import checker
from lockorder.errors import LockOrderWarning

__all__ = ["install", "installed", "uninstall"]

_mu = _forksafe.Mutex(_unpatched.allocate_lock)
_depth = 0
_saved: dict[str, Any] = {}

#: the standard library's functions whose own locks stay plain, as (module,
#: qualified name): one Event per Thread object is bookkeeping of threading's,
#: as is the RLock of each handle asyncio's call_soon_threadsafe makes (3.14)
_THREAD_INTERNALS = frozenset(
    {("threading", "Thread.__init__"), ("asyncio.events", "_ThreadSafeHandle.__init__")}
)

_CHECKED: dict[str, Any] = {
    "Lock": _primitives.Lock,
    "RLock": _primitives.RLock,
    "Condition": _primitives.Condition,
    "Semaphore": _primitives.Semaphore,
    "BoundedSemaphore": _primitives.BoundedSemaphore,
}
TARGETS = tuple(_CHECKED)


class _Factory(wrapt.FunctionWrapper):  # type: ignore[type-arg,unused-ignore]
    """A patched threading factory (recognised by its type)."""

    _self_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            original = self.__wrapped__
        except (AttributeError, ValueError):  # not made yet: this is its construction
            super().__init__(*args, **kwargs)
            return
        # used as the class it replaces, `Semaphore.__init__(self, value)`: threading's
        # own BoundedSemaphore does that on 3.10 and 3.11, and so do subclasses that
        # call their base by name. Without this, the call re-initialised the
        # factory itself (wrapt's __init__) around the caller's object, which was
        # left without its state, and every later threading.Semaphore() failed
        original.__init__(*args, **kwargs)

    # copy and deepcopy of a class or function return it: of a factory too (a
    # wrapt proxy refuses them), so a copied configuration that holds
    # `lock_factory=threading.Lock` copies
    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self

    @property
    def __signature__(self) -> Any:
        # inspect.signature() of the original (on 3.13 the proxy's forwarded
        # __dict__ made it raise TypeError)
        import inspect

        return inspect.signature(self.__wrapped__)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # multiprocessing pickles threading's factories (a Manager's registry):
        # pickle them by name, resolved in the receiving process
        return (threading_factory, (self._self_name,))


def threading_factory(name: str) -> Any:
    """``threading.<name>`` as it is in this process (for unpickling a factory)."""
    return getattr(threading, name)


def _make_wrapper(name: str) -> Any:
    checked = _CHECKED[name]

    # threading.RLock() takes and ignores any arguments (deprecated in 3.13),
    # and takes none from 3.15
    ignores_arguments = name == "RLock"

    def factory(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if not checker.settings.enabled or _sites.made_by(_THREAD_INTERNALS, 2):
            return wrapped(*args, **kwargs)
        if ignores_arguments:
            if (args or kwargs) and sys.version_info >= (3, 15):
                wrapped(*args, **kwargs)  # raises the standard library's TypeError
            elif (args or kwargs) and sys.version_info >= (3, 13):
                warnings.warn(
                    "Passing arguments to RLock is deprecated and will be removed in 3.15",
                    DeprecationWarning,
                    stacklevel=_emit.stacklevel(),
                )
            return checked()
        return checked(*args, **kwargs)

    return factory


class _AsyncioFactory(_Factory):
    """A patched asyncio primitive (``asyncio.Lock`` and the others)."""

    # a patch of asyncio.Lock.acquire (mock.patch.object) reaches asyncio's own
    # class through the proxy: the checked Lock's async with must call it too
    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        _patched(name)

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        _patched(name)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (asyncio_factory, (self._self_name,))


def _patched(name: str) -> None:
    """An attribute of asyncio's own class was set or deleted through its factory."""
    if name in ("acquire", "release"):
        from lockorder import _aio

        _aio.base_patched()


def asyncio_factory(name: str) -> Any:
    """``asyncio.<name>`` as it is in this process (for unpickling a factory)."""
    import asyncio

    return getattr(asyncio, name)


#: asyncio's primitives install() checks (lockorder._aio); patched in
#: asyncio.locks, where asyncio.Condition makes its Lock, and in asyncio
ASYNCIO_TARGETS = ("Lock", "Condition", "Semaphore", "BoundedSemaphore")


def _make_asyncio_wrapper(name: str) -> Any:
    from lockorder import _aio

    checked = getattr(_aio, name)

    def factory(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if not checker.settings.enabled:
            return wrapped(*args, **kwargs)
        return checked(*args, **kwargs)

    return factory


def _patch_asyncio() -> None:
    import asyncio
    from asyncio import locks

    for name in ASYNCIO_TARGETS:
        for module in (locks, asyncio):
            current = getattr(module, name)
            if isinstance(current, _Factory):
                continue
            _saved[f"{module.__name__}.{name}"] = (module, current)
            factory = _AsyncioFactory(current, _make_asyncio_wrapper(name))
            factory._self_name = name
            setattr(module, name, factory)
    from lockorder import _aio_steps, _loops

    _aio_steps.patch_steps()
    _aio_steps.patch_timeouts()
    _loops.patch()


def install() -> None:
    """Patch ``threading``'s lock factories and asyncio's primitives (idempotent;
    nestable with uninstall()). With checking off it does nothing: no patch, no
    cost (installed() stays False)."""
    global _depth
    _config.warn_pending()
    if not checker.settings.enabled:
        return
    # asyncio makes module-level threading locks at import (its event loop policy's,
    # its mixins'): imported by _patch_asyncio() after threading's factories are
    # patched, they would become checked locks of the program, made by no line
    # of it; imported here, they stay the stdlib's plain locks, as when the
    # program (or a library) imported asyncio first
    import asyncio  # noqa: F401

    # the modules a lock's creation or acquire may need later, imported now: the
    # program's first Condition over a lock, or first acquire in a task, must not
    # import (open and read files) on its thread (docs/concepts.md)
    from lockorder import _tasks, _wrap  # noqa: F401

    with _mu:
        _depth += 1
        if _depth > 1:
            return
        for name in TARGETS:
            current = getattr(threading, name)
            if isinstance(current, _Factory):
                continue
            _saved[name] = current
            factory = _Factory(current, _make_wrapper(name))
            factory._self_name = name
            setattr(threading, name, factory)
        _waits.patch()
        _patch_asyncio()


def uninstall() -> None:
    """Undo one install(); the last one restores the originals that are still ours."""
    global _depth
    with _mu:
        if _depth == 0:
            return
        _depth -= 1
        if _depth > 0:
            return
        _waits.unpatch()
        from lockorder import _aio_steps, _loops

        _aio_steps.unpatch_steps()
        _aio_steps.unpatch_timeouts()
        _loops.unpatch()
        for name, original in list(_saved.items()):
            if isinstance(original, tuple):  # asyncio's: (module, original)
                module, original = original
                attribute = name.rpartition(".")[2]
            else:
                module, attribute = threading, name
            current = getattr(module, attribute)
            if isinstance(current, _Factory):
                setattr(module, attribute, original)
            else:
                warnings.warn(
                    LockOrderWarning(
                        f"lockorder.uninstall(): {module.__name__}.{attribute} was replaced "
                        f"by {current!r} after install(); left in place"
                    ),
                    stacklevel=2,
                )
            del _saved[name]


def installed() -> bool:
    """Whether install() is in effect."""
    with _mu:
        return _depth > 0
