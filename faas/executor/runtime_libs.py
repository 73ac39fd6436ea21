"""The runtime a function sees besides its own world: a Python with the standard library and boto3.

Lambda's Python runtime gives a handler the standard library and boto3/botocore, nothing else;
faas does the same without copying anything. ``data_dir/runtime/python3.X-HASH/`` is a tiny
virtual environment over the platform's base interpreter::

    pyvenv.cfg                       home = the base interpreter's folder, no system site-packages
    bin/python3, python, python3.X   symlinks to the base interpreter
    lib/python3.X/site-packages/     symlinks to boto3 and its dependency closure (botocore,
                                     s3transfer, jmespath, dateutil, urllib3, six), dist-info
                                     folders included, so importlib.metadata.version("boto3") works

Zygotes run this ``python3`` isolated (``-I -S``) with ``sys.path`` = the environment's folders,
then ``site-packages`` above, then the standard library. Workers get its ``bin/`` first on ``PATH``
and the same folders in ``PYTHONPATH``, so ``subprocess.run(["python3", ...])`` sees what the
handler sees and never the platform's virtualenv.

HASH covers the interpreter and every linked distribution's name, version and location: upgrading
boto3 in the platform's environment makes a new folder; an unchanged one is reused. The folder is
built in a temporary sibling and renamed into place, so a crash never leaves half of one; folders
of older hashes are removed at start (no zygote of an earlier run can still use them).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RUNTIME_DISTRIBUTIONS", "RuntimeLibs", "build_runtime", "closure", "runtime_libs"]

log = logging.getLogger(__name__)

# What the runtime provides, as Lambda's Python runtime does; their dependencies come along.
RUNTIME_DISTRIBUTIONS = ("boto3",)
_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Linked:
    """One top-level name in the runtime's site-packages and the file or folder it points at."""

    name: str
    target: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeLibs:
    """Where the runtime lives (``root``) and what goes in it; ``build_runtime`` makes it exist."""

    root: Path
    interpreter: Path  # the base interpreter the symlinks in bin/ point at
    links: tuple[Linked, ...]

    @property
    def site_packages(self) -> Path:
        return self.root / "lib" / f"python{_VERSION}" / "site-packages"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin_dir / "python3"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: tuple[str, ...] = RUNTIME_DISTRIBUTIONS) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``roots`` need, themselves included, in a stable order.

    A requirement that only applies to an extra is left out; one whose other markers would exclude
    it is simply not installed, so "installed" stands in for evaluating markers. A root that is not
    installed is logged and skipped (functions then cannot import it).
    """
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = _normal(todo.pop())
        if name in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            if name in roots:
                log.warning("the function runtime has no %s: it is not installed in the platform's environment", name)
            continue
        found[name] = dist
        for requirement in dist.requires or ():
            spec, _, marker = requirement.partition(";")
            if "extra" in marker:
                continue
            match = _NAME.match(spec)
            if match:
                todo.append(match.group(1))
    return [found[name] for name in sorted(found)]


def _top_level(dist: importlib.metadata.Distribution) -> Iterator[Linked]:
    """A distribution's top-level modules, packages and dist-info folder, where they are installed."""
    names: set[str] = set()
    for path in dist.files or ():
        top = path.parts[0] if path.parts else ""
        if not top or top in ("..", "__pycache__") or top.endswith((".pth", ".data")):
            continue
        names.add(top)
    if not names:  # installed without a RECORD: fall back to top_level.txt and the metadata folder
        names.update(line.strip() for line in (dist.read_text("top_level.txt") or "").splitlines() if line.strip())
        meta = getattr(dist, "_path", None)
        if meta is not None:
            names.add(Path(meta).name)
    for name in sorted(names):
        target = Path(str(dist.locate_file(name)))
        if target.exists():
            yield Linked(name=name, target=target.resolve())
        elif (single := target.with_name(name + ".py")).exists():
            yield Linked(name=name + ".py", target=single.resolve())


def _base_interpreter() -> Path:
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


@functools.lru_cache(maxsize=8)
def runtime_libs(data_dir: Path) -> RuntimeLibs:
    """Where the runtime for this interpreter and these installed distributions lives under
    ``data_dir`` (read from the installed metadata, a few milliseconds; nothing is written)."""
    links: dict[str, Linked] = {}
    dists = closure()
    for dist in dists:
        for linked in _top_level(dist):
            other = links.get(linked.name)
            if other is not None and other.target != linked.target:
                log.warning("the function runtime links %s to %s, not %s", linked.name, other.target, linked.target)
                continue
            links[linked.name] = linked
    interpreter = _base_interpreter()
    versions = [(d.metadata["Name"], d.version) for d in dists]
    targets = sorted((name, str(linked.target)) for name, linked in links.items())
    digest = hashlib.sha256(repr((str(interpreter), sys.version, versions, targets)).encode())
    root = Path(data_dir) / "runtime" / f"python{_VERSION}-{digest.hexdigest()[:12]}"
    return RuntimeLibs(root=root, interpreter=interpreter, links=tuple(links.values()))


def build_runtime(data_dir: Path) -> RuntimeLibs:
    """Make sure the runtime folder exists (idempotent, atomic) and remove older ones."""
    libs = runtime_libs(Path(data_dir))
    parent = libs.root.parent
    parent.mkdir(parents=True, exist_ok=True)
    os.chmod(parent, 0o755)
    if not (libs.root / "pyvenv.cfg").exists():
        tmp = Path(tempfile.mkdtemp(prefix=f".{libs.root.name}-", dir=parent))
        try:
            _fill(tmp, libs)
            os.chmod(tmp, 0o755)
            try:
                os.rename(tmp, libs.root)
            except OSError:  # built meanwhile by someone else: theirs is as good as ours
                if not (libs.root / "pyvenv.cfg").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("function runtime: %s (python %s, %s)", libs.root, _VERSION,
                 ", ".join(sorted(linked.name for linked in libs.links if linked.name.endswith(".dist-info"))))
    for old in parent.iterdir():
        if old != libs.root and (old.name.startswith("python") or old.name.startswith(".python")):
            shutil.rmtree(old, ignore_errors=True)
    return libs


def _fill(folder: Path, libs: RuntimeLibs) -> None:
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    for name in ("python3", "python", f"python{_VERSION}"):
        (bin_dir / name).symlink_to(libs.interpreter)
    (folder / "pyvenv.cfg").write_text(
        f"home = {libs.interpreter.parent}\ninclude-system-site-packages = false\n"
        f"version = {'.'.join(map(str, sys.version_info[:3]))}\nexecutable = {libs.interpreter}\n"
    )
    site = folder / "lib" / f"python{_VERSION}" / "site-packages"
    site.mkdir(parents=True)
    for linked in libs.links:
        (site / linked.name).symlink_to(linked.target)
