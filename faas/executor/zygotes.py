"""Zygotes: one per execution environment, started on first use, watched, restarted, stopped when idle.

Functions whose ``Environment`` (dependency set + layers) is equal share a zygote, and with it the
modules their environment preloads. ``Zygotes`` owns them all:

- **On first use.** ``spawn`` starts the environment's zygote if it is not running, within the
  spawn's deadline (``init_timeout``: starting, backing off and asking for the worker together
  never take longer). Callers arriving meanwhile share the one start.
- **At most ``max_zygotes``.** Starting one more stops the least recently used zygote without live
  workers (the one whose last worker exited longest ago); if every running zygote has workers, the
  spawn throttles (``Throttled``: the reason names the limit). A zygote without workers for ``idle_timeout`` stops on its own.
- **Supervised.** A zygote that exits fails its waiting callers at once (``ExecutorUnavailable``
  naming the environment); its workers die with it. It is started again on the next need, after a
  backoff that doubles from 0.1 s to 5 s while it keeps dying (reset once one ran for
  ``STABLE_AFTER``). The watchdog pings each zygote; one that leaves a question (a ping or a
  spawn) unanswered for ``init_timeout`` is hung (stopped with SIGSTOP, stuck in the kernel):
  it is SIGKILLed, its warm workers die with it (a fork server that cannot reap, clean up or fork
  is not worth keeping for them), and the next need starts a new one.
- **Health.** ``problem()`` is None while every zygote answers, or is merely down and waiting for
  its next need; it names the environment when a zygote has been silent for half of
  ``init_timeout`` (on its way to being killed) or when its last start failed. ``/healthz``
  answers 503 with that reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from faas.background import TaskSet, WakeLoop
from faas.config import ExecutorConfig
from faas.environment import Environment
from faas.exceptions import ExecutorUnavailable, Throttled
from faas.executor import cgroups
from faas.executor.protocol import WorkerSpec
from faas.executor.runtime_libs import RuntimeLibs
from faas.executor.zygote_client import Spawned, ZygoteClient
from faas.registry import Function

__all__ = ["Zygotes", "environment_label"]

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
STABLE_AFTER = 10.0  # a zygote that ran this long before it died starts over at the first backoff
BOOT_TIMEOUT = 30.0  # the prestart at server start may be slower than a cold start (a busy machine)


def environment_label(env: Environment) -> str:
    """How messages name an environment: its key and what is in it (no paths: clients see it)."""
    if env.deps is None and not env.layer_paths:
        return f"environment {env.key} (standard library and boto3 only)"
    parts = []
    if env.deps is not None:
        parts.append(f"{len(env.deps.lines)} requirements")
    if env.layer_paths:
        parts.append(f"{len(env.layer_paths)} layers")
    return f"environment {env.key} ({', '.join(parts)})"


@dataclass(slots=True)
class _Entry:
    """One environment's zygote, running or not, and what its supervision remembers."""

    environment: Environment
    label: str
    client: ZygoteClient | None = None  # the running zygote (None: not started, stopped or lost)
    starting: asyncio.Task[ZygoteClient | None] | None = None
    failures: int = 0  # losses and failed starts in a row (without a stable run between)
    retry_at: float = 0.0  # no new start before this (loop time)
    problem: str | None = None  # the last start failed: why (until a start succeeds)
    last_loss: str | None = None

    @property
    def running(self) -> bool:
        return self.starting is not None or (self.client is not None and self.client.usable)


