#!/usr/bin/env python
"""CPython's own threading-related test suites, with and without lockorder.

Run from anywhere (it needs lockorder installed in this interpreter)::

    python benchmarks/cpython_suites.py                     # every suite, both forms
    python benchmarks/cpython_suites.py --suites test_queue,lock_tests --repeat 3
    python benchmarks/cpython_suites.py --forms pytest --timeout 300

For each suite, two forms, each run twice, one after the other:

``pytest``
    (a) ``python -m pytest --pyargs test.test_X`` plain, and (b) the same with
    ``--lockorder --lockorder-mode=record --lockorder-report=json:...``. Record mode:
    the question is whether the tests give the same results; what lockorder found
    is listed separately.
``unittest``
    (a) the suite under unittest's loader and ``TextTestRunner`` (what
    ``python -m unittest test.test_X`` does), and (b) the same program under
    ``python -m lockorder run --json ...``. The program is this script's
    ``--unittest-worker`` mode, which is ``unittest.main()`` with a result class
    that writes every test's outcome to a JSON file.

Per-test outcomes (passed, failed, error, skipped, xfailed, xpassed) come from
``--junitxml`` (pytest) or the worker's JSON (unittest) and are compared test by
test; every test whose outcome differs is listed with the message of its
failure. Wall times are those of the whole process (start-up and collection
included), and the CPU time (user + system) of the process and of the children
it waited for; with ``--repeat N`` the best of N is shown and a test differs if the
sets of its outcomes over the N runs differ. The findings come from lockorder's
JSON reports. Exit status: 0 if every suite gave the same results in both runs
of both forms, 1 otherwise (a difference, a timeout, a run that wrote no
results); a difference listed in ``JUSTIFIED`` (a test of CPython's that inspects
what lockorder cannot mirror, see docs/cpython-suites.md) is shown but does not
count.

Suites (``--suites``, comma-separated; any other name ``test_X`` of the
interpreter's ``test`` package works too):

- ``test_threading``, ``test_queue``, ``test_thread``, ``test_logging`` (the
  whole module: it runs in about 25 s and every logging handler holds an RLock);
- ``lock_tests``: ``Lib/test/lock_tests.py`` has no tests of its own; its classes
  run in ``test_threading`` (``threading.Lock``, ``Condition``, ``Semaphore``,
  ``BoundedSemaphore``, ``Event``, ``Barrier``; RLock only as ``_PyRLock`` and
  ``_CRLock``, which lockorder does not patch) and in ``test_thread``
  (``_thread.allocate_lock``, not patched). This suite is a small generated
  module that runs them against every public factory of ``threading``, looked up
  when the module is imported, so ``threading.RLock`` is covered;
- ``test_concurrent_futures``: from the interpreter's ``test`` package when it
  has it (a module up to 3.11, a package from 3.12); else the single module from
  ``--extra-test-dir`` (default: Debian's ``libpython3.X-testsuite``,
  ``/usr/lib/python3.X/test``) when its ``major.minor`` is ours, copied into the
  work directory as a top-level module; else the row says it is absent.

pytest runs with ``-p no:cacheprovider -p no:xdist`` and also ``-p no:logging``
(its capture handler on the root logger makes test_logging's handler checks
fail) and ``-p no:warnings`` (its per-test ``catch_warnings`` breaks
``test_logging.WarningsTest.test_warnings``), an empty ini file and
``--rootdir`` at the stdlib, so the caller's configuration plays no part. Not
collected: ``test/test_logging.py::test_compute_rollover``, a module-level
helper of test_logging that pytest takes for a test (it needs ``self``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SUITES = (
    "test_threading",
    "test_queue",
    "test_thread",
    "lock_tests",
    "test_logging",
    "test_concurrent_futures",
)
#: pytest plugins that would change the stdlib suites' results (see the docstring)
PYTEST_OFF = ("cacheprovider", "xdist", "logging", "warnings")
#: node ids pytest collects that are no tests (see the docstring)
DESELECT = {"test_logging": ("test/test_logging.py::test_compute_rollover",)}
#: differences explained by a test of CPython's that inspects what lockorder cannot mirror
#: (docs/cpython-suites.md): listed, but they do not make the exit status 1
JUSTIFIED = {
    "test.test_threading.ThreadTests.test_disallow_instantiation": (
        "type(threading.Lock()) is lockorder.Lock, a public class that must be instantiable"
    ),
}
#: outcome severity, to merge several reports of one test (call and teardown, subtests)
RANK = {"passed": 0, "xpassed": 1, "xfailed": 2, "skipped": 3, "failed": 4, "error": 5}

LOCK_TESTS_MODULE = '''\
"""Generated by benchmarks/cpython_suites.py: CPython's Lib/test/lock_tests.py
against threading's public factories (patched ones under lockorder)."""

