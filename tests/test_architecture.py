"""The core's shape: no import cycle among cloudmesh.compute modules (imports at any depth,
inside functions and under TYPE_CHECKING too), and no core module above 400 lines
(docs/architecture.md says which module has which job)."""

from __future__ import annotations

import ast
from pathlib import Path

import cloudmesh.compute

CORE = Path(cloudmesh.compute.__file__).parent
#: not core modules: the conformance kit for provider packages, and file templates
OUTSIDE = {"testing", "templates"}
MAX_LINES = 400
#: modules still above the limit, each with why; the list only shrinks
LONG_MODULES = {
    "cloudmesh.compute.state": "one database with its caches, boot reservations, keys and "
                               "groups",
}


def core_modules() -> dict[str, Path]:
    modules = {}
    for path in CORE.rglob("*.py"):
        relative = path.relative_to(CORE)
        if relative.parts[0] in OUTSIDE:
            continue
        name = ".".join(["cloudmesh.compute", *relative.with_suffix("").parts])
        modules[name.removesuffix(".__init__")] = path
    return modules


def imported(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The core modules ``path`` imports anywhere in its code. ``from cloudmesh.compute
    import errors`` is an edge to ``errors``, not to the package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            submodules = {f"{base}.{a.name}" for a in node.names} & set(modules)
            targets.update(submodules)
            if len(submodules) < len(node.names):
                targets.add(base)
    edges = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def import_graph() -> dict[str, set[str]]:
    modules = core_modules()
    return {name: imported(path, name, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    colour: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if colour.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in colour:
                found = visit(target)
                if found:
                    return found
        path.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if node not in colour:
            found = visit(node)
            if found:
                return found
    return None


def test_the_finder_sees_a_cycle() -> None:
    """The check itself can fail: a two-module knot and an import inside a function."""
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    source = "def f():\n    from cloudmesh.compute import provider\n"
    tree_path = CORE.parent / "_probe_not_written.py"
    modules = {"cloudmesh.compute.provider": tree_path, "cloudmesh.compute.x": tree_path}
    edges = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            edges |= {f"{node.module}.{a.name}" for a in node.names} & set(modules)
    assert edges == {"cloudmesh.compute.provider"}


def test_no_import_cycle_among_core_modules() -> None:
    graph = import_graph()
    assert "cloudmesh.compute.dispatch" in graph and graph["cloudmesh.compute.main"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_process_entry_and_shell_do_not_import_each_other_backwards() -> None:
    """The cms> shell runs lines through dispatch; it never imports the process entry,
    and dispatch imports neither."""
    graph = import_graph()
    assert "cloudmesh.compute.main" not in graph["cloudmesh.compute.repl"]
    assert not {"cloudmesh.compute.main", "cloudmesh.compute.repl"} & \
        graph["cloudmesh.compute.dispatch"]


def test_state_does_not_import_the_output() -> None:
    assert "cloudmesh.compute.output" not in import_graph()["cloudmesh.compute.state"]


def test_no_core_module_is_longer_than_the_limit() -> None:
    long = {name: len(path.read_text(encoding="utf-8").splitlines())
            for name, path in core_modules().items()}
    over = {name: lines for name, lines in long.items()
            if lines > MAX_LINES and name not in LONG_MODULES}
    assert not over, f"core modules above {MAX_LINES} lines: {over}"
    shrunk = [name for name in LONG_MODULES if long.get(name, 0) <= MAX_LINES]
    assert not shrunk, f"no longer above the limit, drop from LONG_MODULES: {shrunk}"
