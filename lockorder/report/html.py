"""The HTML report: one self-contained page (inline CSS, SVG and a little JS).

The page works offline and fetches nothing. It shows the summary and settings,
the lock-order graph drawn as inline SVG (laid out here: a small layered,
left-to-right layout, networkx only for the graph algorithms), and every finding
with its chain, stacks, threads, tests and scenario. A search box filters the
findings and highlights matching lock classes. By default the graph shows only
the classes involved in findings; a toggle shows the whole graph, or, when it is
too big to draw, only its cycles (strongly connected components).
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from lockorder._findings import KINDS, EdgeReport, Finding, LockRef
from lockorder._sites import Frame, relpath

__all__ = ["MAX_DRAWN_EDGES", "MAX_DRAWN_NODES", "render_html"]

#: the drawn graph is capped at this many lock classes...
MAX_DRAWN_NODES = 200
#: ...and this many edges (edges of reported cycles first)
MAX_DRAWN_EDGES = 800
#: every finding starts open when there are at most this many (else only the first)
_OPEN_FINDINGS = 3

# geometry of the drawing (px); node text is monospace, so its width is predictable
_CHAR_W = 7.3  # 12 px monospace, bold
_CHAR_W_SUB = 6.65  # 11 px monospace
_NODE_H = 40.0
_NODE_PAD = 12.0
_LABEL_MAX = 44
_COL_GAP = 80.0
_ROW_GAP = 18.0
_DUMMY_GAP = 11.0
_LOOP_ROOM = 24.0
_COMP_GAP = 36.0
_PACK_WIDTH = 1300.0


def _e(value: object) -> str:
    """Escape anything from the report for HTML text and (quoted) attributes."""
    return html.escape(str(value), quote=True)


def _shorten(text: str, limit: int = _LABEL_MAX, keep_end: bool = True) -> str:
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
class _Node:
    key: str
    title: str
    sub: str
    tooltip: str
    search: str
    hot: bool = False
    loop: bool = False
    w: float = 0.0
    h: float = _NODE_H
    x: float = 0.0  # centre
    y: float = 0.0  # centre


@dataclass
class _Edge:
    src: str
    dst: str
    hot: bool
    gated: bool
    tooltip: str


@dataclass
class _Graph:
    """Every lock class and edge the page may draw, keyed by class key."""

    nodes: dict[str, _Node]
    edges: dict[tuple[str, str], _Edge]
    number: dict[str, int]  # class key -> its number on the page (data-k)


def _node_from_class(cls: dict[str, Any]) -> _Node:
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


def _node_from_ref(ref: LockRef) -> _Node:
    return _make_node(ref.key, ref.name, ref.site, ref.kind, ref.function, None, ref.via)


def _make_node(
    key: str, name: Any, site: str, kind: str, function: str, created: Any, via: str = ""
) -> _Node:
    made = f" \u00d7{created}" if isinstance(created, int) and created > 1 else ""
    if name:
        title = _shorten(str(name), keep_end=False)
        sub = _shorten(f"{kind}{made} · {site}")
    else:
        title = _shorten(site)
        sub = _shorten(f"{kind}{made} · {function}" if function else f"{kind}{made}")
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
    return _Node(key, title, sub, "\n".join(tip), search, w=round(width, 1))


def _edge_tooltip(edge: dict[str, Any], src: _Node, dst: _Node) -> str:
    lines = [f"{src.title} → {dst.title}"]
    threads = [str(t) for t in edge.get("threads") or ()]
    count = edge.get("thread_count") or len(threads)
    if edge.get("thread"):
        more = f" (of {count} threads)" if isinstance(count, int) and count > 1 else ""
        lines.append(f"first made by thread {edge['thread']!r}{more}")
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


def _build_graph(report: dict[str, Any], findings: list[Finding]) -> _Graph:
    graph = report.get("graph") or {}
    nodes: dict[str, _Node] = {}
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
    edges: dict[tuple[str, str], _Edge] = {}
    for raw in graph.get("edges") or ():
        pair = (str(raw["from"]), str(raw["to"]))
        for key in pair:
            if key not in nodes:
                nodes[key] = _make_node(key, None, key, "Lock", "", None)
        if pair not in edges:
            tip = _edge_tooltip(raw, nodes[pair[0]], nodes[pair[1]])
            edges[pair] = _Edge(pair[0], pair[1], pair in hot, bool(raw.get("gated")), tip)
    for finding in findings:
        for er in finding.cycle:
            pair = (er.src.key, er.dst.key)
            if pair not in edges:
                tip = _edge_tooltip(er.to_dict(), nodes[pair[0]], nodes[pair[1]])
                edges[pair] = _Edge(pair[0], pair[1], True, False, tip)
    for node_key in {k for f in findings for k in _finding_keys(f)}:
        nodes[node_key].hot = True
    for src, dst in edges:
        if src == dst:
            nodes[src].loop = True
    number = {key: i for i, key in enumerate(nodes)}
    return _Graph(nodes, edges, number)


def _finding_keys(finding: Finding) -> list[str]:
    keys = [lock.key for lock in finding.locks]
    for er in finding.cycle:
        keys += [er.src.key, er.dst.key]
    return list(dict.fromkeys(keys))


# --------------------------------------------------------------------------- what to draw


@dataclass
class _View:
    keys: list[str]
    edges: list[_Edge]
    note: str


def _cap_edges(edges: list[_Edge]) -> tuple[list[_Edge], int]:
    if len(edges) <= MAX_DRAWN_EDGES:
        return edges, 0
    ordered = sorted(edges, key=lambda e: not e.hot)
    return ordered[:MAX_DRAWN_EDGES], len(edges) - MAX_DRAWN_EDGES


def _view(graph: _Graph, keys: Iterable[str]) -> tuple[list[str], list[_Edge]]:
    chosen = list(dict.fromkeys(keys))
    inside = set(chosen)
    edges = [e for e in graph.edges.values() if e.src in inside and e.dst in inside]
    return chosen, edges


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"{count:,} {word}"
    return f"{count:,} {word}es" if word.endswith("s") else f"{count:,} {word}s"


def _focus_view(graph: _Graph, findings: list[Finding]) -> _View:
    keys = [k for f in findings for k in _finding_keys(f)]
    keys = list(dict.fromkeys(keys))
    dropped = max(0, len(keys) - MAX_DRAWN_NODES)
    chosen, edges = _view(graph, keys[:MAX_DRAWN_NODES])
    edges, cut = _cap_edges(edges)
    note = (
        f"The {_plural(len(chosen), 'lock class')} involved in findings and the "
        f"{_plural(len(edges), 'edge')} between them."
    )
    if dropped:
        note += f" {dropped:,} more classes of later findings are not drawn."
    if cut:
        note += f" {cut:,} edges not drawn (too many)."
    return _View(chosen, edges, note)


def _implied(keys: list[str], edges: list[_Edge]) -> set[tuple[str, str]]:
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


def _full_view(graph: _Graph, findings: list[Finding]) -> _View:
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
        in_findings = [k for f in findings for k in _finding_keys(f)]
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
            f"The whole graph ({_plural(total_nodes, 'lock class')}, "
            f"{_plural(total_edges, 'edge')}) is too big to draw: showing only the "
            f"{_plural(len(set(on_cycles)), 'class')} on cycles "
            f"({_plural(len(components), 'strongly connected component')} and self-loops) "
            "and those in findings, with the edges between them."
        )
        if not keys:
            note = (
                f"The whole graph ({_plural(total_nodes, 'lock class')}, "
                f"{_plural(total_edges, 'edge')}) is too big to draw, and no class is on a "
                "cycle or in a finding: nothing drawn."
            )
    implied = _implied(chosen, edges)
    if implied:
        edges = [e for e in edges if (e.src, e.dst) not in implied]
        note += (
            f" {_plural(len(implied), 'edge')} implied by longer paths "
            "(A → C when A → B → C is drawn) left out."
        )
    edges, cut = _cap_edges(edges)
    if dropped:
        note += f" Capped at {MAX_DRAWN_NODES} classes: {dropped:,} more not drawn."
    if cut:
        note += f" Capped at {MAX_DRAWN_EDGES} edges: {cut:,} more not drawn."
    return _View(chosen, edges, note)


# --------------------------------------------------------------------------- layout


def _isotonic(values: list[float]) -> list[float]:
    """The non-decreasing sequence nearest to ``values`` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight]
    for value in values:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, weight = blocks.pop()
            prev = blocks[-1]
            prev[0] = (prev[0] * prev[1] + mean * weight) / (prev[1] + weight)
            prev[1] += weight
    out: list[float] = []
    for mean, weight in blocks:
        out.extend([mean] * int(weight))
    return out


