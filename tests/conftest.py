"""Shared fixtures: every test starts from a clean checker and leaves threading as it found it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lockorder
from lockorder import _threads, _unpatched
from lockorder._state import checker

pytest_plugins = ["pytester"]

# pytest-asyncio (in the test extra for test_asyncio.py) warns in every pytest run
# without its asyncio_default_fixture_loop_scope setting: the pytest runs the tests
# make leave it out (here and in the pytester fixture), except the one that tests it
_NO_PYTEST_ASYNCIO = "-p no:asyncio"


@pytest.fixture(autouse=True, scope="session")
def subprocess_pytest_without_pytest_asyncio() -> Iterator[None]:
    """Set once tests run (not at import: xdist's workers inherit the environment)."""
    saved = os.environ.get("PYTEST_ADDOPTS")
    os.environ["PYTEST_ADDOPTS"] = " ".join(filter(None, [saved, _NO_PYTEST_ASYNCIO]))
    yield
    if saved is None:
        del os.environ["PYTEST_ADDOPTS"]
    else:
        os.environ["PYTEST_ADDOPTS"] = saved


def pytest_configure(config: pytest.Config) -> None:
    """Where the environment says not to write bytecode (PYTHONDONTWRITEBYTECODE), the
    Pythons the tests start (some 800: ``python -m lockorder``, pytester's pytest runs)
    write it to a folder of this session's (PYTHONPYCACHEPREFIX), removed at its end:
    each would otherwise compile lockorder's modules from source, and have pytest
    rewrite every module of each pytest plugin installed, again, about half of its
    time. Set before xdist starts its workers, which inherit it."""
    if hasattr(config, "workerinput") or not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return
    folder = tempfile.mkdtemp(prefix="lockorder-tests-pycache-")
    saved = {name: os.environ.get(name) for name in _BYTECODE}
    os.environ.pop("PYTHONDONTWRITEBYTECODE")
    os.environ["PYTHONPYCACHEPREFIX"] = folder
    config.stash[_BYTECODE_KEY] = (folder, saved)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder, saved = config.stash.get(_BYTECODE_KEY, (None, {}))
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


_BYTECODE = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
_BYTECODE_KEY = pytest.StashKey[tuple[str, dict[str, "str | None"]]]()


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's own, but its runs leave pytest-asyncio out too (it clears PYTEST_ADDOPTS)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", _NO_PYTEST_ASYNCIO)
    return pytester


_ORIGINALS = {
    "Lock": _unpatched.Lock,
    "RLock": _unpatched.RLock,
    "Condition": _unpatched.Condition,
    "Semaphore": _unpatched.Semaphore,
    "BoundedSemaphore": _unpatched.BoundedSemaphore,
}

#: a sitecustomize.py that makes ``lockorder._speedups`` not found, as in an install
#: made with no C compiler (put its folder on the child's PYTHONPATH)
WITHOUT_SPEEDUPS = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'lockorder._speedups':\n"
    "            raise ModuleNotFoundError(name)\n"
    "sys.meta_path.insert(0, Block())\n"
)

#: every wait in a thread test is bounded by this, so a bug fails instead of hanging
TIMEOUT = 10.0


def lockorder_run(path: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m lockorder run --json '' PATH`` (no report file), bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "lockorder", "run", "--json", "", path],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(autouse=True)
def clean_checker() -> Iterator[None]:
    """Each test starts with no edges or findings and the default settings."""
    saved = checker.settings
    lockorder.reset()
    lockorder.configure(mode="raise", single_thread="report", enabled=True, self_deadlock_wait=1.0)
    yield
    _threads.abandon_held()  # a lock a test left held must not gate later tests' cycles
    checker.restore(saved)
    lockorder.reset()


@pytest.fixture(autouse=True)
def threading_not_left_patched() -> Iterator[None]:
    """After each test, threading's factories are the originals again."""
    yield
    left = {
        name for name, original in _ORIGINALS.items() if getattr(threading, name) is not original
    }
    for name in left:
        setattr(threading, name, _ORIGINALS[name])
    assert not left, f"threading left patched: {sorted(left)}"


@pytest.fixture
def installed() -> Iterator[None]:
    """lockorder.install() for the test."""
    lockorder.install()
    try:
        yield
    finally:
        lockorder.uninstall()


@pytest.fixture
def record_mode() -> None:
    lockorder.configure(mode="record")


def run_threads(*targets: object) -> None:
    """Run each target in its own thread, one after the other, each joined with a timeout."""
    for target in targets:
        thread = threading.Thread(target=target)  # type: ignore[arg-type]
        thread.start()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), f"{target!r} did not finish within {TIMEOUT} s"


def run_inversion(a: Any, b: Any) -> None:
    """One thread nests ``a`` then ``b``, the next ``b`` then ``a``: a lock-order inversion."""

    def ab() -> None:
        with a, b:
            pass

    def ba() -> None:
        with b, a:
            pass

    run_threads(ab, ba)


def marked_line(path: str, marker: str) -> int:
    """The line of ``path`` that ends with the comment ``# <marker>``."""
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if text.rstrip().endswith(f"# {marker}") and "marked_line(" not in text:
                return number
    raise AssertionError(f"no line of {path} ends with # {marker}")