class Zygotes:
    """The zygotes of every environment in use. ``spawn`` is the pool's one door to them."""

    def __init__(self, executor: ExecutorConfig, runtime: RuntimeLibs) -> None:
        self.executor = executor
        self.runtime = runtime
        self._entries: dict[str, _Entry] = {}
        self._tasks = TaskSet("zygote supervision")
        self._watchdog = WakeLoop(self._watch, name="zygote watchdog", interval=self._watch_every)
        self._closing = False

    async def __aenter__(self) -> Zygotes:
        self._watchdog.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        await self._watchdog.stop()
        for entry in self._entries.values():
            if entry.starting is not None:
                entry.starting.cancel()
        closing = [e.client.close() for e in self._entries.values() if e.client is not None]
        for e in self._entries.values():
            e.client = None
        await asyncio.gather(*closing, return_exceptions=True)
        await self._tasks.join(10.0)
        await self._tasks.cancel()

    def update_settings(self, executor: ExecutorConfig) -> None:
        self.executor = executor

    # --- the pool's door --------------------------------------------------------------------------

    async def spawn(self, fn: Function, spec: WorkerSpec) -> Spawned:
        """A new worker of ``fn`` from its environment's zygote (started if needed), within
        ``init_timeout``; ExecutorUnavailable (naming the function and environment) or Throttled."""
        timeout = self.executor.init_timeout
        loop = asyncio.get_running_loop()
        now = loop.time()
        entry = self._entries.get(fn.environment.key)
        try:
            if entry is not None and entry.client is not None and entry.client.usable:  # the hot path
                return await entry.client.spawn(spec, timeout)
            client = await self._client(fn, now + timeout)
            return await client.spawn(spec, now + timeout - loop.time())
        except ExecutorUnavailable as exc:
            raise ExecutorUnavailable(f"{fn.name}: cannot start a worker: {exc}") from exc

    async def prestart(self, environment: Environment) -> None:
        """Start ``environment``'s zygote now (the server's start: the first cold start then does
        not pay for it, and a runtime that cannot start a zygote at all is found at once)."""
        entry = self._entry(environment)
        entry.starting = self._tasks.spawn(self._start(entry, 0.0, BOOT_TIMEOUT))
        if await entry.starting is None:
            raise ExecutorUnavailable(entry.problem or f"the zygote of {entry.label} did not start")

    async def _client(self, fn: Function, deadline: float) -> ZygoteClient:
        loop = asyncio.get_running_loop()
        if self._closing:
            raise ExecutorUnavailable("the server is shutting down")
        entry = self._entry(fn.environment)
        now = loop.time()
        if entry.starting is None:
            delay = max(0.0, entry.retry_at - now)
            if delay > deadline - now:
                why = entry.problem or f"the zygote of {entry.label} {entry.last_loss or 'failed'}"
                raise ExecutorUnavailable(
                    f"{why}; {entry.failures} failures in a row, the next start is in {delay:.1f} s"
                )
            self._make_room(entry, fn.name)
            entry.starting = self._tasks.spawn(self._start(entry, delay, self.executor.init_timeout))
        try:
            async with asyncio.timeout(deadline - loop.time()):
                client = await asyncio.shield(entry.starting)
        except TimeoutError:
            raise ExecutorUnavailable(f"the zygote of {entry.label} did not start in time") from None
        if client is None:
            raise ExecutorUnavailable(entry.problem or f"the zygote of {entry.label} did not start")
        return client

    def _entry(self, environment: Environment) -> _Entry:
        entry = self._entries.get(environment.key)
        if entry is None:
            entry = self._entries[environment.key] = _Entry(environment=environment, label=environment_label(environment))
        return entry

    async def _start(self, entry: _Entry, delay: float, timeout: float) -> ZygoteClient | None:
        """Start the entry's zygote after ``delay`` (its backoff); None (and ``entry.problem``) on failure."""
        loop = asyncio.get_running_loop()
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            env = entry.environment
            client = ZygoteClient(
                label=entry.label, python=str(self.runtime.python), environment=env.key,
                paths=(*env.paths, str(self.runtime.site_packages)), preload=self.executor.preload,
                on_lost=self._on_lost,
            )
            try:
                await client.start(timeout)
            except ExecutorUnavailable as exc:
                entry.failures += 1
                entry.retry_at = loop.time() + _backoff(entry.failures)
                entry.problem = f"{exc} (attempt {entry.failures})"
                log.error("%s; the next start is on the next call, in %.1f s at the earliest", entry.problem,
                          entry.retry_at - loop.time())
                return None
            except BaseException:
                client.kill("was stopped while starting")
                raise
            entry.client = client
            entry.problem = None
            return client
        finally:
            entry.starting = None

    def _make_room(self, entry: _Entry, function: str) -> None:
        """Before starting ``entry``'s zygote: stop idle ones (least recently used first) while at
        ``max_zygotes``; throttle if none is idle."""
        limit = self.executor.max_zygotes
        running = [e for e in self._entries.values() if e is not entry and e.running]
        excess = len(running) + 1 - limit
        if excess <= 0:
            return
        idle = [e for e in running if e.starting is None and e.client is not None and e.client.live_workers == 0]
        if len(idle) < excess:
            raise Throttled(function, (
                f"server limit of {limit} zygotes (executor.max_zygotes) reached and each has live workers; "
                f"{entry.label} cannot start"
            ))
        # Least recently used: the one whose last worker exited longest ago.
        for victim in sorted(idle, key=lambda e: e.client.idle_since if e.client is not None else 0.0)[:excess]:
            self._stop(victim, f"to make room for {entry.label} (max_zygotes = {limit})")

    def _stop(self, entry: _Entry, why: str) -> None:
        client = entry.client
        if client is None:
            return
        entry.client = None
        log.info("stopping the zygote (pid %s) of %s %s", client.pid, entry.label, why)
        self._tasks.spawn(client.close())

    # --- supervision ------------------------------------------------------------------------------

    def _on_lost(self, client: ZygoteClient) -> None:
        """A running zygote exited or was killed: callers already heard; remember, back off, clean up."""
        entry = self._entries.get(client.environment)
        if entry is None or entry.client is not client:
            return
        entry.client = None
        now = asyncio.get_running_loop().time()
        lived = now - (client.ready_at or now)
        entry.failures = 1 if lived >= STABLE_AFTER else entry.failures + 1
        entry.retry_at = now + _backoff(entry.failures)
        entry.last_loss = client.lost
        if not self._closing:
            self._tasks.spawn(self._after_loss(client, entry.label))

    async def _after_loss(self, client: ZygoteClient, label: str) -> None:
        how = await client.wait_exit()
        log.error("the zygote (pid %s) of %s %s (%s); it is started again on the next call", client.pid, label,
                  client.lost, how)
        # Whatever its workers left in their cgroups (a process that left their group) goes too.
        await asyncio.to_thread(cgroups.sweep_stale)

    def _watch_every(self) -> float:
        return max(0.05, min(1.0, self.executor.init_timeout / 4))

    async def _watch(self) -> None:
        """Kill hung zygotes, ping the others, stop the ones idle for ``idle_timeout``."""
        now = asyncio.get_running_loop().time()
        ex = self.executor
        for entry in list(self._entries.values()):
            client = entry.client
            if client is None or not client.usable:
                continue
            silent = client.unanswered_for(now)
            if silent >= ex.init_timeout:
                log.error("the zygote (pid %s) of %s has not answered for %.1f s: killing it", client.pid,
                          entry.label, silent)
                client.kill(f"did not answer for {silent:.1f} s and was killed")
                continue
            client.ping()
            if client.live_workers == 0 and now - client.idle_since >= ex.idle_timeout:
                self._stop(entry, f"after {ex.idle_timeout:g} s without workers")

    def problem(self) -> str | None:
        """Why the executor cannot start workers now, or None (see the module docstring)."""
        now = asyncio.get_running_loop().time()
        late = self.executor.init_timeout / 2
        for entry in self._entries.values():
            client = entry.client
            if client is not None and client.usable:
                silent = client.unanswered_for(now)
                if silent >= late:
                    return f"the zygote of {entry.label} has not answered for {silent:.1f} s"
            elif entry.problem is not None and entry.starting is None:
                return entry.problem
        return None

    def describe(self) -> list[dict[str, Any]]:
        """Every known environment's zygote, for the admin (pids included: not for the public)."""
        now = asyncio.get_running_loop().time()
        out = []
        for key, entry in self._entries.items():
            client = entry.client
            state = "starting" if entry.starting is not None else "stopped"
            if client is not None and client.usable:
                state = "running" if client.unanswered_for(now) < self.executor.init_timeout / 2 else "not answering"
            elif entry.problem is not None:
                state = "failed"
            elif entry.last_loss is not None:
                state = "restarting"
            out.append({
                "environment": key, "label": entry.label, "state": state,
                "pid": client.pid if client is not None and client.usable else None,
                "workers": client.live_workers if client is not None else 0,
                "failures": entry.failures, "problem": entry.problem, "last_loss": entry.last_loss,
                "limits": client.limits if client is not None else None,
            })
        return out


def _backoff(failures: int) -> float:
    return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1)))