@dataclass
class _Placed:
    """One laid-out component: node centres are in its own coordinates."""

    keys: list[str]
    width: float
    height: float
    routes: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)
    reversed_: set[tuple[str, str]] = field(default_factory=set)


def _layout_component(
    keys: list[str], pairs: list[tuple[str, str]], nodes: dict[str, _Node]
) -> _Placed:
    """A layered left-to-right layout (Sugiyama-style, kept small):

    back edges of a depth-first search are reversed to make the graph acyclic,
    layers by longest path (then pulled right towards their successors), long
    edges get dummy points, barycentre sweeps order each layer, and each layer's
    vertical positions are the nearest to its neighbours' that keep the spacing.
    """
    n = len(keys)
    index = {key: i for i, key in enumerate(keys)}
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    simple = [(index[s], index[d]) for s, d in pairs if s != d]
    for u, v in simple:
        succ[u].append(v)
        indeg[v] += 1
    # depth-first post order, sources first; an edge u->v with post[u] < post[v] is a back edge
    visited = [False] * n
    post: list[int] = []
    for start in sorted(range(n), key=lambda v: (indeg[v] != 0, v)):
        if visited[start]:
            continue
        visited[start] = True
        stack = [(start, iter(succ[start]))]
        while stack:
            vertex, successors = stack[-1]
            for nxt in successors:
                if not visited[nxt]:
                    visited[nxt] = True
                    stack.append((nxt, iter(succ[nxt])))
                    break
            else:
                stack.pop()
                post.append(vertex)
    topo = post[::-1]
    rank = {v: i for i, v in enumerate(topo)}
    dag: list[tuple[int, int, bool]] = []  # (u, v, reversed)
    for u, v in simple:
        dag.append((u, v, False) if rank[u] < rank[v] else (v, u, True))
    dpred: list[list[int]] = [[] for _ in range(n)]
    dsucc: list[list[int]] = [[] for _ in range(n)]
    for u, v, _ in dag:
        dpred[v].append(u)
        dsucc[u].append(v)
    layer = [0] * n
    for v in topo:
        if dpred[v]:
            layer[v] = max(layer[u] + 1 for u in dpred[v])
    for v in post:  # pull nodes right, next to their nearest successor
        if dsucc[v]:
            layer[v] = max(layer[v], min(layer[w] for w in dsucc[v]) - 1)
    # dummy points on long edges
    width = [nodes[k].w for k in keys]
    height = [nodes[k].h for k in keys]
    room = [_LOOP_ROOM if nodes[k].loop else 0.0 for k in keys]
    chains: list[tuple[int, int, bool, list[int]]] = []
    # dummies of back edges lean below the nodes, of forward edges above
    bias = [0.0] * n
    up: list[list[int]] = [[] for _ in range(n)]
    down: list[list[int]] = [[] for _ in range(n)]
    for u, v, rev in dag:
        chain = [u]
        for level in range(layer[u] + 1, layer[v]):
            layer.append(level)
            width.append(0.0)
            height.append(2.0)
            room.append(0.0)
            bias.append(0.45 if rev else -0.45)
            up.append([])
            down.append([])
            chain.append(len(layer) - 1)
        chain.append(v)
        for a, b in pairwise(chain):
            down[a].append(b)
            up[b].append(a)
        chains.append((u, v, rev, chain))
    total = len(layer)
    levels = max(layer) + 1 if layer else 0
    rows: list[list[int]] = [[] for _ in range(levels)]
    for v in sorted(range(total), key=lambda v: rank.get(v, n + v)):
        rows[layer[v]].append(v)
    pos = [0.0] * total

    def number(row: list[int]) -> None:
        for i, v in enumerate(row):
            pos[v] = float(i)

    for row in rows:
        number(row)
    for _ in range(4):
        for sweep in (range(1, levels), range(levels - 2, -1, -1)):
            for level in sweep:
                row = rows[level]
                near = up if sweep.step == 1 else down

                def bary(v: int, near: list[list[int]] = near) -> float:
                    if not near[v]:
                        return pos[v]
                    return sum(pos[w] for w in near[v]) / len(near[v]) + bias[v]

                row.sort(key=bary)
                number(row)
    # x: one column per layer, as wide as its widest node
    col_w = [max((width[v] for v in row), default=0.0) or 10.0 for row in rows]
    col_x: list[float] = []
    left = 0.0
    for w in col_w:
        col_x.append(left + w / 2)
        left += w + _COL_GAP
    xs = [col_x[layer[v]] for v in range(total)]
    # y: stacked, then pulled towards neighbours while keeping the spacing
    ys = [0.0] * total

    def settle(row: list[int], want: list[float]) -> None:
        offsets = [0.0]
        for a, b in pairwise(row):
            gap = _ROW_GAP if a < n and b < n else _DUMMY_GAP
            offsets.append(offsets[-1] + (height[a] + height[b]) / 2 + gap + room[b])
        fitted = _isotonic([w - o for w, o in zip(want, offsets, strict=True)])
        for v, f, o in zip(row, fitted, offsets, strict=True):
            ys[v] = f + o

    for row in rows:
        settle(row, [0.0] * len(row))
    for sweep_no in range(8):
        order = range(levels) if sweep_no % 2 == 0 else range(levels - 1, -1, -1)
        for level in order:
            row = rows[level]
            want = []
            for v in row:
                linked = up[v] + down[v]
                want.append(sum(ys[w] for w in linked) / len(linked) if linked else ys[v])
            settle(row, want)
    top = min((ys[v] - height[v] / 2 - room[v] for v in range(total)), default=0.0)
    bottom = max((ys[v] + height[v] / 2 for v in range(total)), default=0.0)
    for v in range(n):
        node = nodes[keys[v]]
        node.x, node.y = xs[v], ys[v] - top
    placed = _Placed(keys, max(left - _COL_GAP, 0.0), bottom - top)
    for u, v, rev, chain in chains:
        pair = (keys[v], keys[u]) if rev else (keys[u], keys[v])
        points = [(xs[c], ys[c] - top) for c in chain[1:-1]]
        if rev:
            points.reverse()
            placed.reversed_.add(pair)
        placed.routes[pair] = points
    return placed


