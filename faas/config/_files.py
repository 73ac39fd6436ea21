"""The files and folders ``config.toml`` names for execution environments: a function's ``code`` and
``requirements``, its ``layers`` and ``[layers.NAME]``, and ``[executor] find_links``. Paths are
relative to the config file and must exist (but for a layer zip that ``faas layers build`` makes).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from faas.config._table import Table, unique
from faas.config.records import LayerConfig
from faas.exceptions import ConfigError

MAX_LAYERS = 5  # as on Lambda


def path_of(t: Table, name: str, base: Path, *, kind: str) -> Path | None:
    """An existing file or folder (``kind``: "file", "folder", "folder or .zip") named relative to
    config.toml; None when the key is left out."""
    if name not in t.data:
        return None
    value = t.string(name)
    path = (base / value).resolve()
    if not path.exists():
        raise ConfigError(f'{t.key(name)} = "{value}": no such {kind} ({path})')
    if kind == "file" and not path.is_file():
        raise ConfigError(f'{t.key(name)} = "{value}": not a file ({path})')
    if kind == "folder or .zip" and not (path.is_dir() or (path.is_file() and path.suffix == ".zip")):
        raise ConfigError(f'{t.key(name)} = "{value}": must be a folder or a .zip file ({path})')
    return path


def links(t: Table, name: str, base: Path) -> tuple[str, ...]:
    """A string or a list of strings; paths (not URLs) resolved relative to config.toml."""
    value = t.data.get(name)
    items = (t.take(name),) if isinstance(value, str) else t.strings(name)
    return tuple(item if "://" in item else str((base / item).resolve()) for item in items)


def layer_refs(t: Table, layers: Mapping[str, LayerConfig]) -> tuple[str, ...]:
    names = t.strings("layers")
    if len(names) > MAX_LAYERS:
        raise ConfigError(f"{t.key('layers')}: {len(names)} layers; a function may use at most {MAX_LAYERS}")
    unique(names, lambda i, layer, j: f'{t.key("layers")}[{i}] = "{layer}": already listed at [{j}]')
    for i, layer in enumerate(names):
        if layer not in layers:
            known = ", ".join(sorted(layers)) or "none are defined"
            raise ConfigError(f'{t.key("layers")}[{i}] = "{layer}": no such layer (known: {known})')
    return names


def layer(t: Table, name: str, base: Path) -> LayerConfig:
    path_value = t.string("path", required=True)
    layer = LayerConfig(
        name=name,
        path=(base / path_value).resolve(),
        requirements=path_of(t, "requirements", base, kind="file"),
        description=t.string("description"),
    )
    # A layer's zip may not exist yet when it is built from its requirements (faas layers build).
    if layer.requirements is None:
        path_of(Table({"path": path_value}, t.where), "path", base, kind="folder or .zip")
    t.done()
    return layer
