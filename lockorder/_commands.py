"""The report subcommands of the ``lockorder`` command: report, merge, check, baseline.

Exit statuses (docs/reports.md):
  0  done / no new finding
  1  ``check``: new findings
  2  usage error (argparse)
  4  a report or baseline file cannot be read, or the output cannot be written
  5  it is corrupt or truncated
  6  it is valid JSON but not a lockorder report (or baseline)
  7  it has another schema version than this lockorder reads
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from lockorder import report as _report
from lockorder._findings import WITHDRAWN_PREFIX, Finding

__all__ = ["REPORT_ERROR_STATUS", "add_parsers", "dispatch"]

REPORT_ERROR_STATUS = {"unreadable": 4, "corrupt": 5, "not-a-report": 6, "version": 7}
FORMATS = ("text", "json", "html", "dot", "graphml", "sarif")


def add_parsers(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="Render a JSON report as text, HTML, DOT, GraphML or SARIF",
        description="Render a JSON report written by 'lockorder run' or 'pytest --lockorder'.",
    )
    report.add_argument("report", metavar="REPORT.json")
    report.add_argument("--format", choices=FORMATS, default="text", help="Output format")
    report.add_argument(
        "-o", "--output", metavar="OUT", help="Write to OUT ('-' or none: standard output)"
    )

    merge = commands.add_parser(
        "merge",
        help="Merge several JSON reports into one, re-running the cycle analysis",
        description=(
            "The union of the reports' lock-order graphs by lock class, with the cycle "
            "analysis re-run over the union: shard 1's A -> B and shard 2's B -> A make a "
            "finding."
        ),
    )
    merge.add_argument("reports", nargs="+", metavar="REPORT.json")
    merge.add_argument(
        "-o",
        "--output",
        metavar="OUT.json",
        required=True,
        help="Write to OUT ('-': standard output)",
    )
    merge.add_argument(
        "--single-thread",
        choices=("report", "strict", "ignore"),
        default="report",
        help="Cycles seen in one thread only (default: report)",
    )

    check = commands.add_parser(
        "check",
        help="Exit non-zero if a report has findings not in the baseline",
        description=(
            "Exit 0 when no finding of REPORT is new, 1 otherwise, listing the new ones. "
            "A finding is not new when the baseline has its fingerprint, or a rule of "
            "[tool.lockorder] (ignore, allow) suppresses it."
        ),
    )
    check.add_argument("report", metavar="REPORT.json")
    check.add_argument(
        "--baseline",
        metavar="FILE",
        help="Accepted findings (default: [tool.lockorder] baseline, if set)",
    )
    check.add_argument(
        "--config",
        metavar="PYPROJECT",
        help="The pyproject.toml to read [tool.lockorder] from (default: the nearest one)",
    )
    check.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        default="error",
        help="Lowest severity of a new finding that fails (default: error)",
    )
    check.add_argument(
        "--prune",
        action="store_true",
        help="Remove from the baseline file the entries whose finding no longer occurs "
        "(the report's run made every lock of it, but not the finding)",
    )

    baseline = commands.add_parser(
        "baseline",
        help="Write a report's findings as accepted (a baseline file)",
        description=(
            "Write the fingerprints of REPORT's findings to a baseline file, with those "
            "the run's own baseline suppressed. When FILE is a baseline already, its "
            "entries are kept unless the report shows their finding no longer occurs."
        ),
    )
    baseline.add_argument("report", metavar="REPORT.json")
    baseline.add_argument(
        "-o", "--output", metavar="FILE", required=True, help="Write to FILE ('-': standard output)"
    )


def dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command == "report":
            return _render(args)
        if args.command == "merge":
            return _merge(args)
        if args.command == "check":
            return _check(args)
        return _baseline(args)
    except _report.ReportError as exc:
        print(f"lockorder {args.command}: {exc}", file=sys.stderr)
        return REPORT_ERROR_STATUS[exc.problem]
    except _report.WriteError as exc:
        print(
            f"lockorder {args.command}: cannot write {_report.output_name(exc.filename)}: "
            f"{exc.strerror}",
            file=sys.stderr,
        )
        return REPORT_ERROR_STATUS["unreadable"]


def _write(text: str, output: str | None) -> None:
    """Write to ``output`` (``-`` or none: standard output) through the one writer."""
    _report.write_text(
        "-" if output is None else output, text if text.endswith("\n") else text + "\n"
    )


def _render(args: argparse.Namespace) -> int:
    data = _report.load(args.report)
    findings = _report.findings_of(data)
    if args.format == "text":
        _write(_report.format_text(data), args.output)
    elif args.format == "json":
        _write(json.dumps(data, indent=1), args.output)
    elif args.format in ("html", "sarif"):
        _write(_report.render(data, args.format), args.output)
    else:
        from lockorder.report.graphs import write_dot, write_graphml

        if args.output is None:
            print(f"lockorder report: --format {args.format} needs -o OUT", file=sys.stderr)
            return 2
        writer = write_dot if args.format == "dot" else write_graphml
        writer(args.output, data.get("graph", {}), findings)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from lockorder._merge import WITHDRAWN_RULE, merge

    sources = []
    for path in args.reports:
        sources.append((os.path.basename(path), _report.load(path)))
    merged = merge(sources, single_thread=args.single_thread)
    first = sources[0][1]
    suppressed = [pair for _, data in sources for pair in _report.suppressed_of(data)]
    suppressed.extend((WITHDRAWN_RULE, finding) for finding in merged.withdrawn)
    data = _report.build(
        merged.findings,
        merged.graph,
        dict(first.get("settings", {}), single_thread=args.single_thread),
        {"merged": list(args.reports)},
        suppressed=suppressed,
    )
    _report.write_json(args.output, data)
    print(
        f"lockorder merge: {len(args.reports)} reports, {len(merged.findings)} finding(s) "
        f"-> {_report.output_name(args.output)}",
        file=sys.stderr,
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from lockorder._project import load_project_config
    from lockorder.errors import ConfigurationError
    from lockorder.report.fingerprint import fingerprint

    data = _report.load(args.report)
    try:  # the command line's baseline wins over [tool.lockorder] baseline
        config = load_project_config(args.config, with_baseline=args.baseline is None)
    except ConfigurationError as exc:
        print(f"lockorder check: {exc}", file=sys.stderr)
        return 2
    if args.baseline is not None:
        config.use_baseline(args.baseline)
    if args.prune and config.baseline is None:
        print(
            "lockorder check: --prune needs a baseline (--baseline FILE, or baseline = "
            "in [tool.lockorder])",
            file=sys.stderr,
        )
        return 2
    levels = ("error",) if args.fail_on == "error" else ("error", "warning")
    # counted by fingerprint, as the baseline keeps them: a report may list one
    # finding twice (a cycle a run warned of, then found in full)
    new: dict[str, Finding] = {}
    accepted: set[str] = set()
    for finding in _report.findings_of(data):
        fp = fingerprint(finding)
        if config.suppresses(finding) is not None:
            accepted.add(fp)
        elif finding.severity in levels and (fp not in new or finding.severity == "error"):
            new[fp] = finding
    # what the run itself suppressed was accepted there: those rules matched too,
    # and a test's marker that allowed a finding accepted it
    for rule, finding in _report.suppressed_of(data):
        if rule.startswith(_report.MARKER_RULE) or (
            not rule.startswith(WITHDRAWN_PREFIX) and config.suppresses(finding) is not None
        ):
            accepted.add(fingerprint(finding))
    for fp, finding in new.items():
        print(f"NEW {fp} {finding.severity}: {finding.kind}: {finding.message}")
    classes = data.get("graph", {}).get("classes", ())
    pruned = config.stale_baseline(classes) if args.prune else []
    pruned_rules = {config.baseline_rule(fp) for fp in pruned}
    for rule in config.stale(classes):
        if rule in pruned_rules:
            print(f"pruned: {rule}: its finding no longer occurs", file=sys.stderr)
        else:
            print(f"stale: {rule} matched no finding of this report", file=sys.stderr)
    if args.prune:
        assert config.baseline is not None
        entries = [e for e in config.baseline_entries if e["fingerprint"] not in pruned]
        if pruned:
            _write(_baseline_text(entries), config.baseline)
        print(
            f"lockorder check: pruned {_entries(len(pruned))} from {config.baseline}, "
            f"{len(entries)} left",
            file=sys.stderr,
        )
    print(
        f"lockorder check: {len(new)} new finding(s), {len(accepted)} accepted",
        file=sys.stderr,
    )
    return 1 if new else 0


def _entries(number: int) -> str:
    return f"{number} {'entry' if number == 1 else 'entries'}"


def _baseline_text(entries: list[dict[str, Any]]) -> str:
    from lockorder._project import BASELINE_FORMAT

    baseline = {"format": BASELINE_FORMAT, "version": 1, "findings": entries}
    return json.dumps(baseline, indent=1) + "\n"


#: how a report's ``suppressed`` entry names the baseline entry that accepted it
_BASELINE_RULE = "baseline "


def _baseline(args: argparse.Namespace) -> int:
    from lockorder._project import ProjectConfig
    from lockorder.report.fingerprint import fingerprint, lock_identity

    data = _report.load(args.report)
    entries: dict[str, dict[str, Any]] = {}

    def accept(fp: str, finding: Finding) -> None:
        entries[fp] = {
            "fingerprint": fp,
            "kind": finding.kind,
            "message": finding.message,
            # which locks it names: a run that made them all and not the finding
            # shows the entry is stale
            "locks": sorted({lock_identity(lock) for lock in finding.locks}),
        }

    for finding in _report.findings_of(data):
        accept(fingerprint(finding), finding)
    # a run with a baseline lists what it accepted as suppressed: still found, so
    # still accepted (under the fingerprint that matched, "baseline FP (message)")
    carried = 0
    for rule, finding in _report.suppressed_of(data):
        if rule.startswith(_BASELINE_RULE):
            fp = rule[len(_BASELINE_RULE) :].partition(" ")[0] or fingerprint(finding)
            if fp not in entries:
                carried += 1
                accept(fp, finding)
    # rewriting a baseline: its entries stay unless the report shows their
    # finding no longer occurs (the judgment of stale entries); a file that is
    # not a baseline is not overwritten (an empty one is: `touch` made it)
    dropped: list[str] = []
    kept = 0
    if args.output != "-" and os.path.isfile(args.output) and os.path.getsize(args.output):
        old = ProjectConfig()
        try:
            old.use_baseline(args.output)
        except _report.ReportError as exc:
            if exc.problem != "corrupt":
                raise
            # not JSON at all (a script given as -o by mistake): not a baseline either
            raise _report.ReportError(
                args.output,
                "not-a-report",
                "not a lockorder baseline, not overwritten "
                f"({str(exc).removeprefix(args.output + ': ')})",
            ) from None
        for fp in entries:
            old.baseline_matched(fp)
        gone = set(old.stale_baseline(data.get("graph", {}).get("classes", ())))
        for entry in old.baseline_entries:
            fp = entry["fingerprint"]
            if fp in entries:
                continue
            if fp in gone:
                dropped.append(fp)
            else:
                kept += 1
                entries[fp] = entry
    _write(_baseline_text(list(entries.values())), args.output)
    if dropped:
        one = len(dropped) == 1
        print(
            f"lockorder baseline: dropped {_entries(len(dropped))} of {args.output} whose "
            f"finding{'' if one else 's'} no longer occur{'s' if one else ''} (the run made "
            f"every lock {'it names' if one else 'they name'}, not the "
            f"finding{'' if one else 's'})",
            file=sys.stderr,
        )
    if kept:
        print(
            f"lockorder baseline: kept {_entries(kept)} of {args.output} that this run "
            "cannot judge (it did not make every lock named)",
            file=sys.stderr,
        )
    also = f" ({carried} of them suppressed by the run's baseline)" if carried else ""
    print(
        f"lockorder baseline: {len(entries)} finding(s) accepted{also} "
        f"-> {_report.output_name(args.output)}",
        file=sys.stderr,
    )
    return 0
