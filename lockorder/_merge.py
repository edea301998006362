"""Merging the lock-order graphs of several runs: pytest-xdist workers, or report files.

Lock classes are code sites (or names), which mean the same in every process, so
the merge is a union of classes and edges by class key. Each edge keeps the union
of its evidence: threads (kept distinct per process), tests, and the gate classes
common to every run that made it. The cycle analysis then runs over the union, so
"test A on one worker made A -> B, test B on another made B -> A" is a finding.

Everything here takes and returns builtin types (the wire form of
:meth:`LockGraph.to_wire` and the report's findings), plus :class:`Finding`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lockorder._analysis import cycle_finding, cycle_signature
from lockorder._findings import WITHDRAWN_PREFIX, Finding
from lockorder._graph import EVIDENCE_LIMIT, MERGED_MAIN, Edge, Evidence, LockGraph, judge
from lockorder._sites import Frame

__all__ = ["Merged", "merge"]

#: the rule under which a report lists a run's finding that the merge withdrew
WITHDRAWN_RULE = (
    f"{WITHDRAWN_PREFIX} a lock class of its cycle is used as a signal (released by "
    "another thread than its acquirer, seen by another run)"
)


@dataclass
class Merged:
    """The union of several runs."""

    graph: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    #: runs' potential deadlocks through a class another run learned is a signal
    withdrawn: list[Finding] = field(default_factory=list)


def _frame(data: Any) -> Frame | None:
    """A wire frame ``[file, line, function]``, or None."""
    return None if data is None else Frame(str(data[0]), int(data[1]), str(data[2]))


def _merged_id(origin: str, tid: str) -> str:
    """A thread's identity in the merge: every process's main thread is one thread
    ("main"), as in a run without xdist; the others stay apart per run."""
    if tid == MERGED_MAIN:
        return tid
    return f"{origin}:{tid}" if origin else tid


def _edge_from_wire(graph: LockGraph, origin: str, data: dict[str, Any]) -> Edge:
    prefix = f"{origin}:" if origin else ""
    names = list(data.get("threads", ())) or [data.get("thread", "?")]
    ids = list(data.get("thread_ids", ())) or names
    edge = Edge(
        graph.by_key[data["from"]].cid,
        graph.by_key[data["to"]].cid,
        Evidence(
            prefix + str(data.get("thread", "?")),
            0,
            tuple(Frame(str(f), int(n), str(fn)) for f, n, fn in data.get("stack", ())),
            tuple(data.get("held", ())),
            data.get("test"),
            tuple(_frame(at) for at in data.get("held_at", ())),
            tuple(f for f in map(_frame, data.get("thread_started_at") or ()) if f is not None),
            "task" if data.get("holder") == "task" else "thread",
        ),
        gates=frozenset(
            graph.by_key[key].cid for key in data.get("gates", ()) if key in graph.by_key
        ),
        ordered=bool(data.get("ordered", False)),
    )
    for tid, name in zip(ids, names, strict=False):
        edge.threads[_merged_id(origin, tid)] = prefix + name
    edge.nthreads = max(int(data.get("thread_count", len(edge.threads))), len(edge.threads))
    for test in data.get("tests", ()) or ([data["test"]] if data.get("test") else []):
        edge.add_test(test)
    return edge


def _absorb(edge: Edge, other: Edge) -> None:
    """Add another run's evidence of the same edge."""
    for tid, name in other.threads.items():
        if tid not in edge.threads and len(edge.threads) < 16:
            edge.threads[tid] = name
    edge.nthreads += other.nthreads
    edge.gates &= other.gates
    edge.ordered = edge.ordered and other.ordered
    for test in other.tests:
        edge.add_test(test)


