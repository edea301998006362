"""The ``lockorder`` command (also ``python -m lockorder``).

``lockorder run [options] SCRIPT [ARGS...]`` or ``lockorder run [options] -m
MODULE [ARGS...]`` runs a program as ``python SCRIPT`` would, with threading's
factories patched, then prints the findings to stderr and writes the JSON report.

Exit status of ``run`` (docs/runner.md):
  * the program's own status when it is not 0;
  * otherwise ``--finding-status`` (default 3) when a finding at or above
    ``--fail-on`` was recorded;
  * otherwise 4 when a report could not be written (as the report commands);
  * otherwise 0.
Usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import runpy
import signal
import sys
import threading
import traceback
import types
import zipfile
from typing import Any

__all__ = ["main"]

FINDING_STATUS = 3


class _Parser(argparse.ArgumentParser):
    """lockorder's parser, which keeps its subcommands' parsers by name."""

    commands: dict[str, argparse.ArgumentParser]


def _build_parser() -> _Parser:
    from lockorder import __version__
    from lockorder._config import MODES, SINGLE_THREAD_POLICIES

    parser = _Parser(
        prog="lockorder",
        description="Lock-order (lockdep-style) deadlock detection for Python threads.",
    )
    parser.add_argument("--version", action="version", version=f"lockorder {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    run = commands.add_parser(
        "run",
        help="Run a Python program with lock-order checking",
        description=(
            "Run SCRIPT (or -m MODULE) as 'python SCRIPT' would, with threading's lock "
            "factories checked. Findings are printed to stderr at the end and written to "
            "the JSON report."
        ),
        epilog=(
            "Exit status: the program's own status when it is not 0; otherwise "
            "--finding-status when a finding at or above --fail-on was recorded; "
            "otherwise 4 when a report could not be written; otherwise 0."
        ),
    )
    run.add_argument(
        "--json",
        metavar="PATH",
        default=None,
        help="Write the JSON report to PATH (default: lockorder-report.json; '' for none; "
        "'-' for standard output, after the program's own output)",
    )
    run.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="What a finding does while the program runs: raise an exception at the "
        "acquire, warn, or only record it (default: record, or LOCKORDER_MODE)",
    )
    run.add_argument(
        "--single-thread",
        choices=SINGLE_THREAD_POLICIES,
        default=None,
        help="Cycles seen in one thread only: report as warnings, count "
        "in full (strict), or ignore (default: report)",
    )
    run.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="error",
        help="Lowest finding severity that makes the exit status non-zero (default: error)",
    )
    run.add_argument(
        "--finding-status",
        type=_status,
        default=FINDING_STATUS,
        metavar="N",
        help=f"Exit status when the program exits 0 but findings fail the run "
        f"(default: {FINDING_STATUS})",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="Print only the summary line")
    run.add_argument("--html", metavar="PATH", default=None, help="Also write the HTML report")
    run.add_argument("--sarif", metavar="PATH", default=None, help="Also write a SARIF log")
    from lockorder._confirm_cli import add_confirm_parser, add_run_options

    add_run_options(run)
    run.add_argument("-m", dest="module", metavar="MODULE", help="Run a library module as a script")
    run.add_argument("target", nargs=argparse.REMAINDER, metavar="SCRIPT [ARGS...]")
    from lockorder._commands import add_parsers

    add_parsers(commands)
    add_confirm_parser(commands)
    parser.commands = {
        name: choice
        for name, choice in (commands.choices or {}).items()
        if isinstance(choice, argparse.ArgumentParser)
    }
    return parser


def _status(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid exit status {text!r} (an integer 0-255)"
        ) from None
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"invalid exit status {text!r} (an integer 0-255)")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lockorder`` command; returns the exit status."""
    from lockorder import _config

    # the command judges the environment itself (run rejects an invalid value;
    # the report commands do not use it): no import-time warning as well
    _config.drop_pending()
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    program: list[str] | None = None
    if argv[:1] == ["run"]:
        # everything from the script (or from -m MODULE) on belongs to the program,
        # options included: argparse must not see it
        argv, program = _split_run(argv)
    command = parser.commands.get(argv[0]) if argv else None
    if command is None:  # no command, an option before it (--version, -h), a typo
        args = parser.parse_args(argv)
    else:
        # parsed by the command's own parser: a usage error names the command and
        # shows its usage ("lockorder merge: error: ..."), not lockorder's
        args = argparse.Namespace(command=argv[0])
        if argv[0] == "run":  # run's own split above: parsed as it always was
            command.parse_args(argv[1:], namespace=args)
        else:  # options and inputs in any order: merge a.json -o m.json b.json
            command.parse_intermixed_args(argv[1:], namespace=args)
    if program is not None:
        args.target = program
    if args.command == "run":
        if args.module is None and not args.target:
            print("lockorder run: error: give a SCRIPT or -m MODULE to run", file=sys.stderr)
            return 2
        return _run(args)
    if args.command == "confirm":
        from lockorder._confirm_cli import confirm_command

        return confirm_command(args)
    from lockorder._commands import dispatch

    return dispatch(args)


