"""The JSON report: round trip and clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lockorder
from lockorder import report
from lockorder._state import checker
from tests.conftest import run_inversion


def _report_with_a_finding() -> dict[str, object]:
    lockorder.configure(mode="record")
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")

    run_inversion(a, b)
    return report.build(
        lockorder.findings(), checker.graph.to_wire(), {"mode": "record"}, {"command": ["x"]}
    )


def test_round_trip_keeps_every_finding(tmp_path: Path) -> None:
    data = _report_with_a_finding()
    path = str(tmp_path / "r.json")
    report.write_json(path, data)
    loaded = report.load(path)
    assert report.findings_of(loaded) == lockorder.findings()
    assert loaded["summary"]["by_kind"] == {"potential-deadlock": 1}
    text = report.format_text(loaded)
    assert text.startswith("lockorder: 1 finding(s) (1 error(s), 0 warning(s))")
    assert "possible scenario" in text


@pytest.mark.parametrize(
    ("content", "problem", "message"),
    [
        ('{"format": "lockorder-report", "version": 1, "findings": [', "corrupt", "truncated JSON"),
        ("{not json}", "corrupt", "corrupt JSON at line 1"),
        ('{"some": "thing"}', "not-a-report", "valid JSON but not a lockorder report"),
        ("[1, 2]", "not-a-report", "not a lockorder report"),
        ('{"format": "lockorder-report", "version": 99}', "version", "schema version 99"),
        (
            '{"format": "lockorder-report", "version": 1, "findings": [{"kind": 1}]}',
            "not-a-report",
            "not a lockorder report: findings[0].severity is missing",
        ),
        (
            '{"format": "lockorder-report", "version": 1, "findings": [], '
            '"suppressed": [{"rule": "x"}]}',
            "not-a-report",
            "not a lockorder report: suppressed[0].finding is missing",
        ),
    ],
)
def test_bad_files_get_one_clear_error(
    tmp_path: Path, content: str, problem: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(report.ReportError) as info:
        report.load(str(path))
    assert info.value.problem == problem
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(report.ReportError, match="cannot read the report"):
        report.load(str(tmp_path / "missing.json"))


def test_written_report_is_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "r.json"
    report.write_json(str(path), _report_with_a_finding())
    data = json.loads(path.read_text())
    edge = data["findings"][0]["cycle"][0]
    assert set(edge) == {
        "from",
        "to",
        "thread",
        "threads",
        "stack",
        "held",
        "held_at",
        "thread_started_at",
        "test",
        "tests",
        "holder",
    }
    assert edge["holder"] == "thread"
    assert not list(path.parent.glob("*.tmp-*"))


def test_dot_marks_signal_classes_and_ordered_edges(tmp_path: Path) -> None:
    from lockorder.report.graphs import write_dot

    graph = {
        "classes": [
            {"key": "a.py:1", "site": "a.py:1", "name": None, "signal": True},
            {"key": "b.py:2", "site": "b.py:2", "name": "b", "signal": False},
        ],
        "edges": [
            {"from": "b.py:2", "to": "a.py:1", "ordered": True, "thread": "t"},
            {"from": "a.py:1", "to": "b.py:2", "thread": "t"},
        ],
    }
    path = tmp_path / "g.dot"
    write_dot(str(path), graph, [])
    lines = path.read_text().splitlines()
    assert '  "a.py:1" [label="a.py:1\\n(signal)", style=dashed];' in lines
    assert '  "b.py:2" [label="b\\nb.py:2"];' in lines
    (ordered,) = [line for line in lines if line.startswith('  "b.py:2" -> "a.py:1"')]
    (plain,) = [line for line in lines if line.startswith('  "a.py:1" -> "b.py:2"')]
    assert "style=dotted" in ordered and "dotted" not in plain
