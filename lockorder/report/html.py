"""The HTML report: one self-contained page (inline CSS, SVG and a little JS).

The page works offline and fetches nothing. It shows the summary and settings,
the lock-order graph drawn as inline SVG (laid out here: a small layered,
left-to-right layout, networkx only for the graph algorithms), and every finding
with its chain, stacks, threads, tests and scenario. A search box filters the
findings and highlights matching lock classes. By default the graph shows only
the classes involved in findings; a toggle shows the whole graph, or, when it is
too big to draw, only its cycles (strongly connected components).
"""

from __future__ import annotations

import datetime
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from lockorder._findings import KINDS, EdgeReport, Finding, LockRef
from lockorder._sites import Frame, relpath
from lockorder.report._assets import CSS, JS
from lockorder.report._drawing import svg
from lockorder.report._views import (
    MAX_DRAWN_EDGES,
    MAX_DRAWN_NODES,
    Graph,
    build_graph,
    esc,
    finding_keys,
    focus_view,
    full_view,
    plural,
)

__all__ = ["MAX_DRAWN_EDGES", "MAX_DRAWN_NODES", "render_html"]

#: every finding starts open when there are at most this many (else only the first)
_OPEN_FINDINGS = 3


# --------------------------------------------------------------------------- findings


#: what a finding's single_thread flag means (docs/concepts.md, "Seen in one thread only")
_SINGLE_THREAD = (
    "one thread made every edge of the cycle, or no lock of one of its classes was "
    "acquired by two threads"
)


def _frames(stack: Sequence[Frame]) -> str:
    if not stack:
        return '<p class="muted">no stack recorded</p>'
    rows = []
    for filename, lineno, function in stack:
        shown = relpath(filename)
        lib = ' class="lib"' if shown.startswith("/") or shown.startswith("<") else ""
        rows.append(
            f'<li{lib}>File "<span class="file">{esc(shown)}</span>", line '
            f'<span class="line">{esc(lineno)}</span>, in '
            f'<span class="fn">{esc(function)}</span></li>'
        )
    return '<ol class="stack" title="most recent call last">' + "".join(rows) + "</ol>"


def _lock_chip(ref: LockRef) -> str:
    return f'<code class="lock" title="{esc(ref.key)}">{esc(ref.label)}</code>'


def _facts(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs)
    return f'<dl class="facts">{body}</dl>'


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"<q>{esc(n)}</q>" for n in names)


def _at(frame: Frame) -> str:
    return f"{relpath(frame.filename)}:{frame.lineno} in {frame.function}"


def _edge_block(number: int, er: EdgeReport) -> str:
    facts: list[tuple[str, str]] = []
    others = [t for t in er.threads if t != er.thread]
    threads = f"first made by {esc(er.holder)} <q>{esc(er.thread)}</q>"
    if others:
        threads += f" (also by {_quoted(others)})"
    facts.append(("threads", threads))
    tests = list(dict.fromkeys([*([er.test] if er.test else []), *er.tests]))
    if tests:
        facts.append(("tests", ", ".join(f"<code>{esc(t)}</code>" for t in tests)))
    if er.thread_started_at:
        facts.append(
            (
                "task created at" if er.holder == "task" else "thread started at",
                ", called from ".join(f"<code>{esc(_at(f))}</code>" for f in er.thread_started_at),
            )
        )
    held = []
    for index, label in enumerate(er.held):
        at = er.held_at[index] if index < len(er.held_at) else None
        where = f" acquired at <code>{esc(_at(at))}</code>" if at is not None else ""
        held.append(f"<code>{esc(label)}</code>{where}")
    facts.append(("locks held", "; ".join(held) if held else "none"))
    return (
        f'<li class="edge-report"><h4>edge {number}: {_lock_chip(er.src)} '
        f'<span class="arrow">→</span> {_lock_chip(er.dst)}</h4>'
        f"{_facts(facts)}<div class='stack-head'>stack of the acquire of the second lock "
        f"(most recent call last)</div>{_frames(er.stack)}</li>"
    )


