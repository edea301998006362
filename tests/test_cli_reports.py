"""`lockorder report / merge / check / baseline`, and [tool.lockorder]."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.first_contact import _run
from tests.test_cli import INVERSION

HALF_AB = """
import threading
from shared import A, B

def work():
    with A:
        with B:
            pass

t = threading.Thread(target=work)
t.start()
t.join()
"""

HALF_BA = HALF_AB.replace("with A:\n        with B:", "with B:\n        with A:")

SHARED = """
import threading
A = threading.Lock()
B = threading.Lock()
"""


#: a traceback line of one of lockorder's own modules (not merely a path with
#: "lockorder" in it, as an interpreter's under ~/.cache/lockorder/pythons)
LOCKORDER_FRAME = re.compile(r'File "[^"]*/lockorder/[^"/]+\.py"')


def lockorder(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "lockorder", *args, timeout=60)


@pytest.fixture(scope="module")
def inversion_made_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prog.py (an inversion) and r.json, its run's report, made once per module."""
    folder = tmp_path_factory.mktemp("inversion")
    (folder / "prog.py").write_text(textwrap.dedent(INVERSION).strip())  # as makepyfile
    done = _run.lockorder(folder, "run", "--json", "r.json", "prog.py")
    assert done.returncode == 3, done.stderr
    return folder


@pytest.fixture
def inversion_report(pytester: pytest.Pytester, inversion_made_once: Path) -> Path:
    _run.copy_made(inversion_made_once, pytester.path)
    return pytester.path / "r.json"


@pytest.mark.parametrize("fmt", ["text", "json", "dot", "graphml", "html", "sarif"])
def test_report_renders_every_format(
    pytester: pytest.Pytester, inversion_report: Path, fmt: str
) -> None:
    result = lockorder(pytester, "report", "r.json", "--format", fmt, "-o", f"out.{fmt}")
    assert result.ret == 0, result.stderr.str()
    text = (pytester.path / f"out.{fmt}").read_text()
    expected = {
        "text": "lockorder ERROR: potential-deadlock",
        "json": '"format": "lockorder-report"',
        "dot": "digraph lockorder",
        "graphml": "<graphml",
        "html": "<svg",
        "sarif": '"version": "2.1.0"',
    }[fmt]
    assert expected in text


def test_report_text_to_stdout(pytester: pytest.Pytester, inversion_report: Path) -> None:
    result = lockorder(pytester, "report", "r.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["lockorder: 1 finding(s)*", "*possible scenario:*"])


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        ('{"format": "lockorder-report", "version": 1, "findings": [', 5, "truncated JSON"),
        ("not json at all", 5, "corrupt JSON"),
        ('{"hello": 1}', 6, "not a lockorder report"),
        ('{"format": "lockorder-report", "version": 2}', 7, "schema version 2"),
        ("", 5, "empty file"),
        ("\n  \n", 5, "empty file"),
        (
            '{"format": "lockorder-report", "version": 1, "findings": [{"x": 1}]}',
            6,
            "not a lockorder report: findings[0].kind is missing",
        ),
        (
            '{"format": "lockorder-report", "version": 1, "findings": 5}',
            6,
            "not a lockorder report: findings must be an array (got 5)",
        ),
    ],
)
@pytest.mark.parametrize("command", ["report", "check", "baseline", "merge"])
def test_bad_report_files_get_one_line_and_a_distinct_status(
    pytester: pytest.Pytester, content: str, status: int, message: str, command: str
) -> None:
    (pytester.path / "bad.json").write_text(content)
    extra = ["-o", "out.json"] if command in ("baseline", "merge") else []
    result = lockorder(pytester, command, "bad.json", *extra)
    assert result.ret == status
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "bad.json" in lines[0]


def test_missing_report_file(pytester: pytest.Pytester) -> None:
    result = lockorder(pytester, "report", "nope.json")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["lockorder report: nope.json: cannot read the report*"])


