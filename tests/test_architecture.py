"""The package structure DESIGN.md asks for, checked on the source with ``ast``:

* layering — ``core`` imports neither ``goexdb`` nor ``goexfs``, and the two sides never import
  each other;
* no import cycle among the modules of core, goexdb and goexfs;
* no module passes 400 lines (DESIGN.md: split one before it does).

What counts as an import: every ``import`` and ``from ... import`` statement anywhere in a
module — at the top, inside a function, under ``if TYPE_CHECKING:`` alike. The checks are about
the modules' dependencies as a reader has to follow them, not only about what Python executes
on import: an import moved into a function, or behind ``TYPE_CHECKING``, hides a cycle from the
interpreter but not from the reader, and a type named from the other side is still a dependency
on it. Relative imports are resolved; ``from pkg import name`` imports the module ``pkg.name``
when there is one, else ``pkg``. Importing ``a.b.c`` is an edge to ``a.b.c`` only, not to the
packages ``a`` and ``a.b`` whose ``__init__`` Python also runs: otherwise every package whose
``__init__`` re-exports its modules would be in a cycle with each of them.

The checks are functions of a root directory, so they are tested here on small synthetic trees
as well as run on the project (the tests marked ``architecture``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

PACKAGES = ("core", "goexdb", "goexfs")
# package -> the project packages it must not import
FORBIDDEN = {"core": ("goexdb", "goexfs"), "goexdb": ("goexfs",), "goexfs": ("goexdb",)}
MAX_LINES = 400
PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to an absolute dotted name."""

    importer: str  # the module holding the statement
    target: str  # the module it names (a project module when there is one)
    line: int


def modules(root: Path) -> dict[str, Path]:
    """Every module of the project's packages under root: dotted name -> file. A package's
    ``__init__.py`` is the package itself; a directory without one is a namespace package and
    no module (its modules are still found)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _base_package(module: str, path: Path, level: int) -> str:
    """The package a relative import of this level starts from."""
    parts = module.split(".")
    if path.name != "__init__.py":
        parts.pop()  # a plain module's level 1 is the package holding it
    return ".".join(parts[: len(parts) - (level - 1)] if level > 1 else parts)


def imports(root: Path) -> Iterator[Import]:
    """Every import statement of every module under root (see the module docstring)."""
    known = modules(root)
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(module, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    start = _base_package(module, path, node.level)
                    base = f"{start}.{base}" if base else start
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    yield Import(module, candidate if candidate in known else base, node.lineno)


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def layering_violations(root: Path) -> list[str]:
    """``core`` importing a side, or one side importing the other: one line per import."""
    found = []
    for each in imports(root):
        if _top(each.target) in FORBIDDEN.get(_top(each.importer), ()):
            found.append(
                f"{each.importer} imports {each.target} (line {each.line}): "
                f"{_top(each.importer)} must not import {_top(each.target)}"
            )
    return sorted(found)


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {project module it imports: line of the first such import}; self-imports
    (a package's ``__init__`` importing a name of its own) are left out."""
    known = modules(root)
    graph: dict[str, dict[str, int]] = {module: {} for module in known}
    for each in imports(root):
        if each.target in known and each.target != each.importer:
            graph[each.importer].setdefault(each.target, each.line)
    return graph


