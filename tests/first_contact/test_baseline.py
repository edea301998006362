"""The baseline loop and bad report files, as a new user meets them.

A user adopts lockorder with a baseline: run, ``lockorder baseline``, set
``baseline =``, run again (the findings are suppressed), refresh the baseline
from that run (it must keep them), fix one, refresh (it goes, and the command
says so) or ``lockorder check --prune``. A misspelled ``baseline =`` path is an
error, not an empty baseline. A report or baseline with a field of the wrong
type, or without a field the readers need, is one line naming the file and the
field, whatever the command (the field-by-field sweep calls the command's entry
point in this process: hundreds of files, one subprocess each would take
minutes).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from lockorder._commands import dispatch
from lockorder._confirm_cli import confirm_command
from lockorder.cli import _build_parser
from tests.first_contact import _run

PROGRAM = """\
import threading

a = threading.Lock()
b = threading.Lock()
c = threading.Lock()

def one():
    with a:
        with b:
            pass
    with a:
        with c:
            pass

def two():
    with b:
        with a:
            pass
    with c:  # the second inversion
        with a:
            pass

for target in (one, two):
    t = threading.Thread(target=target)
    t.start()
    t.join()
print("done")
"""

#: the second inversion fixed: the same locks, taken in order
FIXED = PROGRAM.replace(
    "    with c:  # the second inversion\n        with a:",
    "    with a:  # the second inversion\n        with c:",
)

BASELINE = "lockorder-baseline.json"


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def fingerprints(path: Path) -> set[str]:
    return {entry["fingerprint"] for entry in json.loads(path.read_text())["findings"]}


def adopt(path: Path) -> set[str]:
    """Run the program (two inversions), accept both, set ``baseline =``."""
    assert FIXED != PROGRAM
    (path / "prog.py").write_text(PROGRAM)
    first = _run.lockorder(path, "run", "-q", "--json", "r1.json", "prog.py")
    assert first.returncode == 3, first.stderr
    written = _run.lockorder(path, "baseline", "r1.json", "-o", BASELINE)
    assert written.returncode == 0, written.stderr
    assert lines(written.stderr) == [f"lockorder baseline: 2 finding(s) accepted -> {BASELINE}"]
    (path / "pyproject.toml").write_text(f'[tool.lockorder]\nbaseline = "{BASELINE}"\n')
    return fingerprints(path / BASELINE)


def test_refreshing_a_baseline_keeps_what_the_run_suppressed_and_drops_what_is_fixed(
    tmp_path: Path,
) -> None:
    accepted = adopt(tmp_path)
    suppressed = _run.lockorder(tmp_path, "run", "-q", "--json", "r2.json", "prog.py")
    assert suppressed.returncode == 0, suppressed.stderr
    report = json.loads((tmp_path / "r2.json").read_text())
    assert report["findings"] == [] and len(report["suppressed"]) == 2

    # refreshed from a run that used it: what it suppressed stays accepted
    refreshed = _run.lockorder(tmp_path, "baseline", "r2.json", "-o", BASELINE)
    assert refreshed.returncode == 0, refreshed.stderr
    assert lines(refreshed.stderr) == [
        "lockorder baseline: 2 finding(s) accepted (2 of them suppressed by the run's "
        f"baseline) -> {BASELINE}"
    ]
    assert fingerprints(tmp_path / BASELINE) == accepted
    check = _run.lockorder(tmp_path, "check", "r2.json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert lines(check.stderr) == ["lockorder check: 0 new finding(s), 2 accepted"]
    again = _run.lockorder(tmp_path, "run", "-q", "prog.py")  # the next CI run
    assert again.returncode == 0, again.stderr

    # one inversion fixed: the refresh drops its entry, and says so
    (tmp_path / "prog.py").write_text(FIXED)
    fixed = _run.lockorder(tmp_path, "run", "-q", "--json", "r3.json", "prog.py")
    assert fixed.returncode == 0, fixed.stderr
    assert "stale suppression, never matched: baseline" in fixed.stderr
    dropped = _run.lockorder(tmp_path, "baseline", "r3.json", "-o", BASELINE)
    assert dropped.returncode == 0, dropped.stderr
    assert lines(dropped.stderr) == [
        f"lockorder baseline: dropped 1 entry of {BASELINE} whose finding no longer occurs "
        "(the run made every lock it names, not the finding)",
        "lockorder baseline: 1 finding(s) accepted (1 of them suppressed by the run's "
        f"baseline) -> {BASELINE}",
    ]
    left = fingerprints(tmp_path / BASELINE)
    assert len(left) == 1 and left < accepted
    check = _run.lockorder(tmp_path, "check", "r3.json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert lines(check.stderr) == ["lockorder check: 0 new finding(s), 1 accepted"]

    # the fixed bug comes back: nothing accepts it any more
    (tmp_path / "prog.py").write_text(PROGRAM)
    back = _run.lockorder(tmp_path, "run", "-q", "--json", "r4.json", "prog.py")
    assert back.returncode == 3, back.stderr
    check = _run.lockorder(tmp_path, "check", "r4.json")
    assert check.returncode == 1
    assert len(lines(check.stdout)) == 1 and check.stdout.startswith("NEW ")


def test_check_prune_removes_the_entries_whose_finding_no_longer_occurs(
    tmp_path: Path,
) -> None:
    accepted = adopt(tmp_path)
    (tmp_path / "prog.py").write_text(FIXED)
    assert _run.lockorder(tmp_path, "run", "-q", "--json", "r.json", "prog.py").returncode == 0
    check = _run.lockorder(tmp_path, "check", "r.json")
    assert check.returncode == 0
    assert lines(check.stderr)[0].startswith("stale: baseline ")
    assert fingerprints(tmp_path / BASELINE) == accepted  # check alone changes nothing

    pruned = _run.lockorder(tmp_path, "check", "r.json", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    stderr = lines(pruned.stderr)
    assert len(stderr) == 3, stderr
    pruned_line = re.fullmatch(
        r"pruned: baseline (\w+) \(.*\): its finding no longer occurs", stderr[0]
    )
    assert pruned_line is not None, stderr
    assert stderr[1:] == [
        f"lockorder check: pruned 1 entry from {tmp_path / BASELINE}, 1 left",
        "lockorder check: 0 new finding(s), 1 accepted",
    ]
    left = fingerprints(tmp_path / BASELINE)
    assert len(left) == 1 and accepted - left == {pruned_line.group(1)}
    assert "stale" not in _run.lockorder(tmp_path, "check", "r.json").stderr

    (tmp_path / "pyproject.toml").unlink()
    no_baseline = _run.lockorder(tmp_path, "check", "r.json", "--prune")
    assert no_baseline.returncode == 2
    assert lines(no_baseline.stderr) == [
        "lockorder check: --prune needs a baseline (--baseline FILE, or baseline = in "
        "[tool.lockorder])"
    ]


def test_refreshing_from_a_run_that_could_not_judge_the_entries_keeps_them(
    tmp_path: Path,
) -> None:
    """A run of another program made none of the accepted findings' locks: it says
    nothing about them, so the refresh keeps them (and says so)."""
    accepted = adopt(tmp_path)
    (tmp_path / "other.py").write_text(
        "import threading\nlock = threading.Lock()\nwith lock:\n    pass\n"
    )
    assert _run.lockorder(tmp_path, "run", "-q", "--json", "o.json", "other.py").returncode == 0
    result = _run.lockorder(tmp_path, "baseline", "o.json", "-o", BASELINE)
    assert result.returncode == 0, result.stderr
    assert lines(result.stderr) == [
        f"lockorder baseline: kept 2 entries of {BASELINE} that this run cannot judge (it "
        "did not make every lock named)",
        f"lockorder baseline: 2 finding(s) accepted -> {BASELINE}",
    ]
    assert fingerprints(tmp_path / BASELINE) == accepted


def test_baseline_does_not_overwrite_a_file_that_is_not_a_baseline(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(PROGRAM)
    assert _run.lockorder(tmp_path, "run", "-q", "--json", "r.json", "prog.py").returncode == 3
    before = (tmp_path / "r.json").read_text()
    result = _run.lockorder(tmp_path, "baseline", "r.json", "-o", "r.json")
    assert result.returncode == 6
    assert lines(result.stderr) == [
        "lockorder baseline: r.json: valid JSON but not a lockorder baseline"
    ]
    assert (tmp_path / "r.json").read_text() == before
    # nor a file that is not JSON at all (the program, given as -o by mistake)
    result = _run.lockorder(tmp_path, "baseline", "r.json", "-o", "prog.py")
    assert result.returncode == 6
    assert lines(result.stderr) == [
        "lockorder baseline: prog.py: not a lockorder baseline, not overwritten (corrupt "
        "baseline: corrupt JSON at line 1, column 1: Expecting value)"
    ]
    assert (tmp_path / "prog.py").read_text() == PROGRAM
    (tmp_path / "base.json").touch()  # an empty file is no one's data: written over
    result = _run.lockorder(tmp_path, "baseline", "r.json", "-o", "base.json")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "base.json").read_text())["findings"]


# -- a misspelled baseline = ------------------------------------------------------------


def test_a_misspelled_baseline_path_is_one_line_for_run_pytest_and_check(
    tmp_path: Path,
) -> None:
    (tmp_path / "prog.py").write_text(PROGRAM)
    (tmp_path / "test_prog.py").write_text("def test_nothing():\n    pass\n")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.lockorder]\nbaseline = "lockorder-basline.json"\n')
    missing = tmp_path / "lockorder-basline.json"
    said = (
        f"{missing}: no such baseline file (tool.lockorder.baseline in {pyproject}; "
        "'lockorder baseline REPORT.json -o FILE' writes one)"
    )

    run = _run.lockorder(tmp_path, "run", "prog.py")
    assert run.returncode == 2  # a bad setting (docs/runner.md)
    assert lines(run.stderr) == [f"lockorder run: {said}"] and run.stdout == ""

    pytest_run = _run.pytest(tmp_path, "-p", "no:cacheprovider", "--lockorder", "-q")
    assert pytest_run.returncode == 4  # pytest's usage error
    assert lines(pytest_run.stderr) == [f"ERROR: lockorder: {said}"]
    assert "passed" not in pytest_run.stdout

    (tmp_path / "r.json").write_text("{}")
    assert _run.lockorder(tmp_path, "run", "--json", "r.json", "prog.py").returncode == 2
    assert (tmp_path / "r.json").read_text() == "{}"  # nothing ran, nothing written
    misspelled = pyproject.read_text()
    pyproject.unlink()
    assert _run.lockorder(tmp_path, "run", "-q", "--json", "r.json", "prog.py").returncode == 3
    pyproject.write_text(misspelled)
    check = _run.lockorder(tmp_path, "check", "r.json")
    assert check.returncode == 4  # a baseline that cannot be read (docs/reports.md)
    assert lines(check.stderr) == [f"lockorder check: {said}"]
    # on the command line: the option's file is the one read (and named)
    check = _run.lockorder(tmp_path, "check", "r.json", "--baseline", "nope.json")
    assert check.returncode == 4
    assert lines(check.stderr) == [
        "lockorder check: nope.json: cannot read the baseline: No such file or directory"
    ]


# -- malformed fields ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A report from a real run, with every documented field there: a finding, a
    suppressed one, a stale rule, and (made up, in the documented shapes) a
    confirmation, the pytest plugin's run fields and a class made by a wrapper."""
    path = tmp_path_factory.mktemp("report")
    (path / "prog.py").write_text(PROGRAM)
    (path / "pyproject.toml").write_text(  # c's inversion is suppressed
        '[tool.lockorder]\nignore = ["site:prog.py:5", "kind:long-hold"]\n'
    )
    result = _run.lockorder(path, "run", "-q", "--json", "r.json", "prog.py")
    assert result.returncode == 3, result.stderr
    data = json.loads((path / "r.json").read_text())
    assert len(data["findings"]) == 1 and len(data["suppressed"]) == 1
    assert data["stale_suppressions"] == ["ignore 'kind:long-hold'"]
    finding = data["findings"][0]
    finding["holder"] = "thread"
    deadlock = dict(copy.deepcopy(finding), kind="deadlock")
    finding["confirmation"] = {
        "status": "confirmed",
        "reason": "rerun 1 made the real deadlock",
        "attempts": 1,
        "seconds": 0.5,
        "command": "python -m lockorder run prog.py",
        "deadlock": deadlock,
        "pauses": [
            {
                "edge": 1,
                "edges": [1],
                "thread": "Thread-1",
                "held": "Lock prog.py:3",
                "want": "Lock prog.py:4",
                "site": "prog.py:9",
                "paused_s": 0.1,
                "outcome": "cycle",
                "why": "the other thread reached its edge",
            }
        ],
    }
    data["run"].update(
        pytest=True,
        workers=["gw0"],
        crashed_workers={"gw1": "node down"},
        rootdir=str(path),
        rerun_options=["-n", "0"],
    )
    data["graph"]["classes"][0]["via"] = {
        "site": "prog.py:1",
        "file": str(path / "prog.py"),
        "line": 1,
        "function": "<module>",
    }
    return data


