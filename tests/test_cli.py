"""``lockorder run``: runs a program as python would, prints findings, writes the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

INVERSION = """
import threading

a = threading.Lock()
b = threading.Lock()

def one():
    with a:
        with b:
            pass

def two():
    with b:
        with a:
            pass

for target in (one, two):
    t = threading.Thread(target=target)
    t.start()
    t.join()
print("done")
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "lockorder", "run", *args, timeout=60)


def test_inversion_is_reported_and_the_report_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog=INVERSION)
    result = run(pytester, "--json", "out.json", "prog.py")
    assert result.ret == 3
    result.stdout.fnmatch_lines(["done"])
    result.stderr.fnmatch_lines(
        [
            "lockorder: 1 finding(s) (1 error(s), 0 warning(s)) over 2 lock classes and 2 edges",
            "lockorder ERROR: potential-deadlock: lock-order inversion: *",
            "  cycle: Lock prog.py:3 -> Lock prog.py:4 -> Lock prog.py:3",
            "*possible scenario:*",
            "lockorder: report written to out.json",
        ]
    )
    data = json.loads(Path(pytester.path, "out.json").read_text())
    assert data["format"] == "lockorder-report" and data["version"] == 1
    assert data["run"] == {"command": ["prog.py"], "exit_status": 0, "lockorder_exit_status": 3}
    (finding,) = data["findings"]
    assert finding["kind"] == "potential-deadlock"
    assert {lock["site"] for lock in finding["locks"]} == {"prog.py:3", "prog.py:4"}
    assert len(data["graph"]["edges"]) == 2


def test_runs_like_python_argv_main_and_exit_status(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        prog="""
        import sys
        print(__name__, sys.argv)
        sys.exit(7)
        """
    )
    result = run(pytester, "--json", "", "prog.py", "--flag", "x")
    assert result.ret == 7
    result.stdout.fnmatch_lines(["__main__ ['prog.py', '--flag', 'x']"])


def test_program_exception_prints_traceback_and_exits_1(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog="raise ValueError('boom')")
    result = run(pytester, "--json", "", "prog.py")
    assert result.ret == 1
    result.stderr.fnmatch_lines(["Traceback (most recent call last):", "*ValueError: boom"])


def _python(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, *args, timeout=60)


def test_a_script_that_does_not_compile_fails_as_python_says_and_writes_no_report(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(prog="def f(:\n    pass\n")
    result = run(pytester, "prog.py")
    python = _python(pytester, "prog.py")
    assert result.ret == python.ret == 1
    assert result.stderr.lines == python.stderr.lines  # no lockorder or runpy frames
    assert result.stdout.lines == []
    assert not (pytester.path / "lockorder-report.json").exists()


def test_a_missing_module_is_one_line_and_status_2(pytester: pytest.Pytester) -> None:
    result = run(pytester, "-m", "no_such_module_here")
    assert result.ret == 2
    assert result.stderr.lines == ["lockorder run: No module named no_such_module_here"]
    assert not (pytester.path / "lockorder-report.json").exists()
    pytester.makepyfile(broken="x = (\n")  # a module that does not compile: python's
    result = run(pytester, "-m", "broken")  # error, without its runpy frames
    assert result.ret == 1
    python = _python(pytester, "-m", "broken").stderr.lines
    error = next(i for i, line in enumerate(python) if "broken.py" in line)
    assert result.stderr.lines == python[error:]


def test_the_programs_exception_is_printed_as_python_prints_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        helper="def fail():\n    raise KeyError('boom')\n",
        prog="import sys, helper\nprint(__file__, sys.argv[0])\nhelper.fail()\n",
    )
    result = run(pytester, "--json", "r.json", "prog.py")
    python = _python(pytester, "prog.py")
    assert result.ret == python.ret == 1
    assert result.stdout.lines == python.stdout.lines  # __file__ absolute, argv[0] as given
    lines = result.stderr.lines
    assert lines[: len(python.stderr.lines)] == python.stderr.lines
    assert lines[len(python.stderr.lines)].startswith("lockorder: 0 finding(s)")
    assert json.loads((pytester.path / "r.json").read_text())["run"]["exit_status"] == 1


