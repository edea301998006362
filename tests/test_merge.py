"""Merging graphs of several runs finds the cycles only their union closes."""

from __future__ import annotations

import contextlib
from typing import Any

import lockorder
from lockorder._merge import merge
from lockorder._state import checker
from tests.conftest import run_inversion, run_threads


def _run(test: str, first: Any, second: Any) -> dict[str, Any]:
    """One 'run': make first -> second during ``test``; return its graph and findings."""
    lockorder.reset()

    def nest() -> None:
        with first, second:
            pass

    with checker.test_context(test):
        run_threads(nest)
    return _snapshot()


def _nest(first: Any, second: Any) -> None:
    with first, second:
        pass


def _snapshot() -> dict[str, Any]:
    """This process's graph and findings, as a run hands them to merge()."""
    return {
        "graph": checker.graph.to_wire(),
        "findings": [f.to_dict() for f in lockorder.findings()],
    }


def test_inversion_split_across_runs_is_found_and_names_both_tests() -> None:
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    one = _run("test_a.py::test_one", a, b)
    two = _run("test_b.py::test_two", b, a)
    assert one["findings"] == [] and two["findings"] == []
    merged = merge([("gw0", one), ("gw1", two)])
    (finding,) = merged.findings
    assert finding.kind == "potential-deadlock" and finding.severity == "error"
    assert {edge.test for edge in finding.cycle} == {"test_a.py::test_one", "test_b.py::test_two"}
    assert {edge.thread.split(":")[0] for edge in finding.cycle} == {"gw0", "gw1"}
    assert finding.test in {"test_a.py::test_one", "test_b.py::test_two"}
    assert len(merged.graph["edges"]) == 2


def test_same_thread_name_in_two_processes_is_two_threads() -> None:
    """MainThread of worker 0 and MainThread of worker 1 are different threads."""
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    lockorder.configure(mode="record")
    lockorder.reset()
    with a, b:
        pass
    one = {"graph": checker.graph.to_wire(), "findings": []}
    two = {"graph": checker.graph.to_wire(), "findings": []}
    for edge in two["graph"]["edges"]:
        edge["from"], edge["to"] = edge["to"], edge["from"]
        edge["thread_ids"] = ["99999-1"]
    (finding,) = merge([("gw0", one), ("gw1", two)]).findings
    assert not finding.single_thread


def test_the_main_threads_of_merged_runs_are_named_as_one_thread() -> None:
    """Each run's main thread is one thread in a merge (as in one run without
    xdist), and the reason says so rather than naming the first run's only."""
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    lockorder.configure(mode="record")
    lockorder.reset()
    with a, b:  # this process's main thread
        pass
    one = {"graph": checker.graph.to_wire(), "findings": []}
    two = {"graph": checker.graph.to_wire(), "findings": []}
    for edge in two["graph"]["edges"]:
        edge["from"], edge["to"] = edge["to"], edge["from"]
    (finding,) = merge([("h1.json", one), ("h2.json", two)]).findings
    assert finding.single_thread and finding.severity == "warning"
    assert finding.reason.startswith(
        "every edge was made by the main threads of h1.json and h2.json, counted as one "
        "thread, alone (seen in one thread only)"
    )
    assert [edge.thread for edge in finding.cycle] == ["h1.json:MainThread", "h2.json:MainThread"]


def test_a_class_whose_locks_threads_of_two_runs_took_counts_as_shared() -> None:
    """Each worker's one thread took the module's locks: neither run saw a lock
    taken by two threads, but in one process they would have been the same locks.
    The cycle only the union closes is full; a run's own cycle made by two threads
    each on objects of its own stays a warning."""
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    one = _run("test_a.py::test_one", a, b)
    two = _run("test_b.py::test_two", b, a)
    for run in (one, two):
        for cls in run["graph"]["classes"]:
            cls["shared"] = False
    (finding,) = merge([("gw0", one), ("gw1", two)]).findings
    assert finding.severity == "error" and not finding.single_thread

    lockorder.reset()
    lockorder.configure(mode="record")
    sessions = [(lockorder.Lock(name="send"), lockorder.Lock(name="recv")) for _ in range(2)]
    run_threads(lambda: _nest(*sessions[0]), lambda: _nest(*reversed(sessions[1])))
    own = _snapshot()
    (warning,) = own["findings"]
    assert warning["severity"] == "warning"
    lockorder.reset()
    merged = merge([("gw0", own), ("gw1", _snapshot())])
    assert [f.severity for f in merged.findings] == ["warning"]