#: what a reader needs (docs/report-schema.md, "Reading a report"): every other
#: field may be absent
REQUIRED = {
    "report": {"findings", "graph"},
    "graph": {"classes", "edges"},
    "finding": {"kind", "severity", "message"},
    "lock": {"key", "site"},
    "cycle edge": {"from", "to", "thread"},
    "confirmation": {"status"},
    "class": {"key", "site", "file", "line", "function", "name", "kind"},
    "class via": {"site", "file", "line", "function"},
    "graph edge": {"from", "to"},
    "suppressed": {"rule", "finding"},
}


def _what(path: str) -> str | None:
    """Which kind of object ``path`` (``findings[0].locks[1]``) names."""
    patterns = [
        (r"", "report"),
        (r"graph", "graph"),
        (r"graph\.classes\[\d+\]\.via", "class via"),
        (r"graph\.classes\[\d+\]", "class"),
        (r"graph\.edges\[\d+\]", "graph edge"),
        (r"suppressed\[\d+\]", "suppressed"),
        (r".*\.confirmation", "confirmation"),
        (r".*\.cycle\[\d+\]", "cycle edge"),
        (r".*\.(locks\[\d+\]|from|to)", "lock"),
        (r"(.*\.)?(findings\[\d+\]|finding|deadlock)", "finding"),
    ]
    for pattern, what in patterns:
        if re.fullmatch(pattern, path):
            return what
    return None


