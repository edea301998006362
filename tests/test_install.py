"""install()/uninstall(): threading's factories patched, idempotently and reversibly."""

from __future__ import annotations

import linecache
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import lockorder
from lockorder import _unpatched
from lockorder._state import checker
from tests.conftest import TIMEOUT, run_threads

ROOT = Path(__file__).resolve().parent.parent


def test_install_is_idempotent_nestable_and_reversible() -> None:
    lockorder.install()
    patched = threading.Lock
    lockorder.install()
    assert threading.Lock is patched
    lockorder.uninstall()
    assert threading.Lock is patched and lockorder.installed()
    lockorder.uninstall()
    assert threading.Lock is _unpatched.Lock
    assert threading.Condition is _unpatched.Condition
    assert not lockorder.installed()
    lockorder.uninstall()  # one too many: harmless
    assert threading.RLock is _unpatched.RLock


def test_uninstall_leaves_a_later_replacement_in_place() -> None:
    lockorder.install()
    foreign = object()
    threading.Semaphore = foreign  # type: ignore[misc,assignment]
    try:
        with pytest.warns(lockorder.LockOrderWarning, match="threading.Semaphore was replaced"):
            lockorder.uninstall()
        assert threading.Semaphore is foreign
    finally:
        threading.Semaphore = _unpatched.Semaphore  # type: ignore[misc]


def test_factories_make_checked_objects(installed: None) -> None:
    assert lockorder.is_checked(threading.Lock())
    assert lockorder.is_checked(threading.RLock())
    assert lockorder.is_checked(threading.Condition())
    assert lockorder.is_checked(threading.Semaphore(2))
    assert lockorder.is_checked(threading.BoundedSemaphore())


def test_rlock_factory_takes_arguments_as_the_stdlib_does(installed: None) -> None:
    """threading.RLock(*args, **kwargs) ignores them (CPython's test_signature);
    3.13 deprecates them, with the warning pointing at the caller; 3.15 rejects
    them with the standard library's TypeError."""
    for args, kwargs in [((1,), {}), ((), {"a": 1}), ((1, 2), {"name": "x"})]:
        if sys.version_info >= (3, 15):
            with pytest.raises(TypeError) as expected:
                _unpatched.RLock(*args, **kwargs)
            with pytest.raises(TypeError) as raised:
                threading.RLock(*args, **kwargs)
            assert str(raised.value) == str(expected.value)
            continue
        if sys.version_info >= (3, 13):
            with pytest.warns(DeprecationWarning, match="Passing arguments to RLock") as record:
                lock = threading.RLock(*args, **kwargs)
            assert record[0].filename == __file__
        else:
            lock = threading.RLock(*args, **kwargs)
        assert lockorder.is_checked(lock)
        assert lock._lo_cls.name is None  # type: ignore[attr-defined]  # the stdlib ignores name=


def test_patched_names_stay_usable_as_types(installed: None) -> None:
    class MyCondition(threading.Condition):
        pass

    cond = MyCondition()
    assert isinstance(cond, _unpatched.Condition)
    assert lockorder.is_checked(cond._lock)  # type: ignore[attr-defined]
    assert isinstance(threading.Condition(), threading.Condition)
    assert isinstance(threading.Semaphore(), threading.Semaphore)


@pytest.mark.parametrize("name", ["Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore"])
def test_patched_names_copy_and_have_the_originals_signature(name: str) -> None:
    """copy/deepcopy of a class or function return it (a configuration holding
    `lock_factory=threading.Lock` is deep-copied), and inspect.signature() gives
    the original's (it raised TypeError on 3.13)."""
    import copy
    import inspect

    def signature(obj: object) -> object:
        try:
            return inspect.signature(obj)  # type: ignore[arg-type]
        except ValueError as exc:  # a builtin without one (threading.Lock before 3.13)
            return type(exc)

    original = getattr(threading, name)
    expected = signature(original)
    lockorder.install()
    try:
        patched = getattr(threading, name)
        assert patched is not original
        assert copy.copy(patched) is patched
        assert copy.deepcopy({"factory": patched})["factory"] is patched
        assert signature(patched) == expected
    finally:
        lockorder.uninstall()


def test_queue_mutex_belongs_to_the_line_that_made_the_queue(installed: None) -> None:
    q: queue.Queue[int] = queue.Queue()
    line = _this_line() - 1
    event = threading.Event()
    event_line = _this_line() - 1
    assert q.mutex._lo_cls.site == f"tests/test_install.py:{line}"  # type: ignore[attr-defined]
    cond_lock = event._cond._lock  # type: ignore[attr-defined]
    assert cond_lock._lo_cls.site == f"tests/test_install.py:{event_line}"


def _this_line() -> int:
    from lockorder._sites import _getframe

    return _getframe(1).f_lineno


