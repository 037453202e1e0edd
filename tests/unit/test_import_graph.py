"""The layer's import graph has no cycle (issue 16): every import of a refdesk module counts, those
made inside functions too, so that a cycle cannot hide behind a function-level import. Only
imports under `if TYPE_CHECKING:` are left out: they never run."""
from __future__ import annotations

import ast
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "refdesk"


def modules() -> dict[str, Path]:
    found = {}
    for path in (LAYER / "refdesk").rglob("*.py"):
        parts = list(path.relative_to(LAYER).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(child for statement in node.body for child in ast.walk(statement))
    return skipped


def imports_of(name: str, path: Path, known: dict[str, Path]) -> dict[str, int]:
    """Module -> the line of its first import here, for each refdesk module `name` imports."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = _type_checking_only(tree)
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        while target and target not in known:  # a name in a module: the module
            target = target.rpartition(".")[0]
        if target and target != name:
            found.setdefault(target, line)

    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("refdesk"):
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.startswith("refdesk"):
                for alias in node.names:
                    add(f"{base}.{alias.name}", node.lineno)
    return found


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_the_layer_has_no_import_cycle_counting_imports_inside_functions():
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}

    found = cycles(graph)

    assert not found, "import cycles: " + "; ".join(
        " ".join(f"{module} -> {target} (line {graph[module][target]})"
                 for module in cycle for target in graph[module] if target in cycle) for cycle in found)


def test_a_cycle_through_a_function_level_import_is_found():
    graph = {"refdesk.a": {"refdesk.b": 1}, "refdesk.b": {"refdesk.c": 3}, "refdesk.c": {"refdesk.a": 9},
             "refdesk.d": {"refdesk.a": 2}}
    assert cycles(graph) == [["refdesk.a", "refdesk.b", "refdesk.c"]]


def test_imports_inside_functions_count_and_type_checking_ones_do_not(tmp_path):
    package = tmp_path / "refdesk"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "b.py").write_text("")
    (package / "c.py").write_text("")
    source = package / "a.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from refdesk import c\n"
                      "def late():\n    from refdesk import b\n")
    known = {"refdesk": package / "__init__.py", "refdesk.a": source, "refdesk.b": package / "b.py",
             "refdesk.c": package / "c.py"}
    assert imports_of("refdesk.a", source, known) == {"refdesk.b": 5}
