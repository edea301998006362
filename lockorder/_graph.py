"""The lock-order graph: lock classes, edges with their evidence, the cycle check.

Pure data structure: the caller (the tracker) holds its internal mutex around
every call. No networkx here: the live check runs inside ``acquire()`` and must
not import a large package or allocate much; :func:`to_networkx` builds the
networkx view for analysis and export.

The cycle question ("does a path lead back from the new lock to the held one?")
is answered by an incremental topological order (Pearce and Kelly, "A dynamic
topological sort algorithm for directed acyclic graphs", 2006), as Abseil's
GraphCycles does: an edge that agrees with the current order costs O(1); only
an edge against it searches, and only the region between its two ends. Edges
that close a cycle are kept outside that order ("back edges"); once there is
one, a new edge also gets a breadth-first search, which gives the shortest
cycle.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lockorder._findings import lock_label
from lockorder._sites import Frame, relpath

__all__ = ["Edge", "Evidence", "LockClass", "LockGraph", "Verdict", "taken_lines"]

_NO_EDGES: dict[int, Edge] = {}

#: distinct threads and tests remembered per edge
EVIDENCE_LIMIT = 16

#: acquire sites remembered per lock class, and threads per site
TAKEN_AT_LIMIT = 8
TAKERS_LIMIT = 4
#: acquires of a lock class a wait-while-holding warning names that take the
#: slow path, to note the lines that take it, at most (a few µs each)
WATCH_LIMIT = 100_000


class LockClass:
    """All locks created at one site, or sharing one ``name``."""

    __slots__ = (
        "cid",
        "created",
        "filename",
        "function",
        "key",
        "kind",
        "lineno",
        "name",
        "shared",
        "signal",
        "taken_at",
        "watch_takes",
        "wrapper",
    )

    def __init__(
        self,
        cid: int,
        key: str,
        filename: str,
        lineno: int,
        function: str,
        name: str | None,
        kind: str,
    ) -> None:
        self.cid = cid
        self.key = key
        self.filename = filename
        self.lineno = lineno
        self.function = function
        self.name = name
        self.kind = kind
        #: the line of a lock wrapper that made this class's locks for the site
        #: (see _sites.find_site), if one did
        self.wrapper: Frame | None = None
        #: where its locks were taken (blocking), the first TAKEN_AT_LIMIT code
        #: lines, each with the first TAKERS_LIMIT threads seen there: noted at
        #: each thread's first acquire of the class and on every new chain, never
        #: on the steady state
        self.taken_at: dict[Frame, list[str]] = {}
        #: a wait-while-holding warning names it: its acquires are never a known
        #: chain, so each line that takes it is noted, until taken_at is full or
        #: this many more acquires were seen (0: not watched)
        self.watch_takes = 0
        #: learned or declared: a lock of this class is used as a signal (released
        #: by a thread other than the one that acquired it)
        self.signal = False
        #: a lock of this class was acquired by two threads: its class's cycles
        #: can involve locks that threads contend for
        self.shared = False
        #: locks made in this class so far; a class made once is a single lock,
        #: the only kind of gate lockorder credits
        self.created = 0

    @property
    def site(self) -> str:
        return f"{relpath(self.filename)}:{self.lineno}"

    @property
    def via(self) -> str:
        """The wrapper's line as reports show it, or ""."""
        return "" if self.wrapper is None else f"{relpath(self.wrapper[0])}:{self.wrapper[1]}"

    @property
    def label(self) -> str:
        return lock_label(self.name, self.kind, self.site, self.via)

    def __repr__(self) -> str:
        return f"<LockClass {self.label}>"


class Evidence(NamedTuple):
    """Who made an edge first, and how."""

    thread: str
    thread_serial: int
    stack: tuple[Frame, ...]
    #: labels of the locks held when the edge was made, outermost first
    held: tuple[str, ...]
    test: str | None
    #: where each of those was acquired (None where not known), in that order
    held_at: tuple[Frame | None, ...] = ()
    #: the program's lines that started the thread (start() and its callers)
    started_at: tuple[Frame, ...] = ()
    #: what made it: a "thread", or an asyncio "task"
    holder: str = "thread"


