"""The plugin under pytest-xdist: per-test findings replayed, graphs merged, crashed workers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.test_plugin import AB, BA, CONFTEST, run

pytest.importorskip("xdist")

XDIST_MODES = ["", "-n 1", "-n 2"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LOCKORDER", "LOCKORDER_MODE", "LOCKORDER_SINGLE_THREAD", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    yield


def _args(xdist: str) -> list[str]:
    return [*xdist.split(), "--dist", "loadfile"] if xdist else ["-p", "no:xdist"]


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_inversion_across_files_is_found_in_every_mode(
    pytester: pytest.Pytester, xdist: str
) -> None:
    """test_ab.py makes A -> B, test_ba.py makes B -> A; with -n 2 they run on two workers."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ab=AB, test_ba=BA)
    result = run(pytester, "--lockorder", "-v", *_args(xdist))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= lockorder =*",
            "potential-deadlock: 1",
            "    edges made in: test_ab.py::test_ab, test_ba.py::test_ba",
        ]
    )
    out = result.stdout.str()
    if xdist == "-n 2":
        # each file on its own worker (asserted from the output, not assumed)
        workers = {line.split()[0] for line in out.splitlines() if "PASSED test_" in line}
        assert workers == {"[gw0]", "[gw1]"}, out
        result.stdout.fnmatch_lines(
            [
                "  ERROR ?found by merging the workers' graphs? *",
                # the detail says what the heading says, not the closing edge's test
                "failing the run: potential-deadlock: *",
                "  found by merging the workers' graphs; edges made in: test_ab.py::test_ab, "
                "test_ba.py::test_ba",
                "  cycle: *",
                # the last line counts passed tests only: the section says why it fails
                "lockorder: 1 finding(s) found by merging the xdist workers' graphs fail "
                "the run (exit status 1), whatever the tests' outcomes below",
                "*2 passed*",
            ]
        )
    else:
        result.stdout.fnmatch_lines(["*FAILED*test_ba.py::test_ba*"])


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_clean_suite_is_clean_in_every_mode(pytester: pytest.Pytester, xdist: str) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ab=AB, test_ab2=AB.replace("test_ab", "test_ab2"))
    result = run(pytester, "--lockorder", "--lockorder-report=json", *_args(xdist))
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["no findings", "report json: lockorder.json"])


def test_only_the_controller_writes_reports(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ab=AB, test_ba=BA)
    result = run(pytester, "--lockorder", "--lockorder-report=json", "-n", "2")
    assert result.stdout.str().count("report json: lockorder.json") == 1
    import json

    data = json.loads((pytester.path / "lockorder.json").read_text())
    assert data["run"]["workers"] == ["gw0", "gw1"]
    assert data["summary"]["by_kind"] == {"potential-deadlock": 1}


def test_crashed_worker_is_named_and_what_it_learned_is_kept(pytester: pytest.Pytester) -> None:
    """gw0 makes A -> B and then dies; gw1 makes B -> A: the merge still finds the cycle."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_ab=AB
        + """

def test_zz_dies():
    import os
    os._exit(3)
""",
        test_ba=BA,
    )
    result = run(pytester, "--lockorder", "-n", "2", "--dist", "loadfile")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*= lockorder =*",
            "worker gw* crashed or was killed (*); its last journal was merged",
            "potential-deadlock: 1",
        ]
    )


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_project_suppressions_reach_the_report_in_every_mode(
    pytester: pytest.Pytester, xdist: str
) -> None:
    """[tool.lockorder] rules match on the workers: what they suppressed, and which
    rules never matched, are the same with or without xdist."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_both=AB + BA.replace("from conftest import A, B, in_thread", ""))
    pytester.makepyprojecttoml(
        """
        [tool.lockorder]
        ignore = ["site:conftest.py:*", "name:never-made", "site:conftest.py:3"]
        """
    )
    result = run(pytester, "--lockorder", "--lockorder-report=json", *_args(xdist))
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    # the third rule names a lock the run made, and the first rule took its finding
    stale = "ignore 'site:conftest.py:3'"
    result.stdout.fnmatch_lines(
        [
            "no findings",
            "suppressed by ?tool.lockorder? in *pyproject.toml: 1",
            f"stale suppression, never matched: {stale}",
        ]
    )
    assert "never matched: ignore 'site:conftest.py:*" not in result.stdout.str()
    assert "never-made" not in result.stdout.str()  # no such lock made: not judged
    data = json.loads((pytester.path / "lockorder.json").read_text())
    assert [s["finding"]["kind"] for s in data["suppressed"]] == ["potential-deadlock"]
    assert data["stale_suppressions"] == [stale]


def test_project_rules_apply_to_what_only_the_merge_finds(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ab=AB, test_ba=BA)
    pytester.makepyprojecttoml('[tool.lockorder]\nignore = ["site:conftest.py:*"]\n')
    result = run(pytester, "--lockorder", "--lockorder-report=json", "-v", *_args("-n 2"))
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    out = result.stdout.str()
    workers = {line.split()[0] for line in out.splitlines() if "PASSED test_" in line}
    assert workers == {"[gw0]", "[gw1]"}, out
    result.stdout.fnmatch_lines(["no findings", "suppressed by ?tool.lockorder? in *: 1"])
    assert "stale suppression" not in out


SELF_DEADLOCKS = """
import threading

L = threading.Lock()


def test_alone():
    with L:
        L.acquire()


def test_with_a_thread_that_could_release_it():
    done = threading.Event()
    thread = threading.Thread(target=done.wait, args=(10,))
    thread.start()
    try:
        with L:
            L.acquire()
    finally:
        done.set()
        thread.join(10)
"""


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_a_self_deadlock_gets_the_same_verdict_in_every_mode(
    pytester: pytest.Pytester, xdist: str
) -> None:
    """execnet's threads in an xdist worker cannot release a lock of the program:
    a test alone with its lock fails at once, as without xdist; a thread the test
    started still could, and is waited for (self_deadlock_wait)."""
    pytester.makepyfile(test_s=SELF_DEADLOCKS)
    result = run(pytester, "--lockorder", *_args(xdist))
    result.assert_outcomes(failed=2)
    # the failures' own text: where CI is set, pytest's short summary repeats
    # each message whole
    text = result.stdout.str().split(" short test summary info ")[0]
    assert text.count("why: no other thread exists that could release it") == 1, text
    assert text.count("why: no other thread released it within 1 s") == 1, text
    result.stdout.fnmatch_lines(
        ["*_ test_alone _*", "*why: no other thread exists that could release it*"]
    )