def _shapes(value: Any) -> list[tuple[str, Any, Any, Any]]:
    """The first of the nodes each field of the schema has: ``findings[0].locks[0].key``
    stands for every lock's key of every finding (the other locks are alike)."""
    seen = set()
    first = []
    for node in _nodes(value):
        shape = re.sub(r"\[\d+\]", "[*]", node[0])
        if shape not in seen:
            seen.add(shape)
            first.append(node)
    return first


def _nodes(value: Any, path: str = "") -> list[tuple[str, Any, Any, Any]]:
    """(path, container, key, value) of every value under the top level."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        child = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        found.append((child, value, key, item))
        if isinstance(item, (dict, list)):
            found.extend(_nodes(item, child))
    return found


def _wrong(value: Any) -> Any:
    """A value of another JSON type."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, str) or value is None:
        return 5
    if isinstance(value, (int, float)):
        return "5"
    if isinstance(value, list):
        return {"0": value[:1]}
    return [value]


PARSER = _build_parser()

COMMANDS = [
    ["report", "{bad}"],
    ["report", "{bad}", "--format", "json", "-o", "{out}.json"],
    ["report", "{bad}", "--format", "html", "-o", "{out}.html"],
    ["report", "{bad}", "--format", "sarif", "-o", "{out}.sarif"],
    ["report", "{bad}", "--format", "dot", "-o", "{out}.dot"],
    ["report", "{bad}", "--format", "graphml", "-o", "{out}.graphml"],
    ["check", "{bad}", "--config", "{config}"],
    ["baseline", "{bad}", "-o", "{out}.base.json"],
    ["merge", "{good}", "{bad}", "-o", "{out}.merged.json"],
]


