"""The HTML report: what the page holds, escaping, size and speed, and a real browser.

The browser tests run Debian's Chromium headless (``/usr/bin/chromium``): they
skip when it is not installed, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import lockorder
from lockorder import report
from lockorder._findings import Finding
from lockorder._sites import relpath
from lockorder._state import checker
from lockorder.report.html import MAX_DRAWN_NODES, render_html
from tests.browser import FLAGS, Browser
from tests.conftest import run_threads

BROWSER_TIMEOUT = 60
VOID = {"meta", "input", "br", "img", "hr", "link", "source", "wbr", "col", "area"}


def _report(tmp_path: Path, first: str = "accounts", second: str = "audit log") -> dict[str, Any]:
    """A report of a real inversion across two threads, read back as load() gives it."""
    lockorder.configure(mode="record")
    a = lockorder.Lock(name=first)
    b = lockorder.Lock(name=second)

    def pay() -> None:
        with a, b:
            pass

    def audit() -> None:
        with b, a:
            pass

    run_threads(pay, audit)
    data = report.build(
        lockorder.findings(), checker.graph.to_wire(), {"mode": "record"}, {"command": ["x"]}
    )
    path = str(tmp_path / "report.json")
    report.write_json(path, data)
    return report.load(path)


class _Page(HTMLParser):
    """Every element, checked for balanced nesting, and the text of each tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.problems: list[str] = []
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.text.setdefault(self.stack[-1], []).append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.problems == []
    assert parser.stack == [], f"elements left open: {parser.stack}"
    return parser


def test_page_shows_the_graph_and_every_finding(tmp_path: Path) -> None:
    data = _report(tmp_path)
    for item in data["findings"]:  # as the pytest plugin would record them
        for number, edge in enumerate(item["cycle"]):
            edge["test"] = f"tests/test_bank.py::test_{number}"
            edge["tests"] = [edge["test"], "tests/test_bank.py::test_other"]
    page = render_html(data)
    parsed = _parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert parsed.all("body") and parsed.all("title")

    # the graph: an svg whose nodes are labelled by lock name, the cycle's edges red
    assert len(parsed.all("svg", **{"class": "graph"})) >= 1
    labels = parsed.text["text"]
    assert "accounts" in labels and "audit log" in labels
    # (one drawing, or two when earlier tests left lock classes: the findings', the whole)
    hot = parsed.all("path", **{"class": "edge hot"})
    assert len({(edge["data-s"], edge["data-d"]) for edge in hot}) == 2
    assert all(edge["marker-end"].startswith("url(#") for edge in hot)
    assert {"focus-hot", "focus-grey"} <= {m["id"] for m in parsed.all("marker")}
    assert len({node["data-k"] for node in parsed.all("g", **{"class": "node hot"})}) == 2

    # each finding, with its why, chain, stacks, threads, tests and scenario
    findings = report.findings_of(data)
    assert len(findings) == 1
    assert len(parsed.all("details", **{"class": "finding error"})) == 1
    for finding in findings:
        assert html.escape(finding.message) in page
        assert html.escape(finding.reason) in page
        assert "possible scenario" in page and "*** DEADLOCK ***" in page
        assert html.escape(finding.format()) in page  # the whole text form, too
        for edge in finding.cycle:
            assert html.escape(edge.thread) in page
            for test in edge.tests:
                assert f"<code>{html.escape(test)}</code>" in page
            for held in edge.held:
                assert html.escape(held) in page
            for filename, lineno, function in edge.stack:
                assert (
                    f'File "<span class="file">{html.escape(relpath(filename))}</span>", line '
                    f'<span class="line">{lineno}</span>, in '
                    f'<span class="fn">{html.escape(function)}</span>'
                ) in page
    # the header: counts, settings, tool version and creation time
    assert "lock classes" in page and "mode=<b>record</b>" in page
    assert f"lockorder {lockorder.__version__}" in page
    assert data["created"] in page


