"""Findings as log records on the "lockorder" logger (issue 27, docs/production.md):
one record per new finding, at WARNING or ERROR by severity, with structured
fields, in raise and warn modes; none in record mode; never twice for one finding."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import lockorder
from lockorder.errors import PotentialDeadlockError
from tests.conftest import run_threads


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.WARNING, logger="lockorder")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield caplog


def _lockorder(records: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in records.records if r.name == "lockorder"]


def _inversion(times: int = 1) -> tuple[lockorder.Lock, lockorder.Lock]:
    a = lockorder.Lock(name="log a")
    b = lockorder.Lock(name="log b")

    def forward() -> None:
        with a, b:
            pass

    def backward() -> None:
        try:
            with b, a:
                pass
        except PotentialDeadlockError:
            pass

    for _ in range(times):
        run_threads(forward, backward)
    return a, b


def test_each_new_finding_is_one_record_with_structured_fields(
    records: pytest.LogCaptureFixture,
) -> None:
    lockorder.configure(mode="warn")
    _inversion(times=3)
    (record,) = _lockorder(records)
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(
        "potential-deadlock: lock-order inversion: log a (tests/test_logging.py:"
    )
    assert "\n" not in record.getMessage()  # the stacks are the report's
    assert record.lockorder_kind == "potential-deadlock"  # type: ignore[attr-defined]
    assert record.lockorder_severity == "error"  # type: ignore[attr-defined]
    assert len(record.lockorder_fingerprint) == 24  # type: ignore[attr-defined]
    sites = record.lockorder_sites  # type: ignore[attr-defined]
    assert len(sites) == 2 and all(s.startswith("tests/test_logging.py:") for s in sites)
    assert record.lockorder_locks[0].startswith("log a (")  # type: ignore[attr-defined]
    threads = record.lockorder_threads  # type: ignore[attr-defined]
    assert [t.split(" (")[1] for t in threads] == ["forward)", "backward)"]
    assert record.lockorder_test is None  # type: ignore[attr-defined]
    (finding,) = lockorder.findings()
    from lockorder.report.fingerprint import fingerprint

    assert record.lockorder_fingerprint == fingerprint(finding)  # type: ignore[attr-defined]


def test_a_finding_made_at_a_thread_s_end_is_logged_at_the_next_flush_and_leaves_no_thread(
    records: pytest.LogCaptureFixture,
) -> None:
    """A record made in the ending thread would leave a threading._DummyThread
    behind for ever (threading.current_thread() there)."""
    lockorder.configure(mode="warn")
    kept = lockorder.Lock(name="log kept")
    run_threads(kept.acquire)
    # made as the thread ended, where a log record cannot be made: logged at the
    # next flush (a finding, lockorder.findings(), the exit)
    assert not _lockorder(records)
    assert [f.kind for f in lockorder.findings()] == ["held-at-exit"]
    (record,) = _lockorder(records)
    assert record.levelno == logging.WARNING
    assert record.lockorder_kind == "held-at-exit"  # type: ignore[attr-defined]
    assert "ended while holding log kept" in record.getMessage()
    assert threading.active_count() == 1, threading.enumerate()


def test_raise_mode_logs_its_warnings_and_raises_its_errors(
    records: pytest.LogCaptureFixture,
) -> None:
    """An error raised into the program is reported by its exception: a log
    record too would say it twice (pytest shows both)."""
    _inversion()
    assert [f.kind for f in lockorder.findings()] == ["potential-deadlock"]
    assert not _lockorder(records)
    kept = lockorder.Lock(name="log raise kept")
    run_threads(kept.acquire)
    lockorder.findings()  # (the flush: above)
    (record,) = _lockorder(records)
    assert record.levelno == logging.WARNING and record.lockorder_kind == "held-at-exit"  # type: ignore[attr-defined]


def test_record_mode_is_silent(records: pytest.LogCaptureFixture) -> None:
    lockorder.configure(mode="record")
    _inversion()
    assert lockorder.findings() and not _lockorder(records)


def test_a_handler_that_takes_a_checked_lock_makes_no_edge_and_no_deadlock() -> None:
    """The record is logged outside lockorder's own locks, and the handler's lock
    acquires there are lockorder's doing, not the program's: no edge."""
    handler_lock = lockorder.Lock(name="log handler")
    seen: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with handler_lock:
                seen.append(record.getMessage())

    handler = Handler()
    logger = logging.getLogger("lockorder")
    logger.addHandler(handler)
    try:
        lockorder.configure(mode="warn")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _inversion()
    finally:
        logger.removeHandler(handler)
    assert len(seen) == 1
    edges = list(lockorder.graph().edges)
    assert ("log a", "log b") in edges
    assert not any("log handler" in edge for edge in edges), edges


#: docs/production.md's filters: the findings' warnings, and nothing else
FINDINGS_FILTERS = ("-W", "ignore:lockorder ERROR", "-W", "ignore:lockorder WARNING")


def test_the_worked_example_of_docs_production_prints_what_the_page_shows(
    tmp_path: Path,
) -> None:
    page = (Path(__file__).parent.parent / "docs" / "production.md").read_text()
    example = page.split("A worked example, `app.py`:\n\n```python\n", 1)[1]
    source, rest = example.split("```\n", 1)
    command = '$ python -W "ignore:lockorder ERROR" -W "ignore:lockorder WARNING" app.py\n'
    shown = rest.split("```text\n" + command, 1)[1].split("```", 1)[0]
    (tmp_path / "app.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKORDER")}

    def run(**settings: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *FINDINGS_FILTERS, "app.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**env, **settings},
        )

    done = run()
    assert done.returncode == 0, done.stderr
    assert done.stderr == shown
    # the page's filters hide the findings' warnings only: a bad setting is still told
    done = run(LOCKORDER_MODE="rise")
    assert "LOCKORDER_MODE must be one of raise, warn, record (got 'rise'" in done.stderr
    assert done.stderr.endswith(shown)


SHUTDOWN = """
import threading
import lockorder

lockorder.configure(mode="warn")

class Resource:
    def __init__(self):
        self.lock = lockorder.Lock()
        self.other = lockorder.Lock()

    def __del__(self):  # runs at interpreter shutdown, modules half torn down
        with self.other:
            with self.lock:
                pass

resource = Resource()

def use():
    with resource.lock:
        with resource.other:
            pass

thread = threading.Thread(target=use)
thread.start()
thread.join(10)
"""


def test_a_finalizer_taking_checked_locks_at_shutdown_prints_no_lockorder_error(
    tmp_path: Path,
) -> None:
    """The finding it makes is logged and warned as any other: no 'Exception
    ignored' from an import lockorder tried while the interpreter ended."""
    (tmp_path / "shutdown.py").write_text(SHUTDOWN)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "shutdown.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("LOCKORDER")},
    )
    assert done.returncode == 0
    assert "Exception ignored" not in done.stderr, done.stderr
