"""The running core: store, zygote, worker pool, metering, invoker, async queue and reloader, in start order.

``async with Runtime(config) as rt`` starts everything; leaving the block stops it in reverse:
in-flight calls finish (within a grace period), metering is flushed, workers are stopped and the
store is closed. ``extensions`` (the scheduler's clock and bucket watches, wired by ``faas serve``)
are started after the async queue and before the reloader, and stopped before the queue.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path

from faas.admin_key import load_admin_key
from faas.asyncq import AsyncQueue
from faas.config import Config
from faas.exceptions import ConfigError
from faas.executor.pool import WorkerPool
from faas.executor.zygote_client import ZygoteClient
from faas.invoke import Invoker
from faas.metering import MeteringWriter
from faas.registry import Registry
from faas.reload import Reloader
from faas.schedules import ScheduleBook
from faas.store import SQLiteStore
from faas.store_events import EventStore

log = logging.getLogger(__name__)

DB_FILE = "faas.db"

# Something started with the core and stopped before it, e.g. ``scheduler.cron.CronScheduler``.
Extension = Callable[["Runtime"], AbstractAsyncContextManager[object]]


class Runtime:
    def __init__(
        self, config: Config, environ: Mapping[str, str] | None = None, *, watch: bool = True,
        extensions: Sequence[Extension] = (),
    ) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        self.watch = watch
        self.registry = Registry(config)
        self.admin_key = ""
        self.ready = False
        self._stack = AsyncExitStack()
        self.store: SQLiteStore
        self.zygote: ZygoteClient
        self.pool: WorkerPool
        self.metering: MeteringWriter
        self.invoker: Invoker
        self.reloader: Reloader | None = None
        self.extensions = tuple(extensions)
        self.events: EventStore
        self.asyncq: AsyncQueue
        self.schedules: ScheduleBook

    async def __aenter__(self) -> "Runtime":
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _start(self) -> None:
        config = self.config
        data_dir = config.server.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(data_dir, 0o700)
        except OSError as exc:
            raise ConfigError(f"server.data_dir = \"{data_dir}\": cannot be used as a folder: {exc.strerror}") from exc
        self.admin_key = load_admin_key(data_dir, self.environ) or ""
        stack = self._stack
        self.store = await stack.enter_async_context(SQLiteStore(data_dir / DB_FILE))
        self.zygote = ZygoteClient(config.executor.preload)
        await self.zygote.start()
        stack.push_async_callback(self.zygote.close)
        workers_dir = tempfile.mkdtemp(prefix="faas-workers-")
        os.chmod(workers_dir, 0o711)
        stack.callback(shutil.rmtree, workers_dir, True)
        self.metering = await stack.enter_async_context(MeteringWriter(self.store))
        self.pool = await stack.enter_async_context(
            WorkerPool(self.zygote, config.executor, config.server, workers_dir)
        )
        for fn in self.registry:
            self.pool.set_version(fn.name, fn.version)
        self.registry.subscribe(self._on_change)
        self.invoker = Invoker(self.registry, self.pool, self.metering)
        await self._start_events(stack)
        if self.watch:
            self.reloader = await stack.enter_async_context(Reloader(self.registry))
        self.ready = True
        log.info("faas ready: %d functions, data in %s", len(self.registry.names()), data_dir)

    async def _start_events(self, stack: AsyncExitStack) -> None:
        """The async queue (with schedule state on the same event store), then the extensions."""
        self.events = await stack.enter_async_context(EventStore(self.config.server.data_dir / DB_FILE))
        self.asyncq = await stack.enter_async_context(AsyncQueue(self.events, self.registry, self.invoker))
        self.schedules = ScheduleBook(self.events, lambda: self.registry.config, self.asyncq)
        for extension in self.extensions:
            await stack.enter_async_context(extension(self))

    def _on_change(self, config: Config, changed: set[str]) -> None:
        self.config = config
        self.pool.update_settings(config.executor)
        for name in changed:
            try:
                self.pool.set_version(name, self.registry.get(name).version)
            except LookupError:
                self.pool.set_version(name, None)

    async def __aexit__(self, *exc: object) -> None:
        self.ready = False
        await self._stack.aclose()
        log.info("faas stopped cleanly: %d invocations metered in this run", self.metering.written)

    @property
    def db_path(self) -> Path:
        return self.config.server.data_dir / DB_FILE