def _scenario(finding: Finding) -> str:
    edges = finding.cycle
    names = [edge.thread for edge in edges]
    if len(set(names)) != len(names):
        names = [f"thread {i + 1}" for i in range(len(edges))]
    head = "".join(f"<th>{esc(name)}</th>" for name in names)
    rows = []
    for i, edge in enumerate(edges):
        cells = ["<td></td>"] * len(edges)
        cells[i] = f"<td>lock({esc(edge.src.label)})</td>"
        rows.append("<tr>" + "".join(cells) + "</tr>")
    for i, edge in enumerate(edges):
        cells = ["<td></td>"] * len(edges)
        cells[i] = f'<td class="waits">lock({esc(edge.dst.label)}) ← waits</td>'
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append(f'<tr><td class="dead" colspan="{len(edges)}">*** DEADLOCK ***</td></tr>')
    return (
        '<h4>possible scenario</h4><div class="scenario"><table class="scenario"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


#: what each confirm verdict means (the badge's tooltip; docs/confirm.md)
_CONFIRM_TITLES = {
    "confirmed": "a steered rerun made this deadlock happen: it is real",
    "not-confirmed": "a steered rerun reached every edge but the deadlock did not form "
    "(not proof of safety)",
    "not-reached": "a steered rerun never made some edge of the cycle",
    "not-attempted": "nothing could be rerun for this finding",
}


def _confirmation(confirmation: dict[str, Any]) -> str:
    status = str(confirmation.get("status", ""))
    facts = [("verdict", f"<b>{esc(status)}</b>")]
    if status != "not-attempted":
        facts.append(
            (
                "reruns",
                f"{esc(confirmation.get('attempts'))} in {esc(confirmation.get('seconds'))} s",
            )
        )
    facts.append(("why", esc(confirmation.get("reason", ""))))
    if confirmation.get("command"):
        facts.append(("reproduce", f"<code>{esc(confirmation['command'])}</code>"))
    html_parts = [f'<div class="confirmation {esc(status)}"><h4>confirm</h4>', _facts(facts)]
    deadlock = confirmation.get("deadlock")
    if status == "confirmed" and isinstance(deadlock, dict):
        details = "\n".join(str(line) for line in deadlock.get("details") or ())
        html_parts.append(
            '<div class="stack-head">the real deadlock of the confirming rerun: every '
            "thread's held and awaited locks</div>"
            f"<pre>{esc(details)}</pre>"
        )
    html_parts.append("</div>")
    return "".join(html_parts)


def _finding(number: int, finding: Finding, graph: Graph, open_: bool) -> str:
    severity = "warning" if finding.severity == "warning" else "error"
    keys = " ".join(str(graph.number[k]) for k in finding_keys(finding) if k in graph.number)
    confirmation = finding.confirmation or {}
    status = str(confirmation.get("status", ""))
    badge = (
        f'<span class="badge confirm {esc(status)}" title="{esc(_CONFIRM_TITLES.get(status, ""))}">'
        f"{esc(status.replace('-', ' '))}</span>"
        if status
        else ""
    )
    summary = (
        f'<summary><span class="num">#{number}</span>'
        f'<span class="badge {severity}">{esc(finding.severity)}</span>'
        f'<span class="kind">{esc(finding.kind)}</span>{badge}'
        f'<span class="msg">{esc(finding.message)}</span>'
        + (f'<span class="test">{esc(finding.test)}</span>' if finding.test else "")
        + "</summary>"
    )
    parts = []
    if keys:
        parts.append(
            '<button type="button" class="show-in-graph" title="zoom the graph to this '
            "finding's lock classes\">show in graph</button>"
        )
    if finding.kind in KINDS:
        parts.append(f'<p class="kind-help">{esc(finding.kind)}: {esc(KINDS[finding.kind])}</p>')
    facts: list[tuple[str, str]] = []
    if finding.reason:
        facts.append(("why", esc(finding.reason)))
    if finding.test:
        facts.append(("test", f"<code>{esc(finding.test)}</code>"))
    if finding.thread:
        facts.append(("thread", f"<q>{esc(finding.thread)}</q>"))
    if finding.locks:
        facts.append(("locks", " ".join(_lock_chip(ref) for ref in finding.locks)))
    if finding.single_thread:
        facts.append(("single thread", _SINGLE_THREAD))
    parts.append(_facts(facts))
    if status:
        parts.append(_confirmation(confirmation))
    if finding.cycle:
        chain = [_lock_chip(er.src) for er in finding.cycle] + [_lock_chip(finding.cycle[0].src)]
        parts.append(
            '<div class="chain"><span class="chain-head">cycle</span>'
            + ' <span class="arrow">→</span> '.join(chain)
            + "</div>"
        )
    if finding.details:
        parts.append(f'<pre class="details">{esc(chr(10).join(finding.details))}</pre>')
    if finding.cycle:
        parts.append(
            '<ol class="edges">'
            + "".join(_edge_block(i, er) for i, er in enumerate(finding.cycle, 1))
            + "</ol>"
        )
        parts.append(_scenario(finding))
    elif finding.stack and finding.kind not in ("deadlock", "long-hold"):
        parts.append(
            f'<div class="stack-head">where it was found, in {esc(finding.holder)} '
            f"<q>{esc(finding.thread)}</q> "
            f"(most recent call last)</div>{_frames(finding.stack)}"
        )
    parts.append(
        '<details class="as-text"><summary>as text</summary>'
        f"<pre>{esc(finding.format())}</pre></details>"
    )
    return (
        f'<details class="finding {severity}" id="finding-{number}" '
        f'data-kind="{esc(finding.kind)}" data-severity="{severity}" data-nodes="{keys}"'
        f' data-confirm="{esc(status)}"'
        f"{' open' if open_ else ''}>{summary}<div class='body'>{''.join(parts)}</div></details>"
    )


# --------------------------------------------------------------------------- the page


def _text(value: Any) -> str:
    """A value of the report's metadata as a person writes it, never a Python repr:
    a list joined with commas, a table as "key: value" pairs, a flag as yes or no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_text(item)}" for key, item in value.items()) or "none"
    return str(value)


def _command_line(args: Any) -> str:
    """Arguments as a shell would take them (quoted where they must be)."""
    if isinstance(args, (list, tuple)):
        return shlex.join(str(arg) for arg in args)
    return str(args)


def _run_text(run: dict[str, Any]) -> str:
    if not run:
        return ""
    items: list[tuple[str, str]] = []
    if run.get("pytest"):
        workers = run.get("workers") or []
        text = "pytest session"
        if workers:
            text += f" ({len(workers)} xdist workers merged)"
        items.append(("run", esc(text)))
        crashed = run.get("crashed_workers") or {}
        if crashed:
            items.append(
                (
                    "crashed workers",
                    "; ".join(f"{esc(k)}: {esc(_text(v))}" for k, v in crashed.items()),
                )
            )
    if "command" in run:
        shown = _command_line(run.get("command") or [])
        items.append(("command", f"<code>lockorder run {esc(shown)}</code>"))
    if "exit_status" in run:
        items.append(("program's exit status", esc(_text(run["exit_status"]))))
    if "lockorder_exit_status" in run:
        status = run["lockorder_exit_status"]
        why = " (findings)" if status and status != run.get("exit_status") else ""
        items.append(("lockorder run's exit status", esc(f"{_text(status)}{why}")))
    if run.get("rootdir"):
        items.append(("rootdir", f"<code>{esc(_text(run['rootdir']))}</code>"))
    if run.get("rerun_options"):
        # what `lockorder confirm` adds to pytest's command line to rerun one test:
        # -n 0 whenever xdist is installed, with or without -n in this session
        options = run["rerun_options"]
        shown = _command_line(options)
        why = " (xdist is installed)" if isinstance(options, list) and "-n" in options else ""
        items.append(("confirm reruns add", f"<code>{esc(shown)}</code>{why}"))
    if "merged" in run:
        merged = run.get("merged") or []
        paths = merged if isinstance(merged, (list, tuple)) else [merged]
        items.append(("merged from", ", ".join(f"<code>{esc(m)}</code>" for m in paths)))
    known = {
        "pytest",
        "workers",
        "crashed_workers",
        "command",
        "exit_status",
        "lockorder_exit_status",
        "rootdir",
        "rerun_options",
        "merged",
    }
    for key, value in run.items():
        if key not in known:
            items.append((str(key).replace("_", " "), esc(_text(value))))
    return "".join(
        f'<span class="{"wide" if k == "command" else ""}"><b>{esc(k)}</b> {v}</span>'
        for k, v in items
    )


def _when(created: Any) -> str:
    """The report's creation time as a person reads it (UTC, to the second), the
    ISO 8601 form kept in the element's datetime attribute."""
    text = str(created)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return esc(text)
    zone = "UTC" if moment.utcoffset() == datetime.timedelta(0) else moment.strftime("%z")
    shown = f"{moment:%Y-%m-%d %H:%M:%S} {zone}".rstrip()
    return f'<time datetime="{esc(text)}">{esc(shown)}</time>'


def _header(report: dict[str, Any], findings: list[Finding]) -> str:
    from lockorder.report._schema import summary_counts

    # counted, not read from "summary" (it may be absent; load() checks that a
    # summary present agrees)
    summary = summary_counts(
        [f.to_dict() for f in findings], report.get("graph") or {"classes": [], "edges": []}
    )
    tool = report.get("tool") or {}
    settings = report.get("settings") or {}
    total, errors, warnings = summary["findings"], summary["errors"], summary["warnings"]
    verdict = "error" if errors else "warning" if warnings else "ok"
    confirmed = summary["confirmed"]
    cards = [
        ("findings", total, verdict),
        ("errors", errors, "error" if errors else ""),
        ("warnings", warnings, "warning" if warnings else ""),
        *([("confirmed", confirmed, "error")] if confirmed else []),
        ("lock classes", summary["classes"], ""),
        ("edges", summary["edges"], ""),
    ]
    card_html = "".join(
        f'<div class="card {cls}"><div class="n">{esc(_count(value))}</div>'
        f'<div class="l">{esc(label)}</div></div>'
        for label, value, cls in cards
    )
    kinds = summary["by_kind"]
    kind_html = "".join(
        f'<span class="chip" title="{esc(KINDS.get(str(k), ""))}">{esc(k)} <b>{esc(v)}</b></span>'
        for k, v in kinds.items()
    )
    setting_html = "".join(
        f'<span class="chip setting">{esc(k)}=<b>{esc(_text(v))}</b></span>'
        for k, v in settings.items()
    )
    meta = [
        f"<span><b>tool</b> {esc(tool.get('name', 'lockorder'))} "
        f"{esc(tool.get('version', '?'))}</span>",
        f"<span><b>created</b> {_when(report.get('created', '?'))}</span>",
    ]
    if report.get("python"):
        meta.append(f"<span><b>python</b> {esc(report['python'])}</span>")
    return (
        '<header><div class="title"><h1>lockorder report</h1>'
        f'<span class="verdict {verdict}">{esc(_verdict(total, errors, warnings))}</span></div>'
        f'<div class="cards">{card_html}</div>'
        f'<div class="row"><span class="row-head">by kind</span>{kind_html or "none"}</div>'
        f'<div class="row"><span class="row-head">settings</span>{setting_html or "none"}</div>'
        f'<div class="row meta">{_run_text(report.get("run") or {})}{"".join(meta)}</div>'
        "</header>"
    )


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _verdict(total: Any, errors: Any, warnings: Any) -> str:
    if not total:
        return "no findings"
    return f"{_count(total)} finding(s): {_count(errors)} error(s), {_count(warnings)} warning(s)"


def _suppressed_section(report: dict[str, Any]) -> str:
    """Findings a [tool.lockorder] rule suppressed or that were withdrawn, with why."""
    from lockorder._findings import WITHDRAWN_PREFIX, suppressed_of

    entries = suppressed_of(report)
    if not entries:
        return ""
    items = []
    for rule, finding in entries:
        why = "withdrawn" if rule.startswith(WITHDRAWN_PREFIX) else "suppressed"
        locks = " ".join(_lock_chip(ref) for ref in finding.locks)
        items.append(
            f'<details class="quiet"><summary><span class="muted">{why}</span> '
            f"<b>{esc(finding.kind)}</b> ({esc(finding.severity)}): "
            f"{esc(finding.message)}</summary>"
            + _facts([("rule", esc(rule)), ("locks", locks), ("test", esc(finding.test or "-"))])
            + "</details>"
        )
    return (
        f'<section class="suppressed"><h2>suppressed and withdrawn ({len(entries)})</h2>'
        '<p class="note">Not counted above: findings a [tool.lockorder] rule suppressed, and '
        "findings withdrawn because a lock class of theirs turned out to be used as a signal "
        "(released by another thread than its acquirer), and warnings superseded when their "
        "cycle became a full finding.</p>" + "".join(items) + "</section>"
    )


def render_html(report: dict[str, Any]) -> str:
    """The report (as :func:`lockorder.report.load` returns it) as one HTML page."""
    from lockorder._findings import findings_of

    findings = findings_of(report)
    graph = build_graph(report, findings)
    full = full_view(graph, findings)
    focus = focus_view(graph, findings) if findings else None
    views = []
    if focus is None:
        views.append(("full", full, True))
    elif set(focus.keys) == set(full.keys) and len(full.keys) == len(graph.nodes):
        focus.note += " That is the whole graph."
        views.append(("focus", focus, True))
    else:
        # the whole graph, or as much of it as can be drawn: always reachable
        # (the toggle, #full), its note saying what it leaves out
        views.append(("focus", focus, True))
        views.append(("full", full, False))
    graph_html = []
    for name, view, shown in views:
        hidden = "" if shown else " hidden"
        graph_html.append(
            f'<div class="view" id="view-{name}"{hidden}><p class="note">{esc(view.note)}</p>'
            f'<div class="canvas">{svg(view, graph, name)}</div></div>'
        )
    if len(views) == 2:
        toggle = (
            '<label class="toggle"><input type="checkbox" id="show-full"> show the whole graph'
            "</label>"
        )
    else:
        toggle = ""
    kinds = sorted({f.kind for f in findings})
    options = "".join(f'<option value="{esc(k)}">{esc(k)}</option>' for k in kinds)
    open_all = len(findings) <= _OPEN_FINDINGS
    finding_html = "".join(
        _finding(i, f, graph, open_all or i == 1) for i, f in enumerate(findings, 1)
    )
    if not findings:
        finding_html = '<p class="empty">No findings: no potential deadlock was seen.</p>'
    page_title = "lockorder report" + (
        f" — {len(findings)} finding(s)" if findings else " — no findings"
    )
    return "".join(
        [
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            # no network, ever: nothing but this page's own inline style and script
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
            f"<title>{esc(page_title)}</title><style>{CSS}</style></head><body>",
            _header(report, findings),
            '<nav class="toolbar"><input type="search" id="q" placeholder="filter findings and '
            'highlight locks: name, file, function, thread, test…" autocomplete="off">',
            f'<select id="kind"><option value="">every kind</option>{options}'
            '<option value="error">errors only</option><option value="warning">warnings only'
            "</option>"
            + (
                '<option value="confirmed">confirmed only</option>'
                if any((f.confirmation or {}).get("status") == "confirmed" for f in findings)
                else ""
            )
            + "</select>",
            '<button type="button" id="expand">expand all</button>'
            '<button type="button" id="collapse">collapse all</button>'
            f'<span id="count" class="muted">{plural(len(findings), "finding")}</span></nav>',
            '<section class="graph-section"><div class="section-head"><h2>lock-order graph</h2>',
            toggle,
            '<span class="legend"><span class="sw hot"></span>edge of a reported cycle'
            '<span class="sw grey"></span>other edge<span class="sw gated"></span>gated edge'
            '<span class="sw node-hot"></span>class in a finding</span>'
            '<span class="zoom-controls"><button type="button" id="zoom-out" title="zoom out (-)">'
            '&minus;</button><span id="zoom" class="muted" title="zoom">100%</span>'
            '<button type="button" id="zoom-in" title="zoom in (+)">+</button>'
            '<button type="button" id="fit" title="fit the drawing to the window (0)">fit'
            "</button></span></div>"
            '<p class="hint">drag to pan; Ctrl+wheel, pinch, double-click or + and &minus; '
            "to zoom; fit (or 0) shows it all; a finding's <b>show in graph</b> zooms to its "
            "classes</p>",
            "".join(graph_html),
            "</section>",
            f'<section class="findings"><h2>findings</h2>{finding_html}</section>',
            _suppressed_section(report),
            f"<script>{JS}</script></body></html>\n",
        ]
    )