def test_clean_program_exits_0(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        prog="""
        import threading
        lock = threading.Lock()
        with lock:
            pass
        """
    )
    result = run(pytester, "prog.py")
    assert result.ret == 0
    result.stderr.fnmatch_lines(["lockorder: 0 finding(s)*"])
    assert Path(pytester.path, "lockorder-report.json").exists()


def test_module_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mymod=INVERSION)
    result = run(pytester, "--json", "", "-m", "mymod")
    assert result.ret == 3
    result.stdout.fnmatch_lines(["done"])


def test_missing_script_is_a_clear_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, "nope.py")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["lockorder run: can't open file '*nope.py': No such file*"])


def test_nothing_to_run_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run(pytester)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["*give a SCRIPT or -m MODULE*"])


def test_invalid_mode_names_the_value(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog="")
    result = run(pytester, "--mode", "loud", "prog.py")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["*argument --mode: invalid choice: 'loud'*"])


def test_raise_mode_raises_in_the_program(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog=INVERSION)
    result = run(pytester, "--json", "", "--mode", "raise", "prog.py")
    assert result.ret == 3  # the exception was raised in a thread; main finished
    result.stderr.fnmatch_lines(["*lockorder.errors.PotentialDeadlockError*"])


def test_single_thread_cycle_fails_only_with_fail_on_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        prog="""
        import threading
        a, b = threading.Lock(), threading.Lock()
        with a, b:
            pass
        with b, a:
            pass
        """
    )
    assert run(pytester, "--json", "", "prog.py").ret == 0
    assert run(pytester, "--json", "", "--fail-on", "warning", "prog.py").ret == 3
    assert run(pytester, "--json", "", "--single-thread", "strict", "prog.py").ret == 3


def test_waits_for_non_daemon_threads_before_reporting(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        prog="""
        import threading
        a, b = threading.Lock(), threading.Lock()
        go = threading.Event()

        def late():
            go.wait(10)
            with b, a:
                pass

        with a, b:
            pass
        threading.Thread(target=late).start()
        go.set()
        """
    )
    result = run(pytester, "--json", "", "prog.py")
    assert result.ret == 3


def test_version_and_help(pytester: pytest.Pytester) -> None:
    result = pytester.run(sys.executable, "-m", "lockorder", "--version")
    result.stdout.fnmatch_lines(["lockorder *"])
    result = pytester.run(sys.executable, "-m", "lockorder", "run", "--help")
    result.stdout.fnmatch_lines(["*Exit status*"])


def test_sigusr1_dumps_while_the_program_runs(pytester: pytest.Pytester) -> None:
    import signal

    if not hasattr(signal, "SIGUSR1"):
        pytest.skip("no SIGUSR1 on this platform")
    pytester.makepyfile(
        prog="""
        import os, signal, threading
        lock = threading.Lock()
        with lock:
            os.kill(os.getpid(), signal.SIGUSR1)
        print("done")
        """
    )
    result = run(pytester, "--json", "", "prog.py")
    assert result.ret == 0
    result.stderr.fnmatch_lines(
        ["lockorder dump: *", "thread 'MainThread' *", "  holds: Lock prog.py:2 (acquired at *"]
    )


def test_options_after_the_program_belong_to_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mymod="import sys; print(sys.argv[1:])")
    result = run(pytester, "--json", "", "-m", "mymod", "-v", "--json", "x", "-q")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["['-v', '--json', 'x', '-q']"])
    pytester.makepyfile(prog="import sys; print(sys.argv[1:])")
    result = run(pytester, "-q", "--json", "", "prog.py", "--mode", "loud")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["['--mode', 'loud']"])


def test_withdrawn_findings_are_counted_not_listed(pytester: pytest.Pytester) -> None:
    from tests.test_plugin import GROUP_LOCK_TEST

    pytester.makepyfile(group=GROUP_LOCK_TEST + "\ntest_readers()\n")
    result = run(pytester, "--json", "r.json", "group.py")
    assert result.ret == 0  # release-not-held is a warning; the cycles were withdrawn
    result.stderr.fnmatch_lines(
        [
            "lockorder: 1 finding(s) (0 error(s), 1 warning(s))*",
            "lockorder settings: *",
            "lockorder: * finding(s) withdrawn: a lock class of each turned out*",
        ]
    )
    assert "potential-deadlock" not in result.stderr.str()
    data = json.loads((pytester.path / "r.json").read_text())
    assert "potential-deadlock" in {s["finding"]["kind"] for s in data["suppressed"]}


