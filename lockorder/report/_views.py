"""What the HTML report's drawings show: the graph model and the two views.

The graph model holds every lock class and edge a page may draw, with the labels,
tooltips and search text of each. The findings' view draws the classes in
findings; the whole-graph view draws everything, or, when that is too big, the
classes on cycles and in findings, and says what it leaves out.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lockorder._findings import Finding, LockRef
from lockorder._sites import relpath

#: the drawn graph is capped at this many lock classes...
MAX_DRAWN_NODES = 200
#: ...and this many edges (edges of reported cycles first)
MAX_DRAWN_EDGES = 800

# node sizes (px); node text is monospace, so its width is predictable
_CHAR_W = 7.3  # 12 px monospace, bold
_CHAR_W_SUB = 6.65  # 11 px monospace
NODE_H = 40.0
_NODE_PAD = 12.0
_LABEL_MAX = 44


def esc(value: object) -> str:
    """Escape anything from the report for HTML text and (quoted) attributes."""
    return html.escape(str(value), quote=True)


def shorten(text: str, limit: int = _LABEL_MAX, keep_end: bool = True) -> str:
    """At most ``limit`` characters: a path keeps its end, from a separator on."""
    if len(text) <= limit:
        return text
    if not keep_end:
        return text[: limit - 1] + "…"
    tail = text[-(limit - 1) :]
    cut = tail.find("/")
    return "…" + (tail[cut:] if 0 <= cut < limit // 2 else tail)


# --------------------------------------------------------------------------- graph model


@dataclass
class Node:
    key: str
    title: str
    sub: str
    tooltip: str
    search: str
    #: the name or site in full (the title may be shortened to fit the box)
    full: str = ""
    hot: bool = False
    loop: bool = False
    w: float = 0.0
    h: float = NODE_H
    x: float = 0.0  # centre
    y: float = 0.0  # centre


@dataclass
class Edge:
    src: str
    dst: str
    hot: bool
    gated: bool
    tooltip: str


@dataclass
class Graph:
    """Every lock class and edge the page may draw, keyed by class key."""

    nodes: dict[str, Node]
    edges: dict[tuple[str, str], Edge]
    number: dict[str, int]  # class key -> its number on the page (data-k)


def _node_from_class(cls: dict[str, Any]) -> Node:
    key = str(cls.get("key", ""))
    name = cls.get("name")
    site = str(cls.get("site") or key)
    kind = str(cls.get("kind") or "Lock")
    function = str(cls.get("function") or "")
    created = cls.get("created")
    via = cls.get("via")
    via_site = str(via.get("site", "")) if isinstance(via, dict) else ""
    node = _make_node(key, name, site, kind, function, created, via_site)
    if isinstance(via, dict) and via.get("function"):
        node.tooltip += f" ({via['function']})"
    if cls.get("signal"):
        node.tooltip += "\nused as a signal: released by other threads, its holds make no edges"
    return node


def _node_from_ref(ref: LockRef) -> Node:
    return _make_node(ref.key, ref.name, ref.site, ref.kind, ref.function, None, ref.via)


def _make_node(
    key: str, name: Any, site: str, kind: str, function: str, created: Any, via: str = ""
) -> Node:
    made = f" \u00d7{created}" if isinstance(created, int) and created > 1 else ""
    if name:
        title = shorten(str(name), keep_end=False)
        sub = shorten(f"{kind}{made} · {site}")
    else:
        title = shorten(site)
        sub = shorten(f"{kind}{made} · {function}" if function else f"{kind}{made}")
    tip = [str(name) if name else site, f"key: {key}", f"kind: {kind}"]
    if name:
        tip.append(f"site: {site}")
    if function:
        tip.append(f"created in: {function}")
    if isinstance(created, int):
        tip.append(f"locks created: {created}")
    if via:  # last: the class's wrapper function is appended to it
        tip.append(f"made by the lock wrapper at: {via}")
    search = " ".join(str(part) for part in (key, site, name or "", function, kind, via)).lower()
    width = max(len(title) * _CHAR_W, len(sub) * _CHAR_W_SUB) + 2 * _NODE_PAD
    full = str(name) if name else site
    return Node(key, title, sub, "\n".join(tip), search, full, w=round(width, 1))


def _edge_tooltip(edge: dict[str, Any], src: Node, dst: Node) -> str:
    lines = [f"{src.full} → {dst.full}"]
    threads = [str(t) for t in edge.get("threads") or ()]
    count = edge.get("thread_count") or len(threads)
    if edge.get("thread"):
        more = f" (of {count} threads)" if isinstance(count, int) and count > 1 else ""
        holder = "task" if edge.get("holder") == "task" else "thread"
        lines.append(f"first made by {holder} {edge['thread']!r}{more}")
    tests = [str(t) for t in edge.get("tests") or ()]
    if tests:
        shown = ", ".join(tests[:3]) + (f" and {len(tests) - 3} more" if len(tests) > 3 else "")
        lines.append(f"tests: {shown}")
    if edge.get("held"):
        lines.append("held: " + ", ".join(str(h) for h in edge["held"]))
    stack = edge.get("stack") or ()
    if stack:
        filename, lineno, function = stack[-1]
        lines.append(f"at {relpath(str(filename))}:{lineno} in {function}")
    if edge.get("gated"):
        lines.append("gated by: " + ", ".join(str(g) for g in edge.get("gates") or ()))
    if edge.get("ordered"):
        lines.append("made only inside ordered acquisitions (lockorder.acquire(), futures.wait())")
    return "\n".join(lines)


def build_graph(report: dict[str, Any], findings: list[Finding]) -> Graph:
    graph = report.get("graph") or {}
    nodes: dict[str, Node] = {}
    for cls in graph.get("classes") or ():
        node = _node_from_class(cls)
        nodes.setdefault(node.key, node)
    # locks a finding names but the graph lost (e.g. instance-level self-loops)
    for finding in findings:
        refs = list(finding.locks)
        for edge_report in finding.cycle:
            refs += [edge_report.src, edge_report.dst]
        for ref in refs:
            if ref.key not in nodes:
                nodes[ref.key] = _node_from_ref(ref)
    hot = {(e.src.key, e.dst.key) for f in findings for e in f.cycle}
    edges: dict[tuple[str, str], Edge] = {}
    for raw in graph.get("edges") or ():
        pair = (str(raw["from"]), str(raw["to"]))
        for key in pair:
            if key not in nodes:
                nodes[key] = _make_node(key, None, key, "Lock", "", None)
        if pair not in edges:
            tip = _edge_tooltip(raw, nodes[pair[0]], nodes[pair[1]])
            edges[pair] = Edge(pair[0], pair[1], pair in hot, bool(raw.get("gated")), tip)
    for finding in findings:
        for er in finding.cycle:
            pair = (er.src.key, er.dst.key)
            if pair not in edges:
                tip = _edge_tooltip(er.to_dict(), nodes[pair[0]], nodes[pair[1]])
                edges[pair] = Edge(pair[0], pair[1], True, False, tip)
    for node_key in {k for f in findings for k in finding_keys(f)}:
        nodes[node_key].hot = True
    for src, dst in edges:
        if src == dst:
            nodes[src].loop = True
    number = {key: i for i, key in enumerate(nodes)}
    return Graph(nodes, edges, number)


def finding_keys(finding: Finding) -> list[str]:
    keys = [lock.key for lock in finding.locks]
    for er in finding.cycle:
        keys += [er.src.key, er.dst.key]
    return list(dict.fromkeys(keys))


# --------------------------------------------------------------------------- what to draw


@dataclass
class View:
    keys: list[str]
    edges: list[Edge]
    note: str


def _cap_edges(edges: list[Edge]) -> tuple[list[Edge], int]:
    if len(edges) <= MAX_DRAWN_EDGES:
        return edges, 0
    ordered = sorted(edges, key=lambda e: not e.hot)
    return ordered[:MAX_DRAWN_EDGES], len(edges) - MAX_DRAWN_EDGES


def _view(graph: Graph, keys: Iterable[str]) -> tuple[list[str], list[Edge]]:
    chosen = list(dict.fromkeys(keys))
    inside = set(chosen)
    edges = [e for e in graph.edges.values() if e.src in inside and e.dst in inside]
    return chosen, edges


def plural(count: int, word: str) -> str:
    if count == 1:
        return f"{count:,} {word}"
    return f"{count:,} {word}es" if word.endswith("s") else f"{count:,} {word}s"


def focus_view(graph: Graph, findings: list[Finding]) -> View:
    keys = [k for f in findings for k in finding_keys(f)]
    keys = list(dict.fromkeys(keys))
    dropped = max(0, len(keys) - MAX_DRAWN_NODES)
    chosen, edges = _view(graph, keys[:MAX_DRAWN_NODES])
    edges, cut = _cap_edges(edges)
    note = (
        f"The {plural(len(chosen), 'lock class')} involved in findings and the "
        f"{plural(len(edges), 'edge')} between them."
    )
    if dropped:
        note += f" {dropped:,} more classes of later findings are not drawn."
    if cut:
        note += f" {cut:,} edges not drawn (too many)."
    return View(chosen, edges, note)


def _implied(keys: list[str], edges: list[Edge]) -> set[tuple[str, str]]:
    """Grey edges that a longer path already implies (A -> C when A -> B -> C).

    Taken on the condensation (each strongly connected component one vertex), so
    edges inside a cycle always stay; edges of reported cycles always stay.
    """
    import networkx as nx

    digraph = nx.DiGraph()
    digraph.add_nodes_from(keys)
    digraph.add_edges_from((e.src, e.dst) for e in edges if e.src != e.dst)
    condensed = nx.condensation(digraph)
    kept = set(nx.transitive_reduction(condensed).edges())
    member = condensed.graph["mapping"]
    return {
        (e.src, e.dst)
        for e in edges
        if not e.hot
        and member[e.src] != member[e.dst]
        and (member[e.src], member[e.dst]) not in kept
    }


def full_view(graph: Graph, findings: list[Finding]) -> View:
    total_nodes, total_edges = len(graph.nodes), len(graph.edges)
    if total_nodes <= MAX_DRAWN_NODES:
        chosen, edges = _view(graph, graph.nodes)
        note = "The whole lock-order graph."
        dropped = 0
    else:
        import networkx as nx

        digraph = nx.DiGraph()
        digraph.add_nodes_from(graph.nodes)
        digraph.add_edges_from(graph.edges)
        components = [c for c in nx.strongly_connected_components(digraph) if len(c) > 1]
        components.sort(key=len, reverse=True)
        on_cycles = [k for k, node in graph.nodes.items() if node.loop]
        in_findings = [k for f in findings for k in finding_keys(f)]
        for component in components:
            # breadth-first from a class in a finding (or the busiest class), so that a
            # capped drawing of a big component is one connected piece of it
            starts = [k for k in in_findings if k in component]
            start = starts[0] if starts else max(sorted(component), key=digraph.degree)
            inner = digraph.subgraph(component).to_undirected(as_view=True)
            on_cycles.extend([start, *(v for _, v in nx.bfs_edges(inner, start))])
        keys = list(dict.fromkeys(in_findings + on_cycles))
        dropped = max(0, len(keys) - MAX_DRAWN_NODES)
        chosen, edges = _view(graph, keys[:MAX_DRAWN_NODES])
        note = (
            f"The whole graph ({plural(total_nodes, 'lock class')}, "
            f"{plural(total_edges, 'edge')}) is too big to draw: showing only the "
            f"{plural(len(set(on_cycles)), 'class')} on cycles "
            f"({plural(len(components), 'strongly connected component')} and self-loops) "
            "and those in findings, with the edges between them."
        )
        if not keys:
            note = (
                f"The whole graph ({plural(total_nodes, 'lock class')}, "
                f"{plural(total_edges, 'edge')}) is too big to draw, and no class is on a "
                "cycle or in a finding: nothing drawn."
            )
    implied = _implied(chosen, edges)
    if implied:
        edges = [e for e in edges if (e.src, e.dst) not in implied]
        note += (
            f" {plural(len(implied), 'edge')} implied by longer paths "
            "(A → C when A → B → C is drawn) left out."
        )
    edges, cut = _cap_edges(edges)
    if dropped:
        note += f" Capped at {MAX_DRAWN_NODES} classes: {dropped:,} more not drawn."
    if cut:
        note += f" Capped at {MAX_DRAWN_EDGES} edges: {cut:,} more not drawn."
    return View(chosen, edges, note)
