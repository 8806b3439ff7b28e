"""The import graph of honeyframe_dagster and api, read with `ast`: no cycle, and the layers import downwards.

Module-level imports are what Python runs at import; an import inside a function runs later, but a cycle through
one is still a cycle of design, so both are checked (and counted apart in the printed size).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from honeyframe_dagster.settings import REPO_ROOT, child_environment

PACKAGES = ("honeyframe_dagster", "api")
Graph = dict[str, set[str]]


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph() -> tuple[Graph, Graph]:
    """(module-level, function-level) edges between our modules; `if TYPE_CHECKING:` imports are not edges."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    def targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = module.split(".") if known[module].name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # `from package import module` imports the module; `from module import name` imports the module.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for name in names:
            target = resolve(name)
            if target is not None and target != module:
                yield target

    top: Graph = {module: set() for module in known}
    inner: Graph = {module: set() for module in known}

    def walk(module: str, node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                (inner if in_function else top)[module].update(targets(module, child))
            walk(module, child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    for module, path in known.items():
        walk(module, ast.parse(path.read_text(), str(path)), False)
    return top, {module: inner[module] - top[module] for module in known}


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycle() -> None:
    top, inner = import_graph()
    both = {module: top[module] | inner[module] for module in top}
    print(
        f"import graph: {len(top)} modules, {sum(map(len, top.values()))} module-level edges, "
        f"{sum(map(len, inner.values()))} more inside functions"
    )
    assert cycles(top) == []
    assert cycles(both) == []


def subpackage(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to: `honeyframe_dagster.store.writes` →
    `honeyframe_dagster.store`, `api.routes.runs` → `api.routes`, `honeyframe_dagster.cli` as it is."""
    return ".".join(module.split(".")[:2])


def subpackage_graph() -> Graph:
    """Edges between subpackages: one wherever a module of one imports a module of another (at any level)."""
    top, inner = import_graph()
    graph: Graph = {subpackage(module): set() for module in top}
    for module in top:
        graph[subpackage(module)].update(subpackage(t) for t in top[module] | inner[module])
        graph[subpackage(module)].discard(subpackage(module))
    return graph


def test_the_subpackages_import_each_other_without_a_cycle() -> None:
    """No two subpackages import each other, even through others: e.g. the model layer names no step kind (the kinds
    register with model/kinds.py), and the store never imports the legacy migration (boot.py joins the two)."""
    graph = subpackage_graph()
    print(f"subpackage graph: {len(graph)} subpackages, {sum(map(len, graph.values()))} edges")
    assert cycles(graph) == []


def test_the_layers_import_downwards() -> None:
    """Steps never import the factory that builds jobs of them; nothing below the API imports it; the store and
    the model never import the factory nor a step kind (nor the store the legacy migration); only the CLI starts
    the long-running services."""
    top, inner = import_graph()
    rules = {
        "honeyframe_dagster.steps": ("honeyframe_dagster.factory", "api"),
        "honeyframe_dagster.factory": ("api", "honeyframe_dagster.services.stack", "honeyframe_dagster.cli"),
        "honeyframe_dagster.store": (
            "honeyframe_dagster.factory",
            "honeyframe_dagster.legacy",
            "honeyframe_dagster.steps",
            "api",
        ),
        "honeyframe_dagster.model": (
            "honeyframe_dagster.factory",
            "honeyframe_dagster.store",
            "honeyframe_dagster.steps",
            "api",
        ),
        "honeyframe_dagster.settings": ("honeyframe_dagster.",),
        "honeyframe_dagster.services": ("api", "honeyframe_dagster.cli"),
    }
    wrong = [
        f"{module} -> {target}"
        for module in top
        for target in top[module] | inner[module]
        for layer, forbidden in rules.items()
        if (module == layer or module.startswith(f"{layer}."))
        and any(target == f or target.startswith(f if f.endswith(".") else f"{f}.") for f in forbidden)
    ]
    assert wrong == []


def test_the_code_locations_never_import_the_api(tmp_path: Path) -> None:
    """Neither importing the definitions nor anything they may import later (in a function) reaches api/."""
    top, inner = import_graph()
    reached, todo = set(), ["honeyframe_dagster.definitions", "honeyframe_dagster.warehouse_definitions"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(top[module] | inner[module])
    assert sorted(m for m in reached if m.split(".")[0] == "api") == []

    code = (
        "import sys, honeyframe_dagster.definitions, honeyframe_dagster.warehouse_definitions\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'api'))"
    )
    env = child_environment({"HONEYFRAME_HOME": str(tmp_path)})
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert loaded.stdout.strip() == "[]"
