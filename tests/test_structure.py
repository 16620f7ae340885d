"""Guards for the whole package's structure (issue 14): no import cycles, no long functions without a reason.

Both read the source with :mod:`ast` (nothing is imported or run).

* Imports: every ``import``/``from ... import`` of a package module, at module level *or inside a function*,
  is an edge. Function-level imports count because they are cycles all the same: they only move the failure
  from import time to the first call (or hide it in a branch tests never take). An import under
  ``if TYPE_CHECKING:`` is not an edge (it never runs).
* Length: a function's lines from ``def`` to its end, not counting its docstring. Over ``MAX_LINES`` it needs a
  comment ``# long function: <why>`` on the line above its ``def`` (or its decorators) or in its first body
  lines.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import massage_outcomes

ROOT = Path(massage_outcomes.__file__).resolve().parent
PACKAGE = "massage_outcomes"
MAX_LINES = 120
REASON = "# long function:"


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` blocks."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                skip.update(id(n) for n in ast.walk(sub))
    return skip


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module name of a (possibly relative) ``from ... import``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, anywhere in it."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for m, f in modules.items():
        tree = ast.parse(f.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                graph[m].update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(m, f.name == "__init__.py", node)
                if target in modules:
                    graph[m].add(target)
                graph[m].update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules)
        graph[m].discard(m)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_sees_function_level_and_relative_imports() -> None:
    graph = import_graph()
    assert "massage_outcomes.effects._compiled" in graph["massage_outcomes.effects._kernels"]  # inside a function
    assert "massage_outcomes.errors" in graph["massage_outcomes.effects.pooling"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_the_package() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (each a set of modules that import one another, at any level): " + "; ".join(
        " <-> ".join(c) for c in found)


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return int(first.end_lineno or first.lineno) - first.lineno + 1
    return 0


@functools.cache
def long_functions() -> dict[str, tuple[int, bool]]:
    """"path:qualname" -> (lines without the docstring, whether a ``# long function:`` comment says why)."""
    out: dict[str, tuple[int, bool]] = {}
    for f in sorted(ROOT.rglob("*.py")):
        lines = f.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))

        def walk(node: ast.AST, prefix: str, path: str = f.relative_to(ROOT).as_posix(), lines: list[str] = lines) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    name = f"{prefix}{child.name}"
                    n = int(child.end_lineno or child.lineno) - child.lineno + 1 - _docstring_lines(child)
                    if n > MAX_LINES:
                        top = min([d.lineno for d in child.decorator_list] + [child.lineno])
                        body_start = child.body[0].lineno if child.body else child.lineno
                        near = lines[max(top - 2, 0):top - 1] + lines[body_start - 1:body_start + 4]
                        out[f"{path}:{name}"] = (n, any(REASON in ln for ln in near))
                    walk(child, f"{name}.")
                elif isinstance(child, ast.ClassDef):
                    walk(child, f"{prefix}{child.name}.")

        walk(tree, "")
    return out


def test_no_function_over_120_lines_without_a_reason() -> None:
    bad = {k: n for k, (n, why) in long_functions().items() if not why}
    assert not bad, (f"functions over {MAX_LINES} lines (docstring not counted): "
                     + ", ".join(f"{k} ({n})" for k, n in sorted(bad.items()))
                     + f". Split them into steps, or say why in a '{REASON} ...' comment above the def.")


def test_test_file_basenames_are_unique() -> None:
    """pytest's default import mode imports test files by basename: two ``test_x.py`` in different folders stop the
    whole run at collection ("import file mismatch")."""
    tests = Path(__file__).resolve().parent
    seen: dict[str, list[str]] = {}
    for p in tests.rglob("test_*.py"):
        seen.setdefault(p.name, []).append(str(p.relative_to(tests)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"rename one of each: {clashes}"
