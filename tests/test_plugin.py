"""The pytest plugin, driven through pytester in subprocesses (the patching is global)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import lockorder

CONFTEST = """
import threading

A = threading.Lock()
B = threading.Lock()


def in_thread(target):
    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
"""

AB = """
from conftest import A, B, in_thread


def test_ab():
    def work():
        with A:
            with B:
                pass
    in_thread(work)
"""

BA = """
from conftest import A, B, in_thread


def test_ba():
    def work():
        with B:
            with A:
                pass
    in_thread(work)
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LOCKORDER", "LOCKORDER_MODE", "LOCKORDER_SINGLE_THREAD", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    yield


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def test_off_by_default_no_patching_and_marker_registered(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_off="""
        import threading, _thread
        import pytest

        @pytest.mark.lockorder(mode="record")
        def test_plain():
            # the stdlib's own (a function before 3.13, the lock class since)
            assert threading.Lock in (_thread.allocate_lock, _thread.LockType)
        """
    )
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=1)
    assert "lockorder:" not in result.stdout.str()  # no header, no summary section
    assert "= lockorder =" not in result.stdout.str()


@pytest.mark.parametrize("how", ["flag", "ini", "env", "flag+no", "ini+no", "env+no", "env0+flag"])
def test_enabling_sources_and_no_lockorder_wins(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_on="""
        import lockorder
        from conftest import A

        def test_checked():
            print("CHECKED" if lockorder.is_checked(A) else "PLAIN")
        """
    )
    args = ["-s"]
    if "flag" in how:
        args.append("--lockorder")
    if "ini" in how:
        pytester.makeini("[pytest]\nlockorder = true\n")
    if how.startswith("env0"):
        monkeypatch.setenv("LOCKORDER", "0")
    elif "env" in how:
        monkeypatch.setenv("LOCKORDER", "1")
    if how.endswith("+no"):
        args.append("--no-lockorder")
    result = run(pytester, *args)
    result.assert_outcomes(passed=1)
    expected = "PLAIN" if how.endswith("+no") else "CHECKED"
    result.stdout.fnmatch_lines([f"*{expected}*"])


