"""Execution environments: what a function imports besides its own code, named by content.

Lambda gives each function a deployment package, up to five layers and a runtime (the standard
library and boto3). faas does the same without containers:

- a ``DependencySet`` is a function's ``requirements.txt``, normalised; functions whose sets are
  equal share one build (``faas.builder``) in ``data_dir/envs/KEY/``;
- an ``Environment`` is a dependency set plus layers, in ``sys.path`` order: one zygote per
  environment imports from exactly these folders (plus the standard library and the runtime's boto3),
  so functions with the same environment share a zygote and its preloaded modules.

The key of a dependency set hashes the normalised requirements, the Python version and the index
settings, so changing any of them builds anew and never reuses a folder built for something else.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from faas.config import ExecutorConfig
from faas.exceptions import RequirementsError

__all__ = ["PYTHON_VERSION", "DependencySet", "Environment", "IndexSettings", "read_requirements"]

PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"

# A PEP 508 requirement as pip and uv read it, checked loosely: a project name, optional extras,
# then a version specifier, a URL (``name @ url``) or environment markers. uv checks the rest.
_REQUIREMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(\[[A-Za-z0-9._,\s-]*\])?\s*([<>=!~;@].*)?")
_INCLUDE = re.compile(r"-r\s+(\S+)|--requirement(?:\s+|=)(\S+)")
_MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexSettings:
    """Where dependencies come from: uv's ``--index-url``, ``--extra-index-url``, ``--find-links``
    and ``--offline``, from ``[executor]``."""

    index_url: str | None = None
    extra_index_url: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    offline: bool = False

    @classmethod
    def from_executor(cls, executor: ExecutorConfig) -> IndexSettings:
        return cls(
            index_url=executor.index_url, extra_index_url=executor.extra_index_url,
            find_links=executor.find_links, offline=executor.offline,
        )

    def uv_args(self) -> list[str]:
        args: list[str] = []
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_url:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        if self.offline:
            args.append("--offline")
        return args

    def fingerprint(self) -> str:
        return repr((self.index_url, self.extra_index_url, self.find_links, self.offline))


@dataclass(frozen=True, slots=True, kw_only=True)
class DependencySet:
    """A function's requirements: ``lines`` normalised (comments, blank lines and ``-r`` includes
    resolved), ``source`` the file they came from, ``key`` their content address."""

    source: Path
    lines: tuple[str, ...]
    key: str

    @property
    def text(self) -> str:
        """The requirements as handed to uv."""
        return "".join(f"{line}\n" for line in self.lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class Environment:
    """What one zygote imports from, besides the standard library and the runtime's boto3.

    ``paths`` are in ``sys.path`` order: the dependency set's folder first (None: no
    requirements), then the layers' folders, the last-listed layer first (a later layer wins, as on
    Lambda, where later layers overwrite earlier ones in /opt).
    """

    key: str
    deps: DependencySet | None
    deps_dir: Path | None  # data_dir/envs/KEY/site-packages for ``deps``; built by faas.builder
    layer_paths: tuple[Path, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        head = (str(self.deps_dir),) if self.deps_dir is not None else ()
        return head + tuple(str(p) for p in self.layer_paths)

    @classmethod
    def of(cls, deps: DependencySet | None, deps_dir: Path | None, layer_paths: tuple[Path, ...]) -> Environment:
        if deps is not None and not layer_paths:
            key = deps.key  # the common case reads the same in `faas status` and the build log
        else:
            digest = hashlib.sha256(repr((deps.key if deps else None, [str(p) for p in layer_paths])).encode())
            key = digest.hexdigest()[:16]
        return cls(key=key, deps=deps, deps_dir=deps_dir, layer_paths=layer_paths)


def read_requirements(path: Path, index: IndexSettings) -> DependencySet:
    """Read and normalise ``path``; raises RequirementsError naming the file, the line and why."""
    lines = tuple(dict.fromkeys(_read(path, 0)))  # first occurrence wins; order kept
    digest = hashlib.sha256("\n".join((PYTHON_VERSION, index.fingerprint(), *lines)).encode())
    return DependencySet(source=path, lines=lines, key=digest.hexdigest()[:16])


def _read(path: Path, depth: int) -> list[str]:
    if depth > _MAX_INCLUDE_DEPTH:
        raise RequirementsError(f"{path}: -r includes nested more than {_MAX_INCLUDE_DEPTH} deep")
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise RequirementsError(f"{path}: no such requirements file") from None
    except UnicodeDecodeError as exc:
        raise RequirementsError(f"{path}: not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise RequirementsError(f"{path}: cannot read: {exc.strerror}") from None
    out: list[str] = []
    for number, raw in enumerate(_joined(text.splitlines()), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        include = _INCLUDE.fullmatch(line)
        if include:
            out += _read((path.parent / (include.group(1) or include.group(2))).resolve(), depth + 1)
            continue
        if line.startswith("-"):
            raise RequirementsError(
                f"{path}, line {number}: {line!r}: options are not read here; set index_url, "
                "extra_index_url, find_links or offline in [executor]"
            )
        if not _REQUIREMENT.fullmatch(line):
            raise RequirementsError(f"{path}, line {number}: {line!r} is not a requirement (e.g. 'humanize==4.9.0')")
        out.append(_canonical(line))
    return out


def _canonical(line: str) -> str:
    """One spelling per requirement, so equal sets share a build: the project name normalised as
    PEP 503 does (``Foo_Bar`` -> ``foo-bar``), no spaces in extras and version specifiers
    (``alpha == 1.0`` -> ``alpha==1.0``). A URL or environment markers are kept as written."""
    match = _REQUIREMENT.fullmatch(line)
    assert match is not None
    name_end = match.start(1) if match.group(1) else (match.start(2) if match.group(2) else len(line))
    name = re.sub(r"[-_.]+", "-", line[:name_end].strip()).lower()
    extras = re.sub(r"\s+", "", match.group(1) or "").lower()
    rest = (match.group(2) or "").strip()
    if rest and rest[0] not in "@;":
        spec, semi, markers = rest.partition(";")
        rest = re.sub(r"\s+", "", spec) + (f"; {markers.strip()}" if semi else "")
    elif rest.startswith("@"):
        rest = f" {rest}"
    return f"{name}{extras}{rest}"


def _joined(lines: list[str]) -> list[str]:
    """Lines with backslash continuations joined, as pip reads them."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out
