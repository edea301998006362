"""The command line of confirming: ``lockorder confirm REPORT.json`` and the
``--confirm`` options of ``lockorder run`` (docs/confirm.md).

Exit statuses of ``lockorder confirm``: 0 done, none confirmed; 3 a finding was
confirmed (a real deadlock formed); 2 usage errors; 4-7 a report that cannot be
used, as the other report commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from lockorder._confirm import OPTION_LIMITS, ConfirmOptions, argtype

__all__ = ["add_confirm_parser", "add_run_options", "confirm_command", "options_from"]

CONFIRMED_STATUS = 3
_NAMES = tuple(OPTION_LIMITS)
_HELP = {
    "attempts": "Reruns per finding at most; a confirmed one stops them (default: 3)",
    "budget": "Seconds per finding, all its reruns together (default: 60)",
    "total": "Seconds for every finding together (default: 600)",
    "pause": "Seconds a thread waits at an edge for the others (default: 2)",
}


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--confirm",
        action="store_true",
        help="After the run, rerun the program steered for each potential deadlock, "
        "to confirm it (docs/confirm.md)",
    )
    for name in _NAMES:
        run.add_argument(f"--confirm-{name}", type=argtype(name), default=None, help=_HELP[name])


#: run's confirm options that take a value (lockorder.cli splits run's arguments)
RUN_VALUED = {f"--confirm-{name}" for name in _NAMES}


def add_confirm_parser(commands: Any) -> None:
    confirm = commands.add_parser(
        "confirm",
        help="Rerun a report's program steered, to confirm its potential deadlocks",
        description=(
            "For each potential deadlock of REPORT (written by 'lockorder run', or by "
            "'pytest --lockorder' for cycles made in one test), rerun the recorded "
            "command with threads paused at the cycle's edges until the real deadlock "
            "forms. Each finding gets a verdict: confirmed, not-confirmed, not-reached "
            "or not-attempted, written into the report."
        ),
        epilog="Exit status: 3 when a finding was confirmed, else 0.",
    )
    confirm.add_argument("report", metavar="REPORT.json")
    confirm.add_argument(
        "-o", "--output", metavar="OUT.json", help="Write the report there (default: REPORT)"
    )
    confirm.add_argument(
        "--finding",
        action="append",
        metavar="SIGNATURE",
        default=None,
        help="Only this finding (its signature in the JSON report); repeatable",
    )
    for name in _NAMES:
        confirm.add_argument(f"--{name}", type=argtype(name), default=None, help=_HELP[name])


def options_from(values: dict[str, Any], project: Any = None) -> ConfirmOptions:
    """Defaults, then [tool.lockorder]'s confirm_* keys, then ``values`` (not None)."""
    chosen: dict[str, Any] = {}
    if project is not None:
        chosen.update(project.confirm)
    chosen.update({k: v for k, v in values.items() if v is not None})
    return ConfirmOptions(**chosen)


def confirm_data(
    data: dict[str, Any], options: ConfirmOptions, only: Any = None, quiet: bool = False
) -> int:
    """Confirm the report ``data``'s potential deadlocks in place; how many were confirmed."""
    from lockorder import report
    from lockorder._confirm import confirm_findings, edge_tests, pytest_rerun, run_rerun

    run = data.get("run") or {}
    cwd = str(data.get("cwd") or os.getcwd())
    findings = report.findings_of(data)

    def rerun_for(finding: Any) -> Any:
        if only is not None and finding.signature not in only:
            return "not selected (--finding)"
        if run.get("pytest"):
            tests = edge_tests(finding)
            if len(tests) != 1:
                return why_not_one_test(tests)
            rootdir = str(run.get("rootdir") or cwd)
            extra = run.get("rerun_options") or ()
            return pytest_rerun(tests[0], rootdir, cwd, extra, options)
        command = run.get("command")
        if not command:
            return "the report records no command to rerun (made by merging reports?)"
        return run_rerun([str(part) for part in command], cwd, options)

    def progress(text: str) -> None:
        print(f"lockorder: {text}", file=sys.stderr, flush=True)

    done = confirm_findings(findings, rerun_for, cwd, options, None if quiet else progress)
    data["findings"] = [finding.to_dict() for finding in done]
    summary = data.setdefault("summary", {})
    summary["errors"] = sum(1 for f in done if f.severity == "error")
    summary["warnings"] = sum(1 for f in done if f.severity == "warning")
    confirmed = [f for f in done if f.confirmation and f.confirmation["status"] == "confirmed"]
    summary["confirmed"] = len(confirmed)
    data.setdefault("settings", {})["confirm"] = options.text()
    return len(confirmed)


def why_not_one_test(tests: list[str]) -> str:
    if not tests:
        return "its edges were made outside any test: there is no test to rerun"
    return (
        f"its edges were made by {len(tests)} tests ({', '.join(tests)}), which pytest runs "
        "one after the other: rerunning one alone cannot make them overlap (docs/confirm.md)"
    )


def confirm_command(args: argparse.Namespace) -> int:
    from lockorder import report
    from lockorder._commands import REPORT_ERROR_STATUS
    from lockorder._project import load_project_config
    from lockorder.errors import ConfigurationError

    try:
        data = report.load(args.report)
    except report.ReportError as exc:
        print(f"lockorder confirm: {exc}", file=sys.stderr)
        return REPORT_ERROR_STATUS[exc.problem]
    try:
        project = load_project_config(with_baseline=False)  # only its confirm settings
    except ConfigurationError as exc:
        print(f"lockorder confirm: {exc}", file=sys.stderr)
        return 2
    options = options_from({name: getattr(args, name) for name in _NAMES}, project)
    only = set(args.finding) if args.finding else None
    if only is not None:
        known = {f.get("signature") for f in data.get("findings") or ()}
        unknown = sorted(only - known)
        if unknown:
            print(
                f"lockorder confirm: no finding of {args.report} has the signature {unknown[0]!r}",
                file=sys.stderr,
            )
            return 2
    confirmed = confirm_data(data, options, only)
    print(report.format_text(data), file=sys.stderr)
    out = args.output or args.report
    try:
        report.write_json(out, data)
    except OSError as exc:
        print(f"lockorder confirm: cannot write {out!r}: {exc}", file=sys.stderr)
        return 4
    print(f"lockorder: report written to {out}", file=sys.stderr)
    return CONFIRMED_STATUS if confirmed else 0
