"""The layout rules of DESIGN.md and STYLE.md, read from the source with ``ast``.

- faas never imports gateway or scheduler (or Starlette, APScheduler, uvicorn), but for
  ``faas/cli/serve.py``, the composition root; gateway and scheduler never import each other; the
  worker side imports only the standard library and the wire protocol; functions import nothing of
  ours.
- No import cycle between our modules (faas, gateway, scheduler). Every import counts: ``import x``
  and ``from x import y``, relative or absolute, at module level, inside a function or under
  ``if TYPE_CHECKING`` (a type-only back reference is still a circle in the design);
  ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
- No module of ours over 450 lines (STYLE.md: split before ~450), unless its module docstring (or,
  without one, the comment lines at its top) says why and contains the words "over 450 lines", e.g.
  ``Over 450 lines because ...``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parent.parent
OURS = ("faas", "gateway", "scheduler")
COMPOSITION_ROOT = Path("faas/cli/serve.py")
MAX_LINES = 450
LONG_MARK = "over 450 lines"


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def top(name: str) -> str:
    return name.split(".", 1)[0]


def test_core_does_not_import_the_edges() -> None:
    assert (ROOT / COMPOSITION_ROOT).is_file(), f"{COMPOSITION_ROOT} is gone: update the exemption"
    for path in (ROOT / "faas").rglob("*.py"):
        if path.relative_to(ROOT) == COMPOSITION_ROOT:
            continue
        bad = {n for n in imports(path) if top(n) in {"gateway", "scheduler", "starlette", "apscheduler", "uvicorn"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_gateway_and_scheduler_do_not_import_each_other() -> None:
    for package, other in (("gateway", "scheduler"), ("scheduler", "gateway")):
        for path in (ROOT / package).rglob("*.py"):
            bad = {n for n in imports(path) if top(n) == other}
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_worker_side_is_stdlib_and_protocol_only() -> None:
    allowed = {"faas.executor.protocol", "faas.executor.worker_context", "faas.executor"}
    for path in (ROOT / "faas" / "executor").glob("worker*.py"):
        for name in imports(path):
            if top(name) == "faas":
                assert name in allowed, f"{path.name} imports {name}"
            else:
                assert top(name) in sys.stdlib_module_names, f"{path.name} imports non-stdlib {name}"


def test_functions_import_nothing_of_ours() -> None:
    for path in (ROOT / "functions").rglob("*.py"):
        bad = {n for n in imports(path) if top(n) in {"faas", "gateway", "scheduler"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


# --- import cycles -------------------------------------------------------------------------------


def our_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of faas, gateway and scheduler."""
    modules: dict[str, Path] = {}
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, anywhere in its body."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    assert node.level - 1 < len(parts), f"{path}: relative import beyond the top"
                    base = ".".join(parts[: len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:  # from pkg import submodule
                        targets.add(f"{base}.{alias.name}")
                    elif base in modules:
                        targets.add(base)
        targets.discard(name)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> Iterator[tuple[list[str], set[str]]]:
    """Each group of modules that import each other round (Tarjan's strongly connected components),
    with one shortest cycle in it, a -> b -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    for group in groups:
        yield _path_back(graph, group), group


def _path_back(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest way from the group's first module back to itself, inside the group."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no way back to {start} in {sorted(group)}")


def test_cycle_finder_reports_the_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert list(cycles(graph)) == [(["a", "b", "c", "a"], {"a", "b", "c"})]
    assert list(cycles({"x": {"y"}, "y": {"x", "z"}, "z": {"y"}})) == [(["x", "y", "x"], {"x", "y", "z"})]


def test_import_graph_resolves_relative_and_submodule_imports(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    files = {
        "pkg/__init__.py": "from pkg import a\n",
        "pkg/a.py": "def f():\n    from .sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "from .. import c\nimport pkg.sub\n",
        "pkg/c.py": "from pkg.a import f\n",
    }
    modules: dict[str, Path] = {}
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
        parts = list(Path(rel).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = tmp_path / rel
    graph = import_graph(modules)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.sub.b"}, "pkg.sub": set(), "pkg.sub.b": {"pkg.c", "pkg.sub"},
                     "pkg.c": {"pkg.a"}}
    assert [cycle for cycle, _ in cycles(graph)] == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]


def test_no_import_cycles() -> None:
    found = [
        " -> ".join(cycle) + (f"  (the circle takes in {', '.join(sorted(group))})" if len(group) > len(cycle) - 1 else "")
        for cycle, group in cycles(import_graph(our_modules()))
    ]
    assert not found, "import cycles:\n  " + "\n  ".join(found)


# --- module length -------------------------------------------------------------------------------


def header(text: str) -> str:
    """The module docstring, or else the comment lines at the top of the file."""
    docstring = ast.get_docstring(ast.parse(text))
    if docstring is not None:
        return docstring
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_no_long_module_without_a_reason() -> None:
    too_long = []
    for path in our_modules().values():
        text = path.read_text()
        rel = path.relative_to(ROOT).as_posix()
        count = len(text.splitlines())
        if count > MAX_LINES and LONG_MARK not in header(text).lower():
            too_long.append(f"{rel}: {count} lines")
    assert not too_long, (
        f"over {MAX_LINES} lines without a reason at the top (split, or say why with the words "
        f'"{LONG_MARK}"):\n  ' + "\n  ".join(sorted(too_long))
    )