def test_header_shows_effective_settings(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlockorder_mode = warn\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = run(pytester, "--lockorder", "--lockorder-single-thread=strict")
    result.stdout.fnmatch_lines(
        [
            "lockorder: mode=warn, single_thread=strict, fail_on=error, reports=none, "
            f"long_wait=5, long_hold=10, implementation={lockorder.implementation()}"
        ]
    )


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("", ["--lockorder-mode=loud"], "*argument --lockorder-mode: invalid choice: 'loud'*"),
        (
            "ini:lockorder_mode = rase",
            [],
            "*lockorder_mode must be one of raise, warn, record (got 'rase' from *tox.ini)",
        ),
        (
            "env:LOCKORDER_MODE=loud",
            [],
            "*LOCKORDER_MODE must be one of raise, warn, record (got 'loud' from the environment)",
        ),
        (
            "env:LOCKORDER=maybe",
            [],
            "*LOCKORDER must be a boolean (1/0, true/false, yes/no, on/off) "
            "(got 'maybe' from the environment)",
        ),
        (
            "",
            ["--lockorder-report=xml"],
            "*a lockorder report must be TYPE?:DEST? with TYPE one of json, html, sarif, "
            "dot, graphml (got 'xml' from --lockorder-report)",
        ),
        (
            "ini:lockorder_single_thread = sometimes",
            [],
            "*lockorder_single_thread must be one of report, strict, ignore "
            "(got 'sometimes' from *tox.ini)",
        ),
        (
            "ini:lockorder = maybe",
            [],
            "*lockorder must be a boolean (1/0, true/false, yes/no, on/off) "
            "(got 'maybe' from *tox.ini)",
        ),
    ],
)
def test_invalid_values_are_usage_errors_naming_value_and_source(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    args: list[str],
    message: str,
) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    if setup.startswith("ini:"):
        pytester.makeini(f"[pytest]\n{setup[4:]}\n")
    elif setup.startswith("env:"):
        name, _, value = setup[4:].partition("=")
        monkeypatch.setenv(name, value)
    result = run(pytester, "--lockorder", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


#: an invalid value of every variable lockorder reads, and the line that rejects it
INVALID_ENVIRONMENT = {
    "LOCKORDER": ("y", "a boolean (1/0, true/false, yes/no, on/off)"),
    "LOCKORDER_MODE": ("loud", "one of raise, warn, record"),
    "LOCKORDER_SINGLE_THREAD": ("sometimes", "one of report, strict, ignore"),
    "LOCKORDER_SELF_DEADLOCK_WAIT": ("-3", "a finite number of seconds >= 0"),
    "LOCKORDER_DEADLOCK_CHECK": ("abc", "a number of seconds"),
    "LOCKORDER_LONG_WAIT": ("nan", "a finite number of seconds >= 0"),
    "LOCKORDER_LONG_HOLD": ("inf", "a finite number of seconds >= 0"),
    "LOCKORDER_REPORT": (
        "r-{host}.json",
        "a file path, where {pid} stands for the process id ('' for none)",
    ),
    "LOCKORDER_DUMP_SIGNAL": ("USR9", "a signal name such as USR1 ('' for none)"),
    "LOCKORDER_IMPL": ("rust", "'c' or 'python'"),
}


def test_every_variable_lockorder_reads_has_an_invalid_value_tested() -> None:
    from lockorder import _config

    assert set(INVALID_ENVIRONMENT) == {var for var, _ in _config.ENVIRONMENT} | {"LOCKORDER_IMPL"}


@pytest.mark.parametrize("variable", sorted(INVALID_ENVIRONMENT))
def test_an_invalid_environment_value_is_a_usage_error_as_for_lockorder_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """The plugin judges the variables as ``lockorder run`` does (one check,
    lockorder._impl.check_environment): exit 4 and one line, not a run that
    passes with a LockOrderWarning in the warnings summary; and nothing at all
    when the plugin is not asked for."""
    value, expected = INVALID_ENVIRONMENT[variable]
    pytester.makepyfile(test_x="def test_x(): pass")
    monkeypatch.setenv(variable, value)
    result = run(pytester, "--lockorder")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        f"ERROR: {variable} must be {expected} (got {value!r} from the environment)"
    )
    assert "passed" not in result.stdout.str()
    if variable == "LOCKORDER":  # the variable that asks for the plugin is always read
        return
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "LOCKORDER" not in result.stdout.str() + result.stderr.str()


def test_inversion_in_one_test_fails_it_with_a_readable_report(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_both=AB + BA.replace("from conftest import A, B, in_thread", ""))
    result = run(pytester, "--lockorder")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_ba _*",
            "lockorder ERROR: potential-deadlock: lock-order inversion: *",
            "  test: test_both.py::test_ba",
            "*first made by thread * in test test_both.py::test_ab",
            "*first made by thread * in test test_both.py::test_ba",
            "*possible scenario:*",
            "*= lockorder =*",
            "potential-deadlock: 1",
            "  ERROR ?test_both.py::test_ba? lock-order inversion: *",
            "    edges made in: test_both.py::test_ab, test_both.py::test_ba",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_single_thread_cycle_across_tests_warns_and_strict_fails(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_main="""
        from conftest import A, B

        def test_ab():
            with A:
                with B:
                    pass

        def test_ba():
            with B:
                with A:
                    pass
        """
    )
    result = run(pytester, "--lockorder")
    result.assert_outcomes(passed=2)
    # the summary says why it is a warning, which tests make it together, where
    # the stacks are and how to make it fail (issue 13.2)
    result.stdout.fnmatch_lines(
        [
            "  warning ?test_main.py::test_ba? lock-order inversion: * (seen in one thread only)",
            "    edges made in: test_main.py::test_ab, test_main.py::test_ba",
            "    rerun them together: pytest --lockorder test_main.py::test_ab "
            "test_main.py::test_ba",
            "every finding with its stacks: rerun with --lockorder-report=json, then "
            "lockorder report lockorder.json (or --format html)",
            "cycles seen in one thread only are warnings: * make them fail with "
            "--lockorder-single-thread=strict (ini: lockorder_single_thread = strict)",
            "warnings do not fail the run; make every one fail with --lockorder-fail-on=warning",
        ]
    )
    alone = run(pytester, "--lockorder", "test_main.py::test_ab", "test_main.py::test_ba")
    alone.stdout.fnmatch_lines(["  warning ?test_main.py::test_ba? lock-order inversion: *"])
    with_report = run(pytester, "--lockorder", "--lockorder-report=json:out/r.json")
    with_report.stdout.fnmatch_lines(
        ["every finding with its stacks: lockorder report out/r.json (or --format html)"]
    )
    strict = run(pytester, "--lockorder", "--lockorder-single-thread=strict")
    strict.assert_outcomes(passed=1, failed=1)