import threading

from test import lock_tests


class LockTests(lock_tests.LockTests):
    locktype = staticmethod(threading.Lock)


class RLockTests(lock_tests.RLockTests):
    locktype = staticmethod(threading.RLock)


class ConditionTests(lock_tests.ConditionTests):
    condtype = staticmethod(threading.Condition)


class SemaphoreTests(lock_tests.SemaphoreTests):
    semtype = staticmethod(threading.Semaphore)


class BoundedSemaphoreTests(lock_tests.BoundedSemaphoreTests):
    semtype = staticmethod(threading.BoundedSemaphore)


class EventTests(lock_tests.EventTests):
    eventtype = staticmethod(threading.Event)


class BarrierTests(lock_tests.BarrierTests):
    barriertype = staticmethod(threading.Barrier)
'''


# -- the unittest worker ----------------------------------------------------------------


def unittest_worker(out: str, module: str) -> int:
    """Run ``module`` as ``python -m unittest module`` would; write outcomes to ``out``."""
    import unittest

    outcomes: dict[str, list[str]] = {}

    def put(test: object, outcome: str, message: str = "") -> None:
        tid = test.id() if hasattr(test, "id") else str(test)
        old = outcomes.get(tid)
        if old is None or RANK[outcome] > RANK[old[0]]:
            outcomes[tid] = [outcome, message]

    def last_line(err: object) -> str:
        if isinstance(err, tuple) and len(err) == 3:
            return f"{err[0].__name__}: {err[1]}".splitlines()[0][:300]
        return ""

    class Recorder(unittest.TextTestResult):
        def addSuccess(self, test):  # type: ignore[no-untyped-def]
            super().addSuccess(test)
            put(test, "passed")

        def addFailure(self, test, err):  # type: ignore[no-untyped-def]
            super().addFailure(test, err)
            put(test, "failed", last_line(err))

        def addError(self, test, err):  # type: ignore[no-untyped-def]
            super().addError(test, err)
            put(test, "error", last_line(err))

        def addSkip(self, test, reason):  # type: ignore[no-untyped-def]
            super().addSkip(test, reason)
            put(test, "skipped", str(reason))

        def addExpectedFailure(self, test, err):  # type: ignore[no-untyped-def]
            super().addExpectedFailure(test, err)
            put(test, "xfailed")

        def addUnexpectedSuccess(self, test):  # type: ignore[no-untyped-def]
            super().addUnexpectedSuccess(test)
            put(test, "xpassed")

        def addSubTest(self, test, subtest, err):  # type: ignore[no-untyped-def]
            super().addSubTest(test, subtest, err)
            if err is not None:
                failed = issubclass(err[0], test.failureException)
                put(test, "failed" if failed else "error", last_line(err))

    runner = unittest.TextTestRunner(resultclass=Recorder, verbosity=1)
    program = unittest.main(
        module=None, argv=["python -m unittest", module], testRunner=runner, exit=False
    )
    Path(out).write_text(json.dumps(outcomes, indent=1, sort_keys=True), encoding="utf-8")
    return 0 if program.result.wasSuccessful() else 1


# -- suites -----------------------------------------------------------------------------


@dataclass
class Suite:
    name: str
    module: str | None = None  # importable name, for the unittest form
    pytest_target: list[str] = field(default_factory=list)
    rootdir: str = ""
    note: str = ""
    absent: str = ""  # why it cannot run here


def resolve(name: str, workdir: Path, extra_dir: Path | None) -> Suite:
    stdlib = sysconfig.get_paths()["stdlib"]
    if name == "lock_tests":
        path = workdir / "cpython_lock_tests.py"
        path.write_text(LOCK_TESTS_MODULE, encoding="utf-8")
        return Suite(
            name,
            "cpython_lock_tests",
            [str(path)],
            str(workdir),
            "test.lock_tests against threading's public factories (generated module)",
        )
    try:
        spec = importlib.util.find_spec(f"test.{name}")
    except ImportError:
        spec = None
    if spec is not None:
        return Suite(name, f"test.{name}", ["--pyargs", f"test.{name}"], stdlib)
    if extra_dir is not None and (extra_dir / f"{name}.py").is_file():
        shutil.copy(extra_dir / f"{name}.py", workdir / f"{name}.py")
        return Suite(
            name,
            name,
            [str(workdir / f"{name}.py")],
            str(workdir),
            f"not in this interpreter's test package; {extra_dir / name}.py, "
            "run as a top-level module",
        )
    where = f" nor in {extra_dir}" if extra_dir is not None else ""
    return Suite(name, absent=f"test.{name} is not in this interpreter's test package{where}")


def default_extra_dir() -> Path | None:
    path = Path(f"/usr/lib/python{sys.version_info[0]}.{sys.version_info[1]}/test")
    return path if path.is_dir() else None


# -- running ----------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system seconds of the process and the children it waited for
    status: int | None  # None: timed out
    outcomes: dict[str, tuple[str, str]]  # test id -> (outcome, message)
    report: dict | None  # lockorder's JSON report, for the lockorder runs
    log: Path


def child_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKORDER")}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir), env.get("PYTHONPATH")]))
    return env


def execute(
    cmd: list[str], workdir: Path, log: Path, timeout: float
) -> tuple[float, float, int | None]:
    """Run ``cmd``; return (wall seconds, CPU seconds, exit status or None on timeout)."""
    with open(log, "wb") as out:
        out.write((" ".join(cmd) + "\n\n").encode())
        out.flush()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=child_env(workdir),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a timeout ends the whole process group
        )
        try:
            status: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            status = None
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, status


def junit_outcomes(path: Path) -> dict[str, tuple[str, str]]:
    outcomes: dict[str, tuple[str, str]] = {}
    if not path.is_file():
        return outcomes
    for case in ET.parse(path).getroot().iter("testcase"):
        tid = f"{case.get('classname')}.{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag == "failure":
                outcome = "failed"
            elif child.tag == "error":
                outcome = "error"
            elif child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
            else:
                continue
            lines = (child.get("message") or "").splitlines()
            message = lines[0][:300] if lines else ""
        old = outcomes.get(tid)
        if old is None or RANK[outcome] > RANK[old[0]]:
            outcomes[tid] = (outcome, message)
    return outcomes


def read_report(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def run_pytest(
    suite: Suite, checked: bool, tag: str, workdir: Path, timeout: float, extra: list[str]
) -> Run:
    stem = f"{workdir}/{suite.name}.pytest.{tag}"
    junit, report, log = Path(stem + ".xml"), Path(stem + ".lockorder.json"), Path(stem + ".log")
    for stale in (junit, report):
        stale.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", *suite.pytest_target, "-c", str(workdir / "pytest.ini")]
    cmd += ["--rootdir", suite.rootdir, "-q", "-rfE", f"--junitxml={junit}"]
    for plugin in PYTEST_OFF:
        cmd += ["-p", f"no:{plugin}"]
    for nodeid in DESELECT.get(suite.name, ()):
        cmd += ["--deselect", nodeid]
    if checked:
        cmd += ["--lockorder", "--lockorder-mode=record", f"--lockorder-report=json:{report}"]
    cmd += extra
    seconds, cpu, status = execute(cmd, workdir, log, timeout)
    return Run(
        seconds, cpu, status, junit_outcomes(junit), read_report(report) if checked else None, log
    )


def run_unittest(suite: Suite, checked: bool, tag: str, workdir: Path, timeout: float) -> Run:
    stem = f"{workdir}/{suite.name}.unittest.{tag}"
    out, report, log = (
        Path(stem + ".outcomes.json"),
        Path(stem + ".lockorder.json"),
        Path(stem + ".log"),
    )
    for stale in (out, report):
        stale.unlink(missing_ok=True)
    worker = [str(Path(__file__).resolve()), "--unittest-worker", str(out), str(suite.module)]
    if checked:
        cmd = [sys.executable, "-m", "lockorder", "run", "--json", str(report), *worker]
    else:
        cmd = [sys.executable, *worker]
    seconds, cpu, status = execute(cmd, workdir, log, timeout)
    outcomes: dict[str, tuple[str, str]] = {}
    data = read_report(out)
    if isinstance(data, dict):
        outcomes = {k: (v[0], v[1]) for k, v in data.items()}
    return Run(seconds, cpu, status, outcomes, read_report(report) if checked else None, log)


# -- comparing and printing ---------------------------------------------------------------


@dataclass
class Row:
    suite: Suite
    form: str
    plain: list[Run]
    checked: list[Run]

    def tests(self) -> int:
        return len(self.plain[0].outcomes) if self.plain else 0

    def broken(self) -> str:
        """Why the comparison cannot be trusted ('' if it can)."""
        for kind, runs in (("plain", self.plain), ("lockorder", self.checked)):
            for run in runs:
                if run.status is None:
                    return f"{kind} run timed out (log: {run.log})"
                if not run.outcomes:
                    return f"{kind} run wrote no results, exit {run.status} (log: {run.log})"
        return ""

    def differences(self) -> list[tuple[str, set[str], set[str], str]]:
        ids = set().union(*(r.outcomes for r in self.plain + self.checked))
        diffs = []
        for tid in sorted(ids):
            a = {r.outcomes.get(tid, ("missing", ""))[0] for r in self.plain}
            b = {r.outcomes.get(tid, ("missing", ""))[0] for r in self.checked}
            if a != b:
                message = next(
                    (
                        r.outcomes[tid][1]
                        for r in self.checked
                        if tid in r.outcomes and r.outcomes[tid][1]
                    ),
                    "",
                )
                diffs.append((tid, a, b, message))
        return diffs

    def summary(self) -> str:
        counts = Counter(o for o, _ in self.plain[0].outcomes.values())
        order = sorted(counts, key=lambda o: RANK[o])
        return ", ".join(f"{counts[o]} {o}" for o in order)


def count(diffs: list[tuple[str, set[str], set[str], str]]) -> str:
    justified = sum(1 for d in diffs if d[0] in JUSTIFIED)
    return f"{len(diffs)} ({justified} justified)" if justified else str(len(diffs))


def best(runs: list[Run]) -> float:
    return min(r.seconds for r in runs)


def best_cpu(runs: list[Run]) -> float:
    return min(r.cpu for r in runs)


def ratios(plain: list[Run], checked: list[Run]) -> str:
    """The table's timing cells: plain s, lockorder s, ratio, CPU ratio."""
    p, c = best(plain), best(checked)
    pc, cc = best_cpu(plain), best_cpu(checked)
    return f"{p:.2f} | {c:.2f} | {c / p:.2f}x | {pc:.2f} / {cc:.2f} = {cc / pc:.2f}x"


def table(rows: list[Row], absent: list[Suite]) -> str:
    head = (
        "| suite | form | tests | plain outcomes | differences "
        "| plain s | lockorder s | ratio | CPU s plain / lockorder |"
    )
    lines = [head, "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        broken = row.broken()
        diffs = "n/a" if broken else count(row.differences())
        summary = "n/a" if broken else row.summary()
        lines.append(
            f"| {row.suite.name} | {row.form} | {row.tests()} | {summary} | {diffs} "
            f"| {ratios(row.plain, row.checked)} |"
        )
    for form in sorted({r.form for r in rows}):
        ok = [r for r in rows if r.form == form and not r.broken()]
        if ok:
            # one pseudo-run per side whose times are the sums of the suites' best
            plain = [
                Run(
                    sum(best(r.plain) for r in ok),
                    sum(best_cpu(r.plain) for r in ok),
                    0,
                    {},
                    None,
                    Path(),
                )
            ]
            checked = [
                Run(
                    sum(best(r.checked) for r in ok),
                    sum(best_cpu(r.checked) for r in ok),
                    0,
                    {},
                    None,
                    Path(),
                )
            ]
            lines.append(
                f"| **all** | {form} | {sum(r.tests() for r in ok)} | | "
                f"{count([d for r in ok for d in r.differences()])} "
                f"| {ratios(plain, checked)} |"
            )
    for suite in absent:
        lines.append(f"| {suite.name} | - | - | {suite.absent} | | | | | |")
    return "\n".join(lines)


def short(path: str) -> str:
    """``path`` without the stdlib's directory (CPython's tests live there)."""
    stdlib = sysconfig.get_paths()["stdlib"] + os.sep
    return path[len(stdlib) :] if path.startswith(stdlib) else path


def findings_text(rows: list[Row], limit: int) -> str:
    out = []
    for row in rows:
        report = row.checked[0].report if row.checked else None
        if report is None:
            out.append(f"{row.suite.name} ({row.form}): no lockorder report")
            continue
        summary = report.get("summary", {})
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.get("by_kind", {}).items()))
        out.append(
            f"{row.suite.name} ({row.form}): {summary.get('findings', 0)} finding(s)"
            f"{': ' + kinds if kinds else ''}; "
            f"{summary.get('classes', 0)} lock classes, {summary.get('edges', 0)} edges"
        )
        for finding in report.get("findings", [])[:limit]:
            where = finding.get("test") or f"thread {finding.get('thread')!r}"
            sites = ", ".join(
                sorted({short(lock.get("site", "?")) for lock in finding.get("locks", [])})
            )
            out.append(f"    {finding['kind']} ({finding['severity']}) in {where}: {sites}")
        left = len(report.get("findings", [])) - limit
        if left > 0:
            out.append(f"    ... and {left} more (report: {row.checked[0].log.parent})")
    return "\n".join(out)


# -- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", default=",".join(DEFAULT_SUITES), help="comma-separated")
    parser.add_argument(
        "--forms", default="pytest,unittest", help="pytest, unittest or both (comma-separated)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per run (default 600)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (best time shown)")
    parser.add_argument("--workdir", help="keep logs, junit files and reports here")
    parser.add_argument(
        "--extra-test-dir",
        type=Path,
        default=default_extra_dir(),
        help="where to find suites missing from the test package (default: %(default)s)",
    )
    parser.add_argument(
        "--pytest-arg", action="append", default=[], help="extra pytest argument (repeatable)"
    )
    parser.add_argument("--findings", type=int, default=30, help="findings listed per suite")
    parser.add_argument(
        "--unittest-worker", nargs=2, metavar=("OUT", "MODULE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.unittest_worker:
        return unittest_worker(*args.unittest_worker)

    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    if not forms or set(forms) - {"pytest", "unittest"}:
        parser.error(f"--forms: pytest and/or unittest, not {args.forms!r}")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cpython-suites-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")

    import pytest

    import lockorder

    print(
        f"python {platform.python_version()} ({sys.executable}), {os.cpu_count()} CPUs, "
        f"lockorder {lockorder.__version__}, pytest {pytest.__version__}, "
        f"timeout {args.timeout:g} s, repeat {args.repeat}"
    )
    print(f"work directory: {workdir}\n")
    rows: list[Row] = []
    absent: list[Suite] = []
    for name in [s.strip() for s in args.suites.split(",") if s.strip()]:
        suite = resolve(name, workdir, args.extra_test_dir)
        if suite.absent:
            print(f"{name}: {suite.absent}", flush=True)
            absent.append(suite)
            continue
        if suite.note:
            print(f"{name}: {suite.note}")
        for form in forms:
            row = Row(suite, form, [], [])
            for rep in range(args.repeat):
                for checked, runs in ((False, row.plain), (True, row.checked)):
                    tag = f"{'lockorder' if checked else 'plain'}{rep + 1}"
                    if form == "pytest":
                        run = run_pytest(
                            suite, checked, tag, workdir, args.timeout, args.pytest_arg
                        )
                    else:
                        run = run_unittest(suite, checked, tag, workdir, args.timeout)
                    runs.append(run)
                    state = "TIMEOUT" if run.status is None else f"exit {run.status}"
                    print(
                        f"{name} [{form}, {tag}]: {len(run.outcomes)} tests, {state}, "
                        f"{run.seconds:.2f} s, CPU {run.cpu:.2f} s",
                        flush=True,
                    )
            rows.append(row)

    print()
    print(table(rows, absent))
    trouble = printed = False
    print("\nOutcome differences (plain -> lockorder):")
    for row in rows:
        broken = row.broken()
        if broken:
            trouble = printed = True
            print(f"  {row.suite.name} ({row.form}): cannot compare: {broken}")
            continue
        for tid, a, b, message in row.differences():
            if tid in JUSTIFIED:
                message = f"justified: {JUSTIFIED[tid]}"
            else:
                trouble = True
            printed = True
            print(
                f"  {row.suite.name} ({row.form}) {tid}: {'/'.join(sorted(a))} -> "
                f"{'/'.join(sorted(b))}{': ' + message if message else ''}"
            )
    if not printed:
        print("  none")
    print("\nlockorder findings (record mode; first run of each):")
    print(findings_text(rows, args.findings))
    return 1 if trouble else 0


if __name__ == "__main__":
    sys.exit(main())