def _components(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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
    return sorted(found)


def _shortest_cycle_through(
    start: str, graph: dict[str, dict[str, int]], within: set[str]
) -> list[str]:
    """The shortest cycle from start back to it inside one component (breadth first, the
    modules tried in name order, so the answer is stable)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph[node]):
                if succ not in within:
                    continue
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if succ not in previous:
                    previous[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"{start} is in a component but on no cycle")  # pragma: no cover


def import_cycles(root: Path) -> list[list[str]]:
    """Import cycles, each as its modules in import order, starting and ending with its
    alphabetically first module: for every module in a cycle, the shortest cycle through it
    (deduplicated), so that each entangled pair or ring is named once."""
    graph = import_graph(root)
    cycles: set[tuple[str, ...]] = set()
    for component in _components(graph):
        for module in component:
            ring = _shortest_cycle_through(module, graph, set(component))[:-1]
            first = ring.index(min(ring))
            rotated = ring[first:] + ring[:first]
            cycles.add((*rotated, rotated[0]))
    return [list(cycle) for cycle in sorted(cycles)]


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    steps = ", ".join(f"{a} imports {b} at line {graph[a][b]}" for a, b in pairwise(cycle))
    return f"{' -> '.join(cycle)} ({steps})"


def oversized_modules(root: Path, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """Modules of more than ``limit`` lines, longest first."""
    sizes = [
        (module, len(path.read_text(encoding="utf-8").splitlines()))
        for module, path in modules(root).items()
    ]
    return sorted(((m, n) for m, n in sizes if n > limit), key=lambda mn: (-mn[1], mn[0]))


# --- the project -----------------------------------------------------------------------------


@pytest.mark.architecture
def test_core_and_the_two_sides_import_only_what_they_may() -> None:
    found = layering_violations(PROJECT)
    assert not found, "layering broken:\n" + "\n".join(found)


@pytest.mark.architecture
def test_no_import_cycles() -> None:
    graph = import_graph(PROJECT)
    found = [describe_cycle(cycle, graph) for cycle in import_cycles(PROJECT)]
    assert not found, f"{len(found)} import cycle(s):\n" + "\n".join(found)


@pytest.mark.architecture
def test_no_module_passes_400_lines() -> None:
    found = [
        f"{m} ({modules(PROJECT)[m].relative_to(PROJECT)}): {n} lines"
        for m, n in oversized_modules(PROJECT)
    ]
    assert not found, f"modules over {MAX_LINES} lines (split them):\n" + "\n".join(found)


# --- the checks, on synthetic trees ----------------------------------------------------------


def make_tree(root: Path, files: dict[str, str]) -> Path:
    """Write files (relative path -> source) under root; every package gets an __init__.py."""
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()
    return root


CLEAN = {
    "core/errors.py": "class GoexError(Exception):\n    pass\n",
    "core/journal.py": "from core.errors import GoexError\nimport sqlite3\n",
    "goexdb/__init__.py": "from goexdb.session import connect\n",
    "goexdb/session.py": "from core.journal import *\nfrom . import effects\n",
    "goexdb/effects.py": "from .backends import base\n",
    "goexdb/backends/base.py": "from core import errors\n",
    "goexfs/__init__.py": "from . import session\n",
    "goexfs/session.py": "import core.errors\nfrom goexfs.tree.paths import normalize\n",
    "goexfs/tree/paths.py": "import os.path\n\ndef normalize(p): return p\n",
}


def test_a_clean_tree_passes_every_check(tmp_path: Path) -> None:
    root = make_tree(tmp_path, CLEAN)
    assert layering_violations(root) == []
    assert import_cycles(root) == []
    assert oversized_modules(root) == []


def test_modules_and_their_imports_are_resolved(tmp_path: Path) -> None:
    root = make_tree(tmp_path, CLEAN)
    graph = import_graph(root)
    assert "goexfs.tree.paths" in graph and "goexdb.backends" not in graph  # a namespace dir
    assert graph["goexdb.session"] == {"core.journal": 1, "goexdb.effects": 2}
    assert graph["goexdb.effects"] == {"goexdb.backends.base": 1}
    assert graph["goexdb.backends.base"] == {"core.errors": 1}
    assert graph["goexdb"] == {"goexdb.session": 1}  # from pkg import name: the module
    assert graph["goexfs"] == {"goexfs.session": 1}  # "." in a package's __init__: itself
    assert graph["goexfs.session"] == {"core.errors": 1, "goexfs.tree.paths": 2}


def test_core_importing_a_side_is_named(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            **CLEAN,
            "core/render.py": "def show():\n    from goexdb.effects import Row\n",
            "core/llm.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    import goexfs.session\n",
        },
    )
    assert layering_violations(root) == [
        "core.llm imports goexfs.session (line 3): core must not import goexfs",
        "core.render imports goexdb.effects (line 2): core must not import goexdb",
    ]


def test_one_side_importing_the_other_is_named(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {**CLEAN, "goexfs/prompt.py": "from goexdb import dsn\n"})
    assert layering_violations(root) == [
        "goexfs.prompt imports goexdb (line 1): goexfs must not import goexdb"
    ]


def test_a_cycle_is_named_in_order(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            **CLEAN,
            "goexdb/lint/__init__.py": "from goexdb.lint.engine import run\n",
            "goexdb/lint/engine.py": "from goexdb.reports import write\n\ndef run(): ...\n",
            "goexdb/reports.py": "from . import report_formats\n\ndef write(): ...\n",
            # inside a function, and "from pkg import name" where name is no module: pkg
            "goexdb/report_formats.py": "def sarif():\n    from goexdb.lint import run\n",
        },
    )
    graph = import_graph(root)
    assert import_cycles(root) == [
        [
            "goexdb.lint",
            "goexdb.lint.engine",
            "goexdb.reports",
            "goexdb.report_formats",
            "goexdb.lint",
        ]
    ]
    assert describe_cycle(import_cycles(root)[0], graph) == (
        "goexdb.lint -> goexdb.lint.engine -> goexdb.reports -> goexdb.report_formats -> "
        "goexdb.lint (goexdb.lint imports goexdb.lint.engine at line 1, goexdb.lint.engine "
        "imports goexdb.reports at line 1, goexdb.reports imports goexdb.report_formats at "
        "line 1, goexdb.report_formats imports goexdb.lint at line 2)"
    )
    assert layering_violations(root) == []


def test_two_cycles_through_one_module_are_each_named(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            **CLEAN,
            "goexdb/clone.py": "def pick():\n    from goexdb.backends import duckdb_clone, "
            "postgres_clone\n",
            "goexdb/backends/duckdb_clone.py": "from goexdb.clone import Plan\n",
            "goexdb/backends/postgres_clone.py": "from ..clone import Plan\n",
        },
    )
    assert import_cycles(root) == [
        ["goexdb.backends.duckdb_clone", "goexdb.clone", "goexdb.backends.duckdb_clone"],
        ["goexdb.backends.postgres_clone", "goexdb.clone", "goexdb.backends.postgres_clone"],
    ]


def test_a_package_importing_its_own_names_is_no_cycle(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {**CLEAN, "goexfs/__init__.py": "from goexfs import VERSION\n"})
    assert import_cycles(root) == []


def test_a_module_of_401_lines_is_named_and_400_pass(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {**CLEAN, "goexfs/big.py": "x = 1\n" * 401, "goexfs/tree/fits.py": "x = 1\n" * 400},
    )
    assert oversized_modules(root) == [("goexfs.big", 401)]
