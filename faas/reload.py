"""Hot reload: watch ``functions/`` and ``config.toml`` and move the registry on.

A changed function file gives its function a new code version (new calls get new workers, busy
old workers finish theirs). A changed config is validated first; an invalid one is refused with a
logged error and the running config stays.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import watchfiles

from faas.background import TaskSet
from faas.config import load_config
from faas.exceptions import ConfigError
from faas.registry import Registry

log = logging.getLogger(__name__)


class Reloader:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._stop = asyncio.Event()
        self._tasks = TaskSet("watching for changes")
        self.config_errors = 0
        self.last_config_error: str | None = None

    async def __aenter__(self) -> "Reloader":
        config = self.registry.config
        self._tasks.spawn(self._watch_functions(config.server.functions_dir))
        self._tasks.spawn(self._watch_config(config.path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await self._tasks.cancel()

    async def _watch_functions(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        async for changes in watchfiles.awatch(root, stop_event=self._stop, debounce=400, step=30):
            paths = {Path(p) for _, p in changes}
            _drop_stale_bytecode(paths)
            changed = self.registry.code_changed(paths)
            if changed:
                log.info("code changed: new version of %s", ", ".join(sorted(changed)))

    async def _watch_config(self, path: Path) -> None:
        def only_config(_: watchfiles.Change, p: str) -> bool:
            return Path(p) == path

        async for _ in watchfiles.awatch(
            path.parent, stop_event=self._stop, debounce=400, step=30, recursive=False, watch_filter=only_config
        ):
            self.reload_config()

    def reload_config(self) -> bool:
        """Load the config file again; apply it if valid, else log why and keep the running one."""
        path = self.registry.config.path
        try:
            config = load_config(path)
        except ConfigError as exc:
            self.config_errors += 1
            self.last_config_error = str(exc)
            log.error("config change refused, still running the previous config: %s", exc)
            return False
        old = self.registry.config
        if (config.server.host, config.server.port, config.server.data_dir) != (
            old.server.host, old.server.port, old.server.data_dir,
        ):
            log.warning("server.host, server.port and server.data_dir take effect on restart only")
        changed = self.registry.apply_config(config)
        log.info("config reloaded; changed functions: %s", ", ".join(sorted(changed)) or "none")
        return True


def _drop_stale_bytecode(paths: set[Path]) -> None:
    """A .pyc records its source's mtime in whole seconds: an edit within the same second and of
    the same size would be missed, so remove the cached bytecode of every changed module."""
    for path in paths:
        if path.suffix != ".py":
            continue
        for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            try:
                pyc.unlink()
            except OSError:
                pass
