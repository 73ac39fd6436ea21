"""``faas layers build NAME``: turn ``[layers.NAME].requirements`` into the layer's zip.

A team shares one heavy dependency set (an image library, a data stack) as a layer instead of
each function building its own. The zip is laid out as Lambda layers are, packages under
``python/``, so the same file works on Lambda. It is built with uv into a temporary folder and
written to ``[layers.NAME].path`` under a temporary name, then renamed: a running server never
sees half a zip. Entries are sorted and dated 1980-01-01, so building the same requirements again
gives the same bytes and functions that use the layer see no new version.

Lambda's limits apply: a zip over 50 MB, or over 250 MB unzipped, is refused and not written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from faas.builder import install
from faas.cli._common import EXIT_FAILED, EXIT_USAGE, CliError, quiet_builder_log, shown
from faas.config import Config
from faas.environment import IndexSettings, read_requirements
from faas.exceptions import BuildFailed, RequirementsError

MAX_ZIP_BYTES = 50 * 1024 * 1024  # Lambda: a deployment package or layer zip, uploaded directly
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda: code plus layers, unzipped
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("layers", help="build layer zips from requirements")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", parents=[common], help="build [layers.NAME].requirements into the zip at [layers.NAME].path"
    )
    build.add_argument("name", metavar="NAME", help="the layer")
    build.add_argument("-v", "--verbose", action="store_true", help="show uv's output as it builds")
    p.set_defaults(run=lambda config, a: layers_build(config, a.name, verbose=a.verbose))


def layers_build(config: Config, name: str, *, verbose: bool = False) -> int:
    quiet_builder_log(verbose)
    layer = config.layers.get(name)
    if layer is None:
        known = ", ".join(sorted(config.layers)) or "none are defined"
        raise CliError(f"no such layer: {name} (known: {known})", EXIT_USAGE)
    if layer.requirements is None:
        raise CliError(
            f'layer {name}: no requirements to build from; set [layers.{name}] requirements = "requirements.txt"',
            EXIT_USAGE,
        )
    if layer.path.suffix != ".zip" or layer.path.is_dir():
        raise CliError(f"layer {name}: path {layer.path} is not a .zip file; faas layers build writes a zip", EXIT_USAGE)
    index = IndexSettings.from_executor(config.executor)
    try:
        deps = read_requirements(layer.requirements, index)
    except RequirementsError as exc:
        raise CliError(f"layer {name}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix=f"faas-layer-{name}-") as tmp:
        target = Path(tmp) / "python"
        try:
            asyncio.run(install(deps, index, target, label=f"layer {name} from {deps.source}", compile_bytecode=False))
        except BuildFailed as exc:
            raise CliError(f"layer {name}: failed to build from {shown(deps.source)}: {exc}", EXIT_FAILED) from None
        size, files = _write_zip(name, target, layer.path)
    print(f"layer {name}: wrote {shown(layer.path)} ({_size(size)}, {files} files)")
    return 0


def _write_zip(name: str, folder: Path, dest: Path) -> tuple[int, int]:
    """Zip ``folder`` as ``python/...`` into ``dest`` atomically; returns (bytes, files)."""
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    unzipped = sum(p.stat().st_size for p in paths)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise CliError(f"layer {name}: {_size(unzipped)} unzipped, over Lambda's limit of {_size(MAX_UNZIPPED_BYTES)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in paths:
                info = zipfile.ZipInfo(f"python/{path.relative_to(folder).as_posix()}", date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                zf.writestr(info, path.read_bytes())
        size = tmp.stat().st_size
        if size > MAX_ZIP_BYTES:
            raise CliError(f"layer {name}: the zip would be {_size(size)}, over Lambda's limit of {_size(MAX_ZIP_BYTES)}")
        os.replace(tmp, dest)
    except OSError as exc:
        raise CliError(f"layer {name}: cannot write {dest}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return size, len(paths)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"