def test_the_page_loads_nothing(tmp_path: Path) -> None:
    page = render_html(_report(tmp_path))
    parsed = _parse(page)
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(//|[a-z]+:)""", page, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?(?!#)", page), "only url(#marker) references"
    assert "@import" not in page
    assert parsed.all("link") == []
    assert [a for a in parsed.all("script") if "src" in a] == []
    assert len(parsed.all("script")) == 1  # the page's own, inline
    assert "default-src 'none'" in page  # and a policy that forbids fetching anything


def test_everything_from_the_report_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    data = _report(tmp_path, first=evil, second='"quoted" & <b>bold</b>')
    data["settings"]["mode"] = "<img src=x onerror=alert(2)>"
    data["run"]["command"] = ["<i>prog</i>.py"]
    for item in data["findings"]:
        item["test"] = "test_<u>x</u>.py::t"
        for edge in item["cycle"]:
            edge["thread"] = "<em>thread</em>"
            edge["stack"] = [["<s>file</s>.py", 3, "<sub>f</sub>"]]
    page = render_html(data)
    parsed = _parse(page)
    assert evil not in page
    assert html.escape(evil) in page
    assert len(parsed.all("script")) == 1
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"img", "i", "u", "em", "s", "sub"}, "markup from the report got through"
    assert "<b>bold</b>" not in page and "<img" not in page
    assert html.escape('"quoted" & <b>bold</b>') in page


def test_suppressed_and_withdrawn_findings_are_listed_apart(tmp_path: Path) -> None:
    data = _report(tmp_path)
    (finding,) = data["findings"]
    data["suppressed"] = [
        {"rule": "ignore 'name:<b>x</b>'", "finding": dict(finding, message="by a <rule>")},
        {"rule": "withdrawn: Lock a.py:1 is used as a signal", "finding": finding},
    ]
    page = render_html(data)
    parsed = _parse(page)
    (section,) = parsed.all("section", **{"class": "suppressed"})
    assert "suppressed and withdrawn (2)" in page
    assert len(parsed.all("details", **{"class": "quiet"})) == 2
    assert html.escape("ignore 'name:<b>x</b>'") in page and "<b>x</b>" not in page
    assert html.escape("by a <rule>") in page
    assert "withdrawn: Lock a.py:1 is used as a signal" in page
    assert section is not None
    # not counted with the findings
    assert len(parsed.all("details", **{"class": "finding error"})) == 1


def _header_text(page: str) -> str:
    """The page's header as a reader sees it: tags dropped, entities decoded."""
    header = page[page.index("<header>") : page.index("</header>")]
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"</span>", " </span>", header)))


def test_the_header_reads_as_text_a_person_writes(tmp_path: Path) -> None:
    """Issue First contact 14: every value of the run's metadata as text (lists
    joined, command lines shell-quoted), never a Python list, dict or bool."""
    data = _report(tmp_path)
    data["settings"] = {"mode": "raise", "single_thread": "report", "paths": ["a", "b"]}
    # as the pytest plugin writes it, with xdist
    data["run"] = {
        "pytest": True,
        "workers": ["gw0", "gw1"],
        "crashed_workers": {"gw1": "exit code 9"},
        "rootdir": "/home/me/my project",
        "rerun_options": ["-n", "0"],
        "tags": ["nightly", "linux"],
        "flaky": False,
    }
    text = _header_text(render_html(data))
    # -n 0 whenever xdist is installed, with -n or not: the header says why
    assert "confirm reruns add -n 0 (xdist is installed) " in text
    assert "rootdir /home/me/my project " in text
    assert "crashed workers gw1: exit code 9 " in text
    assert "paths=a, b " in text and "tags nightly, linux " in text and "flaky no " in text
    created = datetime.datetime.fromisoformat(data["created"])
    assert f"created {created:%Y-%m-%d %H:%M:%S} UTC " in text
    assert data["created"] in render_html(data)  # the exact time, in <time datetime>
    for repr_ in ("[", "]", "{", "}", "'", "False", "rerun_options"):
        assert repr_ not in text, (repr_, text)
    # without xdist the rerun adds nothing: not shown
    data["run"]["rerun_options"] = []
    assert "rerun" not in _header_text(render_html(data))
    # lockorder run's command line, quoted as a shell takes it; a merge's reports
    data["run"] = {"command": ["my script.py", "--name", "a b"], "exit_status": 0}
    text = _header_text(render_html(data))
    assert "command lockorder run 'my script.py' --name 'a b' " in text
    data["run"] = {"merged": ["s1.json", "s2.json"]}
    assert "merged from s1.json, s2.json " in _header_text(render_html(data))


