"""The layers, read from the source: collectors/ below warehouse/ below socialkpi/ below dashboard.py.

Every import of every module counts, wherever it is written: at the top, inside a function (the lazy
imports that keep ``socialkpi --help`` fast) or under ``if TYPE_CHECKING:``.  A module may import its own
layer and the layers below it, never one above; and no module may reach itself again through its imports
(an import circle), whatever the layers.  An import names the module it loads (``from warehouse import
queries`` is ``warehouse.queries``; ``from collectors import PLATFORMS`` is the package ``collectors``);
the parent packages Python also runs on the way are not counted.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"collectors": 0, "warehouse": 1, "socialkpi": 2, "dashboard": 3}  # a higher number sits above


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module it imports
    where: str  # file:line of the import statement


def modules(root: Path) -> dict[str, Path]:
    """Every module of the layers under ``root``, by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for top in LAYERS:
        package = root / top
        files = sorted(package.rglob("*.py")) if package.is_dir() else [root / f"{top}.py"]
        for path in files:
            if not path.is_file():
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module of ours ``name`` loads (its longest known prefix), or None for another library's."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def imports(root: Path) -> tuple[Import, ...]:
    """Every import between our modules, each statement once per module it names."""
    return tuple(_imports(root))


def _imports(root: Path) -> Iterator[Import]:
    known = modules(root)
    for source, path in known.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # from . import x, from ..y import z
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                # "from a import b": the module a.b when there is one, else what a itself defines
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            for target in dict.fromkeys(t for t in (_resolve(n, known) for n in names) if t and t != source):
                yield Import(source, target, where)


def layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def upward(root: Path) -> list[Import]:
    """Every import of a module from a layer above its own."""
    return [i for i in imports(root) if layer(i.target) > layer(i.source)]


def cycles(root: Path) -> list[list[Import]]:
    """One import circle per group of modules that reach each other (a strongly connected component),
    as the imports that close it: a -> b -> ... -> a."""
    graph: dict[str, dict[str, Import]] = {m: {} for m in modules(root)}
    for i in imports(root):
        graph[i.source].setdefault(i.target, i)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the graph is a few hundred modules deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    out = []
    for group in groups:  # the shortest way from the group's first module back to it, inside the group
        members, start = set(group), group[0]
        paths: dict[str, list[Import]] = {start: []}
        frontier, found = [start], None
        while found is None:  # a way back exists: the group is strongly connected
            following = []
            for v in frontier:
                for w, imp in sorted(graph[v].items()):
                    if w == start:
                        found = [*paths[v], imp]
                        break
                    if w in members and w not in paths:
                        paths[w] = [*paths[v], imp]
                        following.append(w)
                if found is not None:
                    break
            frontier = following
        out.append(found)
    return out


def describe(cycle: list[Import]) -> str:
    chain = " -> ".join([cycle[0].source, *(i.target for i in cycle)])
    return f"{chain} ({', '.join(i.where for i in cycle)})"


def test_no_module_imports_a_layer_above_its_own() -> None:
    found = [f"{i.source} imports {i.target} ({i.where})" for i in upward(ROOT)]
    assert not found, "imports from a lower layer to a higher one:\n" + "\n".join(found)


def test_no_import_circle() -> None:
    found = [describe(c) for c in cycles(ROOT)]
    assert not found, "import circles:\n" + "\n".join(found)


def test_the_layers_cover_every_module() -> None:
    names = modules(ROOT)
    assert {"collectors", "collectors.http", "warehouse.db", "socialkpi.cli", "socialkpi.sandbox.world"} <= set(names)
    assert "dashboard" in names
    assert len(imports(ROOT)) > 200  # the walk sees the imports (the lazy ones included)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def tangled(tmp_path: Path) -> Path:
    """A small tree with one of each thing the checks must find, and the imports they must let be."""
    return _tree(
        tmp_path,
        {
            "collectors/__init__.py": "",
            "collectors/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from collectors.b import B\n",
            "collectors/b.py": "import json\n\nfrom collectors import a\n",  # a <-> b, through TYPE_CHECKING
            "collectors/c.py": "def f():\n    from warehouse.w import W  # a lazy import, upward\n",
            "warehouse/__init__.py": "",
            "warehouse/w.py": "from collectors.c import f\nfrom . import v\n",  # c <-> w, relative import
            "warehouse/v.py": "from warehouse import w\nimport collectors.a\n",  # v <-> w
            "socialkpi/__init__.py": "",
            "socialkpi/s.py": "import warehouse.v\nimport dashboard\n",  # upward to the dashboard
            "dashboard.py": "from socialkpi import s\n",  # s <-> dashboard
        },
    )


def test_the_checks_find_upward_imports_wherever_they_are_written(tangled: Path) -> None:
    assert sorted((i.source, i.target, i.where) for i in upward(tangled)) == [
        ("collectors.c", "warehouse.w", "collectors/c.py:2"),
        ("socialkpi.s", "dashboard", "socialkpi/s.py:2"),
    ]


def test_the_checks_report_each_circle_with_its_imports(tangled: Path) -> None:
    assert sorted(describe(c) for c in cycles(tangled)) == [
        "collectors.a -> collectors.b -> collectors.a (collectors/a.py:3, collectors/b.py:3)",
        "collectors.c -> warehouse.w -> collectors.c (collectors/c.py:2, warehouse/w.py:1)",
        "dashboard -> socialkpi.s -> dashboard (dashboard.py:1, socialkpi/s.py:2)",
    ]
