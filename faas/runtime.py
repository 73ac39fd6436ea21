"""The running core: store, zygotes, worker pool, metering, invoker, async queue and reloader, in start order.

``async with Runtime(config) as rt`` starts everything; leaving the block stops it in reverse:
in-flight calls finish (within a grace period), metering is flushed, workers are stopped and the
store is closed. ``extensions`` (the scheduler's clock and bucket watches, wired by ``faas serve``)
are started after the async queue and before the reloader, and stopped before the queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack

from faas.admin_key import load_admin_key
from faas.asyncq import AsyncQueue
from faas.buckets import BUCKETS_DIR
from faas.builder import BuildState, EnvironmentBuilder
from faas.config import Config
from faas.exceptions import ConfigError, EnvironmentNotReady
from faas.executor.pool import WorkerPool
from faas.executor.runtime_libs import build_runtime
from faas.executor.zygotes import Zygotes
from faas.invoke import Invoker
from faas.metering import MeteringWriter
from faas.metrics import Metrics
from faas.packages import packages_root
from faas.registry import BASE_ENVIRONMENT, Registry
from faas.reload import Reloader
from faas.resolve import PackageResolver
from faas.keys import Keyring
from faas.locations import db_path, local_url
from faas.schedules import ScheduleBook
from faas.secretbox import SecretBox
from faas.store import EventStore, KeyStore, SQLiteStore, UsageStore
from faas.usage import UsageLimiter

log = logging.getLogger(__name__)

# Something started with the core and stopped before it, e.g. ``scheduler.cron.CronScheduler``.
Extension = Callable[["Runtime"], AbstractAsyncContextManager[object]]


class Runtime:
    def __init__(
        self,
        config: Config,
        environ: Mapping[str, str] | None = None,
        *,
        watch: bool = True,
        endpoint_url: str | None = None,
        extensions: Sequence[Extension] = (),
    ) -> None:
        self.config = config
        self.endpoint_url = endpoint_url or local_url(config.server.host, config.server.port)
        self.environ = dict(os.environ if environ is None else environ)
        self.watch = watch
        self.registry = Registry(config)
        self.admin_key = ""
        self.ready = False
        self._stack = AsyncExitStack()
        self.store: SQLiteStore
        self.builder: EnvironmentBuilder
        self.zygotes: Zygotes
        self.pool: WorkerPool
        self.metering: MeteringWriter
        self.invoker: Invoker
        self.keys: Keyring
        self.limiter: UsageLimiter
        self.reloader: Reloader | None = None
        self.metrics = Metrics()
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
            # Others may pass through but not list it: workers running as another user (executor.user)
            # reach runtime/, envs/ and packages/ (0755, nothing secret); every secret in it is 0600.
            os.chmod(data_dir, 0o711)
            buckets = data_dir / BUCKETS_DIR  # objects are the server's: only it reads and writes them
            buckets.mkdir(exist_ok=True)
            os.chmod(buckets, 0o700)
        except OSError as exc:
            raise ConfigError(f"server.data_dir = \"{data_dir}\": cannot be used as a folder: {exc.strerror}") from exc
        self.admin_key = load_admin_key(data_dir, self.environ) or ""
        stack = self._stack
        self.store = await stack.enter_async_context(SQLiteStore(db_path(data_dir)))
        key_store = KeyStore(self.store)
        self.keys = await stack.enter_async_context(Keyring(key_store, SecretBox.load(data_dir)))
        self.limiter = await stack.enter_async_context(UsageLimiter(UsageStore(self.store), config.usage_plans))
        self.registry.set_env_provider(self._function_credentials)
        # Dependency sets build in the background; packages are resolved (zips unpacked) off the loop.
        self.builder = await stack.enter_async_context(EnvironmentBuilder(data_dir))
        resolver = PackageResolver(self.builder, packages_root(config))
        await asyncio.to_thread(resolver.prepare, config)
        self.registry.set_resolver(resolver)
        self.builder.subscribe(self._on_built)
        runtime = await asyncio.to_thread(build_runtime, data_dir)
        self.zygotes = await stack.enter_async_context(Zygotes(config.executor, runtime))
        # Started now rather than on first use: the first cold start does not pay for it, and an
        # interpreter that cannot run a zygote at all stops the server here (stopped when idle).
        await self.zygotes.prestart(BASE_ENVIRONMENT)
        workers_dir = tempfile.mkdtemp(prefix="faas-workers-")
        os.chmod(workers_dir, 0o711)
        stack.callback(shutil.rmtree, workers_dir, True)
        self.metering = await stack.enter_async_context(MeteringWriter(self.store))
        self.pool = await stack.enter_async_context(
            WorkerPool(self.zygotes, config.executor, config.server, workers_dir)
        )
        for fn in self.registry:
            self.pool.set_version(fn.name, fn.version)
        self.registry.subscribe(self._on_change)
        self.invoker = Invoker(
            self.registry, self.pool, self.metering,
            granularity_ms=config.billing.granularity_ms, bill_init=config.billing.bill_init,
        )
        self.metrics.attach(invoker=self.invoker, pool=self.pool, metering=self.metering)
        await self._start_events(stack)
        if self.watch:
            self.reloader = await stack.enter_async_context(Reloader(self.registry))
        self.ready = True
        log.info("faas ready: %d functions, data in %s", len(self.registry.names()), data_dir)

    async def _start_events(self, stack: AsyncExitStack) -> None:
        """The async queue (with schedule state on the same event store), then the extensions."""
        self.events = await stack.enter_async_context(EventStore(db_path(self.config.server.data_dir)))
        self.asyncq = await stack.enter_async_context(AsyncQueue(self.events, self.registry, self.invoker))
        self.schedules = ScheduleBook(self.events, lambda: self.registry.config, self.asyncq)
        for extension in self.extensions:
            await stack.enter_async_context(extension(self))

    def _on_built(self, key: str, state: BuildState) -> None:
        """A dependency set finished building (or failed): versions waiting on it serve now."""
        self.registry.recheck_pending()

    def _function_credentials(self, name: str) -> dict[str, str]:
        """Workers call back into the platform (boto3 ``lambda``) with their function's own key."""
        key_id, secret = self.keys.add_internal(name)
        return {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": self.endpoint_url}

    def _on_change(self, config: Config, changed: set[str]) -> None:
        self.config = config
        self.pool.update_settings(config.executor)
        self.zygotes.update_settings(config.executor)
        self.limiter.update_plans(config.usage_plans)
        for name in changed:
            if name not in config.functions:
                self.keys.drop_internal(name)
        self.invoker.granularity_ms = config.billing.granularity_ms
        self.invoker.bill_init = config.billing.bill_init
        for name in changed:
            try:
                self.pool.set_version(name, self.registry.get(name).version)
            except (LookupError, EnvironmentNotReady):
                self.pool.set_version(name, None)

    async def __aexit__(self, *exc: object) -> None:
        self.ready = False
        await self._stack.aclose()
        log.info("faas stopped cleanly: %d invocations metered in this run", self.metering.written)
