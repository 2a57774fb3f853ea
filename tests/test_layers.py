"""The package's layering: no import cycle among the modules of harness/, faults/ and sample_app/.

Imports are read from the source with ``ast`` (nothing is imported), counting every import: those
inside functions and under ``TYPE_CHECKING`` too, since a cycle "for types only" still ties two
modules into one. ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "faults", "sample_app")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that ``name`` (at ``path``) imports."""

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets.update(resolve(f"{base}.{alias.name}") for alias in node.names)
    return {t for t in targets if t is not None and t != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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


def test_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_relative_and_package_imports_resolve_to_modules(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    init = tmp_path / "pkg" / "__init__.py"
    init.write_text("from . import sub\nfrom .other import thing\nimport pkg.sub as s\n")
    known = {"pkg": init, "pkg.sub": tmp_path / "pkg" / "sub.py", "pkg.other": tmp_path / "pkg" / "other.py"}
    assert imports("pkg", init, known) == {"pkg.sub", "pkg.other"}


def test_no_import_cycle_in_the_package() -> None:
    known = modules()
    assert "harness.drill.runner" in known and "faults" in known  # the scan sees the tree
    graph = {name: imports(name, path, known) for name, path in known.items()}
    found = cycles(graph)
    described = [" <-> ".join(f"{m} (imports {sorted(graph[m] & set(c))})" for m in c) for c in found]
    assert not found, "import cycles:\n" + "\n".join(described)


def test_nothing_in_the_package_imports_the_tests() -> None:
    known = modules()
    offenders = [name for name, path in known.items()
                 if any(isinstance(node, (ast.Import, ast.ImportFrom))
                        and any((getattr(node, "module", None) or alias.name).split(".")[0] == "tests"
                                for alias in node.names)
                        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]
    assert offenders == []