@pytest.mark.parametrize(("mode", "outcome"), [("record", 0), ("warn", 0), ("raise", 1)])
def test_modes(pytester: pytest.Pytester, mode: str, outcome: int) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ab=AB, test_ba=BA)
    result = run(pytester, "--lockorder", f"--lockorder-mode={mode}", "-p", "no:xdist")
    assert result.ret == outcome
    result.stdout.fnmatch_lines(["potential-deadlock: 1"])
    if mode == "warn":
        result.stdout.fnmatch_lines(["*LockOrderWarning*"])


def test_marker_allow_and_mode_and_misuse(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_ab=AB,
        test_ba=BA.replace(
            "def test_ba():",
            "import pytest\n\n@pytest.mark.lockorder(allow=['potential-*'])\ndef test_ba():",
        ),
        test_bad="""
        import pytest

        @pytest.mark.lockorder(colour="red")
        def test_misused():
            pass
        """,
    )
    result = run(pytester, "--lockorder", "-p", "no:xdist", "--lockorder-report=json:r.json")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*lockorder marker: unknown keyword?s? colour*",
            "no findings",
            "suppressed by lockorder markers: 1",
        ]
    )
    # the report agrees with the summary: the finding the marker allowed is
    # suppressed, with the test whose marker it was; a check finds nothing new
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["findings"] == []
    [(rule, kind)] = [(e["rule"], e["finding"]["kind"]) for e in data["suppressed"]]
    assert (rule, kind) == ("lockorder marker allow of test_ba.py::test_ba", "potential-deadlock")
    check = pytester.run(
        sys.executable, "-m", "lockorder", "check", "r.json", "--fail-on", "warning", timeout=60
    )
    assert check.ret == 0, check.stdout.str() + check.stderr.str()
    check.stderr.fnmatch_lines(["lockorder check: 0 new finding(s), 1 accepted"])
    text = pytester.run(sys.executable, "-m", "lockorder", "report", "r.json", timeout=60)
    shown = text.stderr.str() + text.stdout.str()
    assert "1 finding(s) allowed by a test's lockorder marker" in shown


def test_an_asyncio_self_deadlock_fails_its_test_instead_of_hanging(
    pytester: pytest.Pytester,
) -> None:
    # a task re-entering an asyncio.Lock it holds: raised after
    # lockorder_self_deadlock_wait, as a thread's re-acquire is, in every mode
    pytester.makepyfile(
        test_self="""
        import asyncio

        def test_reenters():
            async def main():
                lock = asyncio.Lock()
                async with lock:
                    async with lock:
                        pass
            asyncio.run(main())
        """
    )
    for mode in ("raise", "record"):
        result = run(pytester, "--lockorder", f"--lockorder-mode={mode}", "-p", "no:xdist")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*SelfDeadlockError: lockorder ERROR: self-deadlock*"])