@dataclass
class Edge:
    """``src`` was held while ``dst`` was acquired (blocking)."""

    src: int
    dst: int
    first: Evidence
    #: thread serial (or, merged, a thread id string) -> name, for the first
    #: EVIDENCE_LIMIT threads that made it
    threads: dict[Any, str] = field(default_factory=dict)
    nthreads: int = 0
    #: classes of single locks held (below src) every time this edge was made:
    #: a common "gate" around every edge of a cycle makes the cycle safe
    gates: frozenset[int] = frozenset()
    #: tests during which the edge was made (first EVIDENCE_LIMIT)
    tests: dict[str, None] = field(default_factory=dict)
    #: for instance-level edges (two locks of one class): the instances' serials
    instances: tuple[int, int] | None = None
    #: every making of this edge took both locks in one ordered acquisition
    #: (lockorder.acquire(), concurrent.futures.wait()), whose own global order
    #: over instances keeps it safe
    ordered: bool = False

    def add_thread(self, serial: Any, name: str) -> bool:
        """Record that thread ``serial`` made this edge; True if it is new."""
        if serial in self.threads:
            return False
        self.nthreads += 1
        if len(self.threads) < EVIDENCE_LIMIT:
            self.threads[serial] = name
        return True

    def add_test(self, test: str | None) -> None:
        if test is not None and test not in self.tests and len(self.tests) < EVIDENCE_LIMIT:
            self.tests[test] = None


class Verdict(NamedTuple):
    """How a cycle counts."""

    #: "full", "single-thread", "gated", "ordered" or "signal"
    level: str
    threads: tuple[str, ...]
    gates: frozenset[int]
    #: single-thread although several threads made its edges: no lock of the
    #: cycle's classes was ever acquired by two threads
    private: bool = False


#: a merged run's identity of every process's main thread (see _merge)
MERGED_MAIN = "main"


def thread_labels(cycle: list[Edge]) -> dict[Any, str]:
    """The threads that made the cycle's edges (identity -> label), each label
    unique: a name several of them share gets the thread's identity added. The
    main threads of several merged runs, one identity, are named together:
    "the main threads of h1.json and h2.json, counted as one thread"."""
    threads: dict[Any, str] = {}
    mains: list[str] = []
    for edge in cycle:
        threads.update(edge.threads)
        name = edge.threads.get(MERGED_MAIN)
        if name is not None and name not in mains:
            mains.append(name)
    if len(mains) > 1:
        threads[MERGED_MAIN] = _merged_mains(mains)
    counts: dict[str, int] = {}
    for name in threads.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        ident: name if counts[name] == 1 else f"{name} (thread {ident})"
        for ident, name in threads.items()
    }


def _merged_mains(names: list[str]) -> str:
    """ "the main threads of A and B, counted as one thread", from the merged names
    "A:MainThread", "B:MainThread" (their origin, then the thread's name)."""
    origins = [name.rpartition(":")[0] or name for name in names]
    listed = origins[0] if len(origins) == 1 else ", ".join(origins[:-1]) + " and " + origins[-1]
    return f"the main threads of {listed}, counted as one thread"


def thread_phrase(label: str, kind: str = "thread") -> str:
    """``thread 'name'`` (``task 'name'`` for an asyncio task), or the main
    threads of merged runs as they are named (a clause, closed by a comma, in
    the middle of a sentence)."""
    return f"{label}," if label.startswith("the main threads of ") else f"{kind} {label!r}"


def made_alone(cycle: list[Edge]) -> set[Any]:
    """The threads that made every edge of ``cycle`` (each alone made the cycle)."""
    alone = set(cycle[0].threads)
    for edge in cycle[1:]:
        alone &= set(edge.threads)
    return alone


def judge(cycle: list[Edge], classes: list[LockClass]) -> Verdict:
    """Classify a cycle: signal (an edge goes out of a class used as a signal,
    whose holder does not own it), ordered (every edge made only inside ordered acquisitions,
    which take their locks in one global instance order), gated (a common single
    lock held around every edge), single-thread (every edge made by one and the
    same thread; or by several, while some class of the cycle never had a lock
    acquired by two threads), or full."""
    gates = cycle[0].gates
    for edge in cycle[1:]:
        gates = gates & edge.gates
    # a gate class that has since got a second lock no longer names one lock
    gates = frozenset(cid for cid in gates if classes[cid].created == 1)
    threads = thread_labels(cycle)
    names = tuple(threads.values())
    if any(classes[edge.src].signal for edge in cycle):
        return Verdict("signal", names, gates)
    if all(edge.ordered for edge in cycle):
        return Verdict("ordered", names, gates)
    if gates:
        return Verdict("gated", names, gates)
    many = len(threads) >= 2 or any(edge.nthreads > len(edge.threads) for edge in cycle)
    if not many:
        return Verdict("single-thread", names, gates)
    # A deadlock along the cycle needs every one of its locks held by one thread
    # while another waits for it: it counts once a lock of every class of the
    # cycle was taken by two threads, whoever made its edges. Until then the
    # threads worked on locks of their own (an object per thread, each with its
    # own locks: two Sessions, one thread each, in both orders), and a lock that
    # only one thread ever took cannot block another (paho's network thread
    # alone takes its client's callback mutex, though the caller's thread takes
    # the client's message mutex too). The acquire that closes a cycle counts for
    # its thread (new_user runs before the edge is recorded): the classic ABBA on
    # two module-level locks is full at once.
    if not all(classes[edge.src].shared for edge in cycle):
        return Verdict("single-thread", names, gates, private=True)
    return Verdict("full", names, gates)


