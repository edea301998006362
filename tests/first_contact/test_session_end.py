"""How a session ends: interrupted with Ctrl-C (or stopped by -x), a lock the main
thread leaks, a baselined finding that still fails its test. Each ends with a
summary and reports that say what happened, in real subprocesses."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT
from tests.first_contact import _run

#: test_one makes an inversion between two threads (an error that fails it);
#: test_two says it is running through the FIFO in $READY, then waits
INTERRUPTED = textwrap.dedent(
    """
    import os
    import threading

    a = threading.Lock()
    b = threading.Lock()


    def test_one():
        def ab():
            with a:
                with b:
                    pass

        t = threading.Thread(target=ab)
        t.start()
        t.join()
        with b:
            with a:
                pass


    def test_two():
        with open(os.environ["READY"], "w") as fifo:
            fifo.write("ready")
        threading.Event().wait(float(os.environ["WAIT"]))


    def test_three():
        pass
    """
)


def _env(**extra: str) -> dict[str, str]:
    return _run.environment(PYTEST_ADDOPTS="-p no:asyncio -p no:cacheprovider", **extra)


def _sigint_as_in_a_terminal() -> None:
    """In the child, before exec: SIGINT's default action, as a terminal gives.
    A suite run as a background job of a non-interactive shell (CI may be one)
    inherits SIGINT ignored, and Python then never installs the handler that
    raises KeyboardInterrupt: the Ctrl-C would be lost, not tested."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(path: Path, *args: str) -> tuple[int, str]:
    """Run pytest in a session of its own and press Ctrl-C (SIGINT to the whole
    process group, xdist's workers too) once test_two is running."""
    ready = path / "ready"
    os.mkfifo(ready)
    reader = os.open(ready, os.O_RDONLY | os.O_NONBLOCK)  # no writer yet: not readable
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "--lockorder", *args],
            cwd=path,
            env=_env(READY=str(ready), WAIT=str(TIMEOUT)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_sigint_as_in_a_terminal,
        )
        try:
            readable, _, _ = select.select([reader], [], [], 60)
            assert readable, "test_two never started"
            os.killpg(process.pid, signal.SIGINT)
            out, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
    finally:
        os.close(reader)
    return process.returncode, out


def _check_interrupted(path: Path, status: int, out: str) -> None:
    assert status == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out
    section = out[out.index("= lockorder =") :]
    assert "interrupted: the findings made before the session stopped" in section
    assert "no findings" not in section
    assert "potential-deadlock: 1\n  ERROR [test_s.py::test_one] lock-order inversion" in section
    assert "report json: lockorder.json\nreport html: lockorder.html\n" in section
    data = json.loads((path / "lockorder.json").read_text())
    assert [(f["kind"], f["test"]) for f in data["findings"]] == [
        ("potential-deadlock", "test_s.py::test_one")
    ]
    assert "lock-order inversion" in (path / "lockorder.html").read_text()


def test_ctrl_c_keeps_the_findings_and_writes_every_report(tmp_path: Path) -> None:
    (tmp_path / "test_s.py").write_text(INTERRUPTED)
    status, out = _interrupt(
        tmp_path, "-p", "no:xdist", "--lockorder-report=json", "--lockorder-report=html"
    )
    _check_interrupted(tmp_path, status, out)
    assert "test_s.py::test_three" not in out  # it did stop there


def test_ctrl_c_under_xdist_takes_the_workers_journals(tmp_path: Path) -> None:
    """The controller stops waiting for its worker: what the worker learned comes
    from its journal, written after test_one."""
    pytest.importorskip("xdist")
    (tmp_path / "test_s.py").write_text(INTERRUPTED)
    status, out = _interrupt(
        tmp_path, "-n", "1", "--lockorder-report=json", "--lockorder-report=html"
    )
    _check_interrupted(tmp_path, status, out)