def test_held_at_test_end_is_a_finding_and_makes_no_more_edges(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_leak="""
        from conftest import A, B, in_thread

        def test_leaks():
            A.acquire()

        def test_later():
            def work():
                with B:
                    pass
            in_thread(work)
            A.release()

        def test_reverse():
            def work():
                with B:
                    with A:
                        pass
            in_thread(work)
        """
    )
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "held-at-test-end: 1",
            "  warning ?test_leak.py::test_leaks? thread 'MainThread' still held*",
        ]
    )
    assert "potential-deadlock" not in result.stdout.str()


HELD_BY_A_SERVER = """
import threading

import pytest

LOCK = threading.Lock()
TAKEN = threading.Event()
STOP = threading.Event()


def serve():
    with LOCK:  # the server holds it across tests
        TAKEN.set()
        STOP.wait(60)


def test_starts_the_server():
    threading.Thread(target=serve, name="server", daemon=True).start()
    assert TAKEN.wait(10)


@pytest.mark.parametrize("n", range(4))
def test_unrelated(n):
    assert n >= 0
"""


@pytest.mark.parametrize("released", [True, False], ids=["released", "held-to-the-end"])
def test_a_lock_held_across_tests_is_one_finding_of_the_test_that_took_it(
    pytester: pytest.Pytester, released: bool
) -> None:
    """A server thread holding a lock for 100 s made one held-at-test-end warning
    per later test (about 420), each of an unrelated test."""
    stop = """

def test_stops_the_server():
    STOP.set()
    for thread in threading.enumerate():
        if thread.name == "server":
            thread.join(10)
"""
    pytester.makepyfile(test_server=HELD_BY_A_SERVER + (stop if released else ""))
    result = run(pytester, "--lockorder", "-p", "no:xdist", "--lockorder-report=json:report.json")
    result.assert_outcomes(passed=6 if released else 5)
    data = json.loads(Path(pytester.path, "report.json").read_text())
    held = [f for f in data["findings"] if f["kind"] == "held-at-test-end"]
    assert [f["test"] for f in held] == ["test_server.py::test_starts_the_server"], held
    (finding,) = held
    assert finding["thread"] == "server"
    label = finding["locks"][0]["site"]
    if released:
        assert re.fullmatch(
            rf"Lock {label} was still held when 4 later tests ended \(not reported again\), "
            r"for at least \d+\.\d s after this test ended; released during "
            r"test_server\.py::test_stops_the_server",
            finding["details"][-1],
        ), finding["details"]
    else:
        assert re.fullmatch(
            rf"Lock {label} was still held when the session ended, \d+\.\d s after this test "
            r"ended \(4 later tests ended with it held, not reported again\)",
            finding["details"][-1],
        ), finding["details"]
    result.stdout.fnmatch_lines(["held-at-test-end: 1"])