class LockGraph:
    """Lock classes and the edges between them, plus instance-level edges
    between locks of one class."""

    def __init__(self) -> None:
        self.classes: list[LockClass] = []
        self.by_key: dict[str, LockClass] = {}
        self.succ: dict[int, dict[int, Edge]] = {}
        # Pearce-Kelly state over the acyclic part
        self._ord: list[int] = []
        self._dag_succ: list[set[int]] = []
        self._dag_pred: list[set[int]] = []
        self.back_edges: set[tuple[int, int]] = set()
        # instance level: lock serial -> serial -> edge
        self.isucc: dict[int, dict[int, Edge]] = {}
        self.ipred: dict[int, set[int]] = {}
        #: the first instance edge of each class: kept when its locks die, so the
        #: exported graph still shows that the class nests its own locks
        self.class_loops: dict[int, Edge] = {}
        self.edge_count = 0

    def clear(self) -> None:
        """Forget every edge; keep the classes (their ids stay valid)."""
        self.succ = {cls.cid: {} for cls in self.classes}
        self._ord = [cls.cid for cls in self.classes]
        self._dag_succ = [set() for _ in self.classes]
        self._dag_pred = [set() for _ in self.classes]
        self.back_edges = set()
        self.isucc = {}
        self.ipred = {}
        self.class_loops = {}
        self.edge_count = 0
        for cls in self.classes:
            cls.signal = False
            cls.shared = False

    # -- classes ---------------------------------------------------------

    def lock_class(
        self,
        key: str,
        filename: str,
        lineno: int,
        function: str,
        name: str | None,
        kind: str,
        wrapper: Frame | None = None,
    ) -> LockClass:
        cls = self.by_key.get(key)
        if cls is None:
            cls = LockClass(len(self.classes), key, filename, lineno, function, name, kind)
            cls.wrapper = wrapper
            self.classes.append(cls)
            self.by_key[key] = cls
            self.succ[cls.cid] = {}
            self._ord.append(cls.cid)
            self._dag_succ.append(set())
            self._dag_pred.append(set())
        return cls

    # -- class edges -----------------------------------------------------

    def edge(self, src: int, dst: int) -> Edge | None:
        return self.succ[src].get(dst)

    def add_edge(self, edge: Edge) -> list[Edge] | None:
        """Add a new class edge; return the shortest cycle it closes, if any."""
        x, y = edge.src, edge.dst
        self.succ[x][y] = edge
        self.edge_count += 1
        fits = self._pk_insert(x, y)
        if fits and not self.back_edges:
            return None
        if not fits:
            self.back_edges.add((x, y))
        path = self.shortest_path(self.succ, y, x)
        if path is None:
            return None
        return [edge, *path]

    def _pk_insert(self, x: int, y: int) -> bool:
        """Insert x->y into the ordered acyclic part; False if it would close a cycle."""
        order = self._ord
        lower, upper = order[y], order[x]
        if lower > upper:
            self._dag_succ[x].add(y)
            self._dag_pred[y].add(x)
            return True
        # forward search from y among nodes ordered at most `upper`
        forward: list[int] = []
        seen = {y}
        stack = [y]
        while stack:
            node = stack.pop()
            forward.append(node)
            for nxt in self._dag_succ[node]:
                rank = order[nxt]
                if rank == upper:
                    return False
                if rank < upper and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        # backward search from x among nodes ordered above `lower`
        backward: list[int] = []
        seen = {x}
        stack = [x]
        while stack:
            node = stack.pop()
            backward.append(node)
            for prv in self._dag_pred[node]:
                if order[prv] > lower and prv not in seen:
                    seen.add(prv)
                    stack.append(prv)
        # the backward region goes before the forward region, each keeping its order
        backward.sort(key=order.__getitem__)
        forward.sort(key=order.__getitem__)
        nodes = backward + forward
        slots = sorted(order[n] for n in nodes)
        for node, slot in zip(nodes, slots, strict=True):
            order[node] = slot
        self._dag_succ[x].add(y)
        self._dag_pred[y].add(x)
        return True

    @staticmethod
    def shortest_path(succ: dict[int, dict[int, Edge]], start: int, goal: int) -> list[Edge] | None:
        """The shortest chain of edges from ``start`` to ``goal`` (breadth first)."""
        if start == goal:
            return []
        parent: dict[int, tuple[int, Edge]] = {}
        queue = deque([start])
        seen = {start}
        while queue:
            node = queue.popleft()
            for nxt, edge in succ.get(node, _NO_EDGES).items():
                if nxt in seen:
                    continue
                parent[nxt] = (node, edge)
                if nxt == goal:
                    path = []
                    while nxt != start:
                        nxt, edge = parent[nxt]
                        path.append(edge)
                    path.reverse()
                    return path
                seen.add(nxt)
                queue.append(nxt)
        return None

    def cycles_through(self, edge: Edge) -> list[Edge] | None:
        """The shortest cycle through an existing edge, if any."""
        succ = self.isucc if edge.instances else self.succ
        a, b = edge.instances if edge.instances else (edge.src, edge.dst)
        path = self.shortest_path(succ, b, a)
        return None if path is None else [edge, *path]

    # -- instance edges (two locks of one class) ---------------------------

    def add_instance_edge(self, edge: Edge) -> list[Edge] | None:
        assert edge.instances is not None
        a, b = edge.instances
        self.class_loops.setdefault(edge.src, edge)
        self.isucc.setdefault(a, {})[b] = edge
        self.isucc.setdefault(b, {})
        self.ipred.setdefault(b, set()).add(a)
        self.ipred.setdefault(a, set())
        path = self.shortest_path(self.isucc, b, a)
        return None if path is None else [edge, *path]

    def instance_edge(self, a: int, b: int) -> Edge | None:
        return self.isucc.get(a, {}).get(b)

    def forget_instance(self, serial: int) -> None:
        """A lock of the instance graph died: drop it and its edges."""
        targets = self.isucc.pop(serial, None)
        if targets is None:
            return
        for target in targets:
            self.ipred.get(target, set()).discard(serial)
        for source in self.ipred.pop(serial, ()):
            self.isucc.get(source, {}).pop(serial, None)

    # -- export ------------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """Classes and edges as builtin types only."""
        edges = [
            edge_to_dict(edge, self.classes)
            for targets in self.succ.values()
            for edge in targets.values()
        ]
        # two locks of one class nested: one self-loop per class
        edges.extend(edge_to_dict(edge, self.classes) for edge in self.class_loops.values())
        return {"classes": [class_to_dict(cls) for cls in self.classes], "edges": edges}


