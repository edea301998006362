"""Reports from a running process (issue 27, item 3; docs/production.md):
``LOCKORDER_REPORT`` / ``configure(report=...)``, ``{pid}``, writes while it
runs, at exit and on SIGTERM, forked workers' own files, the dump signal.

Each program runs in a subprocess with a timeout; a test that waits for a
file polls it against a deadline, never a fixed sleep."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lockorder
from lockorder import _live
from lockorder.errors import ConfigurationError

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")

TIMEOUT = 20.0

#: an inversion made by two threads of the program, one after the other: a finding
INVERSION = """
def inversion(name):
    a = lockorder.Lock(name=name + " a")
    b = lockorder.Lock(name=name + " b")
    def forward():
        with a, b:
            pass
    def backward():
        with b, a:
            pass
    for target in (forward, backward):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join(10)
"""

#: two inversions, each a finding; the program says when each is made
PROGRAM = (
    """
import os, select, sys, threading, time
import lockorder

lockorder.configure(mode="record")

def line():
    # as a server's main loop does: wake now and then. A signal the kernel gives
    # a thread just ending leaves a main thread blocked in read() unaware of it
    # (Python runs handlers in the main thread, when it runs)
    while not select.select([sys.stdin], [], [], 0.05)[0]:
        pass
    sys.stdin.readline()

"""
    + INVERSION
    + """
inversion("first")
print("first", flush=True)
if "--second" in sys.argv:
    line()  # the test has seen the first one written
    inversion("second")
    print("second", flush=True)
if "--wait" in sys.argv:
    line()  # until the test says (or stops us)
"""
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKORDER")}
    env.update(extra)
    return env


def _start(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    (tmp_path / "svc.py").write_text(PROGRAM)
    return subprocess.Popen(
        [sys.executable, "svc.py", *args],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )


@contextlib.contextmanager
def _killed(proc: subprocess.Popen[str]) -> Iterator[None]:
    """Kill ``proc`` if the block fails before it ended."""
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.kill()


def _wait_for(path: Path, names: int) -> dict[str, Any]:
    """The report at ``path`` once it lists ``names`` findings (or fail)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = None
        if data is not None and len(data["findings"]) >= names:
            return data
        time.sleep(0.02)
    pytest.fail(f"{path} did not list {names} finding(s) within {TIMEOUT} s")