@pytest.mark.parametrize(
    "args",
    [
        ["report", "r.json", "-o", "blocker/out.txt"],
        ["report", "r.json", "--format", "html", "-o", "blocker/sub/out.html"],
        ["report", "r.json", "--format", "dot", "-o", "blocker/out.dot"],
        ["report", "r.json", "--format", "graphml", "-o", "folder"],
        ["merge", "r.json", "r.json", "-o", "blocker/m.json"],
        ["baseline", "r.json", "-o", "folder"],
    ],
)
def test_an_output_that_cannot_be_written_is_one_line_and_status_4(
    pytester: pytest.Pytester, inversion_report: Path, args: list[str]
) -> None:
    """A file where a folder should be, or a folder where the file should be."""
    (pytester.path / "blocker").write_text("a file where a folder should be")
    (pytester.path / "folder").mkdir()
    before = sorted(p.name for p in pytester.path.iterdir())
    result = lockorder(pytester, *args)
    assert result.ret == 4, result.stderr.str()
    lines = [line for line in result.stderr.lines if line.strip()]
    output = args[-1]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"lockorder {args[0]}: cannot write {output}: "), lines
    # no temporary file left; stdout and stderr are pytester's record of the run
    assert sorted(p.name for p in pytester.path.iterdir()) == sorted({*before, "stderr", "stdout"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file: no JSON, no baseline in it"),
        ('{"format": "lockorder-baseline", "version": 1, "findings": [', "truncated JSON"),
        ("not json", "corrupt baseline: corrupt JSON"),
    ],
)
def test_a_bad_baseline_is_told_as_a_bad_report_is(
    pytester: pytest.Pytester, inversion_report: Path, content: str, message: str
) -> None:
    (pytester.path / "base.json").write_text(content)
    result = lockorder(pytester, "check", "r.json", "--baseline", "base.json")
    assert result.ret == 5
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "base.json" in lines[0], lines