def test_semaphores_and_signal_locks_left_held_are_no_leak(pytester: pytest.Pytester) -> None:
    """As at thread exit: a semaphore unit or a Lock used as a signal, still taken when
    the test ends, is not reported (another thread is meant to release it), yet it
    makes no more edges either."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_signals="""
        import threading
        import lockorder
        from conftest import A, B, in_thread

        SEM = threading.Semaphore(2)
        FLAG = lockorder.Lock(signal=True)

        def test_takes_them():
            SEM.acquire()
            FLAG.acquire()

        def test_later():
            def work():
                with B:
                    with A:
                        pass
            in_thread(work)
            with A:
                with B:
                    pass
        """
    )
    result = run(pytester, "--lockorder", "-p", "no:xdist", "--lockorder-mode=record")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "held-at-test-end" not in out
    assert "potential-deadlock: 1" in out  # B/A, and nothing chained from SEM or FLAG
    assert "Semaphore" not in out.split("potential-deadlock")[1].split("\n\n")[0]


def test_module_level_locks_are_checked_early(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_early="""
        import queue, threading
        import lockorder
        import conftest

        MODULE_LOCK = threading.RLock()
        QUEUE = queue.Queue()

        def test_checked():
            assert lockorder.is_checked(conftest.A)
            assert lockorder.is_checked(MODULE_LOCK)
            assert lockorder.is_checked(QUEUE.mutex)
        """
    )
    run(pytester, "--lockorder").assert_outcomes(passed=1)


def test_fixture_gives_the_tests_findings(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_fixture="""
        import pytest
        from conftest import A, B, in_thread

        def test_clean(lockorder_findings):
            with A:
                pass
            assert lockorder_findings.enabled
            assert not lockorder_findings

        @pytest.mark.lockorder(mode="record")
        def test_sees_its_own(lockorder_findings):
            def ab():
                with A:
                    with B:
                        pass
            def ba():
                with B:
                    with A:
                        pass
            in_thread(ab)
            in_thread(ba)
            assert lockorder_findings.kinds() == ["potential-deadlock"]
            assert len(lockorder_findings.all) == 1
        """
    )
    run(pytester, "--lockorder", "-p", "no:xdist").assert_outcomes(passed=2)


def test_fixture_without_lockorder_is_empty(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fixture="""
        def test_off(lockorder_findings):
            assert not lockorder_findings.enabled
            assert list(lockorder_findings) == []
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_reports_are_written(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ab=AB, test_ba=BA)
    result = run(
        pytester,
        "--lockorder",
        "--lockorder-report=json:out/report.json",
        "--lockorder-report=dot",
        "--lockorder-report=graphml:g.graphml",
        "--lockorder-report=html",
        "--lockorder-report=sarif:out/r.sarif",
        "-p",
        "no:xdist",
    )
    result.stdout.fnmatch_lines(
        [
            "report json: out/report.json",
            "report dot: lockorder.dot",
            "report graphml: g.graphml",
            "report html: lockorder.html",
            "report sarif: out/r.sarif",
        ]
    )
    result.stdout.fnmatch_lines(["every finding with its stacks: lockorder.html (in a browser)"])
    data = json.loads(Path(pytester.path, "out/report.json").read_text())
    assert data["format"] == "lockorder-report"
    (finding,) = data["findings"]
    assert {edge["test"] for edge in finding["cycle"]} == {
        "test_ab.py::test_ab",
        "test_ba.py::test_ba",
    }
    assert {tuple(edge["tests"]) for edge in data["graph"]["edges"]} == {
        ("test_ab.py::test_ab",),
        ("test_ba.py::test_ba",),
    }
    dot = Path(pytester.path, "lockorder.dot").read_text()
    assert dot.startswith("digraph lockorder {") and 'color="red"' in dot
    import networkx as nx

    graph = nx.read_graphml(Path(pytester.path, "g.graphml"))
    assert graph.number_of_edges() == 2
    assert all(data["cycle"] for _, _, data in graph.edges(data=True))
    # html and sarif: the same report as the JSON, as `lockorder report --format` renders it
    html = Path(pytester.path, "lockorder.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "lock-order inversion" in html
    sarif = json.loads(Path(pytester.path, "out/r.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    (result_,) = sarif["runs"][0]["results"]
    assert result_["ruleId"] == "potential-deadlock"
    uris = {
        location["physicalLocation"]["artifactLocation"]["uri"]
        for location in result_["locations"] + result_.get("relatedLocations", [])
    }
    assert "conftest.py" in uris, uris  # relative to where pytest was started


def test_findings_outside_tests_fail_the_run(pytester: pytest.Pytester) -> None:
    """A cycle closed while conftest loads belongs to no test: it fails the run."""
    pytester.makeconftest(
        CONFTEST
        + """
def _ab():
    with A:
        with B:
            pass

def _ba():
    with B:
        with A:
            pass

in_thread(_ab)
in_thread(_ba)
"""
    )
    pytester.makepyfile(test_x="def test_x(): pass")
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "  ERROR ?outside any test? lock-order inversion: *",
            "failing the run: *",
            "lockorder: 1 finding(s) made outside any test fail the run (exit status 1), *",
        ]
    )


def test_plugin_works_without_xdist(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ab=AB, test_ba=BA)
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(passed=1, failed=1)


PRECEDENCE_TEST = """
import pytest
from conftest import A, B, in_thread


def _inversion():
    def ab():
        with A:
            with B:
                pass

    def ba():
        with B:
            with A:
                pass

    in_thread(ab)
    in_thread(ba)


def test_plain():
    _inversion()
"""


@pytest.mark.parametrize(
    ("ini", "env", "cli", "marker", "fails"),
    [
        ("record", None, None, None, False),  # ini alone
        ("record", "raise", None, None, True),  # env beats ini
        ("record", "raise", "record", None, False),  # command line beats env
        (None, None, "record", "raise", True),  # marker beats the command line
        (None, None, None, "record", False),
    ],
)
def test_mode_precedence_ini_env_cli_marker(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ini: str | None,
    env: str | None,
    cli: str | None,
    marker: str | None,
    fails: bool,
) -> None:
    pytester.makeconftest(CONFTEST)
    source = PRECEDENCE_TEST
    if marker:
        source = source.replace(
            "def test_plain():", f"@pytest.mark.lockorder(mode={marker!r})\ndef test_plain():"
        )
    pytester.makepyfile(test_precedence=source)
    if ini:
        pytester.makeini(f"[pytest]\nlockorder_mode = {ini}\n")
    if env:
        monkeypatch.setenv("LOCKORDER_MODE", env)
    args = ["--lockorder", "-p", "no:xdist"]
    if cli:
        args.append(f"--lockorder-mode={cli}")
    result = run(pytester, *args)
    if fails:
        result.assert_outcomes(failed=1)
    else:
        result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("lockorder_single_thread", "strict"),
        ("lockorder_fail_on", "warning"),
        ("lockorder_report", "json:from-ini.json"),
    ],
)
def test_every_option_has_an_ini_setting(
    pytester: pytest.Pytester, option: str, value: str
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_single="""
        from conftest import A, B

        def test_one_thread():
            with A, B:
                pass
            with B, A:
                pass
        """
    )
    pytester.makeini(f"[pytest]\nlockorder = true\n{option} = {value}\n")
    result = run(pytester, "-p", "no:xdist")
    if option == "lockorder_report":
        result.assert_outcomes(passed=1)
        assert (pytester.path / "from-ini.json").exists()
    else:  # strict, or failing on warnings: the single-thread cycle fails the test
        result.assert_outcomes(failed=1)