def test_an_edge_tooltip_names_both_classes_in_full(tmp_path: Path) -> None:
    """A box's title is shortened to fit it; the edge's tooltip has the room."""
    long_a = "the accounts table's row lock, taken by every transfer"
    long_b = "the audit log's append lock, taken by every ledger write"
    page = render_html(_report(tmp_path, long_a, long_b))
    parsed = _parse(page)
    assert any(t.endswith("…") for t in parsed.text["text"])  # the boxes are shortened
    tips = [t for t in parsed.text["title"] if "→" in t]
    assert tips and all(
        tip.split("\n")[0] in (f"{long_a} → {long_b}", f"{long_b} → {long_a}") for tip in tips
    ), tips


def test_tooltips_say_signal_classes_and_ordered_edges(tmp_path: Path) -> None:
    data = _report(tmp_path)
    data["findings"] = []
    for cls in data["graph"]["classes"]:
        cls["signal"] = True
    for edge in data["graph"]["edges"]:
        edge["ordered"] = True
    page = render_html(data)
    assert "used as a signal: released by other threads" in page
    assert "made only inside ordered acquisitions" in page


def _wire(classes: int, edges: int, seed: int = 3) -> dict[str, Any]:
    """A synthetic graph in the report's wire form."""
    rng = random.Random(seed)
    wire_classes = [
        {
            "key": f"/src/app/module{i % 50}.py:{i}",
            "site": f"app/module{i % 50}.py:{i}",
            "file": f"/src/app/module{i % 50}.py",
            "line": i,
            "function": f"Service{i}.__init__",
            "name": f"lock-{i}" if i % 3 == 0 else None,
            "kind": "Lock",
            "created": 1 + i % 4,
        }
        for i in range(classes)
    ]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < edges:
        a, b = rng.randrange(classes), rng.randrange(classes)
        if a != b:
            pairs.add((a, b))
    wire_edges = [
        {
            "from": wire_classes[a]["key"],
            "to": wire_classes[b]["key"],
            "thread": f"worker-{a % 7}",
            "threads": [f"worker-{a % 7}"],
            "thread_ids": [f"1-{a % 7}"],
            "thread_count": 1,
            "held": [wire_classes[a]["site"]],
            "stack": [[f"/src/app/module{a % 50}.py", 10 + b, "work"]],
            "test": None,
            "tests": [],
            "gates": [],
            "gated": False,
        }
        for a, b in sorted(pairs)
    ]
    return {"classes": wire_classes, "edges": wire_edges}


def test_a_big_graph_renders_fast_and_small(tmp_path: Path) -> None:
    real = _report(tmp_path)
    wire = _wire(2000, 5000)
    wire["classes"] += real["graph"]["classes"]  # (lock classes outlive reset(): 2 or more)
    wire["edges"] += real["graph"]["edges"]
    data = report.build(report.findings_of(real), wire, {"mode": "record"}, {"command": ["x"]})
    assert data["summary"]["classes"] >= 2002 and data["summary"]["edges"] == 5002
    started = time.perf_counter()
    page = render_html(data)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"rendering took {elapsed:.1f} s"
    assert len(page.encode()) < 2_000_000, f"{len(page.encode()):,} bytes"
    parsed = _parse(page)
    assert "too big to draw" in page
    nodes = parsed.all("g", **{"class": "node"}) + parsed.all("g", **{"class": "node hot"})
    assert len(nodes) <= 2 + MAX_DRAWN_NODES  # the findings' view, then the capped whole
    assert len(parsed.all("path", **{"class": "edge hot"})) == 4  # the cycle, in both views
    assert 'id="show-full"' in page