def test_merge_finds_the_cycle_split_across_shards(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(shared=SHARED, shard1=HALF_AB, shard2=HALF_BA)
    assert lockorder(pytester, "run", "--json", "s1.json", "shard1.py").ret == 0
    assert lockorder(pytester, "run", "--json", "s2.json", "shard2.py").ret == 0
    result = lockorder(pytester, "merge", "s1.json", "s2.json", "-o", "merged.json")
    assert result.ret == 0
    data = json.loads((pytester.path / "merged.json").read_text())
    (finding,) = data["findings"]
    assert finding["kind"] == "potential-deadlock"
    assert {lock["site"] for lock in finding["locks"]} == {"shared.py:2", "shared.py:3"}
    assert data["run"]["merged"] == ["s1.json", "s2.json"]
    assert lockorder(pytester, "check", "merged.json").ret == 1


def test_merge_keeps_what_the_runs_suppressed_or_withdrew(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(shared=SHARED, shard1=HALF_AB, shard2=HALF_BA)
    assert lockorder(pytester, "run", "--json", "s1.json", "shard1.py").ret == 0
    assert lockorder(pytester, "run", "--json", "s2.json", "shard2.py").ret == 0
    # the second run also saw A released by another thread than its acquirer
    s2 = json.loads((pytester.path / "s2.json").read_text())
    for cls in s2["graph"]["classes"]:
        cls["signal"] = cls["site"] == "shared.py:2"
    s1 = json.loads((pytester.path / "s1.json").read_text())
    assert s1["findings"] == s2["findings"] == []  # each half alone is clean
    s1["suppressed"] = [{"rule": "ignore: by hand", "finding": _a_finding()}]
    (pytester.path / "s1.json").write_text(json.dumps(s1))
    (pytester.path / "s2.json").write_text(json.dumps(s2))
    assert lockorder(pytester, "merge", "s1.json", "s2.json", "-o", "m.json").ret == 0
    data = json.loads((pytester.path / "m.json").read_text())
    assert data["findings"] == []  # the cycle goes out of A, a signal
    assert [s["rule"] for s in data["suppressed"]] == ["ignore: by hand"]


#: a cycle one thread makes alone (a warning); with an argument, a second thread
#: then makes an edge of it (the error too: the run lists both)
WARNED_THEN_FULL = """
import sys, threading
a = threading.Lock()
b = threading.Lock()

def ab():
    with a:
        with b:
            pass

def ba():
    with b:
        with a:
            pass

ab()
ba()
if sys.argv[1:]:
    t = threading.Thread(target=ab)
    t.start()
    t.join()
"""


def test_merge_and_check_count_a_cycle_warned_of_and_found_in_full_once(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(prog=WARNED_THEN_FULL)
    assert lockorder(pytester, "run", "--json", "w.json", "prog.py").ret == 0
    assert lockorder(pytester, "run", "--json", "e.json", "prog.py", "full").ret == 3
    data = json.loads((pytester.path / "e.json").read_text())
    assert [f["severity"] for f in data["findings"]] == ["error"]
    # the warning the run made first, superseded by the full finding
    assert [(s["rule"], s["finding"]["severity"]) for s in data["suppressed"]] == [
        ("withdrawn: superseded: the same cycle became a full finding", "warning")
    ]
    assert lockorder(pytester, "merge", "w.json", "e.json", "-o", "m.json").ret == 0
    merged = json.loads((pytester.path / "m.json").read_text())
    assert [f["severity"] for f in merged["findings"]] == ["error"]
    assert merged["summary"]["findings"] == 1
    for report in ("m.json", "e.json"):
        result = lockorder(pytester, "check", report, "--fail-on", "warning")
        assert result.ret == 1
        (line,) = result.stdout.lines
        assert line.startswith("NEW ") and " error: potential-deadlock: " in line
        result.stderr.fnmatch_lines(["lockorder check: 1 new finding(s), 0 accepted"])
    assert lockorder(pytester, "baseline", "e.json", "-o", "base.json").ret == 0
    result = lockorder(pytester, "check", "e.json", "--baseline", "base.json")
    assert result.ret == 0
    result.stderr.fnmatch_lines(["lockorder check: 0 new finding(s), 1 accepted"])


@pytest.mark.parametrize(
    ("remove", "missing"),
    [
        (lambda r: r.pop("findings"), "findings"),
        (lambda r: r.pop("graph"), "graph"),
        (lambda r: r["graph"].pop("edges"), "graph.edges"),
        (lambda r: r["graph"].pop("classes"), "graph.classes"),
    ],
)
def test_a_report_without_its_findings_or_graph_is_not_a_report(
    pytester: pytest.Pytester, inversion_report: Path, remove: Any, missing: str
) -> None:
    """Read as empty, it passed the gate: check said 0 new, baseline wrote none."""
    data = json.loads(inversion_report.read_text())
    remove(data)
    inversion_report.write_text(json.dumps(data))
    for args in (["check"], ["report"], ["baseline", "-o", "base.json"], ["merge", "-o", "m.json"]):
        result = lockorder(pytester, args[0], "r.json", *args[1:])
        assert (result.ret, result.stderr.lines) == (
            6,
            [f"lockorder {args[0]}: r.json: not a lockorder report: {missing} is missing"],
        ), args
    assert not (pytester.path / "base.json").exists()


def test_a_summary_the_findings_contradict_is_recounted(
    pytester: pytest.Pytester, inversion_report: Path
) -> None:
    """A finding deleted by hand: every output counts what the report lists."""
    data = json.loads(inversion_report.read_text())
    assert data["summary"]["findings"] == 1
    data["findings"] = []
    inversion_report.write_text(json.dumps(data))
    result = lockorder(pytester, "report", "r.json")
    assert result.ret == 0
    assert result.stdout.lines[0].startswith("lockorder: 0 finding(s) (0 error(s), 0 warning(s))")
    assert lockorder(pytester, "report", "r.json", "--format", "json", "-o", "o.json").ret == 0
    summary = json.loads((pytester.path / "o.json").read_text())["summary"]
    assert summary["findings"] == summary["errors"] == 0 and summary["by_kind"] == {}
    assert summary["classes"] == 2


def test_options_and_inputs_mix_in_any_order(
    pytester: pytest.Pytester, inversion_report: Path
) -> None:
    """As users type them: an input after -o is an input, not an error."""
    result = lockorder(pytester, "merge", "r.json", "-o", "m.json", "r.json")
    assert result.ret == 0, result.stderr.str()
    assert json.loads((pytester.path / "m.json").read_text())["run"]["merged"] == [
        "r.json",
        "r.json",
    ]
    assert lockorder(pytester, "baseline", "-o", "b.json", "r.json").ret == 0
    result = lockorder(pytester, "check", "--baseline", "b.json", "r.json", "--fail-on", "warning")
    assert result.ret == 0, result.stderr.str()
    result = lockorder(pytester, "report", "-o", "out.json", "r.json", "--format", "json")
    assert result.ret == 0, result.stderr.str()
    assert json.loads((pytester.path / "out.json").read_text())["findings"]


def _a_finding() -> dict[str, object]:
    return {
        "kind": "held-at-exit",
        "severity": "warning",
        "message": "thread 'T' ended while holding Lock x.py:1",
        "locks": [{"key": "x.py:1", "site": "x.py:1", "name": None, "kind": "Lock"}],
        "thread": "T",
        "signature": "held-at-exit:x.py:1",
    }


def test_baseline_then_check(pytester: pytest.Pytester, inversion_report: Path) -> None:
    assert lockorder(pytester, "check", "r.json").ret == 1
    assert lockorder(pytester, "baseline", "r.json", "-o", "base.json").ret == 0
    result = lockorder(pytester, "check", "r.json", "--baseline", "base.json")
    assert result.ret == 0
    result.stderr.fnmatch_lines(["lockorder check: 0 new finding(s), 1 accepted"])


def test_fingerprints_survive_lines_shifting_above_the_locks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog=INVERSION)
    lockorder(pytester, "run", "--json", "r1.json", "prog.py")
    assert lockorder(pytester, "baseline", "r1.json", "-o", "base.json").ret == 0
    pytester.makepyfile(prog="# a comment\n# and another\n\n" + INVERSION)
    lockorder(pytester, "run", "--json", "r2.json", "prog.py")
    sites = {
        lock["site"]
        for lock in json.loads((pytester.path / "r2.json").read_text())["findings"][0]["locks"]
    }
    assert sites.isdisjoint({"prog.py:3", "prog.py:4"})  # the lines did move
    assert lockorder(pytester, "check", "r2.json", "--baseline", "base.json").ret == 0


def test_a_changed_lock_line_is_a_new_finding(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog=INVERSION)
    lockorder(pytester, "run", "--json", "r1.json", "prog.py")
    lockorder(pytester, "baseline", "r1.json", "-o", "base.json")
    pytester.makepyfile(prog=INVERSION.replace("a = threading.Lock()", "a = threading.RLock()"))
    lockorder(pytester, "run", "--json", "r2.json", "prog.py")
    result = lockorder(pytester, "check", "r2.json", "--baseline", "base.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["NEW * error: potential-deadlock: *"])


# -- [tool.lockorder] -------------------------------------------------------------------


def test_check_counts_what_the_run_suppressed_by_its_baseline_as_matched(
    pytester: pytest.Pytester,
) -> None:
    """Issue 13.3: a run that applied the baseline leaves those findings under
    'suppressed'; check must count those entries as matched, not stale."""
    pytester.makepyfile(prog=INVERSION)
    lockorder(pytester, "run", "--json", "r1.json", "prog.py")
    lockorder(pytester, "baseline", "r1.json", "-o", "lockorder-baseline.json")
    pytester.makepyprojecttoml('[tool.lockorder]\nbaseline = "lockorder-baseline.json"\n')
    run = lockorder(pytester, "run", "--json", "r2.json", "prog.py")
    assert run.ret == 0
    assert "stale" not in run.stderr.str()
    data = json.loads((pytester.path / "r2.json").read_text())
    assert data["findings"] == [] and len(data["suppressed"]) == 1
    result = lockorder(pytester, "check", "r2.json")
    assert result.ret == 0
    assert "stale" not in result.stderr.str()
    result.stderr.fnmatch_lines(["lockorder check: 0 new finding(s), 1 accepted"])


def test_a_run_that_could_not_have_matched_the_baseline_lists_nothing_stale(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(prog=INVERSION)
    lockorder(pytester, "run", "--json", "r1.json", "prog.py")
    lockorder(pytester, "baseline", "r1.json", "-o", "lockorder-baseline.json")
    pytester.makepyprojecttoml('[tool.lockorder]\nbaseline = "lockorder-baseline.json"\n')
    pytester.makepyfile(other="import threading\nlock = threading.Lock()\nwith lock:\n    pass\n")
    result = lockorder(pytester, "run", "--json", "r3.json", "other.py")
    assert result.ret == 0
    assert "stale" not in result.stderr.str()
    assert json.loads((pytester.path / "r3.json").read_text())["stale_suppressions"] == []
    assert "stale" not in lockorder(pytester, "check", "r3.json").stderr.str()


def test_a_baseline_entry_whose_locks_were_made_without_the_finding_is_stale(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(prog=INVERSION)
    lockorder(pytester, "run", "--json", "r1.json", "prog.py")
    lockorder(pytester, "baseline", "r1.json", "-o", "lockorder-baseline.json")
    entry = json.loads((pytester.path / "lockorder-baseline.json").read_text())["findings"][0]
    assert len(entry["locks"]) == 2
    pytester.makepyprojecttoml('[tool.lockorder]\nbaseline = "lockorder-baseline.json"\n')
    fixed = INVERSION.replace("    with b:\n        with a:", "    with a:\n        with b:")
    assert fixed != INVERSION
    pytester.makepyfile(prog=fixed)  # the same locks, the inversion fixed
    result = lockorder(pytester, "run", "--json", "r4.json", "prog.py")
    stale = f"baseline {entry['fingerprint']} ({entry['message']})"
    result.stderr.fnmatch_lines([f"lockorder: stale suppression, never matched: {stale}"])
    check = lockorder(pytester, "check", "r4.json")
    check.stderr.fnmatch_lines([f"stale: {stale} matched no finding of this report"])
    # a baseline written before entries named their locks: never judged
    old = json.loads((pytester.path / "lockorder-baseline.json").read_text())
    del old["findings"][0]["locks"]
    (pytester.path / "lockorder-baseline.json").write_text(json.dumps(old))
    assert "stale" not in lockorder(pytester, "check", "r4.json").stderr.str()


def test_ignore_rule_and_stale_rules_in_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog=INVERSION)
    pytester.makepyprojecttoml(
        """
        [tool.lockorder]
        ignore = ["site:prog.py:3", "name:never_used"]
        allow = [["prog.py:3", "prog.py:4"]]
        """
    )
    result = lockorder(pytester, "run", "--json", "r.json", "prog.py")
    assert result.ret == 0
    # the pair could have matched (both locks were made; the ignore rule took the
    # finding first); no lock named never_used was made: not judged
    stale = "allow ['prog.py:3', 'prog.py:4']"
    result.stderr.fnmatch_lines(
        [
            "lockorder: 0 finding(s)*",
            "lockorder: 1 finding(s) suppressed by ?tool.lockorder? in *pyproject.toml",
            f"lockorder: stale suppression, never matched: {stale}",
        ]
    )
    assert "never_used" not in result.stderr.str()
    # the count of suppressed findings is told once, with the file of the rules
    assert result.stderr.str().count("suppressed by [tool.lockorder]") == 1
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["suppressed"][0]["rule"] == "ignore 'site:prog.py:3'"
    assert data["stale_suppressions"] == [stale]


def test_a_suppressed_self_deadlock_that_ends_a_thread_is_told(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        prog="import threading, lockorder\n"
        "lock = lockorder.Lock(name='once')\n"
        "def worker():\n"
        "    with lock:\n"
        "        lock.acquire()\n"
        "thread = threading.Thread(target=worker)\n"
        "thread.start()\n"
        "thread.join()\n"
    )
    pytester.makepyprojecttoml('[tool.lockorder]\nignore = ["name:once"]\n')
    result = lockorder(pytester, "run", "--json", "", "prog.py")
    assert result.ret == 0  # the program's own status: its main thread ended well
    result.stderr.fnmatch_lines(
        [
            "Exception in thread *",
            "lockorder: 0 finding(s)*",
            "lockorder: suppressed, but raised all the same *: self-deadlock: thread "
            "'Thread-1 (worker)' acquires once (prog.py:2)*; suppressed by: ignore 'name:once'",
        ]
    )


def test_a_finding_raised_in_a_thread_ends_at_the_program_s_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(prog=INVERSION)
    result = lockorder(pytester, "run", "--mode", "raise", "--json", "", "prog.py")
    err = result.stderr.str()
    assert "Exception in thread" in err, err
    # threading's frames, then the program's: none of lockorder's
    assert not LOCKORDER_FRAME.search(err.split("PotentialDeadlockError")[0]), err
    result.stderr.fnmatch_lines(
        ['  File "*prog.py", line *, in *', "    with *:", "*PotentialDeadlockError: *"]
    )


def test_a_suppressed_self_deadlock_that_ends_the_program_is_told(
    pytester: pytest.Pytester,
) -> None:
    # a self-deadlock raises in every mode (the program would hang): when a rule
    # suppresses it, the summary says it was raised all the same
    pytester.makepyfile(
        prog="import lockorder\n"
        "lock = lockorder.Lock(name='once')\n"
        "with lock:\n"
        "    lock.acquire()\n"
    )
    pytester.makepyprojecttoml('[tool.lockorder]\nignore = ["name:once"]\n')
    result = lockorder(pytester, "run", "--json", "r.json", "prog.py")
    assert result.ret == 1  # the program's own status: it raised
    # the traceback ends at the program's acquire: none of lockorder's frames
    assert not LOCKORDER_FRAME.search(result.stderr.str().split("SelfDeadlockError")[0])
    result.stderr.fnmatch_lines(
        [
            "Traceback (most recent call last):",
            '  File "*prog.py", line 4, in <module>',
            "    lock.acquire()",
            "lockorder.errors.SelfDeadlockError: *",
            "lockorder: 0 finding(s)*",
            "lockorder: 1 finding(s) suppressed by ?tool.lockorder? in *pyproject.toml",
            "lockorder: suppressed, but raised all the same (a self-deadlock or a deadlock "
            "raises in every mode, or the program would hang): self-deadlock: thread "
            "'MainThread' acquires once (prog.py:2)*; suppressed by: ignore 'name:once'",
        ]
    )


def test_allowed_pair(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog=INVERSION)
    pytester.makepyprojecttoml('[tool.lockorder]\nallow = [["prog.py:3", "prog.py:4"]]\n')
    assert lockorder(pytester, "run", "--json", "", "prog.py").ret == 0


def test_declared_order_is_a_finding_before_any_cycle(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        prog="""
        import lockorder
        db = lockorder.Lock(name="db")
        cache = lockorder.Lock(name="cache")
        with cache:
            with db:  # one thread, one order: no cycle, but against the declared order
                pass
        """
    )
    pytester.makepyprojecttoml('[tool.lockorder]\norder = [["db", "cache"]]\n')
    result = lockorder(pytester, "run", "--json", "", "prog.py")
    assert result.ret == 3
    result.stderr.fnmatch_lines(
        ["lockorder ERROR: order-violation: * acquired db (*) while holding cache (*)*"]
    )


def test_declared_order_raises_in_raise_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        prog="""
        import lockorder
        db = lockorder.Lock(name="db")
        cache = lockorder.Lock(name="cache")
        try:
            with cache, db:
                pass
        except lockorder.LockOrderViolation:
            print("raised")
        """
    )
    pytester.makepyprojecttoml('[tool.lockorder]\norder = [["db", "cache"]]\n')
    result = lockorder(pytester, "run", "--mode", "raise", "--json", "", "prog.py")
    result.stdout.fnmatch_lines(["raised"])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('ignore = "x"', "tool.lockorder.ignore must be a list of strings"),
        ('allow = [["a"]]', "tool.lockorder.allow must be a list of pairs"),
        (
            "colour = 1",
            "a key of tool.lockorder must be one of allow, baseline, *(got 'colour' from*",
        ),
        ("ignore = [", "*pyproject.toml is not valid TOML: "),
        ('ignore = ["nmae:cache"]', "tool.lockorder.ignore: unknown prefix 'nmae:'"),
        ('allow = [["kind:x", "a"]]', "tool.lockorder.allow: unknown prefix 'kind:'"),
        ('order = [["db", "sight:a.py:1"]]', "tool.lockorder.order: unknown prefix 'sight:'"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    pytester: pytest.Pytester, table: str, message: str
) -> None:
    pytester.makepyfile(prog="")
    pytester.makepyprojecttoml(f"[tool.lockorder]\n{table}\n")
    result = lockorder(pytester, "run", "--json", "", "prog.py")
    assert result.ret == 2
    result.stderr.fnmatch_lines([f"lockorder run: {message}*"])


def test_plugin_reads_tool_lockorder(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SHARED)
    pytester.makepyfile(
        test_x="""
        import threading
        from conftest import A, B

        def run(f):
            t = threading.Thread(target=f); t.start(); t.join(10)

        def test_ab():
            def f():
                with A, B:
                    pass
            run(f)

        def test_ba():
            def f():
                with B, A:
                    pass
            run(f)
        """
    )
    pytester.makepyprojecttoml(
        '[tool.lockorder]\nallow = [["conftest.py:2", "conftest.py:3"]]\n'
        'ignore = ["name:gone", "kind:long-hold"]\n'
    )
    result = pytester.runpytest_subprocess(
        "--lockorder", "-p", "no:xdist", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "no findings",
            "suppressed by ?tool.lockorder? in *: 1",
            "stale suppression, never matched: ignore 'kind:long-hold'",
        ]
    )
    assert "name:gone" not in result.stdout.str()  # no such lock made: not judged


def test_run_writes_html_and_sarif(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(prog=INVERSION)
    result = lockorder(
        pytester, "run", "--json", "", "--html", "r.html", "--sarif", "r.sarif", "prog.py"
    )
    assert result.ret == 3
    assert "<svg" in (pytester.path / "r.html").read_text()
    sarif = json.loads((pytester.path / "r.sarif").read_text())
    (result_,) = sarif["runs"][0]["results"]
    location = result_["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "prog.py"
