"""The HTML report's drawings: a layout of the lock-order graph, as SVG.

Each weakly connected component gets a small Sugiyama-style layout, left to
right, unless it holds a big cycle group (a strongly connected component of more
than ``COMPACT_GROUP`` classes): a layered layout draws such a group as a band
thousands of pixels long, so that component is laid out compactly instead, in a
grid whose order keeps linked classes near, inside a frame that names the group
and counts its classes and edges. The components are packed in rows; networkx
only for the graph algorithms. Node sizes come from :mod:`lockorder.report._views`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from lockorder.report._views import NODE_H, Edge, Graph, Node, View, esc

# geometry of the drawing (px)
_COL_GAP = 80.0
_ROW_GAP = 18.0
_DUMMY_GAP = 11.0
_LOOP_ROOM = 24.0
_COMP_GAP = 36.0
_PACK_WIDTH = 1300.0
#: a component with a cycle group of more classes than this is laid out as a grid
COMPACT_GROUP = 24
_GRID_COL_GAP = 56.0
_GRID_ROW_GAP = 34.0  # a self-loop (30 px high) fits above a node
_GRID_ASPECT = 2.2  # width / height aimed at: what is left of a wide first screen
_FRAME_PAD = 14.0
_FRAME_HEAD = 22.0


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
    #: a compact (grid) component: its edges go straight, and its frame's label
    compact: bool = False
    label: str = ""
    x: float = 0.0  # where packing put it
    y: float = 0.0


def _layout_component(
    keys: list[str], pairs: list[tuple[str, str]], nodes: dict[str, Node]
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


def _big_group(keys: list[str], pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """The size of the component's biggest cycle group, and its count of edges."""
    import networkx as nx

    digraph = nx.DiGraph()
    digraph.add_nodes_from(keys)
    digraph.add_edges_from(pairs)
    biggest: set[str] = max(nx.strongly_connected_components(digraph), key=len, default=set())
    inside = sum(1 for s, d in pairs if s in biggest and d in biggest and s != d)
    return len(biggest), inside


def _grid_component(
    keys: list[str], pairs: list[tuple[str, str]], nodes: dict[str, Node], group: tuple[int, int]
) -> _Placed:
    """A compact layout: a grid, filled row by row in alternate directions in a
    reverse Cuthill-McKee order (linked classes get near numbers, so they land in
    the same or a nearby row), inside a frame labelled with the group's counts."""
    import math

    import networkx as nx

    undirected = nx.Graph()
    undirected.add_nodes_from(keys)
    undirected.add_edges_from((s, d) for s, d in pairs if s != d)
    order = list(nx.utils.reverse_cuthill_mckee_ordering(undirected))
    n = len(order)
    cell_w = sum(nodes[k].w for k in keys) / n + _GRID_COL_GAP
    pitch = NODE_H + _GRID_ROW_GAP
    cols = max(1, min(n, round(math.sqrt(n * _GRID_ASPECT * pitch / cell_w))))
    rows = math.ceil(n / cols)
    cell: dict[str, tuple[int, int]] = {}
    for i, key in enumerate(order):
        row, col = divmod(i, cols)
        cell[key] = (row, cols - 1 - col if row % 2 else col)  # rows alternate direction
    col_w = [0.0] * cols
    for key, (_, col) in cell.items():
        col_w[col] = max(col_w[col], nodes[key].w)
    col_x: list[float] = []
    left = _FRAME_PAD
    for w in col_w:
        col_x.append(left + w / 2)
        left += w + _GRID_COL_GAP
    top = _FRAME_PAD + _FRAME_HEAD + _LOOP_ROOM
    for key, (row, col) in cell.items():
        nodes[key].x = col_x[col]
        nodes[key].y = top + row * pitch + NODE_H / 2
    width = left - _GRID_COL_GAP + _FRAME_PAD
    height = top + rows * pitch - _GRID_ROW_GAP + _FRAME_PAD
    classes, edges = group
    label = (
        f"cycle group: {classes:,} lock classes, {edges:,} edges between them "
        "(laid out compactly: every class here can reach every other)"
    )
    return _Placed(keys, width, height, compact=True, label=label)


def _layout(view: View, nodes: dict[str, Node]) -> tuple[list[_Placed], float, float]:
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
    placed = []
    for keys, inner in zip(components, pairs, strict=True):
        group = _big_group(keys, inner) if len(keys) > COMPACT_GROUP else (0, 0)
        if group[0] > COMPACT_GROUP:
            placed.append(_grid_component(keys, inner, nodes, group))
        else:
            placed.append(_layout_component(keys, inner, nodes))
    row_w = max([_PACK_WIDTH, *(p.width for p in placed)])
    x = y = row_h = total_w = 0.0
    for part in placed:
        if x > 0 and x + part.width > row_w:
            x, y, row_h = 0.0, y + row_h + _COMP_GAP, 0.0
        part.x, part.y = x, y
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