#: run's options that take a value
_RUN_VALUED = {
    "--json",
    "--mode",
    "--single-thread",
    "--fail-on",
    "--finding-status",
    "--html",
    "--sarif",
    "--confirm-attempts",
    "--confirm-budget",
    "--confirm-total",
    "--confirm-pause",
}


def _split_run(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split ``run ...`` into lockorder's part and the program's (script or -m MODULE on)."""
    index = 1
    while index < len(argv):
        token = argv[index]
        if token == "-m":
            return argv[: index + 2], argv[index + 2 :]
        if token.startswith("-m") and len(token) > 2:  # -mMODULE
            return argv[: index + 1], argv[index + 1 :]
        if token in _RUN_VALUED:
            index += 2
            continue
        if token.startswith("-") and token != "-":
            index += 1
            continue
        return argv[:index], argv[index:]
    return argv, []


def _join_non_daemon_threads() -> None:
    """Wait for the program's non-daemon threads, as the interpreter does at exit."""
    main_thread = threading.main_thread()
    while True:
        pending = [
            t
            for t in threading.enumerate()
            if t is not main_thread
            and not t.daemon
            and t.is_alive()
            and t is not threading.current_thread()
        ]
        if not pending:
            return
        for thread in pending:
            thread.join()


class _NotStarted(Exception):
    """The program never ran: ``message`` says why, ``status`` is the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


_CLI_FILE = os.path.abspath(__file__)
#: frames before the program's first line: runpy finding and loading it
_RUNPY_FILES = (
    os.path.abspath(runpy.__file__),
    "<frozen runpy>",
    "<frozen importlib._bootstrap>",
    "<frozen importlib._bootstrap_external>",
)


def _program_traceback(tb: Any) -> Any:
    """``tb`` without its first entries in lockorder and runpy: where the program's
    own frames start (None if the program never ran a line)."""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if os.path.abspath(filename) != _CLI_FILE and filename not in _RUNPY_FILES:
            break
        tb = tb.tb_next
    return tb


def _without_lockorder_tail(tb: Any) -> Any:
    """``tb`` ending at the program's last frame: the frames of lockorder's own
    code under it (the acquire that raised a finding) are left out, as pytest
    hides them."""
    from lockorder import _sites

    last = None
    entry = tb
    while entry is not None:
        if not _sites.of_lockorder(entry.tb_frame.f_code.co_filename):
            last = entry
        entry = entry.tb_next
    if last is not None:
        last.tb_next = None
    return tb


#: the finding exceptions that ended a thread of the program (_thread_excepthook)
_thread_errors: list[BaseException] = []


def _thread_excepthook(args: Any) -> None:
    """threading's own hook, with a finding's exception ending at the program's
    line, as in the main thread (lockorder run sets it while the program runs,
    unless the program has a hook of its own); the exception is kept for the
    summary's "raised all the same" line."""
    from lockorder.errors import LockOrderError

    if isinstance(args.exc_value, LockOrderError):
        _thread_errors.append(args.exc_value)
        if args.exc_traceback is not None:
            _without_lockorder_tail(args.exc_traceback)
    threading.__excepthook__(args)


def _print_program_error(exc: BaseException) -> None:
    """Print an exception the program raised as ``python`` prints it; a finding's
    exception ends at the program's line that raised it."""
    from lockorder.errors import LockOrderError

    tb = _program_traceback(exc.__traceback__)
    if isinstance(exc, LockOrderError):
        tb = _without_lockorder_tail(tb)
    traceback.print_exception(type(exc), exc, tb)


def _run_script(script: str) -> None:
    """Run a script file as ``python SCRIPT`` does: as module ``__main__``, by its
    absolute path (``__file__``, tracebacks), ``sys.argv[0]`` as given."""
    path = os.path.abspath(script)
    with io.open_code(path) as handle:
        source = handle.read()
    code = compile(source, path, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__dict__.update(
        __file__=path, __cached__=None, __loader__=None, __package__=None, __spec__=None
    )
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _execute(args: argparse.Namespace) -> tuple[int, BaseException | None]:
    """Run the target; return its exit status as ``python`` would, and the
    exception that ended it, if any.

    Raises:
        _NotStarted: the script does not compile, or the module cannot be found.
    """
    from lockorder import _sites

    _sites.refresh_cwd()
    try:
        if args.module is not None:
            sys.argv = [args.module, *args.target]
            sys.path[0] = os.getcwd()
            runpy.run_module(args.module, run_name="__main__", alter_sys=True)
        else:
            script, *rest = args.target
            sys.argv = [script, *rest]
            sys.path[0] = os.path.dirname(os.path.abspath(script))
            if os.path.isfile(script) and not zipfile.is_zipfile(script):
                _run_script(script)
            else:  # a directory or a zip file with a __main__.py
                runpy.run_path(script, run_name="__main__")
        _join_non_daemon_threads()
        return 0, None
    except SystemExit as exc:
        _join_non_daemon_threads()
        code = exc.code
        if code is None:
            return 0, None
        if isinstance(code, int):
            return code, None
        print(code, file=sys.stderr)
        return 1, None
    except BaseException as exc:  # the program's own exception: print it as python would
        if _program_traceback(exc.__traceback__) is None:
            if isinstance(exc, SyntaxError):  # the script does not compile
                raise _NotStarted("".join(traceback.format_exception_only(exc)), 1) from None
            if isinstance(exc, ImportError) and args.module is not None:
                raise _NotStarted(
                    f"lockorder run: {_module_error(args.module, exc)}\n", 2
                ) from None
        _print_program_error(exc)
        return (130 if isinstance(exc, KeyboardInterrupt) else 1), exc


def _module_error(module: str, exc: ImportError) -> str:
    """Why ``-m module`` cannot run, in one line: runpy's own message, unless it is
    "Error while finding module specification for ... (ModuleNotFoundError: ...)",
    which a dotted name gets when a package of it is missing or not a package."""
    cause = exc.__cause__
    if cause is None:  # "No module named x", or "...; 'x' is a package and cannot be
        return str(exc)  # directly executed" (no __main__): python's words
    parent = module.rpartition(".")[0]
    if isinstance(cause, ModuleNotFoundError) and cause.name and cause.name != module:
        why = f"no module named {cause.name}"  # a package of the name is missing
    elif isinstance(cause, ModuleNotFoundError) and "__path__" in str(cause):
        # "__path__ attribute not found on 'json.tool' while trying to find ..."
        found = re.search(r"__path__ attribute not found on '([^']+)'", str(cause))
        why = f"{found.group(1) if found else parent} is a module, not a package"
    else:
        return f"cannot find module {module}: {type(cause).__name__}: {cause}"
    if module.endswith(".py"):
        why += f"; to run the file, drop -m, or give -m {module[:-3]}"
    return f"No module named {module} ({why})"


def _run(args: argparse.Namespace) -> int:
    from lockorder import _emit, _threads, report
    from lockorder._install import install, uninstall
    from lockorder._state import checker

    if args.module is None:
        script = args.target[0]
        if not os.path.exists(script):
            print(
                f"lockorder run: can't open file {os.path.abspath(script)!r}: "
                "No such file or directory",
                file=sys.stderr,
            )
            return 2
    elif not args.module:
        print("lockorder run: error: -m needs a module name", file=sys.stderr)
        return 2
    to_stdout = [
        option
        for option, path in (("--json", args.json), ("--html", args.html), ("--sarif", args.sarif))
        if path == "-"
    ]
    if len(to_stdout) > 1:  # two documents on one stream make neither readable
        names = ", ".join(to_stdout[:-1]) + f" and {to_stdout[-1]}"
        print(
            f"lockorder run: error: {names} are {'both' if len(to_stdout) == 2 else 'all'} "
            "'-': only one report can go to standard output",
            file=sys.stderr,
        )
        return 2
    from lockorder._project import activate, load_project_config
    from lockorder.errors import ConfigurationError

    try:
        activate(load_project_config())
    except (ConfigurationError, report.ReportError) as exc:
        print(f"lockorder run: {exc}", file=sys.stderr)
        return 2
    from lockorder import _impl

    try:  # the policy for every environment value: one line, the usage status
        env = _impl.check_environment()
    except ConfigurationError as exc:
        print(f"lockorder run: {exc}", file=sys.stderr)
        return 2
    if not env.enabled:  # asking for run is asking for checking: the off-switch yields
        print(
            f"lockorder run: LOCKORDER={os.environ['LOCKORDER']} in the environment is "
            "ignored: lockorder run always checks",
            file=sys.stderr,
        )
    mode = args.mode or (env.mode if os.environ.get("LOCKORDER_MODE") else "record")
    # a real deadlock is broken (DeadlockError in one thread) in every mode here:
    # a hung program tells nothing
    checker.configure(
        mode=mode, single_thread=args.single_thread, enabled=True, break_deadlocks=True
    )
    command = (["-m", args.module] if args.module else []) + list(args.target)
    saved_argv, saved_path0 = list(sys.argv), sys.path[0]
    install()
    previous = _dump_on_signal()
    own_hook = threading.excepthook is threading.__excepthook__
    if own_hook:
        _thread_errors.clear()
        threading.excepthook = _thread_excepthook
    try:
        status, raised = _execute(args)
        # the main thread's end: its leaks are held-at-exit, as another thread's
        _threads.main_ended()
        _emit.log_new()
    except _NotStarted as exc:  # nothing ran: no findings, no report
        sys.stderr.write(str(exc))
        return exc.status
    finally:
        if own_hook and threading.excepthook is _thread_excepthook:
            threading.excepthook = threading.__excepthook__
        if previous is not None:
            signal.signal(signal.SIGUSR1, previous)
        uninstall()
        sys.argv = saved_argv
        sys.path[0] = saved_path0
    findings, wire, suppressed = checker.snapshot()
    settings = checker.settings
    data = report.build(
        findings,
        wire,
        report.settings_of(settings.mode, settings.single_thread),
        {
            "command": command,
            "exit_status": status,
            # what lockorder run exits with (unless a report cannot be written)
            "lockorder_exit_status": status
            or (int(args.finding_status) if _fails(findings, args.fail_on) else 0),
        },
        suppressed=suppressed,
        stale=checker.project.stale(wire["classes"]) if checker.project is not None else [],
    )
    if args.confirm:
        from lockorder._confirm_cli import confirm_data, options_from

        options = options_from(
            {
                "attempts": args.confirm_attempts,
                "budget": args.confirm_budget,
                "total": args.confirm_total,
                "pause": args.confirm_pause,
            },
            checker.project,
        )
        confirm_data(data, options, quiet=args.quiet)
        # a confirmed finding is an error: it may fail the run now
        findings = report.findings_of(data)
        data["run"]["lockorder_exit_status"] = status or (
            int(args.finding_status) if _fails(findings, args.fail_on) else 0
        )
    project = checker.project
    _print_findings(data, args.quiet, project.path if project is not None else "")
    _print_raised_anyway([*([raised] if raised is not None else []), *_thread_errors])
    if project is not None and project.path:
        for rule in project.stale(wire["classes"]):
            print(f"lockorder: stale suppression, never matched: {rule}", file=sys.stderr)
    json_path = "lockorder-report.json" if args.json is None else args.json
    unwritten = False
    for path, fmt in ((args.html, "html"), (args.sarif, "sarif"), (json_path, "json")):
        if not path:
            continue
        try:
            _write_report(path, fmt, data)
        except OSError as exc:
            print(f"lockorder: cannot write the {fmt} report {path!r}: {exc}", file=sys.stderr)
            unwritten = True
    # the program's status wins, then the findings', then a report not written
    if status:
        return status
    if _fails(findings, args.fail_on):
        return int(args.finding_status)
    return 4 if unwritten else 0


def _print_raised_anyway(raised: list[BaseException]) -> None:
    """The program, or one of its threads, ended with the exception of a finding
    that a rule of [tool.lockorder] (or its baseline) suppresses: say so, or the
    summary would read as if nothing happened."""
    from lockorder._findings import rule_shown
    from lockorder._state import checker
    from lockorder.errors import finding_raised

    told: set[str] = set()
    for exc in raised:
        finding = finding_raised(exc)
        rule = checker.suppressed_by(finding) if finding is not None else None
        if finding is None or rule is None or finding.signature in told:
            continue
        told.add(finding.signature)
        print(
            "lockorder: suppressed, but raised all the same (a self-deadlock or a deadlock "
            f"raises in every mode, or the program would hang): {finding.kind}: "
            f"{finding.message}; suppressed by: {rule_shown(rule)}",
            file=sys.stderr,
        )


def _write_report(path: str, fmt: str, data: dict[str, Any]) -> None:
    from lockorder.report import output_name, render, write_json, write_text

    if fmt == "json":
        write_json(path, data)
        print(f"lockorder: report written to {output_name(path)}", file=sys.stderr)
        return
    # SARIF paths relative to where the run started, whatever the program did
    write_text(path, render(data, fmt, root=data.get("cwd")))
    print(f"lockorder: {fmt} report written to {output_name(path)}", file=sys.stderr)


def _dump_on_signal() -> Any:
    """SIGUSR1 prints lockorder.dump() to stderr (where the platform has it)."""
    if not hasattr(signal, "SIGUSR1"):
        return None
    from lockorder._deadlock import dump

    def handler(signum: int, frame: Any) -> None:
        dump()

    return signal.signal(signal.SIGUSR1, handler)


def _fails(findings: list[Any], fail_on: str) -> bool:
    if fail_on == "never":
        return False
    levels = ("error",) if fail_on == "error" else ("error", "warning")
    return any(f.severity in levels for f in findings)


def _print_findings(data: dict[str, Any], quiet: bool, project_path: str = "") -> None:
    from lockorder import report

    text = report.format_text(data, project_path)
    if quiet:
        text = text.split("\n", 1)[0]
    print(text, file=sys.stderr)
