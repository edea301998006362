"""The lock-order graph: incremental order check against networkx on random graphs."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest

from lockorder._graph import Edge, Evidence, LockGraph, judge

EVIDENCE = Evidence("t", 1, (), (), None)


def _graph(n: int) -> LockGraph:
    graph = LockGraph()
    for i in range(n):
        graph.lock_class(f"c{i}", "f.py", i, "f", None, "Lock")
    return graph


def _edge(src: int, dst: int, thread: int = 1) -> Edge:
    edge = Edge(src, dst, EVIDENCE)
    edge.add_thread(thread, f"t{thread}")
    return edge


@pytest.mark.parametrize("seed", range(20))
def test_cycle_answers_match_networkx(seed: int) -> None:
    """Every edge's answer (closes a cycle or not, and the shortest length) matches networkx."""
    rng = random.Random(seed)
    n = rng.randint(3, 25)
    graph = _graph(n)
    reference = nx.DiGraph()
    reference.add_nodes_from(range(n))
    for _ in range(rng.randint(5, 80)):
        x, y = rng.sample(range(n), 2)
        if reference.has_edge(x, y):
            continue
        expected = nx.has_path(reference, y, x)
        cycle = graph.add_edge(_edge(x, y))
        assert (cycle is not None) == expected
        if cycle is not None:
            assert len(cycle) == nx.shortest_path_length(reference, y, x) + 1
            assert cycle[0].src == x and cycle[0].dst == y and cycle[-1].dst == x
            for first, second in itertools.pairwise(cycle):
                assert first.dst == second.src
        reference.add_edge(x, y)


def test_order_agreeing_edges_need_no_search() -> None:
    graph = _graph(1000)
    for i in range(999):
        assert graph.add_edge(_edge(i, i + 1)) is None
    cycle = graph.add_edge(_edge(999, 0))
    assert cycle is not None and len(cycle) == 1000


def test_judge_levels() -> None:
    graph = _graph(4)
    classes = graph.classes
    one = _edge(0, 1, thread=1)
    two = _edge(1, 0, thread=1)
    assert judge([one, two], classes).level == "single-thread"
    two.add_thread(2, "t2")
    # thread 1 made the whole cycle; thread 2 repeated an edge on locks of its own
    verdict = judge([one, two], classes)
    assert (verdict.level, verdict.private) == ("single-thread", True)
    classes[1].shared = True  # a lock of one class of the cycle was taken by two threads
    assert judge([one, two], classes).private  # the other's never: still one thread
    classes[0].shared = True  # every class: the locks are contended
    assert judge([one, two], classes).level == "full"
    classes[0].shared = classes[1].shared = False
    one.threads.clear()
    one.add_thread(3, "t3")  # no thread made the whole cycle, each on locks of its own
    verdict = judge([one, two], classes)
    assert (verdict.level, verdict.private) == ("single-thread", True)
    classes[0].shared = True
    assert judge([one, two], classes).private
    classes[1].shared = True  # every class has a lock two threads took: lockdep's rule
    assert judge([one, two], classes).level == "full"
    one.gates = frozenset({2})
    two.gates = frozenset({2, 3})
    classes[2].created = 1
    assert judge([one, two], classes).level == "gated"
    classes[2].created = 2  # the gate's class got a second lock: no longer one lock
    assert judge([one, two], classes).level == "full"


def test_instance_edges_are_forgotten_with_their_locks() -> None:
    graph = _graph(1)
    edge = Edge(0, 0, EVIDENCE, instances=(10, 11))
    assert graph.add_instance_edge(edge) is None
    graph.forget_instance(11)
    assert graph.isucc == {10: {}} and graph.ipred == {10: set()}
    back = Edge(0, 0, EVIDENCE, instances=(11, 10))
    assert graph.add_instance_edge(back) is None
