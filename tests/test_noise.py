"""No noise (issue 13.4): nothing in a report or on the terminal that is not the
program's, said twice, or worded wrong."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

import lockorder
from lockorder import _threads, report
from lockorder._state import checker
from lockorder.report.html import render_html
from tests.conftest import TIMEOUT, run_inversion

#: a program's end: two threads nest the locks ``a`` and ``b`` in both orders
INVERSION_OF_A_AND_B = """
def nest(x, y):
    with x, y:
        pass
for args in ((a, b), (b, a)):
    t = threading.Thread(target=nest, args=args)
    t.start()
    t.join(10)
"""


def test_locks_pytest_makes_are_not_checked(pytester: pytest.Pytester) -> None:
    """pytest's log capture handlers (RLocks made in _pytest/logging.py) are not the
    program's: no lock class, no edge, no node in the reports."""
    pytester.makepyfile(
        test_log="""
        import logging, threading
        LOCK = threading.Lock()

        def test_logs_under_a_lock():
            with LOCK:
                logging.getLogger("app").warning("under the lock")
        """
    )
    result = pytester.runpytest_subprocess(
        "--lockorder",
        "--lockorder-report=json:r.json",
        "--lockorder-report=dot:r.dot",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "r.json").read_text())
    assert [cls["site"] for cls in data["graph"]["classes"]] == ["test_log.py:2"]
    assert data["graph"]["edges"] == []
    assert "_pytest/logging.py" not in (pytester.path / "r.dot").read_text()


def test_the_dump_leaves_out_lockorders_own_threads() -> None:
    lockorder.configure(long_hold=30.0)  # starts the long-hold monitor thread
    deadline = time.monotonic() + TIMEOUT
    while not _threads.internal_idents and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _threads.internal_idents
    text = lockorder.dump(file=False)
    for ident in _threads.internal_idents:
        assert f"(ident {ident})" not in text
    assert f"(ident {threading.get_ident()})" in text


def test_warn_mode_prints_a_finding_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        prog="import threading, lockorder\n"
        'lockorder.configure(mode="warn")\n'
        'a, b = lockorder.Lock(name="a"), lockorder.Lock(name="b")\n' + INVERSION_OF_A_AND_B
    )
    result = pytester.run(sys.executable, "prog.py", timeout=60)
    assert result.ret == 0
    text = result.stderr.str()
    assert text.count("lock-order inversion: a (prog.py:") == 1, text


def test_a_conditions_own_lock_is_labelled_a_condition() -> None:
    cond = lockorder.Condition()  # the condition
    cls = cond._lock._lo_cls  # type: ignore[attr-defined]
    assert cls.kind == "Condition"
    assert cls.label.startswith("Condition tests/test_noise.py:")
    given = lockorder.Condition(lockorder.Lock())
    assert given._lock._lo_cls.kind == "Lock"  # type: ignore[attr-defined]


def test_counts_are_singular_for_one() -> None:
    lockorder.configure(mode="record")
    a, b = lockorder.Lock(name="one-a"), lockorder.Lock(name="one-b")
    with a, b:
        pass
    wire = checker.graph.to_wire()
    data = report.build(lockorder.findings(), wire, {}, {})
    # the counts are the graph's (the text counts them, whatever "summary" says),
    # and other tests' classes live on in this process: a graph of one, then two
    ours = [c for c in wire["classes"] if c["name"] in ("one-a", "one-b")]
    data["graph"] = {"classes": ours[:1], "edges": wire["edges"]}
    assert "over 1 lock class and 1 edge\n" in report.format_text(data) + "\n"
    data["graph"] = {"classes": ours, "edges": wire["edges"] * 3}
    assert "over 2 lock classes and 3 edges" in report.format_text(data)


def test_the_html_header_says_what_lockorder_run_exited_with(tmp_path: Path) -> None:
    lockorder.configure(mode="record")
    run_inversion(lockorder.Lock(name="h1"), lockorder.Lock(name="h2"))
    data = report.build(
        lockorder.findings(),
        checker.graph.to_wire(),
        {"mode": "record"},
        {"command": ["prog.py"], "exit_status": 0, "lockorder_exit_status": 3},
    )
    page = render_html(data)
    assert "<b>program&#x27;s exit status</b> 0" in page
    assert "<b>lockorder run&#x27;s exit status</b> 3 (findings)" in page
    assert "<b>exit status</b>" not in page


def test_a_report_of_lockorder_run_records_its_exit_status(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        prog="import threading\na, b = threading.Lock(), threading.Lock()\n" + INVERSION_OF_A_AND_B
    )
    result = pytester.run(
        sys.executable, "-m", "lockorder", "run", "--json", "r.json", "prog.py", timeout=60
    )
    assert result.ret == 3
    run = json.loads((pytester.path / "r.json").read_text())["run"]
    assert run["exit_status"] == 0 and run["lockorder_exit_status"] == 3


def test_lockorders_threads_do_not_use_a_patched_time_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """portalocker's tests replace time.sleep with list.append: the long-hold
    monitor slept through the module attribute, so it spun and filled the list."""
    lockorder.configure(long_hold=0.02)  # starts the monitor (every 0.005 s)
    deadline = time.monotonic() + TIMEOUT
    while not _threads.internal_idents and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    calls: list[object] = []
    monkeypatch.setattr(time, "sleep", calls.append)
    monkeypatch.setattr(time, "monotonic", lambda: calls.append("monotonic") or 0.0)
    threading.Event().wait(1.5)  # the monitor wakes (at most 1 s) and runs a few rounds
    monkeypatch.undo()
    lockorder.configure(long_hold=0.0)
    assert calls == []