def class_to_dict(cls: LockClass) -> dict[str, Any]:
    return {
        "key": cls.key,
        "site": cls.site,
        "file": cls.filename,
        "line": cls.lineno,
        "function": cls.function,
        "name": cls.name,
        "kind": cls.kind,
        "created": cls.created,
        "signal": cls.signal,
        "shared": cls.shared,
        "via": None
        if cls.wrapper is None
        else {
            "site": cls.via,
            "file": cls.wrapper.filename,
            "line": cls.wrapper.lineno,
            "function": cls.wrapper.function,
        },
    }


def edge_to_dict(edge: Edge, classes: list[LockClass]) -> dict[str, Any]:
    return {
        "from": classes[edge.src].key,
        "to": classes[edge.dst].key,
        "thread": edge.first.thread,
        "holder": edge.first.holder,
        "threads": list(edge.threads.values()),
        # identities that stay distinct across processes (merging runs)
        "thread_ids": [thread_id(serial) for serial in edge.threads],
        "thread_count": edge.nthreads,
        "held": list(edge.first.held),
        "held_at": [None if at is None else list(at) for at in edge.first.held_at],
        "thread_started_at": [list(frame) for frame in edge.first.started_at],
        "stack": [list(frame) for frame in edge.first.stack],
        "test": edge.first.test,
        "tests": list(edge.tests),
        "gates": sorted(classes[cid].key for cid in edge.gates),
        "gated": bool(edge.gates),
        "ordered": edge.ordered,
    }


def thread_id(serial: Any) -> str:
    """A thread's identity in a wire graph: process and serial, or ``main`` for
    the main thread (serial 0) of any process (or as merged)."""
    if isinstance(serial, str):
        return serial
    return MERGED_MAIN if serial == 0 else f"{os.getpid()}-{serial}"


def taken_lines(locks: list[tuple[str, LockClass]]) -> list[str]:
    """For each (label, class): the lines of the program seen taking a lock of
    the class, each with its threads."""
    lines = []
    for label, cls in locks:
        taken = dict(cls.taken_at)
        lines.append(f"{label} is taken at:" if taken else f"{label}: taken nowhere else")
        for frame, threads in taken.items():
            by = ", ".join(repr(thread) for thread in list(threads))
            lines.append(
                f"  {relpath(frame.filename)}:{frame.lineno} in {frame.function}"
                f" (by thread{'s' if len(threads) > 1 else ''} {by})"
            )
        if len(taken) >= TAKEN_AT_LIMIT:
            lines.append(f"  (the first {TAKEN_AT_LIMIT} places seen)")
    return lines
