"""The import arrows of DESIGN.md, read with ``ast``: faas never imports gateway or scheduler (but for
its CLI, the composition root), gateway and scheduler never import each other, and the worker side
imports only the standard library and the wire protocol."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


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
    for path in (ROOT / "faas").rglob("*.py"):
        if path.name == "cli.py":
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