def test_single_thread_policy_from_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_single="""
        from conftest import A, B

        def test_one_thread():
            with A, B:
                pass
            with B, A:
                pass
        """
    )
    monkeypatch.setenv("LOCKORDER_SINGLE_THREAD", "ignore")
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["no findings"])


def test_fail_on_never_and_empty_report_option(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nlockorder_report = json\n")
    pytester.makepyfile(test_ab=AB, test_ba=BA)
    result = run(
        pytester,
        "--lockorder",
        "--lockorder-fail-on=never",
        "--lockorder-report=",
        "-p",
        "no:xdist",
    )
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    assert not (pytester.path / "lockorder.json").exists()


def test_marker_with_an_invalid_mode_fails_that_test_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marker="""
        import pytest

        @pytest.mark.lockorder(mode="loud")
        def test_bad():
            pass

        def test_good():
            pass
        """
    )
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*lockorder marker: invalid mode 'loud' (choose from: raise, warn, record)*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_self_deadlock_in_a_test_raises_instead_of_hanging(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_counter="""
        import threading

        class SharedCounter:
            def __init__(self):
                self.value = 0
                self.lock = threading.Lock()

            def incr(self, delta=1):
                with self.lock:
                    self.value += delta

            def decr(self, delta=1):
                with self.lock:
                    self.incr(-delta)

        def test_decr():
            SharedCounter().decr()
        """
    )
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SelfDeadlockError*", "self-deadlock: 1"])


