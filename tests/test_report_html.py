"""The HTML report: what the page holds, escaping, size and speed, and a real browser.

The browser tests run Debian's Chromium headless (``/usr/bin/chromium``): they
skip when it is not installed, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import html
import os
import random
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import lockorder
from lockorder import _tracker, report
from lockorder._sites import relpath
from lockorder.report.html import MAX_DRAWN_NODES, render_html
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
        lockorder.findings(), _tracker.graph.to_wire(), {"mode": "record"}, {"command": ["x"]}
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


def test_drawn_nodes_never_overlap() -> None:
    data = report.build([], _wire(60, 140, seed=11), {"mode": "record"}, {"command": ["x"]})
    parsed = _parse(render_html(data))
    boxes = [
        (float(r["x"]), float(r["y"]), float(r["width"]), float(r["height"]))
        for r in parsed.all("rect")
        if "rx" in r
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
    """The browser; if there is none: skip, or fail under CI (CI=true), which installs it."""
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
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome, match="chromium-that-is-not-there is not installed"):
        _chromium_or_skip("/nonexistent/chromium-that-is-not-there")


def _browse(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
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
