"""The pytest plugin's terminal summary: the "lockorder" section at the end of a
session (docs/pytest.md): what was found, by kind and test, what was raised
though suppressed, withdrawn or suppressed, where the reports are, and what to
do next."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lockorder._findings import Finding, cycle_holder, rule_shown
from lockorder._state import checker

if TYPE_CHECKING:
    from lockorder._plugin_session import LockorderPlugin

__all__ = ["detail", "found_by_merging", "what_to_do", "write"]


def write(plugin: LockorderPlugin, tr: Any) -> None:
    """The "lockorder" section of pytest's terminal summary."""
    findings = plugin.final
    tr.write_sep("=", "lockorder")
    if plugin.interrupted:
        tr.write_line("interrupted: the findings made before the session stopped")
    if plugin.journaled:
        tr.write_line(
            f"interrupted worker(s) {', '.join(plugin.journaled)}: their findings are those "
            "of their last journal (written after each test)"
        )
    if plugin.crashed_workers:
        for worker, why in sorted(plugin.crashed_workers.items()):
            kept = (
                "its last journal was merged"
                if worker in plugin.worker_data
                else ("nothing of it could be recovered")
            )
            tr.write_line(f"worker {worker} crashed or was killed ({why}); {kept}")
    suppressed = {s.signature for _, s in plugin.suppressed}
    counted = [f for f in findings if f.signature not in suppressed]
    if not counted:
        tr.write_line("no findings" if not plugin.raised else "no findings counted")
    if plugin.raised:
        # the test failed: the summary must not read as if nothing happened
        tr.write_line(
            f"suppressed, but raised all the same: {len(plugin.raised)} (a self-deadlock "
            "or a deadlock raises in every mode, or the test would hang)"
        )
        for test, rule, finding in plugin.raised:
            tr.write_line(f"  ERROR [{test}] {finding.kind}: {finding.message}")
            shown = rule_shown(rule)
            tr.write_line(f"    suppressed by: {shown}")
    by_kind: dict[str, list[Finding]] = {}
    for finding in counted:
        by_kind.setdefault(finding.kind, []).append(finding)
    for kind, items in by_kind.items():
        tr.write_line(f"{kind}: {len(items)}")
        for finding in items:
            level = "ERROR" if finding.severity == "error" else "warning"
            if found_by_merging(plugin, finding):
                where = " [found by merging the workers' graphs]"
            elif finding.test:
                where = f" [{finding.test}]"
            else:
                where = " [outside any test]"
            tr.write_line(f"  {level}{where} {finding.message}{_why_short(finding)}")
            if finding.kind == "potential-deadlock":
                tests = sorted({t for e in finding.cycle for t in (e.test, *e.tests) if t})
                if tests:
                    tr.write_line(f"    edges made in: {', '.join(tests)}")
                if len(tests) > 1:  # one of them alone does not make the cycle
                    tr.write_line(f"    rerun them together: pytest --lockorder {' '.join(tests)}")
                if finding.confirmation is not None:
                    from lockorder._confirm import summary_line

                    tr.write_line(f"    confirm: {summary_line(finding.confirmation)}")
                    if finding.confirmation.get("command"):
                        tr.write_line(f"    reproduce: {finding.confirmation['command']}")
    what_to_do(plugin, tr, counted)
    for finding in plugin.unattached:
        tr.write_line(f"failing the run: {finding.kind}: {finding.message}")
        for line in detail(plugin, finding):
            tr.write_line(line)
    if plugin.suppressed:
        tr.write_line(f"suppressed by lockorder markers: {len(plugin.suppressed)}")
    from lockorder._findings import split_suppressed, withdrawn_reasons

    withdrawn, by_project = split_suppressed(plugin._all_suppressed())
    for count, why in withdrawn_reasons(withdrawn):
        tr.write_line(f"withdrawn: {count} ({why}; the JSON report lists them under 'suppressed')")
    project = checker.project
    if project is not None and project.path:
        if by_project:
            tr.write_line(f"suppressed by [tool.lockorder] in {project.path}: {len(by_project)}")
        graph = getattr(plugin, "_merged_graph", {"classes": []})
        for rule in project.stale(graph["classes"]):
            tr.write_line(f"stale suppression, never matched: {rule}")
    for line in plugin.written:
        tr.write_line(f"report {line}")
    for line in plugin.unwritten:
        tr.write_line(f"lockorder: {line}", red=True)
    if plugin.unattached:
        # pytest's last line counts tests only: say why the run fails
        confirmed = sum(
            1 for f in plugin.unattached if (f.confirmation or {}).get("status") == "confirmed"
        )
        where = (
            "found by merging the xdist workers' graphs"
            if plugin.worker_data
            else "made outside any test"
        )
        if confirmed == len(plugin.unattached):
            where = "confirmed by a steered rerun"
        elif confirmed:
            where += " or confirmed by a steered rerun"
        tr.write_line(
            f"lockorder: {len(plugin.unattached)} finding(s) {where} fail the run "
            "(exit status 1), whatever the tests' outcomes below",
            red=True,
        )


