"""Hot reload: watch ``functions/``, ``config.toml`` and the code packages, layers and requirements
files the config names outside ``functions/``, and move the registry on.

A changed function file gives its function a new code version (new calls get new workers, busy
old workers finish theirs). So does a changed code zip or folder, layer or requirements file outside
``functions/`` (``faas.packages.watched_paths``), for the functions that use it. A changed config is
validated first; an invalid one is refused with a logged error and the running config stays.

Package paths are watched in rounds: folders recursively, and the folders holding the watched files
(and folders) without recursion, so a zip replaced by a rename or a layer zip built later is seen.
A round ends, and the next one watches afresh, when a reload changes which paths the config names,
or when a watched folder itself is created, removed or replaced (its old watch would be lost).
"""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import Iterable
from pathlib import Path

import watchfiles

from faas.background import TaskSet
from faas.config import load_config
from faas.exceptions import ConfigError
from faas.packages import functions_using, watched_paths
from faas.registry import IGNORED_SUFFIXES, Registry

log = logging.getLogger(__name__)


class Reloader:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._stop = asyncio.Event()
        self._tasks = TaskSet("watching for changes")
        self.config_errors = 0
        self.last_config_error: str | None = None
        # The package paths the current round watches; setting the event ends the round.
        self.watched: set[Path] = set()
        self._package_round = asyncio.Event()

    async def __aenter__(self) -> "Reloader":
        config = self.registry.config
        self._tasks.spawn(self._watch_functions(config.server.functions_dir))
        self._tasks.spawn(self._watch_config(config.path))
        self.watched = watched_paths(config)
        self._tasks.spawn(self._watch_packages())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        self._package_round.set()
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

    async def _watch_packages(self) -> None:
        while not self._stop.is_set():
            self._package_round = asyncio.Event()
            self.watched = watched = watched_paths(self.registry.config)
            kinds = {p: _kind(p) for p in watched}
            folders = sorted(p for p, kind in kinds.items() if kind[0] == "folder")
            parents = sorted({p.parent for p in watched if p.parent.is_dir()})
            try:
                async with asyncio.TaskGroup() as group:
                    if folders:
                        group.create_task(self._watch_package_paths(folders, True, kinds))
                    if parents:
                        group.create_task(self._watch_package_paths(parents, False, kinds))
                    if not folders and not parents:
                        group.create_task(self._package_round.wait())
            except* OSError as failed:  # e.g. a folder removed between listing and watching it
                log.warning("watching code packages and layers: %s; watching again", failed.exceptions[0])
                await self._pause(1.0)

    async def _watch_package_paths(self, roots: list[Path], recursive: bool, kinds: dict[Path, tuple[str, int]]) -> None:
        watched = set(kinds)

        def wanted(_: watchfiles.Change, p: str) -> bool:
            path = Path(p)
            return not _ignored(path) and any(path == w or path.is_relative_to(w) for w in watched)

        async for changes in watchfiles.awatch(
            *roots, stop_event=self._package_round, debounce=400, step=30, recursive=recursive, watch_filter=wanted
        ):
            paths = {Path(p) for _, p in changes}
            # Unpacking a replaced zip (up to 50 MB) blocks: do it in a thread, then switch versions here.
            await asyncio.to_thread(self.registry.resolver.prepare, self.registry.config)
            self.packages_changed(paths)
            if any(_kind(p) != kinds[p] for p in paths & watched):
                self._package_round.set()  # a watched path came, went or was replaced: watch anew

    def packages_changed(self, paths: Iterable[Path]) -> set[str]:
        """Paths outside functions/ changed: new versions of the functions whose code, layers or
        requirements they are (or are inside of)."""
        changed = {p for p in paths if not _ignored(p)}
        _drop_stale_bytecode(changed)
        names = self.registry.touch(functions_using(self.registry.config, changed))
        if names:
            log.info("code packages, layers or requirements changed: new version of %s", ", ".join(sorted(names)))
        return names

    async def _pause(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._stop.wait()
        except TimeoutError:
            pass

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
        if watched_paths(config) != self.watched:
            self._package_round.set()
        return True


def _ignored(path: Path) -> bool:
    """Editor and bytecode files: never a new version."""
    return path.name.endswith(IGNORED_SUFFIXES) or "__pycache__" in path.parts


def _kind(path: Path) -> tuple[str, int]:
    """What is at ``path``; a folder with its inode, as one replaced (renamed over) loses its watch."""
    try:
        st = path.stat()
    except OSError:
        return ("missing", 0)
    return ("folder", st.st_ino) if stat.S_ISDIR(st.st_mode) else ("file", 0)


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