def _layout(view: _View, nodes: dict[str, _Node]) -> tuple[list[_Placed], float, float]:
    """Lay out each weakly connected component, then pack them in rows."""
    import networkx as nx

    undirected = nx.Graph()
    undirected.add_nodes_from(view.keys)
    undirected.add_edges_from((e.src, e.dst) for e in view.edges)
    order = {key: i for i, key in enumerate(view.keys)}
    components = [sorted(c, key=order.__getitem__) for c in nx.connected_components(undirected)]
    components.sort(key=lambda c: (not any(nodes[k].hot for k in c), -len(c), order[c[0]]))
    by_component: dict[str, int] = {k: i for i, c in enumerate(components) for k in c}
    pairs: list[list[tuple[str, str]]] = [[] for _ in components]
    for edge in view.edges:
        pairs[by_component[edge.src]].append((edge.src, edge.dst))
    placed = [_layout_component(c, p, nodes) for c, p in zip(components, pairs, strict=True)]
    row_w = max([_PACK_WIDTH, *(p.width for p in placed)])
    x = y = row_h = total_w = 0.0
    for part in placed:
        if x > 0 and x + part.width > row_w:
            x, y, row_h = 0.0, y + row_h + _COMP_GAP, 0.0
        for key in part.keys:
            nodes[key].x += x
            nodes[key].y += y
        part.routes = {
            pair: [(px + x, py + y) for px, py in points] for pair, points in part.routes.items()
        }
        total_w = max(total_w, x + part.width)
        x += part.width + _COMP_GAP * 2
        row_h = max(row_h, part.height)
    return placed, total_w, y + row_h


# --------------------------------------------------------------------------- SVG


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


_Point = tuple[float, float]


def _loop_path(node: _Node) -> str:
    """A self-loop over the node's top."""
    top, cx = node.y - node.h / 2, node.x
    return (
        f"M{_fmt(cx - 14)},{_fmt(top)} C{_fmt(cx - 34)},{_fmt(top - 30)} "
        f"{_fmt(cx + 34)},{_fmt(top - 30)} {_fmt(cx + 14)},{_fmt(top)}"
    )


def _curve(points: list[_Point]) -> str:
    """Through every point, leaving and reaching each one horizontally."""
    parts = [f"M{_fmt(points[0][0])},{_fmt(points[0][1])}"]
    for (x0, y0), (x1, y1) in pairwise(points):
        half = (x1 - x0) / 2
        parts.append(
            f"C{_fmt(x0 + half)},{_fmt(y0)} {_fmt(x1 - half)},{_fmt(y1)} {_fmt(x1)},{_fmt(y1)}"
        )
    return " ".join(parts)