def test_common_single_gate_across_runs_makes_it_safe() -> None:
    gate = lockorder.Lock(name="merge-gate")
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")

    class Gated:
        def __init__(self, lock: Any) -> None:
            self.lock = lock

        def __enter__(self) -> None:
            gate.acquire()
            self.lock.acquire()

        def __exit__(self, *exc: object) -> None:
            self.lock.release()
            gate.release()

    one = _run("t1", Gated(a), b)
    two = _run("t2", Gated(b), a)
    assert merge([("gw0", one), ("gw1", two)]).findings == []


def test_findings_of_each_run_are_kept_once() -> None:
    lockorder.configure(mode="record")
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    lockorder.reset()

    run_inversion(a, b)
    run = _snapshot()
    merged = merge([("r1", run), ("r2", run)])
    assert len(merged.findings) == 1


def test_ordered_acquisitions_across_runs_stay_safe() -> None:
    """Edges made only inside lockorder.acquire() keep their mark through a merge."""
    lockorder.configure(mode="record")
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    one = _run("t1", lockorder.acquire(a, b), contextlib.nullcontext())
    edges = [e for e in one["graph"]["edges"] if e["from"] == "A" and e["to"] == "B"]
    assert edges and edges[0]["ordered"] is True
    two = {"graph": dict(one["graph"]), "findings": []}
    two["graph"]["edges"] = [dict(edges[0], **{"from": "B", "to": "A"})]
    assert merge([("gw0", one), ("gw1", two)]).findings == []
    two["graph"]["edges"] = [dict(edges[0], **{"from": "B", "to": "A", "ordered": False})]
    (finding,) = merge([("gw0", one), ("gw1", two)]).findings
    assert finding.kind == "potential-deadlock"


def test_a_signal_learned_by_one_run_withdraws_another_runs_cycle() -> None:
    lockorder.configure(mode="record")
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    lockorder.reset()

    run_inversion(a, b)
    one = _snapshot()
    assert [f["kind"] for f in one["findings"]] == ["potential-deadlock"]
    two = {"graph": checker.graph.to_wire(), "findings": []}
    two["graph"]["edges"] = []
    for cls in two["graph"]["classes"]:
        cls["signal"] = cls["key"] == "B"  # the other run saw B released by another thread
    merged = merge([("gw0", one), ("gw1", two)])
    assert merged.findings == []
    assert [f.kind for f in merged.withdrawn] == ["potential-deadlock"]


def _warned_then_full(test_one: str, test_two: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two runs of one cycle: one thread alone made it (a warning), then one
    where a second thread made an edge of it (an error)."""
    lockorder.configure(mode="record", single_thread="report")
    a = lockorder.Lock(name="A")
    b = lockorder.Lock(name="B")
    lockorder.reset()
    with checker.test_context(test_one):
        _nest(a, b)
        _nest(b, a)
    warned = _snapshot()
    lockorder.reset()
    with checker.test_context(test_two):
        _nest(a, b)
        _nest(b, a)
        run_threads(lambda: _nest(a, b))
    full = _snapshot()
    warned["findings"] = [f for f in warned["findings"] if f["severity"] == "warning"]
    full["findings"] = [f for f in full["findings"] if f["severity"] == "error"]
    assert [f["severity"] for f in warned["findings"]] == ["warning"]
    assert [f["severity"] for f in full["findings"]] == ["error"]
    return warned, full


def test_a_cycle_one_run_warned_of_and_another_found_in_full_is_one_error() -> None:
    warned, full = _warned_then_full("t.py::test_one", "t.py::test_two")
    for sources in ([("w", warned), ("e", full)], [("e", full), ("w", warned)]):
        (finding,) = merge(sources).findings
        # the error with its own evidence, and the tests of both runs
        assert finding.severity == "error" and finding.signature.endswith(":full")
        assert finding.reason == full["findings"][0]["reason"]
        assert {test for edge in finding.cycle for test in edge.tests} == {
            "t.py::test_one",
            "t.py::test_two",
        }


def test_a_confirmed_finding_wins_the_merge_with_its_confirmation() -> None:
    warned, full = _warned_then_full("t.py::test_one", "t.py::test_one")
    confirmation = {"status": "confirmed", "reason": "it deadlocked", "attempts": 1}
    # a steered rerun confirmed the first run's cycle: an error since
    warned["findings"][0] = dict(warned["findings"][0], severity="error", confirmation=confirmation)
    (finding,) = merge([("e", full), ("w", warned)]).findings
    assert finding.confirmation == confirmation


def test_a_union_that_finds_in_full_what_a_run_warned_of_is_one_error() -> None:
    """The run's warning and the union's error of one cycle are one finding."""
    warned, full = _warned_then_full("t.py::test_one", "t.py::test_two")
    full["findings"] = []
    (finding,) = merge([("w", warned), ("e", full)]).findings
    assert finding.severity == "error"
