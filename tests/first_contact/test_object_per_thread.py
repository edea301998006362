"""An object per thread (issue "First contact", item 8).

A ``Session`` class takes ``send -> recv`` in one method and ``recv -> send`` in
another. Two threads, each with a ``Session`` of its own, one calling each
method: no lock was ever taken by two threads, so no thread could block another.
Before, lockorder reported it as an error (a cycle no single thread made alone
was full, whether or not its threads shared locks), ``lockorder run`` exited 3
and ``pytest --lockorder`` failed the test. Now it is a warning that names the
classes no two threads shared; the class-level inversion is still shown, since a
``Session`` shared later deadlocks. The same program with one ``Session`` shared
by both threads is a full error.

Each test runs the real commands in subprocesses, from a directory of its own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.first_contact import _run

TIMEOUT = 60

#: the two methods take the session's locks in opposite orders; the program
#: gives each thread a Session of its own (OWN) or one Session to both (SHARED).
#: Both threads run at once: the server waits for the client's first request,
#: then drains while the client goes on.
PROGRAM = """
import threading


class Session:
    def __init__(self, name):
        self.name = name
        self.send_lock = threading.Lock()  # send
        self.recv_lock = threading.Lock()  # recv
        self.outbox = []
        self.inbox = []

    def request(self, message):
        with self.send_lock:
            self.outbox.append(message)
            with self.recv_lock:
                self.inbox.append("ack " + message)

    def drain(self):
        with self.recv_lock:
            received = list(self.inbox)
            self.inbox.clear()
            with self.send_lock:
                self.outbox.append(f"drained {{len(received)}}")
        return received


def client(session, sent, drained):
    session.request("first")
    sent.set()
    assert drained.wait(10)
    session.request("second")


def server(session, sent, drained):
    try:
        assert sent.wait(10)
        session.drain()
    finally:
        drained.set()


def main():
    sessions = {sessions}
    sent, drained = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=client, args=(sessions[0], sent, drained), name="client"),
        threading.Thread(target=server, args=(sessions[1], sent, drained), name="server"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    print("done")


def test_sessions():
    main()


if __name__ == "__main__":
    main()
"""

OWN = PROGRAM.format(sessions='[Session("one"), Session("two")]')
SHARED = PROGRAM.format(sessions='[Session("both")] * 2')


def _lockorder_run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run.lockorder(
        cwd, "run", "--json", "r.json", *args, env=_run.user_environment(), timeout=TIMEOUT
    )


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run.pytest(
        cwd,
        *("-p", "no:cacheprovider", "-p", "no:asyncio", *args),
        env=_run.user_environment(),
        timeout=TIMEOUT,
    )


def _finding(report: Path) -> dict[str, Any]:
    data = json.loads(report.read_text())
    (found,) = data["findings"]
    assert found["kind"] == "potential-deadlock", found
    return found  # type: ignore[no-any-return]


def _line(program: str, marker: str) -> int:
    (number,) = [n for n, text in enumerate(program.splitlines(), 1) if text.endswith(marker)]
    return number


def _unshared(reason: str) -> str:
    """The classes the reason says no two threads shared."""
    assert " was ever acquired by two threads" in reason, reason
    return reason.split("no lock of ", 1)[1].split(" was ever acquired by two threads")[0]


def _check_warning(finding: dict[str, Any], program: str) -> None:
    send, recv = _line(program, "# send"), _line(program, "# recv")
    assert finding["severity"] == "warning" and finding["single_thread"], finding
    assert finding["message"] == (
        f"lock-order inversion: Lock sessions.py:{send} -> Lock sessions.py:{recv} "
        f"-> Lock sessions.py:{send}"
    )
    reason = finding["reason"]
    assert reason.startswith("the edges were made by 'client', 'server', but no lock of "), reason
    assert _unshared(reason) == f"Lock sessions.py:{send}, Lock sessions.py:{recv}"
    assert "each thread took locks of its own (one object per thread)" in reason


def test_lockorder_run_reports_an_object_per_thread_as_a_warning(tmp_path: Path) -> None:
    """Before: 'lockorder ERROR: potential-deadlock', exit status 3 (and in raise
    mode a PotentialDeadlockError killed the server thread)."""
    (tmp_path / "sessions.py").write_text(OWN)
    for mode in ("record", "raise"):
        done = _lockorder_run(tmp_path, "--mode", mode, "sessions.py")
        assert done.returncode == 0, done.stderr[-4000:]
        assert done.stdout == "done\n"
        assert "Traceback" not in done.stderr
        assert "lockorder: 1 finding(s) (0 error(s), 1 warning(s))" in done.stderr
        assert "lockorder WARNING: potential-deadlock: lock-order inversion:" in done.stderr
        _check_warning(_finding(tmp_path / "r.json"), OWN)


def test_pytest_passes_an_object_per_thread_with_a_warning(tmp_path: Path) -> None:
    """Before: the test failed (PotentialDeadlockError in the server thread, an
    error finding failing the run)."""
    (tmp_path / "test_sessions.py").write_text(OWN)
    (tmp_path / "sessions.py").write_text(OWN)
    done = _pytest(tmp_path, "--lockorder", "--lockorder-report=json:r.json", "test_sessions.py")
    assert done.returncode == 0, done.stdout[-4000:]
    assert "1 passed" in done.stdout
    assert "(seen in one thread only)" in done.stdout
    finding = _finding(tmp_path / "r.json")
    # the report names the test file; the lines are the program's
    finding["message"] = finding["message"].replace("test_sessions.py", "sessions.py")
    finding["reason"] = finding["reason"].replace("test_sessions.py", "sessions.py")
    _check_warning(finding, OWN)
    assert finding["test"] == "test_sessions.py::test_sessions"


def test_one_session_shared_by_both_threads_is_an_error(tmp_path: Path) -> None:
    """The same threads on one Session: each lock is taken by both, the cycle is
    full. In raise mode the server's acquire of send, while it holds recv, raises
    before it blocks."""
    (tmp_path / "sessions.py").write_text(SHARED)
    done = _lockorder_run(tmp_path, "sessions.py")
    assert done.returncode == 3, done.stderr[-4000:]
    assert "lockorder: 1 finding(s) (1 error(s), 0 warning(s))" in done.stderr
    finding = _finding(tmp_path / "r.json")
    assert finding["severity"] == "error" and not finding["single_thread"]
    assert finding["reason"] == (
        "the edges were made by 'client', 'server' and no common lock was held around all of them"
    )

    raised = _lockorder_run(tmp_path, "--mode", "raise", "sessions.py")
    assert raised.returncode == 3, raised.stderr[-4000:]  # the program went on
    assert "Exception in thread server" in raised.stderr
    assert "PotentialDeadlockError" in raised.stderr

    (tmp_path / "test_sessions.py").write_text(SHARED)
    tested = _pytest(tmp_path, "--lockorder", "test_sessions.py")
    assert tested.returncode == 1, tested.stdout[-4000:]
    assert "ERROR" in tested.stdout and "lock-order inversion" in tested.stdout