def _edge_points(
    edges: list[_Edge],
    nodes: dict[str, _Node],
    routes: dict[tuple[str, str], list[_Point]],
    back: set[tuple[str, str]],
) -> dict[tuple[str, str], list[_Point]]:
    """Each edge's points, end to end. An edge leaves its source on the side facing
    its target (right, or left for a back edge); edges meeting one side of a node
    are spread over it, ordered by where they come from, so arrowheads do not pile up.
    """
    present = {(e.src, e.dst) for e in edges}
    vias: dict[tuple[str, str], list[_Point]] = {}
    sides: dict[tuple[str, str], list[tuple[float, int, tuple[str, str], int]]] = {}
    for edge in edges:
        pair = (edge.src, edge.dst)
        if edge.src == edge.dst:
            continue
        src, dst = nodes[edge.src], nodes[edge.dst]
        is_back = pair in back
        via = list(routes.get(pair, []))
        if not via and (edge.dst, edge.src) in present:  # a two-edge cycle: two arcs
            mid_x, mid_y = (src.x + dst.x) / 2, (src.y + dst.y) / 2
            via = [(mid_x, mid_y + (14.0 if is_back else -14.0))]
        vias[pair] = via
        first = via[0] if via else (dst.x, dst.y)
        last = via[-1] if via else (src.x, src.y)
        tie = 1 if is_back else 0
        sides.setdefault((edge.src, "L" if is_back else "R"), []).append((first[1], tie, pair, 0))
        sides.setdefault((edge.dst, "R" if is_back else "L"), []).append((last[1], tie, pair, 1))
    offset: dict[tuple[tuple[str, str], int], float] = {}
    for (key, _side), ends in sides.items():
        ends.sort(key=lambda item: (item[0], item[1]))
        span = min(nodes[key].h - 14.0, 7.0 * (len(ends) - 1))
        for i, (_, _, pair, which) in enumerate(ends):
            offset[pair, which] = -span / 2 + (span * i / (len(ends) - 1) if len(ends) > 1 else 0)
    points: dict[tuple[str, str], list[_Point]] = {}
    for pair, via in vias.items():
        src, dst = nodes[pair[0]], nodes[pair[1]]
        sign = -1.0 if pair in back else 1.0
        start = (src.x + sign * src.w / 2, src.y + offset[pair, 0])
        end = (dst.x - sign * dst.w / 2, dst.y + offset[pair, 1])
        points[pair] = [start, *via, end]
    return points


def _svg(view: _View, graph: _Graph, prefix: str) -> str:
    nodes = graph.nodes
    if not view.keys:
        return '<p class="empty">Nothing to draw.</p>'
    placed, width, height = _layout(view, nodes)
    routes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    back: set[tuple[str, str]] = set()
    for part in placed:
        routes.update(part.routes)
        back |= part.reversed_
    margin = 20.0
    top_room = _LOOP_ROOM
    w, h = width + 2 * margin, height + 2 * margin + top_room
    out = [
        f'<svg class="graph" id="{prefix}-svg" '
        f'width="{_fmt(w)}" height="{_fmt(h)}" viewBox="0 0 {_fmt(w)} {_fmt(h)}" '
        f'role="img" aria-label="lock-order graph">',
        "<defs>",
    ]
    for name in ("grey", "hot"):
        out.append(
            f'<marker id="{prefix}-{name}" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path class="arrow-{name}" d="M0,0 L10,5 L0,10 z"/></marker>'
        )
    out.append("</defs>")
    out.append(f'<g transform="translate({_fmt(margin)},{_fmt(margin + top_room)})">')
    points = _edge_points(view.edges, nodes, routes, back)
    for edge in sorted(view.edges, key=lambda e: e.hot):
        pair = (edge.src, edge.dst)
        d = _loop_path(nodes[edge.src]) if edge.src == edge.dst else _curve(points[pair])
        cls = "edge hot" if edge.hot else "edge gated" if edge.gated else "edge"
        marker = "hot" if edge.hot else "grey"
        out.append(
            f'<path class="{cls}" d="{d}" marker-end="url(#{prefix}-{marker})" '
            f'data-s="{graph.number[edge.src]}" data-d="{graph.number[edge.dst]}">'
            f"<title>{_e(edge.tooltip)}</title></path>"
        )
    for key in view.keys:
        node = nodes[key]
        x, y = node.x - node.w / 2, node.y - node.h / 2
        cls = "node hot" if node.hot else "node"
        out.append(
            f'<g class="{cls}" data-k="{graph.number[key]}" data-search="{_e(node.search)}">'
            f"<title>{_e(node.tooltip)}</title>"
            f'<rect x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(node.w)}" height="{_fmt(node.h)}" '
            f'rx="6"/>'
            f'<text class="t1" x="{_fmt(node.x)}" y="{_fmt(node.y - 3)}">{_e(node.title)}</text>'
            f'<text class="t2" x="{_fmt(node.x)}" y="{_fmt(node.y + 12)}">{_e(node.sub)}</text>'
            "</g>"
        )
    out.append("</g></svg>")
    return "".join(out)


# --------------------------------------------------------------------------- findings


def _frames(stack: Sequence[Frame]) -> str:
    if not stack:
        return '<p class="muted">no stack recorded</p>'
    rows = []
    for filename, lineno, function in stack:
        shown = relpath(filename)
        lib = ' class="lib"' if shown.startswith("/") or shown.startswith("<") else ""
        rows.append(
            f'<li{lib}>File "<span class="file">{_e(shown)}</span>", line '
            f'<span class="line">{_e(lineno)}</span>, in '
            f'<span class="fn">{_e(function)}</span></li>'
        )
    return '<ol class="stack" title="most recent call last">' + "".join(rows) + "</ol>"


def _lock_chip(ref: LockRef) -> str:
    return f'<code class="lock" title="{_e(ref.key)}">{_e(ref.label)}</code>'


def _facts(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    body = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in pairs)
    return f'<dl class="facts">{body}</dl>'


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"<q>{_e(n)}</q>" for n in names)


def _at(frame: Frame) -> str:
    return f"{relpath(frame.filename)}:{frame.lineno} in {frame.function}"