def _loop_path(node: Node) -> str:
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
    edges: list[Edge],
    nodes: dict[str, Node],
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


def _clip(node: Node, toward: _Point) -> _Point:
    """Where the ray from the node's centre towards a point leaves its box."""
    dx, dy = toward[0] - node.x, toward[1] - node.y
    limits = [node.w / 2 / abs(dx) if dx else float("inf")]
    limits.append(node.h / 2 / abs(dy) if dy else float("inf"))
    t = min(limits)
    return (node.x + t * dx, node.y + t * dy) if t != float("inf") else (node.x, node.y)


def _direct(src: Node, dst: Node) -> str:
    """A slightly bent edge between two classes of a compact group: bent to the
    left of its direction, so that A -> B and B -> A are two arcs."""
    dx, dy = dst.x - src.x, dst.y - src.y
    length = max((dx * dx + dy * dy) ** 0.5, 1.0)
    bend = min(40.0, 0.12 * length)
    control = ((src.x + dst.x) / 2 + dy / length * bend, (src.y + dst.y) / 2 - dx / length * bend)
    (x0, y0), (x1, y1) = _clip(src, control), _clip(dst, control)
    return f"M{_fmt(x0)},{_fmt(y0)} Q{_fmt(control[0])},{_fmt(control[1])} {_fmt(x1)},{_fmt(y1)}"


def svg(view: View, graph: Graph, prefix: str) -> str:
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
    # drawing coordinates are the page's: the viewBox starts above and left of 0,0
    # (the script pans and zooms by moving the viewBox; width and height are the
    # drawing's natural size, used as they are where scripts do not run)
    box = f"{_fmt(-margin)} {_fmt(-margin - top_room)} {_fmt(w)} {_fmt(h)}"
    out = [
        f'<svg class="graph" id="{prefix}-svg" width="{_fmt(w)}" height="{_fmt(h)}" '
        f'viewBox="{box}" role="img" aria-label="lock-order graph">',
        "<defs>",
    ]
    for name in ("grey", "hot"):
        out.append(
            f'<marker id="{prefix}-{name}" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path class="arrow-{name}" d="M0,0 L10,5 L0,10 z"/></marker>'
        )
    out.append("</defs><g>")
    compact = {key for part in placed if part.compact for key in part.keys}
    for part in placed:
        if part.compact:
            out.append(
                f'<g class="group"><rect x="{_fmt(part.x)}" y="{_fmt(part.y)}" '
                f'width="{_fmt(part.width)}" height="{_fmt(part.height)}" rx="10"/>'
                f'<text x="{_fmt(part.x + _FRAME_PAD)}" y="{_fmt(part.y + _FRAME_PAD + 12)}">'
                f"{esc(part.label)}</text></g>"
            )
    layered = [e for e in view.edges if e.src not in compact]
    points = _edge_points(layered, nodes, routes, back)
    for edge in sorted(view.edges, key=lambda e: e.hot):
        pair = (edge.src, edge.dst)
        if edge.src == edge.dst:
            d = _loop_path(nodes[edge.src])
        elif edge.src in compact:
            d = _direct(nodes[edge.src], nodes[edge.dst])
        else:
            d = _curve(points[pair])
        cls = "edge hot" if edge.hot else "edge gated" if edge.gated else "edge"
        marker = "hot" if edge.hot else "grey"
        out.append(
            f'<path class="{cls}" d="{d}" marker-end="url(#{prefix}-{marker})" '
            f'data-s="{graph.number[edge.src]}" data-d="{graph.number[edge.dst]}">'
            f"<title>{esc(edge.tooltip)}</title></path>"
        )
    for key in view.keys:
        node = nodes[key]
        x, y = node.x - node.w / 2, node.y - node.h / 2
        cls = "node hot" if node.hot else "node"
        out.append(
            f'<g class="{cls}" data-k="{graph.number[key]}" data-search="{esc(node.search)}">'
            f"<title>{esc(node.tooltip)}</title>"
            f'<rect x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(node.w)}" height="{_fmt(node.h)}" '
            f'rx="6"/>'
            f'<text class="t1" x="{_fmt(node.x)}" y="{_fmt(node.y - 3)}">{esc(node.title)}</text>'
            f'<text class="t2" x="{_fmt(node.x)}" y="{_fmt(node.y + 12)}">{esc(node.sub)}</text>'
            "</g>"
        )
    out.append("</g></svg>")
    return "".join(out)
