"""SARIF output: valid against the OASIS SARIF 2.1.0 schema, placed at the line
that closed the cycle, with the other edges and the locks' creation sites as
related locations."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import lockorder
from lockorder import report
from lockorder._findings import Finding, LockRef
from lockorder._sites import Frame
from lockorder._state import checker
from lockorder.report.sarif import FINGERPRINT_KEY, SARIF_SCHEMA, to_sarif
from tests.conftest import TIMEOUT

REPO = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve()
THIS_URI = THIS.relative_to(REPO).as_posix()
SCHEMA_PATH = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports and SARIF paths are relative to the working directory: the repository."""
    monkeypatch.chdir(REPO)


def _line(marker: str) -> int:
    """The line of this file that ends with ``marker`` (a comment)."""
    lines = THIS.read_text(encoding="utf-8").splitlines()
    found = [n for n, text in enumerate(lines, 1) if text.rstrip().endswith(marker)]
    assert len(found) == 1, (marker, found)
    return found[0]


def _run(target: Any, name: str) -> None:
    thread = threading.Thread(target=target, name=name)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), f"{name} did not finish within {TIMEOUT} s"


def _inversion() -> None:
    # names unique in the test session: a named lock's class (and creation site) is
    # the first lock of that name the process made
    lockorder.configure(mode="record")
    a = lockorder.Lock(name="sarif-A")  # creates A
    b = lockorder.Lock(name="sarif-B")  # creates B

    def ab() -> None:
        with a:  # t1 takes A
            with b:  # edge 1
                pass

    def ba() -> None:
        with b:  # t2 takes B
            with a:  # closes the cycle
                pass

    _run(ab, "t1")
    _run(ba, "t2")


def _release_elsewhere() -> None:
    lockorder.configure(mode="record")
    c = lockorder.Lock()  # creates C
    c.acquire()

    def release() -> None:
        c.release()  # releases C

    _run(release, "releaser")


