"""Locks made by a lock wrapper belong to the line that made the wrapper (issue 17.4:
httpcore's ``_synchronization.Lock``, loguru's ``_locks_machinery``)."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lockorder
from lockorder import _sites, report
from lockorder._analysis import class_ref
from lockorder._project import activate, load_project_config
from lockorder._state import checker
from lockorder.errors import ConfigurationError
from lockorder.report.fingerprint import fingerprint, lock_identity
from tests.conftest import marked_line, run_inversion, run_threads

HERE = os.path.abspath(__file__)


def _line(marker: str) -> int:
    return marked_line(HERE, marker)


def _site(marker: str) -> str:
    return f"{_sites.relpath(HERE)}:{_line(marker)}"


@pytest.fixture(autouse=True)
def no_declared_wrappers() -> Iterator[None]:
    yield
    _sites.set_wrappers(())


# -- wrappers told apart automatically --------------------------------------------------


class SyncLock:
    """As httpcore's ``_synchronization.Lock``: a context manager over a Lock."""

    def __init__(self) -> None:
        self._lock = lockorder.Lock()  # SyncLock makes its lock

    def __enter__(self) -> SyncLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class Gate:
    """A class with acquire() and release(): lock-like, whatever it wraps."""

    def __init__(self, units: int) -> None:
        self._sem = lockorder.BoundedSemaphore(units)  # Gate makes its semaphore

    def acquire(self) -> None:
        self._sem.acquire()

    def release(self) -> None:
        self._sem.release()


class Holder:
    """Not lock-like: its lock is its own (a context manager that takes no lock)."""

    def __init__(self) -> None:
        self.lock = lockorder.Lock()  # Holder makes its lock

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class ReadWrite:
    """Two locks made by one wrapper: they must stay two classes."""

    def __init__(self) -> None:
        self.readers = lockorder.Lock()  # ReadWrite's readers lock
        self.writer = lockorder.Lock()  # ReadWrite's writer lock

    def acquire(self) -> None:
        self.writer.acquire()

    def release(self) -> None:
        self.writer.release()


_registry: list[Any] = []


def create_handler_lock() -> lockorder.Lock:
    """As loguru's ``_locks_machinery.create_handler_lock``."""
    lock = lockorder.Lock()  # the factory's line
    _registry.append(lock)
    return lock


def new_rlock() -> lockorder.RLock:
    return lockorder.RLock()  # a one-line factory


def _label(lock: Any) -> str:
    return str(lock._lo_cls.label)


def test_a_wrapper_class_lock_belongs_to_the_line_that_made_the_wrapper() -> None:
    init_lock = SyncLock()  # the init lock
    write_lock = SyncLock()  # the write lock
    assert init_lock._lock._lo_cls.site == _site("the init lock")
    assert write_lock._lock._lo_cls.site == _site("the write lock")
    assert init_lock._lock._lo_cls is not write_lock._lock._lo_cls
    assert _label(init_lock._lock) == (
        f"Lock {_site('the init lock')} via {_site('SyncLock makes its lock')}"
    )
    assert init_lock._lock._lo_cls.function.endswith(
        "test_a_wrapper_class_lock_belongs_to_the_line_that_made_the_wrapper"
    )


def test_httpcore_false_alarm_a_class_cycle_no_instances_close() -> None:
    """Reduced from httpcore: every lock one wrapper class made was one class, so
    ``init -> pool`` in one thread and ``pool -> write`` in another closed the
    class cycle ``Lock -> pool -> Lock`` that no two instances close."""
    lockorder.configure(mode="record")
    init_lock = SyncLock()
    write_lock = SyncLock()
    pool = lockorder.Lock()

    def connect() -> None:
        with init_lock, pool:
            pass

    def send() -> None:
        with pool, write_lock:
            pass

    run_threads(connect, send)
    assert lockorder.findings() == []


def test_two_threads_inverting_two_wrapped_locks_are_still_found() -> None:
    lockorder.configure(mode="record")
    first = SyncLock()
    second = SyncLock()
    run_inversion(first, second)
    (finding,) = lockorder.findings()
    assert finding.kind == "potential-deadlock" and finding.severity == "error"
    assert {lock.via for lock in finding.locks} == {_site("SyncLock makes its lock")}
    assert " via " in finding.message