def _merged(tmp_path: Path, files: list[Path]) -> list[str]:
    """The messages of the findings of ``lockorder merge`` of ``files``."""
    merged = subprocess.run(
        [sys.executable, "-m", "lockorder", "merge", "-o", "all.json", *map(str, files)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert merged.returncode in (0, 3), merged.stderr
    return _messages(json.loads((tmp_path / "all.json").read_text()))


def _messages(data: dict[str, Any]) -> list[str]:
    return sorted(f["message"].split(":")[1].split("(")[0].strip() for f in data["findings"])


def test_the_report_is_written_while_the_process_runs_and_names_it(tmp_path: Path) -> None:
    with _start(tmp_path, "--wait", LOCKORDER_REPORT="live-{pid}.json") as proc, _killed(proc):
        assert proc.stdout is not None and proc.stdout.readline() == "first\n"
        data = _wait_for(tmp_path / f"live-{proc.pid}.json", 1)
        assert data["run"]["pid"] == proc.pid and data["run"]["live"] is True
        assert data["findings"][0]["kind"] == "potential-deadlock"
        _, err = proc.communicate("\n", timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert [p.name for p in tmp_path.glob("live-*")] == [f"live-{proc.pid}.json"]


def test_sigterm_writes_what_was_found_since_the_last_write_and_ends_as_sigterm_does(
    tmp_path: Path,
) -> None:
    """The second finding comes less than the interval after the first write, so
    only SIGTERM can write it before the process ends."""
    report = tmp_path / "live.json"
    with (
        _start(tmp_path, "--second", "--wait", LOCKORDER_REPORT=str(report)) as proc,
        _killed(proc),
    ):
        assert proc.stdout is not None and proc.stdout.readline() == "first\n"
        first = _wait_for(report, 1)
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "second\n"
        proc.send_signal(signal.SIGTERM)
        proc.wait(TIMEOUT)
    assert proc.returncode == -signal.SIGTERM
    assert _messages(first) == ["first a"]
    assert _messages(json.loads(report.read_text())) == ["first a", "second a"]


def test_a_program_that_ends_at_once_still_leaves_its_report(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text(PROGRAM)
    done = subprocess.run(
        [sys.executable, "svc.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=_env(LOCKORDER_REPORT="out/live.json"),
    )
    assert done.returncode == 0, done.stderr
    assert _messages(json.loads((tmp_path / "out" / "live.json").read_text())) == ["first a"]


FORKS = (
    """
import os, sys, threading
import lockorder

lockorder.configure(mode="record")

"""
    + INVERSION
    + """
children = []
for worker in ("one", "two"):
    pid = os.fork()
    if pid == 0:
        inversion(worker)
        sys.exit(0)  # a worker's normal end: atexit writes its report
    children.append(pid)
for pid in children:
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
print(" ".join(map(str, children)))
"""
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
@pytest.mark.parametrize("template", ["w-{pid}.json", "w.json"])
def test_forked_workers_write_their_own_reports_and_merge_into_one(
    tmp_path: Path, template: str
) -> None:
    (tmp_path / "master.py").write_text(FORKS)
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "master.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=_env(LOCKORDER_REPORT=template),
    )
    assert done.returncode == 0, done.stderr
    children = done.stdout.split()
    root, ext = os.path.splitext(template.replace("{pid}", "PID"))
    name = root.replace("PID", "{}") if "{pid}" in template else root + ".{}"
    files = [tmp_path / (name.format(pid) + ext) for pid in children]
    assert [_messages(json.loads(f.read_text())) for f in files] == [["one a"], ["two a"]]
    assert _merged(tmp_path, files) == ["one a", "two a"]


def test_the_dump_signal_prints_the_dump_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "live.json"
    with (
        _start(
            tmp_path, "--wait", LOCKORDER_REPORT=str(report), LOCKORDER_DUMP_SIGNAL="usr1"
        ) as proc,
        _killed(proc),
    ):
        assert proc.stdout is not None and proc.stdout.readline() == "first\n"
        _wait_for(report, 1)
        proc.send_signal(signal.SIGUSR1)
        _, err = proc.communicate("\n", timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert "lockorder dump: checked locks held and waited for, by thread" in err, err
    assert f"lockorder: report up to date in {report}\n" in err, err


def test_an_unchanged_report_is_not_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_live, "changed", lambda: None)  # no writer thread: this test writes
    report = tmp_path / "same.json"
    lockorder.configure(mode="record", report=str(report))
    try:
        a, b = lockorder.Lock(name="live a"), lockorder.Lock(name="live b")
        with a, b:
            pass
        assert _live.write_now() is True
        assert _live.write_now() is False
        with b, a:
            pass
        assert _live.write_now() is True
    finally:
        lockorder.configure(report="")
    assert _messages(json.loads(report.read_text())) == ["live a"]


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("report", "live-{host}.json", "a file path, where {pid} stands for the process id"),
        ("report", "reports/", "a file path"),
        ("dump_signal", "KILL", "a signal name such as USR1, not TERM, INT, KILL, STOP"),
        ("dump_signal", "TERM", "a signal name such as USR1, not TERM, INT, KILL, STOP"),
        ("dump_signal", "NOPE", r"a signal name such as USR1 \('' for none\)"),
    ],
)
def test_a_bad_setting_is_one_clear_error(setting: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected) as info:
        lockorder.configure(**{setting: value})
    assert setting in str(info.value) and repr(value) in str(info.value)


MULTIPROCESSING = """
import multiprocessing, threading
import lockorder

lockorder.configure(mode="record")
a = lockorder.Lock(name="mp a")
b = lockorder.Lock(name="mp b")

def half(first, second):
    with first, second:  # one edge per worker: the inversion is only in the merge
        pass

if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=half, args=pair) for pair in ((a, b), (b, a))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    print(" ".join(str(worker.pid) for worker in workers))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_multiprocessing_workers_which_end_with_os_exit_still_write_their_reports(
    tmp_path: Path,
) -> None:
    """A multiprocessing worker ends with os._exit(), which runs no atexit
    handler: without its own exit hook its report, with its half of the
    inversion, was lost, and the merge found nothing."""
    (tmp_path / "mp.py").write_text(MULTIPROCESSING)
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "mp.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=_env(LOCKORDER_REPORT="lo-{pid}.json"),
    )
    assert done.returncode == 0, done.stderr
    files = [tmp_path / f"lo-{pid}.json" for pid in done.stdout.split()]
    assert all(f.exists() for f in files), sorted(p.name for p in tmp_path.iterdir())
    assert _merged(tmp_path, files) == ["mp a"]


OWN_HANDLER = """
import signal, sys
signal.signal(signal.SIGUSR1, lambda *_: print("the program's own", flush=True))
import lockorder
lockorder.configure(dump_signal="USR1")
print("set:", lockorder.settings().dump_signal or "no", flush=True)
signal.raise_signal(signal.SIGUSR1)
"""


def test_the_dump_signal_never_replaces_the_program_s_own_handler(tmp_path: Path) -> None:
    (tmp_path / "own.py").write_text(OWN_HANDLER)
    done = subprocess.run(
        [sys.executable, "own.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "set: no\nthe program's own\n"
    assert done.stderr == (
        "lockorder: dump_signal SIGUSR1 not set: the program handles it already\n"
    )


def test_checking_off_writes_no_report_and_takes_no_signal(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text(PROGRAM)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import lockorder, signal; print(signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=_env(LOCKORDER="0", LOCKORDER_REPORT="off.json", LOCKORDER_DUMP_SIGNAL="USR1"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True\n"
    assert not (tmp_path / "off.json").exists()