def test_reports_make_their_folders_and_a_failed_one_never_hides_the_status(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(prog=INVERSION)
    result = run(
        pytester,
        "--json",
        "o/a/r.json",
        "--html",
        "o/b/r.html",
        "--sarif",
        "o/c/r.sarif",
        "prog.py",
    )
    assert result.ret == 3
    for made in ("o/a/r.json", "o/b/r.html", "o/c/r.sarif"):
        assert (pytester.path / made).stat().st_size > 0, made
    (pytester.path / "blocker").write_text("a file where a folder should be")
    result = run(pytester, "--html", "blocker/r.html", "--json", "r.json", "prog.py")
    result.stderr.fnmatch_lines(["lockorder: cannot write the html report 'blocker/r.html': *"])
    assert result.ret == 3  # the findings' status wins over the report's failure
    assert (pytester.path / "r.json").exists()
    pytester.makepyfile(prog="print('fine')")
    result = run(pytester, "--json", "blocker/r.json", "prog.py")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["lockorder: cannot write the json report 'blocker/r.json': *"])


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LOCKORDER_MODE", "loud", "LOCKORDER_MODE must be one of raise, warn, record"),
        ("LOCKORDER", "banana", "LOCKORDER must be a boolean (1/0, true/false, yes/no, on/off)"),
        ("LOCKORDER_LONG_WAIT", "soon", "LOCKORDER_LONG_WAIT must be a number of seconds"),
    ],
)
def test_an_invalid_environment_value_is_one_line_and_status_2(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    pytester.makepyfile(prog="print('ran')")
    monkeypatch.setenv(variable, value)
    result = run(pytester, "prog.py")
    assert result.ret == 2
    assert result.stderr.lines == [f"lockorder run: {message} (got {value!r} from the environment)"]
    assert result.stdout.lines == []


def test_the_report_commands_ignore_the_checkers_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(prog="print('ran')")
    assert run(pytester, "--json", "r.json", "prog.py").ret == 0
    monkeypatch.setenv("LOCKORDER_MODE", "loud")
    result = pytester.run(sys.executable, "-m", "lockorder", "report", "r.json", timeout=60)
    assert result.ret == 0
    assert result.stderr.lines == []


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["merge", "a.json", "-o", "m.json", "--bogus"], "unrecognized arguments: --bogus"),
        (["check", "r.json", "extra.json"], "unrecognized arguments: extra.json"),
        (["baseline", "r.json", "-o", "b.json", "--prune"], "unrecognized arguments: --prune"),
        (["report", "r.json", "-x"], "unrecognized arguments: -x"),
        (["confirm", "r.json", "--nope"], "unrecognized arguments: --nope"),
        (["run", "--bogus", "prog.py"], "unrecognized arguments: --bogus"),
    ],
)
def test_a_usage_error_names_its_subcommand_with_its_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    """Not lockorder's own usage and 'lockorder: error:'."""
    from lockorder.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    said = capsys.readouterr().err.splitlines()
    assert said[0].startswith(f"usage: lockorder {argv[0]} "), said
    assert said[-1] == f"lockorder {argv[0]}: error: {error}", said


@pytest.mark.parametrize(
    ("module", "said"),
    [
        ("nothere.mod", "No module named nothere.mod (no module named nothere)"),
        ("pkg.nothere", "No module named pkg.nothere"),
        ("pkg.mod.sub", "No module named pkg.mod.sub (pkg.mod is a module, not a package)"),
        (
            "pkg",  # what python -m says
            "No module named pkg.__main__; 'pkg' is a package and cannot be directly executed",
        ),
    ],
)
def test_a_module_that_cannot_run_is_one_line_and_status_2(
    pytester: pytest.Pytester, module: str, said: str
) -> None:
    """Not runpy's 'Error while finding module specification for ...'."""
    pytester.mkpydir("pkg")
    pytester.path.joinpath("pkg", "mod.py").write_text("print('ran')\n")
    result = run(pytester, "-m", module)
    assert (result.ret, result.stderr.lines) == (2, [f"lockorder run: {said}"])
    assert not (pytester.path / "lockorder-report.json").exists()
