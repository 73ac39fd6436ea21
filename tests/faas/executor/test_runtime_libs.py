"""faas/executor/runtime_libs.py: the runtime folder (a python with the standard library and boto3),
and the worker side's promise that makes the zygote's clean world possible (no lazy imports of ours)."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import subprocess
from pathlib import Path

import boto3

from faas.executor.runtime_libs import build_runtime, closure, runtime_libs

WORKER_SIDE = ("zygote.py", "worker.py", "worker_context.py", "protocol.py", "cgroups.py")


def test_the_closure_of_boto3_is_what_it_needs_to_import() -> None:
    names = {d.metadata["Name"].lower().replace("_", "-") for d in closure()}
    assert {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"} <= names
    assert not names & {"starlette", "uvicorn", "cryptography", "jinja2", "faas", "awscrt"}  # extras stay out


def test_the_runtime_python_imports_boto3_and_nothing_of_the_platform(tmp_path: Path) -> None:
    libs = build_runtime(tmp_path)
    assert libs.root.parent == tmp_path / "runtime" and libs.root.name.startswith("python3.")
    site = libs.site_packages
    assert os.path.realpath(libs.python) == os.path.realpath(libs.interpreter)
    assert {p.name for p in site.iterdir()} >= {"boto3", "botocore", "six.py", f"boto3-{boto3.__version__}.dist-info"}
    script = (
        "import sys, boto3, botocore, dateutil, urllib3, importlib.metadata as m\n"
        "print(m.version('boto3'), boto3.__file__)\n"
        "for name in ('starlette', 'faas', 'jinja2', 'cryptography', 'pytest'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "        print('importable', name)\n"
        "    except ImportError:\n"
        "        pass\n"
    )
    out = subprocess.run([str(libs.python), "-c", script], capture_output=True, text=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0, out.stderr
    version, where = out.stdout.split()[:2]
    assert version == importlib.metadata.version("boto3")
    assert where == str(site / "boto3" / "__init__.py")
    assert "importable" not in out.stdout


def test_building_is_idempotent_and_replaces_older_runtimes(tmp_path: Path) -> None:
    stale = tmp_path / "runtime" / "python3.0-0123456789ab"
    half = tmp_path / "runtime" / ".python3.0-0123456789ab-x1y2"  # a build a crash interrupted
    for folder in (stale, half):
        folder.mkdir(parents=True)
        (folder / "leftover").write_text("x")
    first = build_runtime(tmp_path)
    marker = (first.root / "pyvenv.cfg").stat().st_mtime_ns
    again = build_runtime(tmp_path)
    assert again == first == runtime_libs(tmp_path)
    assert (first.root / "pyvenv.cfg").stat().st_mtime_ns == marker  # reused, not rebuilt
    assert sorted(p.name for p in (tmp_path / "runtime").iterdir()) == [first.root.name]
    assert "include-system-site-packages = false" in (first.root / "pyvenv.cfg").read_text()


def test_the_worker_side_imports_nothing_of_ours_after_start() -> None:
    """The zygote drops the platform from sys.path and sys.modules once it has started, so code
    that runs in it or in a worker must not import one of our modules inside a function."""
    executor = Path(__file__).resolve().parents[3] / "faas" / "executor"
    late = []
    for name in WORKER_SIDE:
        tree = ast.parse((executor / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").split(".")[0] in ("faas", "gateway"):
                        late.append(f"{name}: from {inner.module} import ...")
                    if isinstance(inner, ast.Import) and any(a.name.split(".")[0] in ("faas", "gateway") for a in inner.names):
                        late.append(f"{name}: import {', '.join(a.name for a in inner.names)}")
    assert late == []