def _edge_block(number: int, er: EdgeReport) -> str:
    facts: list[tuple[str, str]] = []
    others = [t for t in er.threads if t != er.thread]
    threads = f"first made by <q>{_e(er.thread)}</q>"
    if others:
        threads += f" (also by {_quoted(others)})"
    facts.append(("threads", threads))
    tests = list(dict.fromkeys([*([er.test] if er.test else []), *er.tests]))
    if tests:
        facts.append(("tests", ", ".join(f"<code>{_e(t)}</code>" for t in tests)))
    if er.thread_started_at:
        facts.append(
            (
                "thread started at",
                ", called from ".join(f"<code>{_e(_at(f))}</code>" for f in er.thread_started_at),
            )
        )
    held = []
    for index, label in enumerate(er.held):
        at = er.held_at[index] if index < len(er.held_at) else None
        where = f" acquired at <code>{_e(_at(at))}</code>" if at is not None else ""
        held.append(f"<code>{_e(label)}</code>{where}")
    facts.append(("locks held", "; ".join(held) if held else "none"))
    return (
        f'<li class="edge-report"><h4>edge {number}: {_lock_chip(er.src)} '
        f'<span class="arrow">→</span> {_lock_chip(er.dst)}</h4>'
        f"{_facts(facts)}<div class='stack-head'>stack of the acquire of the second lock "
        f"(most recent call last)</div>{_frames(er.stack)}</li>"
    )


