"""The package's imports form no circle and follow its layers (ARCHITECTURE.md,
"Layers: who may import what").

Read from the source: every ``import`` of a lockorder module, at a module's top
level or inside a function (not under ``if TYPE_CHECKING:``), is an edge of a
graph; the graph of top-level imports has no cycle, nor has the whole graph but
for the deferred imports listed in ALLOWED, each with its reason; no module
imports one of a higher layer. And every module imports alone in a fresh
interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "lockorder"

#: deferred imports that close a circle, and why each stays deferred
ALLOWED = {
    ("lockorder._primitives", "lockorder._wrap"): (
        "Condition(lock) wraps a stdlib lock it is given, and wrap() builds its "
        "shadows from these primitives (a Condition's among them); deferred, so "
        "that wrapt (which imports asyncio) loads only when a lock is wrapped"
    ),
}


#: the layers, lowest first; a module imports only modules of its own layer or
#: a lower one. Modules not named are of the runtime's layer.
LAYERS = {
    "foundations": (
        "errors _version _unpatched _forksafe _qualnames _sites _config _impl _findings"
        " _graph _analysis _view report"
    ),
    "state": "_held _state",
    "runtime": "",
    "tools": (
        "cli __main__ _commands _merge _project _confirm _confirm_cli pytest_plugin"
        " _plugin_options _plugin_session _plugin_summary _plugin_watchdog _plugin_confirm"
    ),
}


def layer_of(module: str) -> int:
    """The index in LAYERS of ``module``'s layer."""
    short = module.removeprefix("lockorder").lstrip(".").split(".")[0]
    for index, names in enumerate(LAYERS.values()):
        if short in names.split():
            return index
    return list(LAYERS).index("runtime")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _target(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").exists() or (
        PACKAGE.parent / relative / "__init__.py"
    ).exists()


def import_edges() -> list[tuple[str, str, bool]]:
    """(importer, imported, at top level) for every import of a lockorder module."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hidden: set[int] = set()  # under `if TYPE_CHECKING:`: never run
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                hidden.update(id(inner) for inner in ast.walk(node))
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if id(node) in hidden:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _target(module, path.name == "__init__.py", node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if _is_module(sub) else base)
            for target in targets:
                if target.split(".")[0] == "lockorder" and target != module:
                    edges.append((module, target, id(node) in top))
    return edges


def _graph(top_level_only: bool) -> nx.DiGraph:
    graph = nx.DiGraph()
    for importer, imported, top in import_edges():
        if top or not top_level_only:
            graph.add_edge(importer, imported)
    return graph


def _cycles(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def test_the_source_is_read() -> None:
    # the walk sees what it should: a top-level import and a deferred one
    edges = import_edges()
    assert ("lockorder._tracker", "lockorder._state", True) in edges
    assert ("lockorder.cli", "lockorder._commands", False) in edges
    assert len({importer for importer, _, _ in edges}) > 40


def test_no_circle_at_import_time() -> None:
    assert _cycles(_graph(top_level_only=True)) == []


def test_no_circle_through_deferred_imports_but_the_allowed() -> None:
    graph = _graph(top_level_only=False)
    for edge in ALLOWED:
        assert graph.has_edge(*edge), f"{edge} is allowed but no longer made: drop it from ALLOWED"
    graph.remove_edges_from(ALLOWED)
    assert _cycles(graph) == []


def test_no_module_imports_a_higher_layer() -> None:
    names = list(LAYERS)
    upward = sorted(
        f"{importer} ({names[layer_of(importer)]}) imports {imported} ({names[layer_of(imported)]})"
        for importer, imported, _ in import_edges()
        if layer_of(imported) > layer_of(importer)
    )
    assert upward == []


def test_every_module_has_its_layer() -> None:
    # a name in LAYERS that is no module (renamed, removed) is a stale entry
    modules = {module.removeprefix("lockorder.").split(".")[0] for module in _all_modules()}
    named = {name for names in LAYERS.values() for name in names.split()}
    assert named - modules == set()
    assert layer_of("lockorder._tracker") == 2
    assert layer_of("lockorder.report.html") == 0
    assert layer_of("lockorder.cli") == 3


def _all_modules() -> list[str]:
    return sorted(_module_name(path) for path in PACKAGE.rglob("*.py"))


def test_every_module_imports_alone() -> None:
    modules = _all_modules()
    assert "lockorder._state" in modules
    running = [
        (
            name,
            subprocess.Popen(
                [sys.executable, "-c", f"import {name}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
        for name in modules
    ]
    failed = []
    for name, process in running:
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hang is a failure
            process.kill()
            output, _ = process.communicate()
        if process.returncode != 0:
            failed.append(f"{name}:\n{output}")
    assert not failed, "\n".join(failed)