def test_the_documented_demo_suite(pytester: pytest.Pytester) -> None:
    """examples/pytest_demo as docs/pytest.md shows it: green without lockorder, 2 findings with."""
    demo = Path(__file__).parent.parent / "examples" / "pytest_demo"
    for name in ("bank.py", "test_bank.py"):
        (pytester.path / name).write_text((demo / name).read_text())
    run(pytester, "-p", "no:xdist").assert_outcomes(passed=3)
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_pay_rent _*",
            "lockorder ERROR: potential-deadlock: two locks of one class taken in both orders: *",
            "*_ test_record _*",
            "lockorder ERROR: potential-deadlock: lock-order inversion: Lock bank.py:21 -> "
            "Lock bank.py:22 -> Lock bank.py:21",
            "*= lockorder =*",
            "potential-deadlock: 2",
            "  ERROR ?test_bank.py::test_pay_rent? two locks of one class taken in both orders: *",
            "    edges made in: test_bank.py::test_pay_rent",
            "  ERROR ?test_bank.py::test_record? lock-order inversion: *",
            "    edges made in: test_bank.py::test_audit, test_bank.py::test_record",
        ]
    )


def test_deadlocked_test_fails_with_the_report_and_the_session_goes_on(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_hang="""
        import threading

        A = threading.Lock()
        B = threading.Lock()

        def test_deadlocks():
            barrier = threading.Barrier(2, timeout=10)
            errors = []

            def take(first, second):
                try:
                    with first:
                        barrier.wait()
                        with second:
                            pass
                except Exception as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=take, args=(A, B)),
                       threading.Thread(target=take, args=(B, A))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert not any(t.is_alive() for t in threads)

        def test_after():
            pass
        """
    )
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_deadlocks _*",
            "lockorder ERROR: deadlock: * waits for Lock test_hang.py:* held by *",
        ]
    )
    # the lock-order finding and the real deadlock are both listed
    result.stdout.fnmatch_lines(["deadlock: 1"])


def test_dump_after_prints_who_holds_what(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_slow="""
        import threading, time

        LOCK = threading.Lock()

        def test_slow():
            with LOCK:
                time.sleep(1.0)
        """
    )
    result = run(pytester, "--lockorder", "--lockorder-dump-after=0.3", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(
        [
            "lockorder: test_slow.py::test_slow has run for 0.3 s or more",
            "lockorder dump: *",
            "*holds: Lock test_slow.py:3*",
        ]
    )


def test_long_hold_and_wait_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_slow="""
        import threading, time

        import lockorder

        LOCK = threading.Lock()
        STARTED = lockorder.Lock(name="started-flag", signal=True)  # no owner: never long-held

        def test_slow():
            held = threading.Event()
            STARTED.acquire()

            def holder():
                with LOCK:
                    held.set()
                    # held until both findings are made (the waiter's after 0.3 s)
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline and {"long-hold", "long-wait"} - {
                        f.kind for f in lockorder.findings()
                    }:
                        time.sleep(0.01)
                STARTED.release()

            t = threading.Thread(target=holder)
            t.start()
            held.wait(10)
            with LOCK:
                pass
            t.join(10)
        """
    )
    result = run(
        pytester,
        "--lockorder",
        "--lockorder-long-hold=0.3",
        "--lockorder-long-wait=0.3",
        "-p",
        "no:xdist",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["long-hold: 1", "*", "long-wait: 1", "*held by thread*"])
    assert "started-flag" not in result.stdout.str()


