"""lockorder's own work on a program's lock creation and acquire makes no
filesystem or blocking call (issue 25, item 1).

A suite whose autouse fixture activates blockbuster (an asyncio checker that
raises on calls that may block) failed under ``--lockorder``: each lock made
on the event loop's thread (a ``queue.Queue()`` of the code under test) went
through ``os.path.abspath()`` in lockorder, which blockbuster names as a
blocking call. The rule is checked with blockbuster (a pytest suite with its
fixture, and ``lockorder run``) and without it: an audit hook and wrappers of
``os``'s path and directory calls see nothing of lockorder's while a thread
makes and takes locks, nests them, waits on a bounded queue and makes a finding.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.first_contact import _run

#: code under test that makes a queue and locks on the event loop's thread, nests
#: them both ways (a finding, whose text is made there too) and waits on the queue
LOOP_CODE = """
import asyncio
import queue
import threading


async def work():
    jobs = queue.Queue(2)
    a = threading.Lock()
    b = threading.RLock()
    ready = threading.Condition(threading.Lock())
    with a:
        with b:
            jobs.put(1)
    with b:
        with a:
            with ready:
                ready.notify_all()
    return jobs.get()


def run():
    return asyncio.run(work())
"""

CONFTEST = """
import pytest
from blockbuster import blockbuster_ctx


@pytest.fixture(autouse=True)
def blockbuster():
    with blockbuster_ctx() as bb:
        yield bb
"""

TESTS = """
from app import run


def test_on_the_loop():
    assert run() == 1


def test_again():
    assert run() == 1
"""

SCRIPT = """
from blockbuster import blockbuster_ctx

from app import run

with blockbuster_ctx():
    print("got", run())
"""


def _project(tmp_path: Path) -> Path:
    pytest.importorskip("blockbuster")  # the test extra's
    (tmp_path / "app.py").write_text(LOOP_CODE, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_app.py").write_text(TESTS, encoding="utf-8")
    (tmp_path / "main.py").write_text(SCRIPT, encoding="utf-8")
    return tmp_path


def _output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


@pytest.mark.parametrize("mode", ["raise", "warn", "record"])
def test_a_suite_that_uses_blockbuster_passes_under_lockorder(tmp_path: Path, mode: str) -> None:
    """Both tests failed with ``BlockingError: Blocking call to os.path.abspath``."""
    here = _project(tmp_path)
    env = _run.environment(("PYTEST", "LOCKORDER"), PYTHONPATH=str(here))
    plain = _run.pytest(here, "-q", "-p", "no:asyncio", env=env, timeout=120)
    assert plain.returncode == 0, _output(plain)
    done = _run.pytest(
        here, "-q", "-p", "no:asyncio", "--lockorder", f"--lockorder-mode={mode}",
        env=env, timeout=120,
    )  # fmt: skip
    assert "BlockingError" not in _output(done), _output(done)
    assert "2 passed" in done.stdout, _output(done)


def test_lockorder_run_of_a_program_under_blockbuster(tmp_path: Path) -> None:
    here = _project(tmp_path)
    env = _run.environment(("PYTEST", "LOCKORDER"), PYTHONPATH=str(here))
    done = _run.lockorder(here, "run", "--mode", "warn", "main.py", env=env)
    assert "BlockingError" not in _output(done), _output(done)
    assert done.returncode == 0, _output(done)
    assert "got 1" in done.stdout
    assert "potential-deadlock" in done.stderr  # the finding was made on the loop


#: a program that records every audit event of the filesystem (open, os.*) and
#: every call of os's path and directory functions while a new thread makes and
#: takes locks; it prints what it saw
AUDITED = """
import os
import posixpath
import queue
import sys
import threading
import warnings

import lockorder

lockorder.install()
warnings.simplefilter("ignore")  # the finding's text is made; not shown
seen = []
watching = threading.local()


def hook(event, args):
    if getattr(watching, "on", False) and (event == "open" or event.startswith(("os.", "shutil."))):
        seen.append(f"audit {event} {args!r:.80}")


def recorder(module, name):
    original = getattr(module, name)

    def call(*args, **kwargs):
        if getattr(watching, "on", False):
            seen.append(f"call {module.__name__}.{name}{args!r:.80}")
        return original(*args, **kwargs)

    setattr(module, name, call)


for name in ("getcwd", "getcwdb", "stat", "lstat", "listdir", "scandir", "readlink"):
    recorder(os, name)
for name in ("abspath", "realpath", "relpath", "exists", "isfile", "isdir", "islink"):
    recorder(posixpath, name)
sys.addaudithook(hook)


def work():
    watching.on = True
    try:
        jobs = queue.Queue(1)
        a = threading.Lock()
        b = threading.RLock()
        ready = threading.Condition(threading.Lock())
        units = threading.BoundedSemaphore(2)
        with a:
            with b:
                jobs.put(1)
                with units:
                    pass
        with b:
            with a:  # an inversion: a finding, its text made here
                with ready:
                    ready.wait(0)
        jobs.get()
    finally:
        watching.on = False


thread = threading.Thread(target=work)
thread.start()
thread.join(30)
print("findings", *sorted({finding.kind for finding in lockorder.findings()}))
print("seen", len(seen))
for line in seen:
    print(line)
"""


def test_no_filesystem_call_on_a_lock_creation_or_acquire(tmp_path: Path) -> None:
    """Without the fix: os.path.abspath per new lock class, and the import of
    lockorder._wrap (its files opened) by the first Condition over a lock."""
    script = tmp_path / "audited.py"
    script.write_text(AUDITED, encoding="utf-8")
    env = _run.environment(("PYTEST", "LOCKORDER"), LOCKORDER_MODE="warn")
    done = _run.command([sys.executable, "audited.py"], tmp_path, env=env)
    assert done.returncode == 0, _output(done)
    assert "potential-deadlock" in done.stdout.splitlines()[0], _output(done)
    assert "seen 0\n" in done.stdout, _output(done)