def test_the_whole_graph_stays_reachable_when_capped_to_the_findings(tmp_path: Path) -> None:
    """Issue 13.8 (part): 300 classes, 605 edges, one cycle. Capped, the whole
    graph drew only the classes on cycles, which are the finding's: the page then
    had no "show the whole graph" toggle (and #full did nothing) and said nothing
    of what it left out."""
    real = _report(tmp_path)
    wire = _wire(300, 0)
    wire["edges"] = [  # acyclic: edges only from a lower class to a higher one
        {"from": wire["classes"][i]["key"], "to": wire["classes"][j]["key"], "thread": "t"}
        for i in range(300)
        for j in (i + 1, i + 2, i + 3)
        if j < 300
    ][:605]
    wire["classes"] += real["graph"]["classes"]
    wire["edges"] += real["graph"]["edges"]
    data = report.build(report.findings_of(real), wire, {"mode": "record"}, {"command": ["x"]})
    page = render_html(data)
    assert 'id="show-full"' in page
    assert 'id="view-full" hidden' in page
    full = page[page.index('id="view-full"') :]
    note = full[: full.index("</p>")]
    assert "too big to draw" in note and "on cycles" in note


def test_no_findings_draws_the_whole_graph(tmp_path: Path) -> None:
    data = report.build([], _wire(12, 15), {"mode": "record"}, {"command": ["x"]})
    page = render_html(data)
    parsed = _parse(page)
    assert "No findings" in page
    assert len(parsed.all("g", **{"class": "node"})) == 12
    assert parsed.all("path", **{"class": "edge hot"}) == []
    assert 'id="show-full"' not in page


def _lock_ref(i: int) -> dict[str, Any]:
    site = f"app/mod{i % 40}.py:{100 + i}"
    return {"key": site, "site": site, "name": None, "kind": "Lock", "function": f"make_{i}"}


def _group_edge(a: int, b: int) -> dict[str, Any]:
    return {
        "thread": f"worker-{a % 5}",
        "threads": [f"worker-{a % 5}"],
        "thread_count": 1,
        "held": [_lock_ref(a)["site"]],
        "stack": [[f"app/mod{a % 40}.py", 200 + b, "work"]],
        "test": None,
        "tests": [],
        "gates": [],
        "gated": False,
    }


def _cycle_group_report(
    classes: int = 2000, edges: int = 5000, group: int = 164, inversions: int = 120
) -> dict[str, Any]:
    """Issue 13.8's shape: ``inversions`` two-lock inversions among ``group``
    classes that a ring makes one cycle group, in a graph of ``classes`` classes
    and ``edges`` edges (the others acyclic)."""
    rng = random.Random(1)
    pairs = {(i, (i + 1) % group) for i in range(group)}
    findings = []
    while len(findings) < inversions:
        a, b = rng.randrange(group), rng.randrange(group)
        if a == b or (a, b) in pairs or (b, a) in pairs:
            continue
        pairs |= {(a, b), (b, a)}
        cycle = [
            {"from": _lock_ref(x), "to": _lock_ref(y), **_group_edge(x, y)}
            for x, y in ((a, b), (b, a))
        ]
        message = f"lock-order inversion: {_lock_ref(a)['site']} -> {_lock_ref(b)['site']} -> ..."
        finding = {
            "kind": "potential-deadlock",
            "severity": "error",
            "message": message,
            "locks": [_lock_ref(a), _lock_ref(b)],
            "thread": "worker-1",
            "cycle": cycle,
            "signature": f"potential-deadlock:{a}|{b}",
        }
        findings.append(Finding.from_dict(finding))
    while len(pairs) < edges:
        a, b = rng.randrange(classes), rng.randrange(classes)
        if a < b and b >= group:
            pairs.add((a, b))
    wire = {
        "classes": [
            {**_lock_ref(i), "file": f"app/mod{i % 40}.py", "line": 100 + i, "created": 1}
            for i in range(classes)
        ],
        "edges": [
            {"from": _lock_ref(a)["key"], "to": _lock_ref(b)["key"], **_group_edge(a, b)}
            for a, b in sorted(pairs)
        ],
    }
    return report.build(findings, wire, {"mode": "record"}, {"command": ["x"]})


