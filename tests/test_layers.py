"""The package's layering: no import cycle among the modules of harness/, faults/ and sample_app/,
and no module there that only the tests use.

Imports are read from the source with ``ast`` (nothing is imported), counting every import: those
inside functions and under ``TYPE_CHECKING`` too, since a cycle "for types only" still ties two
modules into one. ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "faults", "sample_app")
# Modules loaded by path or by name from outside Python imports, and who loads them.
LOADED_FROM_OUTSIDE = {
    "harness.sandbox_child": "harness.sandbox runs the file as a script inside the namespace",
    "harness.chaostoolkit.actions": "Chaos Toolkit experiments name it (examples/chaostoolkit)",
    "harness.chaostoolkit.probes": "Chaos Toolkit experiments name it (examples/chaostoolkit)",
}


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


def entry_points() -> set[str]:
    """The modules pyproject.toml names as console scripts and plugin entry points."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    targets = list(project.get("scripts", {}).values())
    for group in project.get("entry-points", {}).values():
        targets.extend(group.values())
    return {target.partition(":")[0] for target in targets}


def reached(roots: set[str], known: dict[str, Path]) -> set[str]:
    """Every module loading ``roots`` runs: imports, the packages around them, and the modules a
    lazy-export table names as strings (``harness.lazy``)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        named = {node.value for node in ast.walk(ast.parse(known[name].read_text(encoding="utf-8")))
                 if isinstance(node, ast.Constant) and node.value in known}
        for target in imports(name, known[name], known) | named | {name}:
            parts = target.split(".")
            todo.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return seen


def test_every_module_serves_the_package_not_only_the_tests() -> None:
    """Scaffolding only tests use lives in tests/: each module is reached from an entry point."""
    known = modules()
    roots = entry_points() | set(LOADED_FROM_OUTSIDE) | {name for name in known if name.endswith(".__main__")}
    assert roots <= set(known), roots - set(known)
    assert sorted(set(known) - reached(roots, known)) == []


def test_nothing_in_the_package_imports_the_tests() -> None:
    known = modules()
    offenders = [name for name, path in known.items()
                 if any(isinstance(node, (ast.Import, ast.ImportFrom))
                        and any((getattr(node, "module", None) or alias.name).split(".")[0] == "tests"
                                for alias in node.names)
                        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]
    assert offenders == []