def test_acquire_release_classes_are_wrappers_and_other_context_managers_are_not() -> None:
    gate = Gate(2)  # the gate
    holder = Holder()  # the holder
    assert gate._sem._lo_cls.site == _site("the gate")
    assert gate._sem._lo_cls.via == _site("Gate makes its semaphore")
    assert holder.lock._lo_cls.site == _site("Holder makes its lock")
    assert holder.lock._lo_cls.via == ""


def test_two_locks_of_one_wrapper_made_on_one_line_stay_two_classes() -> None:
    rw = ReadWrite()  # the rw lock
    readers, writer = rw.readers._lo_cls, rw.writer._lo_cls
    assert readers is not writer
    assert readers.site == writer.site == _site("the rw lock")
    assert readers.via == _site("ReadWrite's readers lock")
    assert writer.via == _site("ReadWrite's writer lock")
    refs = [class_ref(cls) for cls in (readers, writer)]
    assert refs[0].label != refs[1].label


def test_factory_functions_are_wrappers() -> None:
    handler = create_handler_lock()  # a handler's lock
    other = create_handler_lock()  # another handler's lock
    rlock = new_rlock()  # an rlock
    assert handler._lo_cls.site == _site("a handler's lock")
    assert other._lo_cls.site == _site("another handler's lock")
    assert handler._lo_cls.via == _site("the factory's line")
    assert rlock._lo_cls.site == _site("an rlock")
    assert rlock._lo_cls.via == _site("a one-line factory")


def test_a_lambda_factory_and_nested_wrappers_lead_to_the_outermost_caller() -> None:
    make = lambda: SyncLock()  # noqa: E731  # the lambda
    wrapped = make()  # the outermost caller
    assert wrapped._lock._lo_cls.site == _site("the outermost caller")
    assert wrapped._lock._lo_cls.via == _site("SyncLock makes its lock")


@pytest.fixture
def fixture_lock() -> lockorder.Lock:
    return lockorder.Lock()  # a fixture returning a lock


def test_a_fixture_returning_a_lock_is_the_site_not_pytest(fixture_lock: lockorder.Lock) -> None:
    assert fixture_lock._lo_cls.site == _site("a fixture returning a lock")
    assert fixture_lock._lo_cls.via == ""


def test_a_function_that_keeps_the_lock_is_the_site() -> None:
    made: list[lockorder.Lock] = []

    def keep() -> None:
        made.append(lockorder.Lock())  # kept, not returned

    keep()
    assert made[0]._lo_cls.site == _site("kept, not returned")
    assert made[0]._lo_cls.via == ""