def _svg_size(page: str, view: str) -> tuple[float, float]:
    found = re.search(
        rf'<svg class="graph" id="{view}-svg" width="([\d.]+)" height="([\d.]+)"', page
    )
    assert found, f"no {view} drawing"
    return float(found[1]), float(found[2])


def test_a_big_cycle_group_is_drawn_compactly() -> None:
    """Issue 13.8: 120 inversions among 164 classes of one cycle group were drawn
    13,996 px wide (a layered layout makes a band of it); now a grid in a frame
    that counts the group's classes and edges."""
    page = render_html(_cycle_group_report())
    width, height = _svg_size(page, "focus")
    assert width < 3000 and height < 2000, (width, height)
    assert 1.2 < width / height < 3.5  # wide, as a window is
    labels = re.findall(r'<g class="group">.*?<text[^>]*>([^<]*)</text>', page)
    assert len(labels) == 2  # in the findings' view and in the whole graph's
    assert re.match(r"cycle group: \d+ lock classes, [\d,]+ edges between them", labels[0])
    full_width, full_height = _svg_size(page, "full")
    assert full_width < 3000 and full_height < 2000


@pytest.mark.parametrize(("edges", "compact"), [(70, False), (140, True)])
def test_drawn_nodes_never_overlap(edges: int, compact: bool) -> None:
    """60 classes: 70 random edges make small cycle groups (a layered layout);
    140 make one group of more than COMPACT_GROUP classes (a grid)."""
    data = report.build([], _wire(60, edges, seed=11), {"mode": "record"}, {"command": ["x"]})
    page = render_html(data)
    assert ('<g class="group">' in page) is compact
    parsed = _parse(page)
    boxes = [
        (float(r["x"]), float(r["y"]), float(r["width"]), float(r["height"]))
        for r in parsed.all("rect", rx="6")  # a lock class (a group's frame has rx=10)
    ]
    assert len(boxes) == 60
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            apart = x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
            assert apart, f"{(x1, y1, w1, h1)} overlaps {(x2, y2, w2, h2)}"


# --------------------------------------------------------------------------- a real browser


#: Debian's Chromium (apt-get install -y chromium)
CHROMIUM = "/usr/bin/chromium"


def _chromium_or_skip(path: str = CHROMIUM) -> str:
    """The browser; if there is none: skip, or fail under CI (CI=true), which installs it.
    ``LOCKORDER_BROWSER_TESTS=0`` skips them: .ci/run runs them under its first
    Python only (the page is the same whichever Python wrote it)."""
    if os.environ.get("LOCKORDER_BROWSER_TESTS", "") == "0":
        pytest.skip("LOCKORDER_BROWSER_TESTS=0: the browser tests ran under another Python")
    found = path if os.path.exists(path) else shutil.which(os.path.basename(path))
    if found:
        return found
    reason = f"no headless browser: {path} is not installed (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{reason}, and CI is set: CI must install it")
    pytest.skip(reason)


@pytest.fixture
def chromium() -> str:
    return _chromium_or_skip()


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_missing_browser_skips_or_fails_under_ci(
    ci: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.delenv("LOCKORDER_BROWSER_TESTS", raising=False)
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome, match="chromium-that-is-not-there is not installed"):
        _chromium_or_skip("/nonexistent/chromium-that-is-not-there")
    # under CI's later Pythons the browser tests are skipped on purpose
    monkeypatch.setenv("LOCKORDER_BROWSER_TESTS", "0")
    with pytest.raises(pytest.skip.Exception, match="ran under another Python"):
        _chromium_or_skip()


def _browse(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, check=False
    )


def _page_file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "report.html"
    path.write_text(render_html(data), encoding="utf-8")
    return path


