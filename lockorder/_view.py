"""The networkx view of a lock-order graph (imported only when asked for)."""

from __future__ import annotations

from typing import Any

__all__ = ["to_networkx"]


def to_networkx(wire: dict[str, Any]) -> Any:
    """A ``networkx.DiGraph`` of lock classes (nodes, keyed by class key) and
    edges, with the evidence as attributes, from the builtin-types form that
    :meth:`LockGraph.to_wire` and the JSON report share."""
    import networkx as nx

    graph = nx.DiGraph()
    for cls in wire.get("classes", ()):
        graph.add_node(cls["key"], **{k: v for k, v in cls.items() if k != "key"})
    for edge in wire.get("edges", ()):
        attrs = {k: v for k, v in edge.items() if k not in ("from", "to")}
        graph.add_edge(edge["from"], edge["to"], **attrs)
    return graph
