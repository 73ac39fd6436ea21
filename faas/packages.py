"""Code packages and layers: the folders a function's code and layers are imported from.

On Lambda a function's deployment package is unzipped into ``/var/task`` (``LAMBDA_TASK_ROOT``,
first on ``sys.path``, its handler module and vendored dependencies at its root) and its layers into
``/opt``, read through ``/opt/python/lib/python3.X/site-packages`` then ``/opt/python``; layers are
extracted in order, so a later layer's module wins. faas keeps each in its own folder instead:

- code (``code_paths``): without a ``code`` key, the functions folder — plus, for a package-folder
  function (``functions/NAME/``), that folder too, so dependencies vendored there with
  ``pip install -t functions/NAME pkg`` import as they would at a zip root; a ``code`` folder as it
  is; a ``code`` zip unpacked once into ``packages_dir/<sha256>/`` (``faas._unzip``, which checks
  every entry: paths, symlinks, sizes, modes).
- layers (``layer_paths``): each layer's ``python/lib/python3.X/site-packages`` and ``python/``
  folders, the later layer's first, so the later layer wins as on Lambda.
- Lambda's limits: 50 MB per zip (``unpack_zip``), 250 MB for code and all its layers unzipped
  together (``check_total_size``, on the files themselves).
- Hot reload: ``watched_paths`` lists what lives outside the functions folder (code zips and
  folders, layers, requirements files), and ``functions_using`` says which functions a changed
  path belongs to; editing or replacing any of them is a new version of those functions.

Everything here touches the disk and may take a while (unpacking up to 250 MB): call it off the
event loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from faas._unzip import MAX_ENTRIES, MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES, mb, unpack_zip
from faas.config import Config, FunctionConfig, LayerConfig
from faas.environment import PYTHON_VERSION
from faas.exceptions import PackageError

__all__ = [
    "MAX_ENTRIES",
    "MAX_UNZIPPED_BYTES",
    "MAX_ZIPPED_BYTES",
    "check_total_size",
    "code_paths",
    "functions_using",
    "layer_paths",
    "package_folder",
    "packages_root",
    "unpack_zip",
    "watched_paths",
]

_SITE_PACKAGES = Path("python", "lib", f"python{PYTHON_VERSION}", "site-packages")


def packages_root(config: Config) -> Path:
    """Where zips are unpacked: ``data_dir/packages/`` (one folder per zip, named by its sha256)."""
    return config.server.data_dir / "packages"


def package_folder(config: Config, fn: FunctionConfig) -> Path | None:
    """``functions_dir/<handler's first component>/`` when the function has no ``code`` key and
    that is a folder (a package-folder function); else None."""
    if fn.code is not None:
        return None
    folder = config.server.functions_dir / fn.handler.split(".", 1)[0]
    return folder if folder.is_dir() else None


def code_paths(config: Config, fn: FunctionConfig, packages_dir: Path) -> tuple[str, ...]:
    """A function's ``sys.path`` entries for its code; the first is its LAMBDA_TASK_ROOT (and cwd).

    Unpacks a ``code`` zip on first use (raises ``PackageError`` if it is refused).
    """
    if fn.code is None:
        own = package_folder(config, fn)
        shared = str(config.server.functions_dir)
        return (shared, str(own)) if own is not None else (shared,)
    if fn.code.is_dir():
        return (str(fn.code),)
    if not fn.code.exists():  # removed since the config was read
        raise PackageError(f'function "{fn.name}" code ({fn.code}): no such folder or .zip file')
    return (str(unpack_zip(fn.code, packages_dir, what=f'function "{fn.name}" code')),)


def layer_paths(config: Config, fn: FunctionConfig, packages_dir: Path) -> tuple[Path, ...]:
    """The importable folders of ``fn.layers``, in ``sys.path`` order: the last-listed layer first
    (it wins), and within a layer ``python/lib/python3.X/site-packages`` before ``python/``.

    Unpacks layer zips on first use; raises ``PackageError`` naming the layer and its path when one
    is refused, missing, or names no ``python/`` folder.
    """
    out: list[Path] = []
    for name in reversed(fn.layers):
        out += _layer_folders(config.layers[name], packages_dir)
    return tuple(out)


def _layer_folders(layer: LayerConfig, packages_dir: Path) -> list[Path]:
    where = f'layer "{layer.name}" ({layer.path})'
    if layer.path.is_dir():
        root = layer.path
    elif layer.path.is_file() and layer.path.suffix == ".zip":
        root = unpack_zip(layer.path, packages_dir, what=f'layer "{layer.name}"')
    elif layer.path.exists():
        raise PackageError(f"{where}: must be a folder or a .zip file")
    elif layer.requirements is not None:
        raise PackageError(
            f"{where}: not built yet; `faas layers build {layer.name}` builds it from {layer.requirements}"
        )
    else:
        raise PackageError(f"{where}: no such folder or .zip file")
    python = root / "python"
    if not python.is_dir():
        raise PackageError(
            f"{where}: names no python/ folder; a layer holds python/ or "
            f"python/lib/python{PYTHON_VERSION}/site-packages/ (Lambda's layout)"
        )
    site = root / _SITE_PACKAGES
    if site.is_dir():
        return [site, python]
    others = sorted(p.relative_to(root).as_posix() for p in (python / "lib").glob("python3*/site-packages"))
    if others:
        raise PackageError(
            f"{where}: has {', '.join(others)} but this runtime is Python {PYTHON_VERSION} "
            f"(python/lib/python{PYTHON_VERSION}/site-packages/ is what it reads)"
        )
    return [python]


def check_total_size(
    fn_name: str,
    code_paths: Iterable[str | Path],
    layer_paths: Iterable[Path],
    *,
    functions_dir: Path | None = None,
) -> int:
    """Raise ``PackageError`` if a function's code and layers come to more than 250 MB unzipped
    (Lambda's limit, for code plus all its layers together); return the total in bytes.

    Counts the files under each folder once (a folder inside another counted one is not counted
    again), not following symlinks, skipping ``__pycache__`` (bytecode the platform writes). The
    shared ``functions_dir`` is skipped: it is not one function's package (a package-folder
    function's own folder, passed after it, is counted).
    """
    folders = [Path(p) for p in (*code_paths, *layer_paths)]
    if functions_dir is not None:
        folders = [p for p in folders if p != functions_dir]
    counted = [p for p in dict.fromkeys(folders) if not any(o != p and p.is_relative_to(o) for o in folders)]
    total = 0
    sizes: list[tuple[Path, int]] = []
    for folder in counted:
        size = _tree_size(folder, MAX_UNZIPPED_BYTES - total)
        sizes.append((folder, size))
        total += size
        if total > MAX_UNZIPPED_BYTES:
            detail = ", ".join(f"{path} {mb(n)}" for path, n in sizes)
            raise PackageError(
                f'function "{fn_name}": code and layers come to over {mb(total)} unzipped; the limit is '
                f"{mb(MAX_UNZIPPED_BYTES)} (Lambda's, for code plus all its layers): {detail}"
            )
    return total


def _tree_size(root: Path, budget: int) -> int:
    """Bytes of the files under ``root`` (symlinks not followed); stops counting once past ``budget``."""
    total = 0
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # removed while we counted
            if total > budget:
                return total
    return total


def _sources(config: Config, fn: FunctionConfig) -> list[Path]:
    """The files and folders a function's version depends on besides the functions folder."""
    out = [p for p in (fn.code, fn.requirements) if p is not None]
    for name in fn.layers:
        layer = config.layers[name]
        out += [p for p in (layer.path, layer.requirements) if p is not None]
    return out


def watched_paths(config: Config) -> set[Path]:
    """Code zips and folders, layer paths and requirements files outside the functions folder (which
    hot reload watches already): what else to watch so editing or replacing one is a new version."""
    paths = {p for fn in config.functions.values() for p in _sources(config, fn)}
    for layer in config.layers.values():
        paths |= {p for p in (layer.path, layer.requirements) if p is not None}
    root = config.server.functions_dir
    return {p for p in paths if not p.is_relative_to(root)}


def functions_using(config: Config, paths: Iterable[Path]) -> set[str]:
    """The functions whose code, requirements or layers are (or contain) one of ``paths``."""
    changed = set(paths)
    return {
        fn.name
        for fn in config.functions.values()
        if any(p == src or p.is_relative_to(src) for src in _sources(config, fn) for p in changed)
    }
