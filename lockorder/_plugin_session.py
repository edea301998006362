"""The pytest plugin's stateful part, registered only when lockorder is enabled:
install and uninstall, attributing findings to tests, pytest-xdist's workers and
merge, and the reports. The terminal summary is lockorder._plugin_summary's, the
watchdog that prints lockorder.dump() for a test that runs too long
lockorder._plugin_watchdog's.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from lockorder import _emit, _held, _plugin_summary, _sites
from lockorder._config import MODES, SINGLE_THREAD_POLICIES
from lockorder._plugin_options import MARKER_KEYS, SCHEMA, Options
from lockorder._plugin_watchdog import Watchdog
from lockorder._state import checker
from lockorder.errors import LockOrderError, finding_raised

if TYPE_CHECKING:
    from lockorder._findings import Finding

# -- the plugin object (registered only when enabled) ----------------------------------


@dataclass
class _TestSettings:
    mode: str
    single_thread: str
    allow: tuple[str, ...]


def _matches(finding: Finding, patterns: tuple[str, ...]) -> bool:
    names = [finding.kind]
    for lock in finding.locks:
        names.extend(n for n in (lock.name, lock.site, lock.key) if n)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)


@dataclass
class _Hold:
    """A lock left held at a test's end, reported by that test's finding."""

    st: Any
    ts: Any
    #: the finding's signature
    signature: str
    #: when the test that reported it ended, and the last test end that saw it held
    since: float
    seen: float
    #: later tests that ended with it still held
    later: int = 0


class LockorderPlugin:
    """The stateful part: installed patches, attribution, reports."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        from lockorder._install import install

        self.config = config
        self.options = options
        self.worker_id = os.environ.get("PYTEST_XDIST_WORKER")
        self.test_start: dict[str, int] = {}
        self.failed_tests: set[str] = set()
        self.suppressed: list[tuple[str, Finding]] = []
        #: signatures of findings a test report carried (decided by that test)
        self.attached: set[str] = set()
        self.unattached: list[Finding] = []
        self.worker_data: dict[str, dict[str, Any]] = {}
        self.crashed_workers: dict[str, str] = {}
        #: (test, rule, finding): suppressed findings whose exception failed a test
        #: all the same (a self-deadlock or a deadlock raises: a hang helps no one)
        self.raised: list[tuple[str, str, Finding]] = []
        #: Ctrl-C or pytest.exit() stopped the session (the summary says so)
        self.interrupted = False
        #: workers whose journal the controller took when the session was interrupted
        self.journaled: list[str] = []
        self.final: list[Finding] = []
        #: (rule, finding): workers' findings that the merge withdrew
        self.merge_withdrawn: list[tuple[str, Finding]] = []
        #: (rule, finding): what [tool.lockorder] suppressed on the workers, or in
        #: the merge
        self.worker_suppressed: list[tuple[str, Finding]] = []
        self.written: list[str] = []
        #: reports that could not be written, each with why
        self.unwritten: list[str] = []
        self.journal_dir: str | None = None
        #: locks left held at a test's end, reported once: (thread serial, id of
        #: the lock state) -> the hold, until its thread no longer owns the lock
        self._holds: dict[tuple[int, int], _Hold] = {}
        self._journal_changes = -1
        self._reported = 0
        self._saved_settings = checker.settings
        checker.configure(
            enabled=True,
            mode=self._core_mode(options.mode),
            single_thread=options.single_thread,
            break_deadlocks=True,
            long_wait=options.long_wait,
            long_hold=options.long_hold,
        )
        self._load_project(config)
        install()
        from lockorder import _threads

        # execnet's threads in an xdist worker: they release none of the program's
        # locks, so a self-deadlock is as certain as without xdist
        _threads.note_runner_threads()
        from lockorder import _deadlock

        _deadlock.ensure_monitor()
        self.watchdog = Watchdog(
            self._dump_after(config), config.pluginmanager.getplugin("capturemanager")
        )

    def _load_project(self, config: pytest.Config) -> None:
        """[tool.lockorder] from the rootdir's pyproject.toml (or the nearest one)."""
        from lockorder._project import activate, load_project_config
        from lockorder.errors import ConfigurationError
        from lockorder.report import ReportError

        candidate = os.path.join(str(config.rootpath), "pyproject.toml")
        try:
            activate(load_project_config(candidate if os.path.isfile(candidate) else None))
        except (ConfigurationError, ReportError) as exc:
            raise pytest.UsageError(f"lockorder: {exc}") from None

    def _dump_after(self, config: pytest.Config) -> float:
        if self.options.dump_after is not None:
            return self.options.dump_after
        timeout = getattr(config.option, "timeout", None)  # pytest-timeout's, if installed
        try:
            if timeout and float(timeout) > 0:
                return 0.8 * float(timeout)
        except (TypeError, ValueError):
            pass
        return 60.0

    @staticmethod
    def _core_mode(mode: str) -> str:
        # "raise" fails the test from its report, so the checker itself only
        # records: raising inside the code under test (maybe in another thread)
        # would change what it does. A self-deadlock still raises: a hang helps no one.
        return "warn" if mode == "warn" else "record"

    # -- header, configuration -----------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> str:
        return self.options.header()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        from lockorder._install import uninstall
        from lockorder._project import activate

        uninstall()
        checker.restore(self._saved_settings)
        activate(None)
        from lockorder import _threads

        _threads.runner_threads.clear()

    # -- per test ---------------------------------------------------------------------

    def _test_settings(self, item: pytest.Item) -> _TestSettings:
        settings = _TestSettings(self.options.mode, self.options.single_thread, ())
        for marker in reversed(list(item.iter_markers("lockorder"))):
            unknown = set(marker.kwargs) - set(MARKER_KEYS)
            if marker.args or unknown:
                what = (
                    f"positional arguments {marker.args!r}"
                    if marker.args
                    else ("unknown keyword(s) " + ", ".join(sorted(unknown)))
                )
                raise _MarkerError(f"lockorder marker: {what}; expected {MARKER_KEYS}")
            if "mode" in marker.kwargs:
                settings.mode = _marker_choice("mode", marker.kwargs["mode"], MODES)
            if "single_thread" in marker.kwargs:
                settings.single_thread = _marker_choice(
                    "single_thread", marker.kwargs["single_thread"], SINGLE_THREAD_POLICIES
                )
            if "allow" in marker.kwargs:
                allow = marker.kwargs["allow"]
                if isinstance(allow, str):
                    allow = (allow,)
                if not all(isinstance(pattern, str) for pattern in allow):
                    raise _MarkerError(f"lockorder marker: allow must be strings, got {allow!r}")
                settings.allow = settings.allow + tuple(allow)
        return settings

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:

        try:
            settings: _TestSettings | None = self._test_settings(item)
            item.stash[_MARKER_ERROR] = ""
        except _MarkerError as exc:
            settings = None
            item.stash[_MARKER_ERROR] = str(exc)
        effective = settings or _TestSettings(self.options.mode, self.options.single_thread, ())
        item.stash[_SETTINGS] = effective
        saved = checker.settings
        checker.configure(
            mode=self._core_mode(effective.mode), single_thread=effective.single_thread
        )
        self.test_start[item.nodeid] = self._reported = checker.findings_made()
        checker.set_test(item.nodeid)
        _sites.refresh_cwd()  # (never read on a lock's creation or acquire)
        self.watchdog.arm(item.nodeid)
        try:
            return (yield)
        finally:
            self.watchdog.disarm()
            checker.set_test(None)
            checker.restore(saved)
            self.test_start.pop(item.nodeid, None)
            self._journal()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        error = item.stash.get(_MARKER_ERROR, "")
        if error:
            pytest.fail(error, pytrace=False)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # also sees the reports xdist replays from workers
        for item in getattr(report, "lockorder_raised", ()):
            from lockorder._findings import Finding

            self.raised.append((report.nodeid, item["rule"], Finding.from_dict(item["finding"])))
        for item in getattr(report, "lockorder_findings", ()):
            self.attached.add(item["signature"])
            if item.get("suppressed"):
                from lockorder._findings import Finding

                self.suppressed.append((report.nodeid, Finding.from_dict(item)))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:

        report = yield
        if call.when == "call" and self.watchdog.dumped == item.nodeid and self.watchdog.text:
            report.sections.append(("lockorder dump (the test ran long)", self.watchdog.text))
        if call.when == "teardown":
            self._held_at_test_end(item)
        settings: _TestSettings = item.stash.get(_SETTINGS, None) or _TestSettings(
            self.options.mode, self.options.single_thread, ()
        )
        if call.excinfo is not None and report.failed:
            raised = _raised_anyway(call.excinfo.value, settings)
            if raised is not None:
                report.lockorder_raised = [raised]  # type: ignore[attr-defined]
        new, self._reported = checker.findings_since(self._reported)
        if not new:
            return report
        failing = []
        attached = []
        for finding in new:
            data = finding.to_dict()
            if settings.allow and _matches(finding, settings.allow):
                data["suppressed"] = True
            elif self._fails(finding):
                failing.append(finding)
            attached.append(data)
        report.lockorder_findings = attached  # type: ignore[attr-defined]
        if failing and settings.mode == "raise":
            self.failed_tests.add(item.nodeid)
            if report.passed:
                report.outcome = "failed"
                report.longrepr = "\n\n".join(f.format() for f in failing)
                return report
        # the finding the test failed with (its exception's message) is not told again
        error = call.excinfo.value if call.excinfo is not None else None
        failed_with = error.finding if isinstance(error, LockOrderError) else None
        told = [f for f in new if failed_with is None or f.signature != failed_with.signature]
        if told:
            text = "\n\n".join(f.format() for f in told)
            report.sections.append((f"lockorder findings ({call.when})", text))
        return report

    def _fails(self, finding: Finding) -> bool:
        if self.options.fail_on == "never":
            return False
        if self.options.fail_on == "warning":
            return True
        return finding.severity == "error"

    def _held_at_test_end(self, item: pytest.Item) -> None:
        """A lock still held when a test ends is one ``held-at-test-end`` finding,
        of the first test that ended with it held (the one during which it was
        taken, unless it was taken between tests); a later test that ends with
        it still held is not blamed: the finding says, once the hold is over or
        the session is, how many later tests ended with it held and how long."""
        from lockorder import _threads
        from lockorder._findings import Finding

        now = time.monotonic()
        self._holds_over(now, item.nodeid)
        for ts, locks in _threads.abandon_held():
            new = []
            for st in locks:
                hold = self._holds.get((ts.serial, id(st)))
                if hold is None:
                    new.append(st)
                else:
                    hold.later += 1
                    hold.seen = now
            if not new:
                continue
            refs = tuple(_held.lock_ref(st) for st in new)
            stack, taken = _held.where_taken(new)
            signature = f"held-at-test-end:{item.nodeid}:" + "|".join(ref.key for ref in refs)
            added = _emit.add_finding(
                Finding(
                    kind="held-at-test-end",
                    severity="warning",
                    message=f"thread {ts.name!r} still held "
                    + ", ".join(ref.label for ref in refs)
                    + " when the test ended; these locks make no more edges",
                    locks=refs,
                    thread=ts.name,
                    stack=stack,
                    details=taken,
                    reason=_threads.LEFT_HELD_WHY,
                    test=item.nodeid,
                    signature=signature,
                )
            )
            if added:
                for st in new:
                    self._holds[(ts.serial, id(st))] = _Hold(st, ts, signature, now, now)

    def _holds_over(self, now: float, during: str | None) -> None:
        """Say in the finding of each reported hold that is over (its thread no
        longer owns the lock) how long it lasted: released ``during`` a test, or
        (``during`` None: the session ends) after the last test or never."""

        for key, hold in list(self._holds.items()):
            held = hold.st._lo_owner is hold.ts
            if held and during is not None:
                continue
            del self._holds[key]
            later = f"{hold.later} later test{'s' if hold.later != 1 else ''}"
            if held:
                line = (
                    f"still held when the session ended, {now - hold.since:.1f} s after this "
                    f"test ended ({later} ended with it held, not reported again)"
                )
            elif hold.later == 0:
                line = (
                    f"released during the next test, {during}"
                    if during
                    else ("released after the last test ended")
                )
            else:
                line = (
                    f"still held when {later} ended (not reported again), for at least "
                    f"{hold.seen - hold.since:.1f} s after this test ended; released "
                    + (f"during {during}" if during else "after the last test ended")
                )
            checker.amend_finding(hold.signature, (f"{hold.st._lo_cls.label} was {line}",))

    # -- xdist: workers journal their graph, the controller merges --------------------------

    def _wire(self) -> dict[str, Any]:
        from lockorder.report import suppressed_dicts

        findings, graph, suppressed = checker.snapshot()
        project = checker.project
        return {
            "schema": SCHEMA,
            "graph": graph,
            "findings": [f.to_dict() for f in findings],
            # what [tool.lockorder] suppressed here, and how often each rule matched
            "suppressed": suppressed_dicts(suppressed),
            "matched": dict(project.matched) if project is not None else {},
        }

    def _journal(self) -> None:
        """On a worker, keep what it learned in a file after each test, so a
        worker that crashes later does not take it along."""
        directory = getattr(self.config, "workerinput", {}).get("lockorder_dir")
        if not directory:
            return
        from lockorder import report

        if checker.changes == self._journal_changes:
            return
        self._journal_changes = checker.changes
        report.write_json(os.path.join(directory, f"{self.worker_id}.json"), self._wire())

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.journal_dir is None:
            self.journal_dir = tempfile.mkdtemp(prefix="lockorder-")
        node.workerinput["lockorder_dir"] = self.journal_dir

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        worker = node.workerinput.get("workerid", "?")
        data = getattr(node, "workeroutput", {}).get("lockorder")
        if data is not None:
            if data.get("schema") != SCHEMA:
                raise pytest.UsageError(
                    f"lockorder on worker {worker} sent schema {data.get('schema')!r}, "
                    f"expected {SCHEMA}: install the same lockorder everywhere"
                )
            self.worker_data[worker] = data
            return
        # crashed or killed: take what its journal had
        why = f"{error}".strip() if error else "it sent no lockorder data"
        self.crashed_workers[worker] = why
        if self.journal_dir:
            path = os.path.join(self.journal_dir, f"{worker}.json")
            try:
                import json

                with open(path, encoding="utf-8") as handle:
                    self.worker_data[worker] = json.load(handle)
            except (OSError, ValueError):
                pass

    # -- the end of the run -----------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        try:
            result = yield
        except BaseException as exc:
            # Ctrl-C, -x, pytest.exit(): what was found so far is still reported
            # and every report written, as `lockorder run` does (pytest prints the
            # summary whatever stopped the loop)
            if isinstance(exc, (KeyboardInterrupt, pytest.exit.Exception)):
                self.interrupted = True
            self._end_of_loop(session, stopped=True)
            raise
        self._end_of_loop(session, stopped=False)
        return result

    def _end_of_loop(self, session: pytest.Session, stopped: bool) -> None:
        self._holds_over(time.monotonic(), None)
        if hasattr(self.config, "workerinput"):
            # a worker: hand the graph to the controller (builtin types only)
            self.config.workeroutput["lockorder"] = self._wire()  # type: ignore[attr-defined]
            return
        if self.interrupted:
            self._read_journals()
        self.final = self._final_findings()
        upgraded: set[str] = set()
        if self.options.confirm and not stopped:  # no reruns in a session told to stop
            from lockorder._plugin_confirm import confirm_session

            failing = {f.signature for f in self.final if self._fails(f)}
            self.final = confirm_session(self.config, self.options, self.final)
            # a confirmed finding is an error, whatever its test made of it
            upgraded = {f.signature for f in self.final if self._fails(f)} - failing
        # Findings no test report stood for (made outside any test, or closed only
        # by merging the workers' graphs), and warnings a steered rerun confirmed,
        # fail the run here: pytest_sessionfinish is too late to change
        # session.testsfailed.
        if self.options.mode == "raise":
            self.unattached = [
                f
                for f in self.final
                if self._fails(f) and (f.signature not in self.attached or f.signature in upgraded)
            ]
            session.testsfailed += len(self.unattached)
        self._write_reports()

    def _read_journals(self) -> None:
        """Interrupted under xdist, the controller stops waiting for its workers:
        take each worker's journal (written after each test) that has not sent
        its graph. A finding a worker made in a test was that test's; its report
        may not have reached the controller before the interrupt."""
        if not self.journal_dir:
            return
        import json

        for name in sorted(os.listdir(self.journal_dir)):
            worker, ext = os.path.splitext(name)
            if ext != ".json" or worker in self.worker_data:
                continue
            try:
                with open(os.path.join(self.journal_dir, name), encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError):
                continue
            if data.get("schema") != SCHEMA:
                continue
            self.worker_data[worker] = data
            self.journaled.append(worker)
            self.attached.update(f["signature"] for f in data.get("findings", ()) if f.get("test"))

    def _final_findings(self) -> list[Finding]:
        from lockorder._merge import WITHDRAWN_RULE, merge

        own = self._wire()
        if not self.worker_data:
            self._merged_graph = own["graph"]
            return checker.findings()
        sources = [("", own), *sorted(self.worker_data.items())]
        merged = merge(sources, single_thread=self.options.single_thread)
        self._merged_graph = merged.graph
        self.merge_withdrawn = [(WITHDRAWN_RULE, finding) for finding in merged.withdrawn]
        # [tool.lockorder] ran on each worker: gather what it suppressed and the
        # rules it matched, then apply it to what only the merge found
        from lockorder.report import suppressed_of

        project = checker.project
        seen: set[str] = set()
        for _, data in sorted(self.worker_data.items()):
            for entry in suppressed_of(data):
                if entry[1].signature not in seen:
                    seen.add(entry[1].signature)
                    self.worker_suppressed.append(entry)
            if project is not None:
                for rule, count in data.get("matched", {}).items():
                    project.matched[rule] = project.matched.get(rule, 0) + int(count)
        findings = []
        for finding in merged.findings:
            rule = project.suppresses(finding) if project is not None else None
            if rule is None:
                findings.append(finding)
            elif finding.signature not in seen:
                seen.add(finding.signature)
                self.worker_suppressed.append((rule, finding))
        return findings

    def _all_suppressed(self) -> list[tuple[str, Finding]]:
        """(rule, finding): what [tool.lockorder] suppressed and what was withdrawn,
        here, on the workers and in the merge."""

        return [*checker.suppressed, *self.worker_suppressed, *self.merge_withdrawn]

    def _write_reports(self) -> None:
        from lockorder import report
        from lockorder.report.graphs import write_dot, write_graphml

        graph = getattr(self, "_merged_graph", {"classes": [], "edges": []})
        data: dict[str, Any] | None = None
        for kind, dest in self.options.reports:
            try:
                if kind in ("json", "html", "sarif"):
                    if data is None:  # one report, in three formats
                        project = checker.project
                        # what a test's marker allowed is suppressed, as in the summary
                        allowed = {f.signature: test for test, f in self.suppressed}
                        data = report.build(
                            [f for f in self.final if f.signature not in allowed],
                            graph,
                            self._settings_info(),
                            self._run_info(),
                            suppressed=[
                                *self._all_suppressed(),
                                *(
                                    (report.MARKER_RULE + allowed[f.signature], f)
                                    for f in self.final
                                    if f.signature in allowed
                                ),
                            ],
                            stale=project.stale(graph["classes"]) if project is not None else [],
                        )
                    if kind == "json":
                        report.write_json(dest, data)
                    else:  # SARIF paths relative to where pytest was started
                        root = str(self.config.invocation_params.dir)
                        report.write_text(dest, report.render(data, kind, root=root))
                elif kind == "dot":
                    write_dot(dest, graph, self.final)
                else:
                    write_graphml(dest, graph, self.final)
            except OSError as exc:
                # the tests' result must show: the session's status is settled in
                # pytest_sessionfinish, the error printed in the summary
                self.unwritten.append(f"cannot write the {kind} report to {dest!r}: {exc}")
                continue
            self.written.append(f"{kind}: {dest}")

    def _settings_info(self) -> dict[str, Any]:
        from lockorder.report import settings_of

        settings = settings_of(self.options.mode, self.options.single_thread)
        if self.options.confirm:
            from lockorder._confirm_cli import options_from

            settings["confirm"] = options_from(self.options.confirm_values, checker.project).text()
        return settings

    def _run_info(self) -> dict[str, Any]:
        from lockorder._plugin_confirm import rerun_options

        return {
            "pytest": True,
            "workers": sorted(self.worker_data),
            "crashed_workers": dict(self.crashed_workers),
            # what `lockorder confirm` needs to rerun one test of this session
            "rootdir": str(self.config.rootpath),
            "rerun_options": rerun_options(self.config),
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        _plugin_summary.write(self, terminalreporter)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """A report that could not be written fails a run that passed (usage error,
        4: the destination given is unusable); a failing run keeps its status."""
        if self.unwritten and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


class _MarkerError(Exception):
    pass


def _marker_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise _MarkerError(
            f"lockorder marker: invalid {name} {value!r} (choose from: {', '.join(choices)})"
        )
    return value.strip().lower()


_SETTINGS = pytest.StashKey[Any]()
_MARKER_ERROR = pytest.StashKey[str]()


def _raised_anyway(exc: BaseException, settings: _TestSettings) -> dict[str, Any] | None:
    """The suppressed finding (a rule of [tool.lockorder], its baseline, the
    test's marker) whose exception failed a test all the same, as a report's
    ``suppressed`` entry: a self-deadlock or a deadlock raises in every mode,
    since the test would hang otherwise."""
    finding = finding_raised(exc)
    if finding is None:
        return None
    if settings.allow and _matches(finding, settings.allow):
        return {
            "rule": f"lockorder marker allow={list(settings.allow)!r}",
            "finding": finding.to_dict(),
        }
    rule = checker.suppressed_by(finding)
    return None if rule is None else {"rule": rule, "finding": finding.to_dict()}