def test_browser_runs_the_page(chromium: str, tmp_path: Path) -> None:
    # an edge outside the finding, so that the whole graph is more than the
    # finding's view; and none of the classes other tests left in this process
    # (too many of them make the whole graph too big to draw)
    with lockorder.Lock(name="outside 1"), lockorder.Lock(name="outside 2"):
        pass
    data = _report(tmp_path)
    used = {key for edge in data["graph"]["edges"] for key in (edge["from"], edge["to"])}
    data["graph"]["classes"] = [c for c in data["graph"]["classes"] if c["key"] in used]
    page = _page_file(tmp_path, data)
    done = _browse(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert re.search(r'<body[^>]* data-ready="1"', dom), "the page's script did not finish"
    assert '<svg class="graph"' in dom
    assert '<g class="node hot"' in dom and ">accounts</text>" in dom
    assert 'class="edge hot"' in dom
    assert '<details class="finding error"' in dom
    assert "lock-order inversion" in dom
    assert 'id="view-full" hidden=""' in dom  # the findings' classes first

    # the URL can open the whole graph, or a filter, and the script applies it
    done = _browse(chromium, tmp_path, "--dump-dom", page.as_uri() + "#full")
    assert 'id="view-focus" hidden=""' in done.stdout
    assert re.search(r'<div class="view" id="view-full">', done.stdout)
    done = _browse(chromium, tmp_path, "--dump-dom", page.as_uri() + "#q=no%20such%20lock")
    assert re.search(r'<details class="finding error"[^>]* hidden=""', done.stdout)
    assert "0 of 1 findings" in done.stdout
    assert 'class="node hot dim"' in done.stdout


def test_browser_screenshot(chromium: str, tmp_path: Path) -> None:
    page = _page_file(tmp_path, _report(tmp_path))
    artifacts = os.environ.get("LOCKORDER_ARTIFACTS")
    directory = Path(artifacts) if artifacts else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    shot = directory / "report-html.png"
    if shot.exists():
        shot.unlink()
    done = _browse(
        chromium, tmp_path, f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.exists(), done.stderr[-2000:]
    content = shot.read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(content) > 10_000, f"a {len(content)}-byte screenshot is blank"


# --------------------------------------------------------------------------- driven by DevTools

_FOCUS = "document.querySelector('#view-focus .canvas')"
_FULL = "document.querySelector('#view-full .canvas')"


def _state(browser: Browser, canvas: str = _FOCUS) -> dict[str, Any]:
    """The canvas's zoom, viewBox and box on screen, and the drawing's nodes."""
    state: dict[str, Any] = browser.eval(
        f"""(function () {{
          var c = {canvas}, svg = c.querySelector("svg"), r = c.getBoundingClientRect();
          var nodes = Array.prototype.slice.call(svg.querySelectorAll("g.node")).map(
            function (n) {{ var b = n.getBBox();
              return {{k: n.dataset.k, x: b.x, y: b.y, w: b.width, h: b.height,
                       cls: n.getAttribute("class")}}; }});
          return {{zoom: Number(c.dataset.zoom), box: svg.getAttribute("viewBox"),
                   left: r.left, top: r.top, width: r.width, height: r.height,
                   bottom: r.bottom, right: r.right, nodes: nodes,
                   label: document.getElementById("zoom").textContent,
                   inner: [innerWidth, innerHeight]}};
        }})()"""
    )
    state["box"] = [float(v) for v in state["box"].split()]
    return state


def _inside(node: dict[str, Any], box: list[float]) -> bool:
    x, y, w, h = box
    return (
        node["x"] >= x - 0.5
        and node["y"] >= y - 0.5
        and node["x"] + node["w"] <= x + w + 0.5
        and node["y"] + node["h"] <= y + h + 0.5
    )


def _to_drawing(state: dict[str, Any], px: float, py: float) -> tuple[float, float]:
    """The drawing point under a screen point."""
    x, y, _, _ = state["box"]
    return x + (px - state["left"]) / state["zoom"], y + (py - state["top"]) / state["zoom"]


@pytest.fixture(scope="module")
def big_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One page of the big report for the DevTools tests (rendered once)."""
    return _page_file(tmp_path_factory.mktemp("big"), _cycle_group_report())


@pytest.fixture(scope="module")
def _one_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One Chromium for the DevTools tests (each opens its page afresh)."""
    chromium = _chromium_or_skip()
    profile = tmp_path_factory.mktemp("devtools") / "profile"
    with Browser(chromium, profile, 1400, 1000, BROWSER_TIMEOUT) as open_:
        yield open_


@pytest.fixture
def browser(_one_browser: Browser) -> Browser:
    _one_browser.send(
        "Emulation.setDeviceMetricsOverride",
        width=1400,
        height=1000,
        deviceScaleFactor=1,
        mobile=False,
    )
    return _one_browser


def test_browser_fits_a_report_with_thousands_of_edges(browser: Browser, big_page: Path) -> None:
    """Issue 13.8: the first screen shows the findings' graph, all of it, fitted
    to the window; the findings render; a screenshot is kept as an artifact."""
    browser.open(big_page.as_uri())
    state = _state(browser)
    assert len(state["nodes"]) > 100
    assert all(_inside(node, state["box"]) for node in state["nodes"]), "a class is off screen"
    assert 0.3 < state["zoom"] <= 1, state["zoom"]
    assert state["bottom"] <= state["inner"][1], "the drawing runs below the first screen"
    assert state["right"] <= state["inner"][0]
    assert state["label"] == f"{round(state['zoom'] * 100)}%"
    shown = browser.eval(
        "Array.prototype.filter.call(document.querySelectorAll('details.finding'),"
        " function (f) { return !f.hidden; }).length"
    )
    assert shown == 120
    assert browser.eval("document.getElementById('finding-1').open") is True
    assert "lock-order inversion" in browser.eval("document.getElementById('finding-1').innerText")
    artifacts = os.environ.get("LOCKORDER_ARTIFACTS")
    directory = Path(artifacts) if artifacts else big_page.parent
    directory.mkdir(parents=True, exist_ok=True)
    content = browser.screenshot(directory / "report-html-large.png")
    assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) > 50_000


def test_browser_pans_and_zooms(browser: Browser, big_page: Path) -> None:
    browser.open(big_page.as_uri())
    fitted = _state(browser)
    # Ctrl+wheel zooms in around the pointer: the point under it stays put
    at = (fitted["left"] + fitted["width"] * 0.3, fitted["top"] + fitted["height"] * 0.6)
    before = _to_drawing(fitted, *at)
    browser.mouse("mouseWheel", *at, deltaX=0, deltaY=-300, modifiers=2)  # 2: Ctrl
    zoomed = _state(browser)
    assert zoomed["zoom"] == pytest.approx(fitted["zoom"] * 2.718, rel=0.02)
    assert _to_drawing(zoomed, *at) == pytest.approx(before, abs=1.0)
    # a plain wheel is the page's: it scrolls, the drawing keeps its zoom
    browser.mouse("mouseWheel", *at, deltaX=0, deltaY=200)
    assert _state(browser)["zoom"] == zoomed["zoom"]
    browser.eval("scrollTo(0, 0)")
    # dragging pans: the drawing follows the pointer
    start = (zoomed["left"] + 400, zoomed["top"] + 300)
    browser.drag(start, (start[0] - 200, start[1] - 100))
    panned = _state(browser)
    assert panned["zoom"] == zoomed["zoom"]
    assert panned["box"][0] == pytest.approx(zoomed["box"][0] + 200 / zoomed["zoom"], abs=1.0)
    assert panned["box"][1] == pytest.approx(zoomed["box"][1] + 100 / zoomed["zoom"], abs=1.0)
    # the drag did not count as a click on a class (which would filter the findings)
    assert browser.eval("document.getElementById('q').value") == ""
    # the buttons and the keyboard
    fit = browser.eval("JSON.stringify(document.getElementById('fit').getBoundingClientRect())")
    box = json.loads(fit)
    browser.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert _state(browser)["box"] == fitted["box"]
    browser.eval(f"{_FOCUS}.focus()")
    browser.key("+")
    assert _state(browser)["zoom"] == pytest.approx(fitted["zoom"] * 1.25, rel=0.01)
    browser.key("0")
    assert _state(browser)["box"] == fitted["box"]


def test_browser_shows_a_finding_in_the_graph(browser: Browser, big_page: Path) -> None:
    browser.open(big_page.as_uri())
    fitted = _state(browser)
    keys = browser.eval("document.getElementById('finding-57').dataset.nodes").split()
    assert len(keys) == 2
    # a real click on the finding's button: open it, then press the button
    for selector in ("#finding-57 > summary", "#finding-57 button.show-in-graph"):
        box = json.loads(
            browser.eval(
                f"(function () {{ var e = document.querySelector('{selector}');"
                " e.scrollIntoView({block: 'center'});"
                " return JSON.stringify(e.getBoundingClientRect()); })()"
            )
        )
        browser.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    shown = _state(browser)
    assert shown["zoom"] > fitted["zoom"] * 1.5  # zoomed in on the two classes
    assert shown["top"] >= 0 and shown["bottom"] <= shown["inner"][1]  # scrolled to
    mine = [n for n in shown["nodes"] if n["k"] in keys]
    assert len(mine) == 2 and all(_inside(n, shown["box"]) for n in mine)
    assert all("focus" in n["cls"] and "dim" not in n["cls"] for n in mine)
    others = [n for n in shown["nodes"] if n["k"] not in keys]
    assert all("dim" in n["cls"] for n in others)
    browser.key("Escape")
    assert not any("dim" in n["cls"] for n in _state(browser)["nodes"])


def test_browser_fits_the_whole_graph_when_shown(browser: Browser, big_page: Path) -> None:
    browser.open(big_page.as_uri())
    browser.eval("document.getElementById('show-full').click()")
    whole = _state(browser, _FULL)
    assert whole["width"] > 0 and 0 < whole["zoom"] <= 1
    assert all(_inside(node, whole["box"]) for node in whole["nodes"])
    note = browser.eval("document.querySelector('#view-full .note').textContent")
    assert "2,000 lock classes, 5,000 edges" in note and "too big to draw" in note
    browser.open(big_page.as_uri() + "#full")  # the URL opens it too, fitted
    assert _state(browser, _FULL)["zoom"] == whole["zoom"]


#: where each long name of a finding must show whole (issue First contact 14)
_CUT_OFF = """(function () {
  var bad = [], doc = document.documentElement;
  if (doc.scrollWidth > innerWidth) { bad.push("the page is wider than the window"); }
  document.querySelectorAll("li.edge-report").forEach(function (card) {
    var box = card.getBoundingClientRect(), body = card.closest(".body").getBoundingClientRect();
    if (box.right > body.right + 0.5) { bad.push("an edge card runs past its finding"); }
    card.querySelectorAll("h4 code.lock").forEach(function (chip) {
      if (chip.getClientRects().length !== 1) { bad.push("split: " + chip.textContent); }
      if (chip.getBoundingClientRect().right > box.right + 0.5) {
        bad.push("past its card: " + chip.textContent); }
    });
  });
  document.querySelectorAll("table.scenario").forEach(function (table) {
    var body = table.closest(".body").getBoundingClientRect();
    if (table.getBoundingClientRect().right > body.right + 0.5) {
      bad.push("the scenario runs past its finding"); }
  });
  return JSON.stringify({bad: bad, titles: Array.prototype.map.call(
    document.querySelectorAll("li.edge-report h4"), function (h) { return h.textContent; })});
})()"""


def test_browser_shows_long_lock_names_whole(browser: Browser, tmp_path: Path) -> None:
    """Issue First contact 14: the README's example names its locks
    "Lock examples/bank_transfer.py:22 (instance 1)"; each edge card's title shows
    both names whole, a name never split over two lines (it moves to the next
    line whole), and at any width the cards and the scenario stay in their finding."""
    root = Path(__file__).resolve().parent.parent
    page = tmp_path / "report.html"
    command = ["run", "--json", "", "--html", str(page), "examples/bank_transfer.py"]
    done = subprocess.run(
        [sys.executable, "-m", "lockorder", *command],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert page.exists(), done.stderr
    one, two = (f"Lock examples/bank_transfer.py:22 (instance {i})" for i in (1, 2))
    for width in (1400, 1280, 1000, 560):
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.open(page.as_uri())
        found = json.loads(browser.eval(_CUT_OFF))
        assert found["bad"] == [], (width, found["bad"])
        assert found["titles"] == [f"edge 1: {one} → {two}", f"edge 2: {two} → {one}"]