def test_stopping_at_the_first_failure_still_writes_the_reports(tmp_path: Path) -> None:
    """-x ends the loop with an exception too (pytest's Failed): same as Ctrl-C,
    but not called an interruption."""
    (tmp_path / "test_s.py").write_text(INTERRUPTED)
    result = _run.pytest(
        tmp_path, "--lockorder", "-p", "no:xdist", "-x", "--lockorder-report=json", env=_env()
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    section = result.stdout[result.stdout.index("= lockorder =") :]
    assert "interrupted" not in section
    assert "potential-deadlock: 1\n  ERROR [test_s.py::test_one]" in section
    assert "report json: lockorder.json" in section
    data = json.loads((tmp_path / "lockorder.json").read_text())
    assert [f["kind"] for f in data["findings"]] == ["potential-deadlock"]


LEAK = textwrap.dedent(
    """
    import threading

    lock = threading.Lock()
    try:
        lock.acquire()
        raise ValueError("boom")
    except ValueError:
        pass
    print("done")
    """
)


def _lockorder_run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run.lockorder(path, "run", "--json", "", *args, env=_env())


def test_a_lock_the_main_thread_leaks_is_held_at_exit(tmp_path: Path) -> None:
    (tmp_path / "leak.py").write_text(LEAK)
    result = _lockorder_run(tmp_path, "leak.py")
    assert result.stdout == "done\n"
    assert result.returncode == 0, result.stderr  # a warning, as for any other thread
    assert result.stderr.startswith("lockorder: 1 finding(s) (0 error(s), 1 warning(s))")
    assert (
        "lockorder WARNING: held-at-exit: thread 'MainThread' ended while holding Lock leak.py:4\n"
        "  why: every later acquire of it waits forever, unless another thread releases it; "
        "release it on every path: take it with 'with lock:', or release it in a finally\n"
        "  Lock leak.py:4 acquired at leak.py:6 in <module>\n"
    ) in result.stderr
    assert _lockorder_run(tmp_path, "--fail-on", "warning", "leak.py").returncode == 3


def test_a_program_that_releases_everything_has_no_held_at_exit(tmp_path: Path) -> None:
    """The stdlib's locks the program used (logging, queue, an executor, a
    Condition), a with block left by sys.exit(): nothing is left held."""
    (tmp_path / "clean.py").write_text(
        textwrap.dedent(
            """
            import concurrent.futures
            import logging
            import queue
            import sys
            import threading

            logging.basicConfig()
            lock = threading.RLock()
            q = queue.Queue()


            def work():
                with lock:
                    q.put(1)


            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                pool.submit(work).result()
            condition = threading.Condition()
            with condition:
                condition.notify_all()
            logging.getLogger("clean").warning("%d", q.qsize())
            with lock:
                sys.exit(0)
            """
        )
    )
    result = _lockorder_run(tmp_path, "clean.py")
    assert result.returncode == 0, result.stderr
    assert "lockorder: 0 finding(s)" in result.stderr, result.stderr


def test_a_lock_a_test_leaks_says_why_it_is_a_bug(tmp_path: Path) -> None:
    (tmp_path / "test_leak.py").write_text(
        textwrap.dedent(
            """
            import threading

            lock = threading.Lock()


            def test_leak():
                lock.acquire()
            """
        )
    )
    result = _run.pytest(tmp_path, "--lockorder", "-p", "no:xdist", "-rA", env=_env())
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert (
        "lockorder WARNING: held-at-test-end: thread 'MainThread' still held Lock "
        "test_leak.py:4 when the test ended; these locks make no more edges\n"
        "  test: test_leak.py::test_leak\n"
        "  why: a lock left held blocks every later acquire by another thread forever, and "
        "a later acquire by this thread is a self-deadlock; release it on every path: "
        "take it with 'with lock:', or release it in a finally\n"
    ) in result.stdout


SELF_DEADLOCK = textwrap.dedent(
    """
    import threading

    lock = threading.Lock()


    def test_self():
        with lock:
            lock.acquire()
    """
)


@pytest.mark.parametrize("xdist", [["-p", "no:xdist"], ["-n", "1"]], ids=["plain", "xdist"])
def test_a_baselined_self_deadlock_that_fails_its_test_is_in_the_summary(
    tmp_path: Path, xdist: list[str]
) -> None:
    if xdist[0] == "-n":
        pytest.importorskip("xdist")
    (tmp_path / "test_s.py").write_text(SELF_DEADLOCK)
    first = _run.pytest(
        tmp_path, "--lockorder", "-p", "no:xdist", "--lockorder-report=json", env=_env()
    )
    assert "self-deadlock: 1" in first.stdout, first.stdout
    accept = _run.lockorder(
        tmp_path, "baseline", "lockorder.json", "-o", "baseline.json", env=_env()
    )
    assert accept.returncode == 0, accept.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.lockorder]\nbaseline = "baseline.json"\n')
    result = _run.pytest(tmp_path, "--lockorder", *xdist, env=_env())
    # raising is right (the test would hang), and the summary says it happened
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "SelfDeadlockError" in result.stdout
    section = result.stdout[result.stdout.index("= lockorder =") :]
    lines = section.splitlines()[1:5]
    assert lines[0] == "no findings counted", section
    assert lines[1] == (
        "suppressed, but raised all the same: 1 (a self-deadlock or a deadlock raises "
        "in every mode, or the test would hang)"
    )
    assert lines[2] == (
        "  ERROR [test_s.py::test_self] self-deadlock: thread 'MainThread' acquires Lock "
        "test_s.py:4, which it already holds: a non-reentrant Lock would wait forever"
    )
    assert lines[3].startswith("    suppressed by: baseline "), section
