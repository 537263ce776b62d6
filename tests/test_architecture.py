"""The house keeps its shape: imports point down the layers, never up, and never in a cycle.

Every ``import`` of every module of the ``bench`` package is read with
:mod:`ast` (function-level imports included, ``if TYPE_CHECKING:`` blocks
left out: they never run) and checked against :data:`LAYERS` (README.md,
"Architecture").
"""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Top to bottom; a module belongs to the longest prefix listed.  An import may point to a lower
#: layer or within its own layer, never to a higher one.
LAYERS: dict[str, int] = {
    "bench.cli": 9, "bench.__main__": 9,
    "bench.commands": 8,
    "bench.sweep": 7, "bench.suite": 7, "bench.compare": 7, "bench.history": 7, "bench.reports": 7,
    "bench.session": 6, "bench.runner": 6,
    "bench.controllers": 5, "bench.tasks": 5,
    "bench.plants": 4, "bench.datasets": 4, "bench.gymenvs": 4,
    "bench.plugins": 3, "bench.store": 3, "bench.storecheck": 3, "bench.frames": 3,
    "bench.testing": 3, "bench.provenance": 3, "bench.claims": 3,
    "bench.api": 2, "bench.capabilities": 2, "bench.registry": 2, "bench.guards": 2,
    "bench.settings": 1, "bench.npzfile": 1, "bench.hookspecs": 1, "bench.limits": 1, "bench.paths": 1,
    "bench.errors": 0,
}
#: The plugin layers: a plugin package imports no other plugin package of its own layer
#: (controllers do not use tasks, tasks do not use controllers).
PLUGIN_LAYERS = {4, 5}


def package_dirs() -> dict[str, Path]:
    """``bench.*`` package name → folder, from pyproject.toml's package-dir table."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {name: ROOT / folder for name, folder in conf["package-dir"].items()}
    for pkg in conf["packages"]:
        if pkg not in dirs:
            parent, _, last = pkg.rpartition(".")
            while parent and parent not in dirs:
                parent, _, extra = parent.rpartition(".")
                last = f"{extra}.{last}"
            dirs[pkg] = dirs[parent] / Path(*last.split("."))
    return dirs


def modules() -> dict[str, Path]:
    """Every module of the package: dotted name → file."""
    out: dict[str, Path] = {}
    for pkg, folder in package_dirs().items():
        for path in folder.glob("*.py"):
            name = pkg if path.stem == "__init__" else f"{pkg}.{path.stem}"
            out[name] = path
    return out


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(name: str, path: Path) -> set[str]:
    """The dotted names ``name`` imports (relative imports resolved), outside TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.update(f"{mod}.{alias.name}" for alias in node.names)  # a submodule, or an attribute of mod
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (an ``from x import y`` of a submodule y counts as x.y)."""
    mods = modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        for target in imported_names(name, path):
            if target == "bench" or target.startswith("bench."):
                while target not in mods and "." in target:
                    target = target.rpartition(".")[0]
                if target in mods and target != name:
                    edges[name].add(target)
        edges.setdefault(name, set())
    return edges


def layer(module: str) -> tuple[int, str]:
    """(layer, the prefix that placed it)."""
    prefixes = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    if not prefixes:
        raise AssertionError(f"module {module} has no layer: add it to LAYERS and README's Architecture")
    best = max(prefixes, key=len)
    return LAYERS[best], best


def upward_edges(edges: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, targets in sorted(edges.items()):
        if src == "bench":  # the facade re-exports; nothing imports it (checked below)
            continue
        for dst in sorted(targets):
            if dst == "bench":
                bad.append(f"{src} imports the package root 'bench' (import the module it needs)")
                continue
            (ls, ps), (ld, pd) = layer(src), layer(dst)
            if ld > ls:
                bad.append(f"{src} (layer {ls}) imports {dst} (layer {ld})")
            elif ld == ls and ls in PLUGIN_LAYERS and ps != pd:
                bad.append(f"{src} imports {dst}: plugin packages of one layer do not use each other")
    return bad


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def test_every_module_has_a_layer():
    for name in modules():
        if name != "bench":
            layer(name)


def test_no_import_points_upward():
    assert upward_edges(graph()) == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_the_checks_catch_an_upward_edge_and_a_cycle():
    edges = {"bench.store": {"bench.cli"}, "bench.cli": {"bench.store"},
             "bench.controllers.ahf": {"bench.tasks.reach"}, "bench.tasks.reach": set()}
    bad = upward_edges(edges)
    assert any("bench.store (layer 3) imports bench.cli (layer 9)" in b for b in bad)
    assert any("bench.controllers.ahf imports bench.tasks.reach" in b for b in bad)
    assert cycles(edges) == [["bench.cli", "bench.store"]]


def test_function_level_imports_count(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bench import cli\n"
                   "def f():\n    from ..errors import BenchError\n    import bench.store\n")
    names = imported_names("bench.sweep.m", src)
    assert {"bench.errors.BenchError", "bench.store"} <= names
    assert "bench.cli" not in names


def test_only_the_cli_parses_arguments():
    """Library functions take explicit arguments: nothing below the CLI imports argparse."""
    users = [name for name, path in modules().items()
             if "argparse" in imported_names(name, path) and layer(name)[1] != "bench.cli"]
    assert users == []


def test_every_package_folder_is_packaged():
    """A folder with an ``__init__.py`` under a package is listed in pyproject.toml (else a wheel lacks it)."""
    dirs = package_dirs()
    listed = {folder.resolve() for folder in dirs.values()}
    for folder in list(dirs.values()):
        for init in folder.rglob("__init__.py"):
            assert init.parent.resolve() in listed, f"{init.parent} is not in [tool.setuptools] packages"