def test_thread_internals_stay_plain(installed: None) -> None:
    thread = threading.Thread(target=lambda: None)
    assert not lockorder.is_checked(thread._started._cond._lock)  # type: ignore[attr-defined]


def test_inversion_through_queue_and_user_lock_is_found(installed: None) -> None:
    """Code that never imports lockorder is checked once installed."""
    lockorder.configure(mode="record")
    jobs: queue.Queue[int] = queue.Queue(maxsize=1)
    lock = threading.Lock()

    def producer() -> None:
        with lock:
            jobs.put(1, timeout=TIMEOUT)

    def consumer() -> None:
        with jobs.mutex, lock:  # reaching into the queue's mutex, as bad code does
            pass

    run_threads(producer, consumer)
    kinds = [f.kind for f in lockorder.findings()]
    assert kinds == ["potential-deadlock"]


def test_disabled_install_makes_plain_objects(installed: None) -> None:
    lockorder.configure(enabled=False)
    assert type(threading.Lock()) is _unpatched.LockType


def test_asyncio_imported_by_install_keeps_its_module_locks_plain() -> None:
    """asyncio makes threading locks at import (events._lock, mixins._global_lock).
    When install() is what imports it, they must not become checked locks of the
    program, attributed to whatever line called install() (lockorder's own
    __main__ under `python -m lockorder run`)."""
    program = (
        "import sys\n"
        "import lockorder\n"
        "from lockorder._state import checker\n"
        "for name in [m for m in sys.modules if m == 'asyncio' or m.startswith('asyncio.')]:\n"
        "    del sys.modules[name]  # as where nothing imported asyncio yet\n"
        "lockorder.install()\n"
        "import asyncio.events, asyncio.mixins\n"
        "print(lockorder.is_checked(asyncio.events._lock))\n"
        "print(lockorder.is_checked(asyncio.mixins._global_lock))\n"
        "print(len(checker.graph.classes))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "0"]


def test_a_standard_library_modules_own_locks_stay_plain_when_imported_late() -> None:
    """A module of the standard library that makes a lock of its own at import
    (multiprocessing's fork server and resource tracker: Python 3.14's default
    start method imports them at a pool's first process) keeps it plain: it is
    the standard library's, not a lock class at the program's line that happened
    to import it first (two more classes and three edges in a 3.14 run)."""
    program = (
        "import sys\n"
        "import lockorder\n"
        "from lockorder._state import checker\n"
        "for name in ('multiprocessing.forkserver', 'multiprocessing.resource_tracker'):\n"
        "    sys.modules.pop(name, None)  # as where nothing imported them yet\n"
        "lockorder.install()\n"
        "from multiprocessing import forkserver, resource_tracker\n"
        "print(lockorder.is_checked(forkserver._forkserver._lock))\n"
        "print(lockorder.is_checked(resource_tracker._resource_tracker._lock))\n"
        "print(len(checker.graph.classes))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "0"]


def test_call_soon_threadsafe_keeps_its_handles_lock_plain(installed: None) -> None:
    """Python 3.14's call_soon_threadsafe makes a handle with an RLock of its own,
    held while the callback runs: asyncio's bookkeeping, not a lock class of the
    program (nor one at an unknown site, where a thread of the standard
    library's made the handle)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    before = len(checker.graph.classes)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        thread = threading.Thread(target=loop.call_soon_threadsafe, args=(done.set,))
        thread.start()
        await asyncio.wait_for(done.wait(), TIMEOUT)
        thread.join(TIMEOUT)
        with ThreadPoolExecutor(1) as pool:  # completes the future from its thread
            return await asyncio.wait_for(loop.run_in_executor(pool, len, "abc"), TIMEOUT)

    assert asyncio.run(main()) == 3
    made = checker.graph.classes[before:]  # the loop's, the pool's, the future's
    assert made and all(cls.filename == __file__ for cls in made), made
    assert "RLock" not in [cls.kind for cls in made]


def test_a_lock_made_where_no_frame_is_the_programs_is_the_standard_librarys_line() -> None:
    """A lock made with no frame of the program on the stack (a thread pool's
    worker calling the factory itself) is at the standard library's line that
    made it, never at an unknown site."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        lock = pool.submit(lockorder.Lock).result(TIMEOUT)
    cls = lock._lo_cls  # type: ignore[attr-defined]
    assert cls.filename.endswith(f"concurrent{os.sep}futures{os.sep}thread.py")
    assert "fn(" in linecache.getline(cls.filename, cls.lineno)  # where the worker calls it
    assert cls.function.endswith(".run")  # _WorkItem.run (WorkerContext.run from 3.14)


def test_a_lock_made_with_only_lockorder_and_the_stdlib_outside_is_not_lockorders() -> None:
    """`python -m lockorder`'s __main__ is lockorder's file, whatever its module name."""
    script = ROOT / "lockorder" / "__main__.py"
    namespace = {"__name__": "__main__", "__file__": str(script)}
    code = compile("import threading\nmade = threading.Lock()\n", str(script), "exec")
    lockorder.install()
    try:
        exec(code, namespace)
    finally:
        lockorder.uninstall()
    assert lockorder.is_checked(namespace["made"])
    assert namespace["made"]._lo_cls.filename != str(script)


class _ProgramLock:
    """A lock class of the program's own: acquire()/release()/locked() over a
    threading.Lock (Python 3.14's Condition reads locked())."""

    def __init__(self) -> None:
        self._inner = threading.Lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._inner.acquire(blocking, timeout)

    def release(self) -> None:
        self._inner.release()

    def locked(self) -> bool:
        return self._inner.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_a_condition_over_a_lock_like_object_works_as_the_stdlibs(installed: None) -> None:
    """threading.Condition takes any object with acquire() and release(); under
    install() it must too (it raised TypeError from wrap()). The object's own
    threading.Lock, made under install(), is the checked one."""
    lock = _ProgramLock()
    cond = threading.Condition(lock)
    assert lockorder.is_checked(lock._inner)
    ready: list[int] = []
    waiting = threading.Event()

    def consumer() -> None:
        with cond:
            waiting.set()
            assert cond.wait_for(lambda: ready, timeout=TIMEOUT)

    thread = threading.Thread(target=consumer)
    thread.start()
    assert waiting.wait(TIMEOUT)
    with cond:  # the consumer waits, so this is free once it is in wait()
        ready.append(1)
        cond.notify()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    with cond:
        assert cond.wait(0.001) is False  # a timed wait times out, as the stdlib's
    assert lockorder.findings() == []
    with pytest.raises(AttributeError, match="acquire"):  # as threading.Condition(object())
        lockorder.Condition(object())


class _NoLocked:
    """A stand-in lock without locked(): Python 3.14's Condition rejects it."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass


def _outcome(make: Any) -> tuple[str, str]:
    try:
        make(_NoLocked())
    except Exception as error:  # compared with the stdlib's
        return type(error).__name__, str(error)
    return "made", ""


def test_a_condition_over_a_lock_without_locked_does_as_the_stdlibs(installed: None) -> None:
    """threading.Condition over an object without locked(): made before Python
    3.14, an AttributeError from 3.14; the same under install()."""
    expected = _outcome(_unpatched.Condition)
    assert expected[0] == ("AttributeError" if sys.version_info >= (3, 14) else "made")
    assert _outcome(threading.Condition) == expected
    assert _outcome(lockorder.Condition) == expected


def test_a_patched_name_used_as_its_class_initialises_the_callers_object(installed: None) -> None:
    """`Semaphore.__init__(self, value)` through a patched name: threading's own
    BoundedSemaphore does it on 3.10 and 3.11 (so a BoundedSemaphore made by the
    class itself, bound before install(), or a subclass), and so does a subclass
    that calls its base by name. It initialised the factory instead, leaving the
    object without its state and every later threading.Semaphore() broken."""
    import asyncio

    bounded = _unpatched.BoundedSemaphore(2)  # the class itself, as `from threading import ...`
    with bounded:
        pass
    assert lockorder.is_checked(bounded._cond._lock)  # type: ignore[attr-defined]

    class Pool(threading.Semaphore):
        def __init__(self) -> None:
            threading.Semaphore.__init__(self, 3)

    class Guard(threading.Condition):
        def __init__(self) -> None:
            threading.Condition.__init__(self, threading.Lock())

    class ALock(asyncio.Lock):
        def __init__(self) -> None:
            asyncio.Lock.__init__(self)

    pool, guard, alock = Pool(), Guard(), ALock()
    assert pool._value == 3  # type: ignore[attr-defined]
    with guard:
        guard.notify()
    assert not alock.locked()
    # the factories still make checked objects
    for made in (threading.Semaphore(), threading.BoundedSemaphore(), threading.Condition()):
        assert lockorder.is_checked(made), made
    from lockorder import _aio

    assert type(asyncio.Lock()) is _aio.Lock


def test_patched_methods_copy_as_the_originals(installed: None) -> None:
    """install() patches Event.wait, Queue.get and others: copied as methods are
    (a wrapt proxy refused copy and deepcopy outright)."""
    import copy

    assert copy.deepcopy(threading.Event.wait) == threading.Event.wait
    assert copy.copy(queue.Queue.get) == queue.Queue.get
    joined = threading.Thread(target=lambda: None)
    assert copy.copy(joined.join).__self__ is joined
    event = threading.Event()
    with pytest.raises(TypeError, match="cannot pickle"):  # as the stdlib: it holds a lock
        copy.deepcopy(event.wait)