def _scenario(finding: Finding) -> str:
    edges = finding.cycle
    names = [edge.thread for edge in edges]
    if len(set(names)) != len(names):
        names = [f"thread {i + 1}" for i in range(len(edges))]
    head = "".join(f"<th>{_e(name)}</th>" for name in names)
    rows = []
    for i, edge in enumerate(edges):
        cells = ["<td></td>"] * len(edges)
        cells[i] = f"<td>lock({_e(edge.src.label)})</td>"
        rows.append("<tr>" + "".join(cells) + "</tr>")
    for i, edge in enumerate(edges):
        cells = ["<td></td>"] * len(edges)
        cells[i] = f'<td class="waits">lock({_e(edge.dst.label)}) ← waits</td>'
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append(f'<tr><td class="dead" colspan="{len(edges)}">*** DEADLOCK ***</td></tr>')
    return (
        '<h4>possible scenario</h4><table class="scenario"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _finding(number: int, finding: Finding, graph: _Graph, open_: bool) -> str:
    severity = "warning" if finding.severity == "warning" else "error"
    keys = " ".join(str(graph.number[k]) for k in _finding_keys(finding) if k in graph.number)
    summary = (
        f'<summary><span class="num">#{number}</span>'
        f'<span class="badge {severity}">{_e(finding.severity)}</span>'
        f'<span class="kind">{_e(finding.kind)}</span>'
        f'<span class="msg">{_e(finding.message)}</span>'
        + (f'<span class="test">{_e(finding.test)}</span>' if finding.test else "")
        + "</summary>"
    )
    parts = []
    if finding.kind in KINDS:
        parts.append(f'<p class="kind-help">{_e(finding.kind)}: {_e(KINDS[finding.kind])}</p>')
    facts: list[tuple[str, str]] = []
    if finding.reason:
        facts.append(("why", _e(finding.reason)))
    if finding.test:
        facts.append(("test", f"<code>{_e(finding.test)}</code>"))
    if finding.thread:
        facts.append(("thread", f"<q>{_e(finding.thread)}</q>"))
    if finding.locks:
        facts.append(("locks", " ".join(_lock_chip(ref) for ref in finding.locks)))
    if finding.single_thread:
        facts.append(("single thread", "every edge of the cycle was made by one thread"))
    parts.append(_facts(facts))
    if finding.cycle:
        chain = [_lock_chip(er.src) for er in finding.cycle] + [_lock_chip(finding.cycle[0].src)]
        parts.append(
            '<div class="chain"><span class="chain-head">cycle</span>'
            + ' <span class="arrow">→</span> '.join(chain)
            + "</div>"
        )
    if finding.details:
        parts.append(f'<pre class="details">{_e(chr(10).join(finding.details))}</pre>')
    if finding.cycle:
        parts.append(
            '<ol class="edges">'
            + "".join(_edge_block(i, er) for i, er in enumerate(finding.cycle, 1))
            + "</ol>"
        )
        parts.append(_scenario(finding))
    elif finding.stack and finding.kind not in ("deadlock", "long-hold"):
        parts.append(
            f'<div class="stack-head">where it was found, in thread <q>{_e(finding.thread)}</q> '
            f"(most recent call last)</div>{_frames(finding.stack)}"
        )
    parts.append(
        '<details class="as-text"><summary>as text</summary>'
        f"<pre>{_e(finding.format())}</pre></details>"
    )
    return (
        f'<details class="finding {severity}" id="finding-{number}" '
        f'data-kind="{_e(finding.kind)}" data-severity="{severity}" data-nodes="{keys}"'
        f"{' open' if open_ else ''}>{summary}<div class='body'>{''.join(parts)}</div></details>"
    )


# --------------------------------------------------------------------------- the page


def _run_text(run: dict[str, Any]) -> str:
    if not run:
        return ""
    items: list[tuple[str, str]] = []
    if run.get("pytest"):
        workers = run.get("workers") or []
        text = "pytest session"
        if workers:
            text += f" ({len(workers)} xdist workers merged)"
        items.append(("run", _e(text)))
        crashed = run.get("crashed_workers") or {}
        if crashed:
            items.append(
                ("crashed workers", "; ".join(f"{_e(k)}: {_e(v)}" for k, v in crashed.items()))
            )
    if "command" in run:
        command = run.get("command") or []
        shown = shlex.join(str(c) for c in command) if isinstance(command, list) else str(command)
        items.append(("command", f"<code>lockorder run {_e(shown)}</code>"))
    if "exit_status" in run:
        items.append(("program's exit status", _e(run["exit_status"])))
    if "lockorder_exit_status" in run:
        status = run["lockorder_exit_status"]
        why = " (findings)" if status and status != run.get("exit_status") else ""
        items.append(("lockorder run's exit status", _e(f"{status}{why}")))
    known = {
        "pytest",
        "workers",
        "crashed_workers",
        "command",
        "exit_status",
        "lockorder_exit_status",
    }
    for key, value in run.items():
        if key not in known:
            items.append((str(key), _e(value)))
    return "".join(
        f'<span class="{"wide" if k == "command" else ""}"><b>{_e(k)}</b> {v}</span>'
        for k, v in items
    )


def _header(report: dict[str, Any], findings: list[Finding]) -> str:
    summary = report.get("summary") or {}
    tool = report.get("tool") or {}
    settings = report.get("settings") or {}
    total = summary.get("findings", len(findings))
    errors = summary.get("errors", sum(f.severity == "error" for f in findings))
    warnings = summary.get("warnings", sum(f.severity == "warning" for f in findings))
    verdict = "error" if errors else "warning" if warnings else "ok"
    cards = [
        ("findings", total, verdict),
        ("errors", errors, "error" if errors else ""),
        ("warnings", warnings, "warning" if warnings else ""),
        ("lock classes", summary.get("classes", 0), ""),
        ("edges", summary.get("edges", 0), ""),
    ]
    card_html = "".join(
        f'<div class="card {cls}"><div class="n">{_e(_count(value))}</div>'
        f'<div class="l">{_e(label)}</div></div>'
        for label, value, cls in cards
    )
    kinds = summary.get("by_kind") or {}
    kind_html = "".join(
        f'<span class="chip" title="{_e(KINDS.get(str(k), ""))}">{_e(k)} <b>{_e(v)}</b></span>'
        for k, v in kinds.items()
    )
    setting_html = "".join(
        f'<span class="chip setting">{_e(k)}=<b>{_e(v)}</b></span>' for k, v in settings.items()
    )
    meta = [
        f"<span><b>tool</b> {_e(tool.get('name', 'lockorder'))} "
        f"{_e(tool.get('version', '?'))}</span>",
        f"<span><b>created</b> {_e(report.get('created', '?'))}</span>",
    ]
    if report.get("python"):
        meta.append(f"<span><b>python</b> {_e(report['python'])}</span>")
    return (
        '<header><div class="title"><h1>lockorder report</h1>'
        f'<span class="verdict {verdict}">{_e(_verdict(total, errors, warnings))}</span></div>'
        f'<div class="cards">{card_html}</div>'
        f'<div class="row"><span class="row-head">by kind</span>{kind_html or "none"}</div>'
        f'<div class="row"><span class="row-head">settings</span>{setting_html or "none"}</div>'
        f'<div class="row meta">{_run_text(report.get("run") or {})}{"".join(meta)}</div>'
        "</header>"
    )


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _verdict(total: Any, errors: Any, warnings: Any) -> str:
    if not total:
        return "no findings"
    return f"{_count(total)} finding(s): {_count(errors)} error(s), {_count(warnings)} warning(s)"


def _suppressed_section(report: dict[str, Any]) -> str:
    """Findings a [tool.lockorder] rule suppressed or that were withdrawn, with why."""
    from lockorder._findings import WITHDRAWN_PREFIX
    from lockorder.report import suppressed_of

    entries = suppressed_of(report)
    if not entries:
        return ""
    items = []
    for rule, finding in entries:
        why = "withdrawn" if rule.startswith(WITHDRAWN_PREFIX) else "suppressed"
        locks = " ".join(_lock_chip(ref) for ref in finding.locks)
        items.append(
            f'<details class="quiet"><summary><span class="muted">{why}</span> '
            f"<b>{_e(finding.kind)}</b> ({_e(finding.severity)}): {_e(finding.message)}</summary>"
            + _facts([("rule", _e(rule)), ("locks", locks), ("test", _e(finding.test or "-"))])
            + "</details>"
        )
    return (
        f'<section class="suppressed"><h2>suppressed and withdrawn ({len(entries)})</h2>'
        '<p class="note">Not counted above: findings a [tool.lockorder] rule suppressed, and '
        "findings withdrawn because a lock class of theirs turned out to be used as a signal "
        "(released by another thread than its acquirer).</p>" + "".join(items) + "</section>"
    )


def render_html(report: dict[str, Any]) -> str:
    """The report (as :func:`lockorder.report.load` returns it) as one HTML page."""
    from lockorder.report import findings_of

    findings = findings_of(report)
    graph = _build_graph(report, findings)
    full = _full_view(graph, findings)
    focus = _focus_view(graph, findings) if findings else None
    views = []
    if focus is None:
        views.append(("full", full, True))
    elif set(focus.keys) == set(full.keys) and len(full.keys) == len(graph.nodes):
        focus.note += " That is the whole graph."
        views.append(("focus", focus, True))
    else:
        # the whole graph, or as much of it as can be drawn: always reachable
        # (the toggle, #full), its note saying what it leaves out
        views.append(("focus", focus, True))
        views.append(("full", full, False))
    graph_html = []
    for name, view, shown in views:
        hidden = "" if shown else " hidden"
        graph_html.append(
            f'<div class="view" id="view-{name}"{hidden}><p class="note">{_e(view.note)}</p>'
            f'<div class="canvas">{_svg(view, graph, name)}</div></div>'
        )
    if len(views) == 2:
        toggle = (
            '<label class="toggle"><input type="checkbox" id="show-full"> show the whole graph'
            "</label>"
        )
    else:
        toggle = ""
    kinds = sorted({f.kind for f in findings})
    options = "".join(f'<option value="{_e(k)}">{_e(k)}</option>' for k in kinds)
    open_all = len(findings) <= _OPEN_FINDINGS
    finding_html = "".join(
        _finding(i, f, graph, open_all or i == 1) for i, f in enumerate(findings, 1)
    )
    if not findings:
        finding_html = '<p class="empty">No findings: no potential deadlock was seen.</p>'
    page_title = "lockorder report" + (
        f" — {len(findings)} finding(s)" if findings else " — no findings"
    )
    return "".join(
        [
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            # no network, ever: nothing but this page's own inline style and script
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
            f"<title>{_e(page_title)}</title><style>{_CSS}</style></head><body>",
            _header(report, findings),
            '<nav class="toolbar"><input type="search" id="q" placeholder="filter findings and '
            'highlight locks: name, file, function, thread, test…" autocomplete="off">',
            f'<select id="kind"><option value="">every kind</option>{options}'
            '<option value="error">errors only</option><option value="warning">warnings only'
            "</option></select>",
            '<button type="button" id="expand">expand all</button>'
            '<button type="button" id="collapse">collapse all</button>'
            f'<span id="count" class="muted">{_plural(len(findings), "finding")}</span></nav>',
            '<section class="graph-section"><div class="section-head"><h2>lock-order graph</h2>',
            toggle,
            '<span class="legend"><span class="sw hot"></span>edge of a reported cycle'
            '<span class="sw grey"></span>other edge<span class="sw gated"></span>gated edge'
            '<span class="sw node-hot"></span>class in a finding</span>'
            '<button type="button" id="fit">fit to width</button></div>',
            "".join(graph_html),
            "</section>",
            f'<section class="findings"><h2>findings</h2>{finding_html}</section>',
            _suppressed_section(report),
            f"<script>{_JS}</script></body></html>\n",
        ]
    )


_CSS = """
:root{--red:#c62828;--red-bg:#fdecea;--amber:#9a6700;--amber-bg:#fff4d6;--ink:#1f2328;
--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--blue:#0969da;
--mono:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace;}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans","Liberation Sans",
sans-serif;color:var(--ink);background:#fff}
code,pre,.stack,q{font-family:var(--mono);font-size:12.5px}
q{quotes:"'" "'"}
.suppressed{padding:0 24px 24px}.suppressed details{margin:4px 0}
header{padding:16px 24px 12px;background:var(--bg);border-bottom:1px solid var(--line)}
.title{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:0}
h4{margin:8px 0 4px;font-size:13.5px;font-weight:600}
.verdict{font-weight:600;padding:2px 10px;border-radius:12px}
.verdict.error{color:#fff;background:var(--red)}
.verdict.warning{color:#fff;background:var(--amber)}
.verdict.ok{color:#fff;background:#1a7f37}
.cards{display:flex;gap:10px;margin:12px 0 8px;flex-wrap:wrap}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:6px 16px;
min-width:110px}
.card .n{font-size:22px;font-weight:700}
.card .l{color:var(--muted);font-size:12px}
.card.error{border-color:var(--red)}.card.error .n{color:var(--red)}
.card.warning{border-color:var(--amber)}.card.warning .n{color:var(--amber)}
.row{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:4px 0}
.row-head{color:var(--muted);font-size:12px;min-width:64px}
.chip{border:1px solid var(--line);background:#fff;border-radius:12px;padding:0 9px;
font-size:12.5px;font-family:var(--mono)}
.meta{gap:4px 18px;color:var(--muted);font-size:12.5px}.meta .wide{flex-basis:100%}
.meta b{color:var(--ink);font-weight:600}
.toolbar{position:sticky;top:0;z-index:5;display:flex;gap:8px;align-items:center;
padding:8px 24px;background:#fff;border-bottom:1px solid var(--line)}
.toolbar input{flex:1;max-width:640px;padding:6px 10px;border:1px solid var(--line);
border-radius:6px;font:inherit}
select,button{font:inherit;font-size:13px;padding:5px 10px;border:1px solid var(--line);
border-radius:6px;background:var(--bg);cursor:pointer}
.muted{color:var(--muted)}
section{padding:12px 24px}
.section-head{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin-bottom:4px}
.toggle{user-select:none;cursor:pointer}
.legend{display:flex;gap:6px;align-items:center;color:var(--muted);font-size:12px}
.sw{display:inline-block;width:22px;height:0;border-top:2px solid #8c959f;margin-left:10px}
.sw.hot{border-top:3px solid var(--red);margin-left:0}
.sw.gated{border-top:2px dashed #8c959f}
.sw.node-hot{width:16px;height:12px;border:1.5px solid var(--red);background:var(--red-bg);
border-radius:3px}
#fit{margin-left:auto}
.note{margin:2px 0 6px;color:var(--muted);font-size:12.5px}
.canvas{border:1px solid var(--line);border-radius:8px;overflow:auto;max-height:72vh;
background:#fcfcfd}
.canvas.fit svg{width:100%;height:auto}
svg.graph{display:block}
.node rect{fill:#fff;stroke:#6e7781;stroke-width:1.2}
.node.hot rect{fill:var(--red-bg);stroke:var(--red);stroke-width:1.8}
.node text{font-family:var(--mono);text-anchor:middle;fill:var(--ink)}
.node .t1{font-size:12px;font-weight:700}
.node .t2{font-size:11px;fill:var(--muted)}
.node{cursor:pointer}
.node.match rect{stroke:var(--blue);stroke-width:3;fill:#ddf4ff}
.node.focus rect{stroke:var(--blue);stroke-width:3}
.dim{opacity:.18}
.edge{fill:none;stroke:#8c959f;stroke-width:1.3}
.edge.gated{stroke-dasharray:5 4}
.edge.hot{stroke:var(--red);stroke-width:2.8}
.arrow-grey{fill:#8c959f}.arrow-hot{fill:var(--red)}
.findings h2{margin-bottom:8px}
details.finding{border:1px solid var(--line);border-left:5px solid var(--red);border-radius:8px;
margin:0 0 10px;background:#fff}
details.finding.warning{border-left-color:var(--amber)}
details.finding>summary{cursor:pointer;padding:8px 12px;display:flex;gap:10px;
align-items:baseline;flex-wrap:wrap;list-style:none}
details.finding>summary::-webkit-details-marker{display:none}
details.finding>summary::before{content:"\\25B8";color:var(--muted);width:10px}
details.finding[open]>summary::before{content:"\\25BE"}
details.finding[open]>summary{border-bottom:1px solid var(--line);background:var(--bg);
border-radius:8px 8px 0 0}
.num{color:var(--muted);font-size:12px}
.badge{text-transform:uppercase;font-size:11px;font-weight:700;padding:1px 7px;border-radius:4px;
color:#fff;background:var(--red)}
.badge.warning{background:var(--amber)}
.kind{font-family:var(--mono);font-weight:700}
.msg{flex:1 1 400px;font-family:var(--mono);font-size:12.5px;word-break:break-word}
.test{font-family:var(--mono);font-size:12px;color:var(--blue)}
.body{padding:6px 14px 12px}
.kind-help{margin:4px 0 8px;color:var(--muted);font-size:12.5px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:4px 0 8px}
dl.facts dt{color:var(--muted);font-size:12.5px}
dl.facts dd{margin:0;word-break:break-word}
code.lock{background:var(--red-bg);border:1px solid #f5c2c0;border-radius:4px;padding:0 5px}
.chain{margin:8px 0;padding:8px 10px;background:var(--bg);border-radius:6px;line-height:2}
.chain-head{color:var(--muted);font-size:12px;margin-right:8px}
.arrow{color:var(--red);font-weight:700}
ol.edges{list-style:none;padding:0;margin:0;display:grid;
grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:10px}
li.edge-report{border:1px solid var(--line);border-radius:6px;padding:4px 12px 8px}
.stack-head{color:var(--muted);font-size:12px;margin-top:4px}
ol.stack{margin:2px 0 0;padding:6px 10px 6px 34px;background:#0d1117;color:#e6edf3;
border-radius:6px;overflow:auto}
ol.stack li{white-space:pre}
ol.stack .file{color:#79c0ff}ol.stack .line{color:#ffa657}ol.stack .fn{color:#d2a8ff}
ol.stack li.lib{opacity:.6}
table.scenario{border-collapse:collapse;font-family:var(--mono);font-size:12.5px;margin:4px 0}
table.scenario th{text-align:left;border-bottom:2px solid var(--line);padding:3px 14px 3px 6px}
table.scenario td{padding:2px 14px 2px 6px;white-space:nowrap;vertical-align:top}
table.scenario td.waits{color:var(--red);font-weight:600}
table.scenario td.dead{font-weight:700;color:var(--red);padding-top:6px}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 10px;
overflow:auto;margin:6px 0}
details.as-text{margin-top:8px}details.as-text>summary{cursor:pointer;color:var(--muted);
font-size:12.5px}
.empty{color:var(--muted);font-style:italic}
[hidden]{display:none!important}
"""

_JS = """
(function () {
  "use strict";
  var q = document.getElementById("q"), kind = document.getElementById("kind");
  var count = document.getElementById("count");
  var findings = Array.prototype.slice.call(document.querySelectorAll("details.finding"));
  var texts = findings.map(function (f) { return f.textContent.toLowerCase(); });
  var nodes = Array.prototype.slice.call(document.querySelectorAll("g.node"));
  var edges = Array.prototype.slice.call(document.querySelectorAll("path.edge"));
  function nodesOf(f) { return (f.getAttribute("data-nodes") || "").split(" ").filter(Boolean); }
  function apply() {
    var text = q.value.trim().toLowerCase(), k = kind.value, shown = 0, related = {};
    var active = text !== "" || k !== "";
    findings.forEach(function (f, i) {
      var ok = (!k || f.getAttribute("data-kind") === k || f.getAttribute("data-severity") === k)
        && (!text || texts[i].indexOf(text) >= 0);
      f.hidden = !ok;
      if (ok) { shown++; nodesOf(f).forEach(function (n) { related[n] = true; }); }
    });
    nodes.forEach(function (n) {
      var match = text !== "" && n.getAttribute("data-search").indexOf(text) >= 0;
      n.classList.toggle("match", match);
      if (match) { related[n.getAttribute("data-k")] = true; }
    });
    nodes.forEach(function (n) {
      n.classList.toggle("dim", active && !related[n.getAttribute("data-k")]);
    });
    edges.forEach(function (e) {
      var on = related[e.getAttribute("data-s")] && related[e.getAttribute("data-d")];
      e.classList.toggle("dim", active && !on);
    });
    count.textContent = active ? shown + " of " + findings.length + " findings"
      : findings.length + (findings.length === 1 ? " finding" : " findings");
  }
  q.addEventListener("input", apply);
  kind.addEventListener("change", apply);
  document.getElementById("expand").addEventListener("click", function () {
    findings.forEach(function (f) { f.open = true; });
  });
  document.getElementById("collapse").addEventListener("click", function () {
    findings.forEach(function (f) { f.open = false; });
  });
  var full = document.getElementById("show-full");
  if (full) {
    var showFull = function () {
      document.getElementById("view-full").hidden = !full.checked;
      document.getElementById("view-focus").hidden = full.checked;
      views.forEach(frame);
    };
    full.addEventListener("change", showFull);
    if (location.hash === "#full") { full.checked = true; showFull(); }
  }
  if (location.hash.indexOf("#q=") === 0) {  // report.html#q=TEXT opens filtered
    q.value = decodeURIComponent(location.hash.slice(3));
  }
  function frame(view) {  // a drawing a little too wide shrinks to fit; a big one
    var c = view.querySelector(".canvas"), svg = c && c.querySelector("svg");
    if (!svg || c.getAttribute("data-framed")) { return; }
    var wide = svg.width.baseVal.value, room = c.clientWidth;
    if (!room) { return; }  // hidden: framed when shown
    c.setAttribute("data-framed", "1");
    if (wide > room && wide < room * 1.6) { c.classList.add("fit"); return; }
    var first = svg.querySelector("g.node.hot") || svg.querySelector("g.node");
    if (first) {  // scrolls to its first class in a finding
      var box = first.getBoundingClientRect(), at = c.getBoundingClientRect();
      c.scrollTop += box.top - at.top - 40;
      c.scrollLeft += box.left - at.left - 40;
    }
  }
  var views = Array.prototype.slice.call(document.querySelectorAll(".view"));
  views.forEach(frame);
  document.getElementById("fit").addEventListener("click", function () {
    document.querySelectorAll(".canvas").forEach(function (c) { c.classList.toggle("fit"); });
  });
  nodes.forEach(function (n) {
    n.addEventListener("click", function () {
      var title = n.querySelector("title").textContent.split("\\n")[0];
      q.value = q.value === title ? "" : title;
      apply();
    });
  });
  findings.forEach(function (f) {
    var mark = function (on) {
      var set = {};
      nodesOf(f).forEach(function (k) { set[k] = true; });
      nodes.forEach(function (n) {
        if (set[n.getAttribute("data-k")]) { n.classList.toggle("focus", on); }
      });
    };
    var s = f.querySelector("summary");
    s.addEventListener("mouseenter", function () { mark(true); });
    s.addEventListener("mouseleave", function () { mark(false); });
  });
  apply();
  document.body.setAttribute("data-ready", "1");
})();
"""