def _each_command(
    tmp_path: Path, data: Any, capsys: pytest.CaptureFixture[str], commands: list[list[str]]
) -> list[tuple[list[str], int, str]]:
    """Each command run on ``data`` written as bad.json: (argv, status, stderr)."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    names = {"bad": str(bad), "good": str(tmp_path / "good.json"), "out": str(tmp_path / "out")}
    names["config"] = str(tmp_path / "pyproject.toml")
    results = []
    for command in commands:
        argv = [arg.format(**names) for arg in command]
        # what cli.main does for these commands, without building the parser
        # each time (most of the time a call takes)
        args = PARSER.parse_args(argv)
        status = confirm_command(args) if args.command == "confirm" else dispatch(args)
        results.append((argv, status, capsys.readouterr().err))
    return results


@pytest.fixture
def files(tmp_path: Path, report: dict[str, Any]) -> Path:
    (tmp_path / "good.json").write_text(json.dumps(report))
    (tmp_path / "pyproject.toml").write_text("[tool.lockorder]\n")
    return tmp_path


def test_every_field_of_the_wrong_type_is_one_line_naming_the_file_and_the_field(
    files: Path, report: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    swept = 0
    for path, _, _, value in _shapes(report):
        if path.startswith("settings."):
            continue  # free: the effective settings, whatever they are
        data = copy.deepcopy(report)
        node = next(node for node in _nodes(data) if node[0] == path)
        node[1][node[2]] = _wrong(value)
        status = {"format": 6, "version": 7}.get(path, 6)
        commands = [*COMMANDS, ["confirm", "{bad}", "-o", "{out}.confirmed.json"]]
        for argv, got, err in _each_command(files, data, capsys, commands):
            said = lines(err)
            assert got == status and len(said) == 1, (path, argv, err)
            assert f"{files / 'bad.json'}: " in said[0], (path, argv, said)
            if path in ("format", "version"):
                continue
            named = re.search(r"not a lockorder report: (\S+) must be ", said[0])
            assert named is not None, (path, said)
            # a frame is judged whole: [file, line, function]
            assert named.group(1) in (path, path.rpartition("[")[0]), (path, said)
        swept += 1
    assert swept > 200  # every field of a finding, its cycle, stacks, the graph...


def test_every_missing_field_is_named_when_required_and_fine_when_not(
    files: Path, report: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    required = 0
    for path, _, key, _ in _shapes(report):
        if isinstance(key, int) or path.startswith(("settings.", "run.", "summary.", "tool.")):
            continue
        parent = path.rpartition(".")[0]
        data = copy.deepcopy(report)
        node = next(node for node in _nodes(data) if node[0] == path)
        del node[1][node[2]]
        results = _each_command(files, data, capsys, COMMANDS)
        what = _what(parent)
        if path in ("format", "version") or (what and key in REQUIRED[what]):
            required += 1
            status = {"format": 6, "version": 7}.get(path, 6)
            for argv, got, err in results:
                said = lines(err)
                assert got == status and len(said) == 1, (path, argv, err)
                if path not in ("format", "version"):
                    assert said[0].endswith(f": not a lockorder report: {path} is missing")
        else:  # an older report, or one a future version added to: read as it is
            for argv, got, err in results:
                assert got in (0, 1), (path, argv, err)
                assert "Traceback" not in err
    assert required > 30


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            lambda r: r["findings"][0].update(severity="fatal"),
            'findings[0].severity must be one of "error", "warning" (got "fatal")',
        ),
        (lambda r: r["findings"][0]["stack"][0].pop(), "findings[0].stack[0] must be a frame"),
        (
            lambda r: r["findings"][0].update(locks=r["findings"][0]["stack"]),
            "findings[0].locks[0] must be an object",
        ),
        (
            lambda r: r["findings"][0]["cycle"][0].update(to=["prog.py", 3, "f"]),
            "findings[0].cycle[0].to must be an object",
        ),
        (lambda r: r.update(findings=r["findings"][0]), "findings must be an array"),
        (
            lambda r: r["graph"]["classes"].append(r["graph"]["edges"][0]),
            "graph.classes[3].key is missing",
        ),
        (
            lambda r: r["graph"]["edges"][0].update({"from": "nowhere.py:1"}),
            'graph.edges[0].from must be the key of a class of graph.classes (got "nowhere.py:1")',
        ),
        (
            lambda r: r["findings"][0]["confirmation"].update(status="maybe"),
            "findings[0].confirmation.status must be one of",
        ),
        (
            lambda r: r["findings"][0]["confirmation"]["deadlock"].update(kind=None),
            "findings[0].confirmation.deadlock.kind must be a string (got null)",
        ),
        (lambda r: r.update(version=True), "report schema version True"),
    ],
)
def test_wrong_values_and_nesting(
    files: Path,
    report: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    change: Any,
    said: str,
) -> None:
    data = copy.deepcopy(report)
    change(data)
    for argv, got, err in _each_command(files, data, capsys, COMMANDS):
        assert got == (7 if "version" in said else 6) and len(lines(err)) == 1, (argv, err)
        assert said in err, (argv, err)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda e: e.update(fingerprint=5), "findings[0].fingerprint must be a string (got 5)"),
        (lambda e: e.pop("fingerprint"), "findings[0].fingerprint is missing"),
        (
            lambda e: e.update(locks="site:prog.py"),
            'findings[0].locks must be an array (got "site:prog.py")',
        ),
        (lambda e: e.update(locks=[["a"]]), 'findings[0].locks[0] must be a string (got ["a"])'),
        (lambda e: e.update(message=None), "findings[0].message must be a string (got null)"),
        (lambda e: e.update(kind=1), "findings[0].kind must be a string (got 1)"),
    ],
)
def test_a_malformed_baseline_is_one_line_naming_the_file_and_the_field(
    tmp_path: Path, change: Any, said: str
) -> None:
    """Through ``check --baseline``, ``baseline -o`` and ``baseline =`` (run)."""
    (tmp_path / "prog.py").write_text(PROGRAM)
    assert _run.lockorder(tmp_path, "run", "-q", "--json", "r.json", "prog.py").returncode == 3
    assert _run.lockorder(tmp_path, "baseline", "r.json", "-o", BASELINE).returncode == 0
    data = json.loads((tmp_path / BASELINE).read_text())
    change(data["findings"][0])
    (tmp_path / BASELINE).write_text(json.dumps(data))
    line = f"{BASELINE}: not a lockorder baseline: {said}"
    result = _run.lockorder(tmp_path, "check", "r.json", "--baseline", BASELINE)
    assert (result.returncode, lines(result.stderr)) == (6, [f"lockorder check: {line}"])
    result = _run.lockorder(tmp_path, "baseline", "r.json", "-o", BASELINE)
    assert (result.returncode, lines(result.stderr)) == (6, [f"lockorder baseline: {line}"])
    (tmp_path / "pyproject.toml").write_text(f'[tool.lockorder]\nbaseline = "{BASELINE}"\n')
    result = _run.lockorder(tmp_path, "run", "prog.py")
    assert (result.returncode, lines(result.stderr)) == (2, [f"lockorder run: {tmp_path}/{line}"])


@pytest.mark.parametrize(
    "args",
    [
        ["check", "bad.json"],
        ["baseline", "bad.json", "-o", "base.json"],
        ["report", "bad.json", "--format", "html", "-o", "r.html"],
        ["report", "bad.json", "--format", "sarif", "-o", "r.sarif"],
        ["report", "bad.json", "--format", "json"],
        ["merge", "good.json", "bad.json", "-o", "m.json"],
    ],
)
def test_the_issues_malformed_reports_in_every_command(tmp_path: Path, args: list[str]) -> None:
    """``"kind": 5`` (a TypeError in check, baseline, html and sarif; accepted by
    --format json) and an edge without ``from`` (merge's KeyError)."""
    (tmp_path / "prog.py").write_text(PROGRAM)
    assert _run.lockorder(tmp_path, "run", "-q", "--json", "good.json", "prog.py").returncode == 3
    data = json.loads((tmp_path / "good.json").read_text())
    if args[0] == "merge":
        del data["graph"]["edges"][0]["from"]
        said = "graph.edges[0].from is missing"
    else:
        data["findings"][0]["kind"] = 5
        said = "findings[0].kind must be a string (got 5)"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    result = _run.lockorder(tmp_path, *args)
    assert result.returncode == 6, result.stderr
    assert lines(result.stderr) == [
        f"lockorder {args[0]}: bad.json: not a lockorder report: {said}"
    ]
    assert result.stdout == ""