def found_by_merging(plugin: LockorderPlugin, finding: Finding) -> bool:
    """Whether only the merge of the xdist workers' graphs made ``finding``
    (no test's report stood for it)."""
    return finding.signature not in plugin.attached and bool(plugin.worker_data)


def detail(plugin: LockorderPlugin, finding: Finding) -> list[str]:
    """The lines under "failing the run": the finding's text, whose ``test:``
    line (the test of the edge that closed the cycle, on its worker) is, for
    a cycle only the merge found, where it was found and the tests that made
    its edges (each edge names its own below)."""
    lines = finding.format().splitlines()[1:]
    if found_by_merging(plugin, finding):
        tests = sorted({t for e in finding.cycle for t in (e.test, *e.tests) if t})
        made = f"; edges made in: {', '.join(tests)}" if tests else ""
        if lines and lines[0].startswith("  test: "):
            del lines[0]
        lines.insert(0, f"  found by merging the workers' graphs{made}")
    return lines


def what_to_do(plugin: LockorderPlugin, tr: Any, findings: list[Finding]) -> None:
    """After the list: where the stacks are, and how to make warnings fail."""
    if not findings:
        return
    json_reports = [dest for kind, dest in plugin.options.reports if kind == "json"]
    html_reports = [dest for kind, dest in plugin.options.reports if kind == "html"]
    if html_reports:
        tr.write_line(f"every finding with its stacks: {html_reports[0]} (in a browser)")
    elif json_reports:
        tr.write_line(
            f"every finding with its stacks: lockorder report {json_reports[0]} (or --format html)"
        )
    else:
        tr.write_line(
            "every finding with its stacks: rerun with --lockorder-report=json, "
            "then lockorder report lockorder.json (or --format html)"
        )
    warnings = [f for f in findings if f.severity == "warning"]
    holders = sorted(
        {
            cycle_holder(f.cycle)
            for f in warnings
            if f.kind == "potential-deadlock" and f.single_thread
        },
        reverse=True,
    )
    if holders:
        one = " or ".join(holders)  # "thread", "task", or "thread or task"
        two = " or ".join(f"{kind}s" for kind in holders)
        tr.write_line(
            f"cycles seen in one {one} only are warnings: a deadlock needs two "
            f"{two} on those paths, on the same locks; make them fail with "
            "--lockorder-single-thread=strict (ini: lockorder_single_thread = strict)"
        )
    if warnings and plugin.options.fail_on == "error":
        tr.write_line(
            "warnings do not fail the run; make every one fail with --lockorder-fail-on=warning"
        )


def _why_short(finding: Finding) -> str:
    """Why a finding is only a warning, in a few words, for the summary line."""
    if finding.severity != "warning" or finding.kind != "potential-deadlock":
        return ""
    if finding.single_thread:
        return f" (seen in one {cycle_holder(finding.cycle)} only)"
    return ""