def _report(tmp_path: Path, name: str) -> dict[str, Any]:
    """The report of what was found so far, written and read back as a file."""
    data = report.build(
        lockorder.findings(), checker.graph.to_wire(), {"mode": "record"}, {"command": ["x"]}
    )
    path = str(tmp_path / name)
    report.write_json(path, data)
    return report.load(path)


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    # the OASIS Errata 01 schema is a draft-04 schema
    assert cls is jsonschema.Draft4Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _assert_valid(log: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    for result in log["runs"][0]["results"]:
        _assert_sound(result)


def _physical_locations(result: dict[str, Any]) -> list[dict[str, Any]]:
    found = [loc["physicalLocation"] for loc in result["locations"]]
    found += [loc["physicalLocation"] for loc in result.get("relatedLocations", ())]
    for flow in result.get("codeFlows", ()):
        for thread_flow in flow["threadFlows"]:
            found += [step["location"]["physicalLocation"] for step in thread_flow["locations"]]
    return found


def _assert_sound(result: dict[str, Any]) -> None:
    """What the schema cannot say: links resolve, URIs are well formed, lines >= 1."""
    ids = [loc["id"] for loc in result.get("relatedLocations", ())]
    assert len(ids) == len(set(ids))
    for link in re.findall(r"(?<!\\)\]\((\d+)\)", result["message"]["text"]):
        assert int(link) in ids
    for physical in _physical_locations(result):
        artifact = physical["artifactLocation"]
        assert physical["region"]["startLine"] >= 1
        assert "\\" not in artifact["uri"]
        if "uriBaseId" in artifact:
            assert artifact["uriBaseId"] == "%SRCROOT%"
            assert not artifact["uri"].startswith(("/", "file:"))
        else:
            assert artifact["uri"].startswith("file:///")


def _only(results: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    found = [r for r in results if r["ruleId"] == rule]
    assert len(found) == 1, [r["ruleId"] for r in results]
    return found[0]


def _where(location: dict[str, Any]) -> tuple[str, str | None, int]:
    physical = location["physicalLocation"]
    artifact = physical["artifactLocation"]
    return artifact["uri"], artifact.get("uriBaseId"), physical["region"]["startLine"]


def test_findings_become_valid_sarif_at_the_closing_line(tmp_path: Path) -> None:
    _inversion()
    _release_elsewhere()
    data = _report(tmp_path, "r.json")
    log = to_sarif(data)
    _assert_valid(log)

    assert log["$schema"] == SARIF_SCHEMA
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "lockorder"
    assert driver["version"] == data["tool"]["version"] == lockorder.__version__
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert list(rules) == ["potential-deadlock", "release-not-held"]
    assert rules["potential-deadlock"]["defaultConfiguration"]["level"] == "error"
    assert rules["release-not-held"]["defaultConfiguration"]["level"] == "warning"
    short = rules["potential-deadlock"]["shortDescription"]["text"]
    assert short.lower().startswith(lockorder.KINDS["potential-deadlock"].lower())
    for rule in rules.values():
        assert rule["fullDescription"]["text"] and rule["help"]["text"]

    results = run["results"]
    assert len(results) == 2
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]

    # the potential deadlock: at the `with a:` that thread t2 made while holding B
    cycle = _only(results, "potential-deadlock")
    assert cycle["level"] == "error"
    (primary,) = cycle["locations"]
    assert _where(primary) == (THIS_URI, "%SRCROOT%", _line("# closes the cycle"))
    assert "edge 2" in primary["message"]["text"]
    related = {_where(loc): loc["message"]["text"] for loc in cycle["relatedLocations"]}
    edge_1 = related[(THIS_URI, "%SRCROOT%", _line("# edge 1"))]
    assert edge_1.startswith("edge 1: sarif-A (")
    assert "held while acquiring sarif-B (" in edge_1 and "thread 't1'" in edge_1
    assert related[(THIS_URI, "%SRCROOT%", _line("# creates A"))].startswith("lock 'sarif-A'")
    assert related[(THIS_URI, "%SRCROOT%", _line("# creates B"))].startswith("lock 'sarif-B'")
    # where each edge's held lock was acquired (issue 13.1)
    assert related[(THIS_URI, "%SRCROOT%", _line("# t1 takes A"))].startswith("edge 1: sarif-A (")
    assert (
        "acquired here, held while acquiring sarif-B"
        in related[(THIS_URI, "%SRCROOT%", _line("# t1 takes A"))]
    )
    assert related[(THIS_URI, "%SRCROOT%", _line("# t2 takes B"))].startswith("edge 2: sarif-B (")
    assert len(related) == 5
    assert "The held locks were acquired at [sarif-A (" in cycle["message"]["text"]
    finding = report.findings_of(data)[0]
    assert cycle["message"]["text"].startswith(finding.message)
    assert finding.reason in cycle["message"]["text"]
    assert "[edge 1](1)" in cycle["message"]["text"]
    assert cycle["properties"]["threads"] == ["t2", "t1"]
    assert cycle["properties"]["tests"] == []
    flows = cycle["codeFlows"][0]["threadFlows"]
    assert len(flows) == 2
    assert _where(flows[-1]["locations"][-1]["location"]) == _where(primary)
    fingerprint = cycle["partialFingerprints"][FINGERPRINT_KEY]
    assert re.fullmatch(r"[0-9a-f]{24}", fingerprint)

    # the release by another thread: a warning at the release, the lock's site related
    release = _only(results, "release-not-held")
    assert release["level"] == "warning"
    assert _where(release["locations"][0]) == (THIS_URI, "%SRCROOT%", _line("# releases C"))
    (created,) = release["relatedLocations"]
    assert _where(created) == (THIS_URI, "%SRCROOT%", _line("# creates C"))
    assert release["partialFingerprints"][FINGERPRINT_KEY] != fingerprint


def test_fingerprints_and_locations_are_stable_across_runs(tmp_path: Path) -> None:
    seen = []
    for number in range(2):
        lockorder.reset()
        _inversion()
        log = to_sarif(_report(tmp_path, f"r{number}.json"))
        _assert_valid(log)
        result = _only(log["runs"][0]["results"], "potential-deadlock")
        seen.append(
            (
                result["partialFingerprints"],
                [_where(loc) for loc in result["locations"]],
                [_where(loc) for loc in result["relatedLocations"]],
            )
        )
    assert seen[0] == seen[1]
    assert FINGERPRINT_KEY in seen[0][0]


def test_user_code_preferred_and_lock_site_as_last_resort(tmp_path: Path) -> None:
    stdlib = threading.__file__
    user = Frame(str(THIS), _line("# a user frame"), "caller")  # a user frame
    lock = LockRef(
        key=f"{THIS}:{_line('# creates C')}",
        site=f"{THIS_URI}:{_line('# creates C')}",
        name=None,
        kind="Lock",
        function="_release_elsewhere",
    )
    waiting = Finding(
        kind="wait-while-holding",
        severity="warning",
        message="thread 'MainThread' waited on Event.wait() while holding a Lock",
        locks=(lock,),
        thread="MainThread",
        stack=(Frame("<string>", 1, "<module>"), user, Frame(stdlib, 600, "Event.wait")),
        reason="no timeout",
        test="tests/test_x.py::test_y",
    )
    slots = LockRef(
        key="slots[0]",
        site=f"{THIS_URI}:{_line('# creates A')}",
        name="slots[0]",
        kind="RLock",
    )
    leaked = Finding(
        kind="held-at-exit",
        severity="warning",
        message="thread 'worker' ended holding two locks",
        locks=(lock, slots),
        thread="worker",
    )
    data = report.build([waiting, leaked], {"classes": [], "edges": []}, {"mode": "record"})
    log = to_sarif(data)
    _assert_valid(log)
    results = log["runs"][0]["results"]

    # the innermost frame is threading's: the user frame below it is preferred
    wait = _only(results, "wait-while-holding")
    assert _where(wait["locations"][0]) == (THIS_URI, "%SRCROOT%", user.lineno)
    assert wait["properties"]["tests"] == ["tests/test_x.py::test_y"]
    (flow,) = wait["codeFlows"][0]["threadFlows"]
    steps = [_where(step["location"]) for step in flow["locations"]]
    assert steps == [
        (THIS_URI, "%SRCROOT%", user.lineno),
        (Path(os.path.normpath(stdlib)).as_uri(), None, 600),
    ]

    # no stack at all: the lock's creation site
    exit_result = _only(results, "held-at-exit")
    assert _where(exit_result["locations"][0]) == (THIS_URI, "%SRCROOT%", _line("# creates C"))
    # brackets in a link's text are escaped (SARIF 3.11.6)
    assert exit_result["message"]["text"].endswith(" and [slots\\[0\\]](2).")


def test_a_report_without_findings_is_a_valid_empty_run(tmp_path: Path) -> None:
    log = to_sarif(_report(tmp_path, "empty.json"))
    _assert_valid(log)
    (run,) = log["runs"]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []


def test_suppressed_and_withdrawn_findings_are_suppressed_results(tmp_path: Path) -> None:
    data = _report(tmp_path, "empty.json")
    held = {
        "kind": "held-at-exit",
        "severity": "warning",
        "message": "thread 'T' ended while holding Lock app.py:1",
        "locks": [{"key": "app.py:1", "site": "app.py:1", "name": None, "kind": "Lock"}],
        "thread": "T",
        "signature": "held-at-exit:app.py:1",
    }
    data["suppressed"] = [
        {"rule": "ignore 'site:app.py:*'", "finding": held},
        {"rule": "withdrawn: Lock app.py:1 is used as a signal", "finding": held},
    ]
    log = to_sarif(data)
    _assert_valid(log)
    (run,) = log["runs"]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["held-at-exit"]
    justifications = [r["suppressions"][0]["justification"] for r in run["results"]]
    assert justifications == [
        "ignore 'site:app.py:*'",
        "withdrawn: Lock app.py:1 is used as a signal",
    ]
    assert all(r["suppressions"][0]["kind"] == "external" for r in run["results"])
