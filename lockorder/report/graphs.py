"""Graph exports of a report: DOT and GraphML.

GraphML goes through networkx's writer. DOT is written here: networkx's DOT
writers need pydot or pygraphviz, a dependency for twenty lines of text.
Both mark the edges of reported cycles (``cycle=true``, drawn red in DOT); DOT
also draws classes used as signals dashed and edges made only inside ordered
acquisitions dotted (GraphML has every attribute of the report's graph).
"""

from __future__ import annotations

import json
from typing import Any

from lockorder._findings import Finding
from lockorder.report import write_text

__all__ = ["cycle_edges", "write_dot", "write_graphml"]


def cycle_edges(findings: list[Finding]) -> set[tuple[str, str]]:
    """(from key, to key) of every edge of a reported cycle."""
    return {(edge.src.key, edge.dst.key) for f in findings for edge in f.cycle}


def _quote(text: str) -> str:
    return json.dumps(text)  # a DOT quoted string: backslash escapes, double quotes


def write_dot(path: str, graph: dict[str, Any], findings: list[Finding]) -> None:
    hot = cycle_edges(findings)
    lines = ["digraph lockorder {", "  rankdir=LR;", "  node [shape=box, fontname=monospace];"]
    for cls in graph.get("classes", ()):
        # a real newline: json.dumps writes it as \n, which DOT reads as a line break
        label = f"{cls['name']}\n{cls['site']}" if cls.get("name") else cls["site"]
        style = ""
        if cls.get("signal"):  # used as a signal: its holds make no edges (docs/concepts.md)
            label += "\n(signal)"
            style = ", style=dashed"
        lines.append(f"  {_quote(cls['key'])} [label={_quote(label)}{style}];")
    for edge in graph.get("edges", ()):
        attrs = [f"tooltip={_quote(', '.join(edge.get('tests', ())) or edge.get('thread', ''))}"]
        if (edge["from"], edge["to"]) in hot:
            attrs.append('color="red", penwidth=2')
        if edge.get("ordered"):
            attrs.append("style=dotted")  # made only inside ordered acquisitions
        lines.append(f"  {_quote(edge['from'])} -> {_quote(edge['to'])} [{', '.join(attrs)}];")
    lines.append("}")
    write_text(path, "\n".join(lines) + "\n")


def _scalar(value: Any) -> Any:
    """GraphML attributes are scalars: lists and dicts become JSON text, None ''."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def write_graphml(path: str, graph: dict[str, Any], findings: list[Finding]) -> None:
    import networkx as nx

    hot = cycle_edges(findings)
    nxgraph = nx.DiGraph()
    for cls in graph.get("classes", ()):
        nxgraph.add_node(cls["key"], **{k: _scalar(v) for k, v in cls.items() if k != "key"})
    for edge in graph.get("edges", ()):
        attrs = {k: _scalar(v) for k, v in edge.items() if k not in ("from", "to")}
        attrs["cycle"] = (edge["from"], edge["to"]) in hot
        nxgraph.add_edge(edge["from"], edge["to"], **attrs)
    write_text(path, "\n".join(nx.generate_graphml(nxgraph)) + "\n")
