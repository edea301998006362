"""pytest --lockorder --lockorder-confirm (issue 14): the test that made a cycle
is rerun steered; a cycle two tests made is not attempted, with the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.first_contact import _run
from tests.test_plugin import clean_environment  # noqa: F401 (an autouse fixture)

PAY_AND_REVIEW = """
import threading

accounts = threading.Lock()
audit_log = threading.Lock()


def pay():
    with accounts:
        with audit_log:
            pass


def review():
    with audit_log:
        with accounts:
            pass


def test_pay_and_review():
    paid = threading.Event()

    def first():
        pay()
        paid.set()

    def second():
        paid.wait(timeout=0.5)  # after the payment in a plain run
        review()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)


def test_pay():
    pay()


def test_review():
    review()
"""

POOL = """
import threading
from concurrent.futures import ThreadPoolExecutor

cache = threading.Lock()
index = threading.Lock()


def test_refresh_then_rebuild():
    first_done = threading.Event()

    def refresh():
        with cache:
            with index:
                pass
        first_done.set()

    def rebuild():
        with index:
            with cache:
                pass

    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(refresh)
        first_done.wait(timeout=1.0)
        second = pool.submit(rebuild)
        first.result(timeout=30)
        second.result(timeout=30)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=180)


def confirm(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The bank tests (or those named), with confirm on and a JSON report."""
    pytester.makepyfile(test_bank=PAY_AND_REVIEW)
    return run(
        pytester, "--lockorder", "--lockorder-confirm", "--lockorder-report=json:r.json", *args
    )


def _report(pytester: pytest.Pytester, name: str = "r.json") -> dict[str, Any]:
    return json.loads((pytester.path / name).read_text())  # type: ignore[no-any-return]


def _potential(data: dict[str, Any]) -> dict[str, Any]:
    found = [f for f in data["findings"] if f["kind"] == "potential-deadlock"]
    assert len(found) == 1
    return found[0]


def test_the_test_that_made_a_cycle_is_rerun_and_confirmed(pytester: pytest.Pytester) -> None:
    result = confirm(pytester, "test_bank.py::test_pay_and_review")
    text = result.stdout.str()
    assert "confirm: confirmed (1 rerun" in text, text[-4000:]
    assert (
        "reproduce: pytest --lockorder --lockorder-confirm test_bank.py::test_pay_and_review"
        in (text)
    )
    assert "confirm=on" in text  # the header says it
    finding = _potential(_report(pytester))
    confirmation = finding["confirmation"]
    assert confirmation["status"] == "confirmed"
    assert confirmation["deadlock"]["kind"] == "deadlock"
    data = _report(pytester)
    assert data["summary"]["confirmed"] == 1
    assert "attempts=3" in data["settings"]["confirm"]
    assert data["run"]["rootdir"] == str(pytester.path)
    # the report can be confirmed again from the command line
    again = _run.lockorder(pytester.path, "confirm", "r.json", "--attempts", "1", timeout=180)
    assert again.returncode == 3, again.stderr[-3000:]
    assert _potential(_report(pytester))["confirmation"]["attempts"] == 1


def test_a_one_thread_warning_confirmed_fails_the_run(pytester: pytest.Pytester) -> None:
    """Both work items ran on one pool worker: a warning, the test passes. The
    steered rerun deadlocks them on two workers: an error, and the run fails."""
    pytester.makepyfile(test_pool=POOL)
    plain = run(pytester, "--lockorder")
    plain.assert_outcomes(passed=1)
    assert plain.ret == 0
    assert "WARNING" in plain.stdout.str() or "warning" in plain.stdout.str()
    result = run(pytester, "--lockorder", "--lockorder-confirm", "--lockorder-report=json:r.json")
    text = result.stdout.str()
    assert result.ret == 1, text[-4000:]
    assert "confirm: confirmed" in text
    assert "failing the run: potential-deadlock" in text
    finding = _potential(_report(pytester))
    assert finding["severity"] == "error" and finding["single_thread"] is True


def test_a_cycle_made_by_two_tests_is_not_attempted(pytester: pytest.Pytester) -> None:
    result = confirm(pytester, "test_bank.py::test_pay", "test_bank.py::test_review")
    result.assert_outcomes(passed=2)  # a one-thread warning: the result stays
    text = result.stdout.str()
    assert "confirm: not-attempted: its edges were made by 2 tests" in text
    confirmation = _potential(_report(pytester))["confirmation"]
    assert confirmation["status"] == "not-attempted"
    assert "test_bank.py::test_pay, test_bank.py::test_review" in confirmation["reason"]


def test_confirm_under_xdist(pytester: pytest.Pytester) -> None:
    result = confirm(
        pytester, "-n", "2", "--lockorder-confirm-attempts=2", "test_bank.py::test_pay_and_review"
    )
    assert "confirm: confirmed" in result.stdout.str(), result.stdout.str()[-4000:]
    assert _report(pytester)["run"]["rerun_options"] == ["-n", "0"]


def test_confirm_ini_settings_and_bad_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bank=PAY_AND_REVIEW)
    pytester.makeini(
        "[pytest]\nlockorder = true\nlockorder_confirm = true\nlockorder_confirm_attempts = 1\n"
    )
    result = run(pytester, "--lockorder-report=json:r.json", "test_bank.py::test_pay_and_review")
    assert "confirm: confirmed (1 rerun" in result.stdout.str()
    assert "attempts=1" in _report(pytester)["settings"]["confirm"]
    pytester.makeini("[pytest]\nlockorder = true\nlockorder_confirm_pause = never\n")
    bad = run(pytester)
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "lockorder_confirm_pause" in bad.stderr.str() and "'never'" in bad.stderr.str()
    bad = run(pytester, "--lockorder", "--lockorder-confirm-attempts=0")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--lockorder-confirm-attempts" in bad.stderr.str()