class ThreadingLock:
    """httpcore's shape exactly: ``threading.Lock()`` under install()."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # ThreadingLock makes its lock

    def __enter__(self) -> ThreadingLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


@pytest.mark.usefixtures("installed")
def test_installed_wrappers_and_the_stdlib_rule_together() -> None:
    wrapped = ThreadingLock()  # a wrapped threading lock
    assert wrapped._lock._lo_cls.site == _site("a wrapped threading lock")
    assert wrapped._lock._lo_cls.via == _site("ThreadingLock makes its lock")
    event = threading.Event()  # an event: the stdlib's frames are skipped, no wrapper
    lock = event._cond._lock  # type: ignore[attr-defined]
    assert lock._lo_cls.site == _site("an event: the stdlib's frames are skipped, no wrapper")
    assert lock._lo_cls.via == ""


# -- wrappers declared in [tool.lockorder] --------------------------------------------------


_named: dict[str, lockorder.Lock] = {}


def lock_for(name: str) -> lockorder.Lock:
    """A per-name registry the heuristics cannot tell from a site of its own."""
    with _registry_lock:
        _named.setdefault(name, lockorder.Lock())  # the registry's line
        return _named[name]


_registry_lock = threading.Lock()


def test_a_declared_function_is_a_wrapper() -> None:
    _named.clear()
    plain = lock_for("a")  # undeclared
    assert plain._lo_cls.site == _site("the registry's line")
    _sites.set_wrappers([f"{__name__}:lock_for"])
    declared = lock_for("b")  # declared
    assert declared._lo_cls.site == _site("declared")
    assert declared._lo_cls.via == _site("the registry's line")


def test_a_declared_module_or_class_is_a_wrapper() -> None:
    _sites.set_wrappers([f"{__name__}:Holder"])
    holder = Holder()  # a declared class
    assert holder.lock._lo_cls.site == _site("a declared class")
    _sites.set_wrappers([__name__.rpartition(".")[0]])  # the package: every module in it
    _named.clear()
    made = lock_for("c")  # a declared package
    # every frame of the package is a wrapper, up to pytest's: a test runner's
    # line is never a site, so the innermost wrapper line is
    assert made._lo_cls.site == _site("the registry's line")
    assert made._lo_cls.via == ""
    assert _sites.wrappers() == [__name__.rpartition(".")[0]]


def test_the_project_setting_is_read_and_checked(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.lockorder]\nwrappers = ["pkg.sync", "pkg.util:make_lock"]\n')
    config = load_project_config(str(pyproject))
    assert config.wrappers == ["pkg.sync", "pkg.util:make_lock"]
    activate(config)
    try:
        assert _sites.wrappers() == ["pkg.sync", "pkg.util:make_lock"]
    finally:
        activate(None)
    assert _sites.wrappers() == []
    for bad, why in (
        ('"pkg.sync"', "a list of strings"),
        ('["pkg sync"]', "a module"),
        ('["pkg:"]', "a module"),
        ("[1]", "a list of strings"),
    ):
        pyproject.write_text(f"[tool.lockorder]\nwrappers = {bad}\n")
        with pytest.raises(ConfigurationError, match=r"tool\.lockorder\.wrappers") as info:
            load_project_config(str(pyproject))
        assert why in str(info.value)


# -- reports -------------------------------------------------------------------------------


def test_reports_carry_the_wrapper(tmp_path: Path) -> None:
    lockorder.configure(mode="record")
    first = SyncLock()
    second = SyncLock()
    run_inversion(first, second)
    (finding,) = lockorder.findings()
    path = tmp_path / "report.json"
    report.write_json(
        str(path),
        report.build(lockorder.findings(), checker.graph.to_wire(), {"mode": "record"}, {}),
    )
    data = report.load(str(path))
    keys = {lock.key for lock in finding.locks}
    (via,) = {json.dumps(cls["via"]) for cls in data["graph"]["classes"] if cls["key"] in keys}
    assert json.loads(via) == {
        "site": _site("SyncLock makes its lock"),
        "file": HERE,
        "line": _line("SyncLock makes its lock"),
        "function": "SyncLock.__init__",
    }
    assert {lock["via"] for lock in data["findings"][0]["locks"]} == {
        _site("SyncLock makes its lock")
    }
    back = report.findings_of(data)[0]
    assert back.locks == finding.locks
    assert fingerprint(back) == fingerprint(finding)


def test_fingerprints_tell_apart_the_locks_of_one_wrapper_line() -> None:
    rw = ReadWrite()
    refs = [class_ref(lock._lo_cls) for lock in (rw.readers, rw.writer)]
    ids = {lock_identity(ref) for ref in refs}
    assert len(ids) == 2


def test_the_plugin_reads_the_setting(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.lockorder]\nwrappers = ["locksmod:make"]\n')
    pytester.makepyfile(
        locksmod=textwrap.dedent(
            """
            import threading
            REGISTRY = {}

            def make(name):
                REGISTRY.setdefault(name, threading.Lock())
                return REGISTRY[name]
            """
        ),
        test_it=textwrap.dedent(
            """
            import threading
            import locksmod

            def test_order():
                a = locksmod.make("a")
                b = locksmod.make("b")
                def one():
                    with a, b:
                        pass
                def two():
                    with b, a:
                        pass
                for target in (one, two):
                    t = threading.Thread(target=target)
                    t.start()
                    t.join(10)
            """
        ),
    )
    result = pytester.runpytest_subprocess(
        "--lockorder", "--lockorder-report=json:r.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    data = json.loads((pytester.path / "r.json").read_text())
    sites = sorted(lock["site"] for lock in data["findings"][0]["locks"])
    assert sites == ["test_it.py:5", "test_it.py:6"]  # a = ..., b = ...: the callers


class _Model:
    pass


class _Maker:
    """Not lock-like: makes a lock in a method while it holds other objects."""

    def make_and_drop(self) -> bool:
        import gc
        import weakref

        model = _Model()
        gone = weakref.ref(model)
        self.lock = lockorder.Lock()  # the walk looks at this method's frame
        del model
        gc.collect()
        return gone() is None


def test_finding_a_site_keeps_no_local_of_the_frame_alive() -> None:
    """Regression (transitions' test_garbage_collection): the wrapper check read
    the frame's f_locals, which before Python 3.13 keeps a copy of every local
    alive in the frame; a model deleted afterwards was never collected."""
    assert _Maker().make_and_drop()