def merge(sources: list[tuple[str, dict[str, Any]]], single_thread: str = "report") -> Merged:
    """Merge runs, each ``(origin, {"graph": wire graph, "findings": [finding dicts]})``.

    ``origin`` (a worker id or a file name; may be empty) qualifies thread names so
    threads of different runs stay distinct. Returns the merged wire graph and the
    findings: every run's own, plus the cycles that only the union closes, one per
    finding (:func:`_identity`): where runs (or the union) judged one cycle
    differently, the most severe verdict with its own evidence (:func:`_stronger`),
    and the tests of every run on its edges.
    """
    graph = LockGraph()
    for _, data in sources:
        for cls in data.get("graph", {}).get("classes", ()):
            via = cls.get("via")
            lock_class = graph.lock_class(
                cls["key"],
                cls["file"],
                cls["line"],
                cls["function"],
                cls["name"],
                cls["kind"],
                Frame(via["file"], via["line"], via["function"]) if via else None,
            )
            lock_class.created = max(lock_class.created, int(cls.get("created", 0)))
            lock_class.signal = lock_class.signal or bool(cls.get("signal", False))
            # reports older than the "shared" mark: every class counts as shared
            lock_class.shared = lock_class.shared or bool(cls.get("shared", True))
    edges: dict[tuple[str, str], Edge] = {}
    loops: list[dict[str, Any]] = []
    #: class key -> (run, thread) of each thread that made an edge into or out of it
    takers: dict[str, set[tuple[int, str]]] = {}
    for run, (origin, data) in enumerate(sources):
        for wire in data.get("graph", {}).get("edges", ()):
            for tid in wire.get("thread_ids", ()) or wire.get("threads", ()):
                taker = (run, _merged_id(origin, str(tid)))
                takers.setdefault(wire["from"], set()).add(taker)
                takers.setdefault(wire["to"], set()).add(taker)
            if wire["from"] == wire["to"]:
                # two locks of one class: instances belong to one process
                loops.append(wire)
                continue
            edge = _edge_from_wire(graph, origin, wire)
            known = edges.get((wire["from"], wire["to"]))
            if known is None:
                edges[(wire["from"], wire["to"])] = edge
            else:
                _absorb(known, edge)
    # Each run knows which of its classes two of its threads took a lock of. Across
    # runs the locks cannot be told apart (a module-level lock is one lock in a run
    # without xdist): a class whose locks threads of two runs took counts as shared
    for key, took in takers.items():
        taken = graph.by_key.get(key)
        if taken is not None and len({run for run, _ in took}) >= 2:
            taken.shared = taken.shared or len({tid for _, tid in took}) >= 2

    #: identity -> the finding kept for it (first seen first: oldest first)
    kept: dict[str, Finding] = {}
    for _, data in sources:
        for item in data.get("findings", ()):
            _keep(kept, item if isinstance(item, Finding) else Finding.from_dict(item))

    for edge in edges.values():
        cycle = graph.add_edge(edge)
        if not cycle:
            continue
        signature = cycle_signature(cycle, graph.classes)
        verdict = judge(cycle, graph.classes)
        if verdict.level in ("gated", "ordered", "signal") or (
            verdict.level == "single-thread" and single_thread == "ignore"
        ):
            continue
        single = verdict.level == "single-thread"
        level = "single-thread" if single and single_thread == "report" else "full"
        found = kept.get(signature)
        if found is not None and (found.severity == "error" or level == "single-thread"):
            continue  # a run's finding says as much or more
        _keep(
            kept,
            cycle_finding(
                cycle,
                graph.classes,
                found_in=edge.first.thread,
                single=single,
                policy=single_thread,
                private=verdict.private,
                test=edge.first.test,
                signature=f"{signature}:{level}",
            ),
        )
    findings: list[Finding] = []
    withdrawn: list[Finding] = []
    for finding in kept.values():
        if _through_signal(finding, graph):
            withdrawn.append(finding)  # another run learned the signal
        else:
            findings.append(finding)
    wire = graph.to_wire()
    seen_loops = set()
    for loop in loops:
        if loop["from"] not in seen_loops:
            seen_loops.add(loop["from"])
            wire["edges"].append(loop)
    return Merged(graph=wire, findings=findings, withdrawn=withdrawn)


def _through_signal(finding: Finding, graph: LockGraph) -> bool:
    """A potential deadlock with an edge out of a class some run learned is a signal."""
    if finding.kind != "potential-deadlock":
        return False
    for edge in finding.cycle:
        cls = graph.by_key.get(edge.src.key)
        if cls is not None and cls.signal:
            return True
    return False


#: how a potential deadlock's signature ends: the level it was judged at
_LEVELS = (":full", ":single-thread")


def _identity(finding: Finding) -> str:
    """What makes two runs' findings one: the signature, less a potential
    deadlock's level (one run's warning and another's error of a cycle are one
    cycle)."""
    signature = finding.signature or f"{finding.kind}:{finding.message}"
    if finding.kind == "potential-deadlock":
        for level in _LEVELS:
            if signature.endswith(level):
                return signature[: -len(level)]
    return signature


def _rank(finding: Finding) -> tuple[bool, bool]:
    """Confirmed first (a confirmed finding is an error), then errors."""
    confirmed = (finding.confirmation or {}).get("status") == "confirmed"
    return confirmed, finding.severity == "error"


def _stronger(known: Finding, other: Finding) -> Finding:
    """One finding of two runs' findings of one identity: the most severe (the
    first on a tie) with its own evidence (thread, reason, stacks, confirmation:
    they explain its verdict), and on each cycle edge the tests of both."""
    best, rest = (other, known) if _rank(other) > _rank(known) else (known, other)
    tests: dict[tuple[str, str], list[str]] = {}
    for edge in rest.cycle:
        tests.setdefault((edge.src.key, edge.dst.key), []).extend(edge.tests)
    if not tests:
        return best
    cycle = []
    for edge in best.cycle:
        union = dict.fromkeys(edge.tests)
        for test in tests.get((edge.src.key, edge.dst.key), ()):
            if len(union) >= EVIDENCE_LIMIT:
                break
            union.setdefault(test)
        cycle.append(replace(edge, tests=tuple(union)))
    return replace(best, cycle=tuple(cycle))


def _keep(kept: dict[str, Finding], finding: Finding) -> None:
    identity = _identity(finding)
    known = kept.get(identity)
    kept[identity] = finding if known is None else _stronger(known, finding)