def test_a_finding_withdrawn_before_its_test_ends_fails_nothing(pytester: pytest.Pytester) -> None:
    """A reader group's shared Lock: the cycle it makes is withdrawn when another
    thread releases it for the group, within the test; the report keeps it under
    ``suppressed``."""
    pytester.makepyfile(test_group=GROUP_LOCK_TEST)
    result = run(pytester, "--lockorder", "-p", "no:xdist", "--lockorder-report=json:r.json")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "r.json").read_text())
    assert [f["kind"] for f in data["findings"]] == ["release-not-held"]
    withdrawn = [s for s in data["suppressed"] if s["finding"]["kind"] == "potential-deadlock"]
    assert all(s["rule"].startswith("withdrawn:") for s in withdrawn)
    assert "error" in {s["finding"]["severity"] for s in withdrawn}
    result.stdout.fnmatch_lines(["release-not-held: 1", "withdrawn: * (a lock class of each*"])


GROUP_LOCK_TEST = """
import threading

resource = threading.Lock()  # taken for the group of readers
count_lock = threading.Lock()
readers = 0


def read_acquire():
    global readers
    with count_lock:
        readers += 1
        if readers == 1:
            resource.acquire()


def read_release():
    global readers
    with count_lock:
        readers -= 1
        if readers == 0:
            resource.release()


def run(target, *args):
    thread = threading.Thread(target=target, args=args)
    thread.start()
    return thread


def test_readers():
    run(lambda: (read_acquire(), read_release())).join(10)
    entered, leave, left = threading.Event(), threading.Event(), threading.Event()

    def first():
        read_acquire()
        entered.set()
        assert leave.wait(10)
        read_release()
        left.set()

    def second():
        assert entered.wait(10)
        read_acquire()
        leave.set()
        assert left.wait(10)
        read_release()

    threads = [run(first), run(second)]
    for thread in threads:
        thread.join(10)
"""


def test_a_lock_the_test_dropped_while_held_is_no_leak(pytester: pytest.Pytester) -> None:
    """CPython's lock_tests do this on purpose (test_acquire_destroy)."""
    pytester.makepyfile(
        test_drop="""
        import threading

        def test_acquire_destroy():
            lock = threading.Lock()
            lock.acquire()
            del lock

        def test_kept():
            test_kept.lock = threading.Lock()
            test_kept.lock.acquire()
        """
    )
    result = run(pytester, "--lockorder", "-p", "no:xdist")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["held-at-test-end: 1", "*test_drop.py::test_kept*"])


def test_every_report_format_makes_its_folders(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ab=AB)
    result = run(
        pytester,
        "--lockorder",
        "--lockorder-report=json:out/a/r.json",
        "--lockorder-report=dot:out/b/g.dot",
        "--lockorder-report=graphml:out/c/g.graphml",
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    for made in ("out/a/r.json", "out/b/g.dot", "out/c/g.graphml"):
        assert (pytester.path / made).stat().st_size > 0, made
    assert not list(pytester.path.glob("out/*/*.tmp-*"))


@pytest.mark.parametrize("failing", [False, True], ids=["tests-pass", "a-test-fails"])
def test_a_report_that_cannot_be_written_never_hides_the_tests_result(
    pytester: pytest.Pytester, failing: bool
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_ab=AB + ("\n\ndef test_fails():\n    assert False\n" if failing else "")
    )
    (pytester.path / "blocker").write_text("a file where a folder should be")
    result = run(
        pytester,
        "--lockorder",
        "--lockorder-report=dot:blocker/g.dot",
        "--lockorder-report=json:ok/r.json",
    )
    result.stdout.fnmatch_lines(["lockorder: cannot write the dot report to 'blocker/g.dot': *"])
    assert (pytester.path / "ok" / "r.json").exists()  # the other reports are written
    if failing:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.assert_outcomes(passed=1, failed=1)
    else:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.assert_outcomes(passed=1)
