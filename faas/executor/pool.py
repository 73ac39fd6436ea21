"""Warm workers per (function, code version), concurrency caps, waiting, eviction and retirement.

The pool decides which worker serves a call (the warmest idle one of the function's current version,
or a new one from its environment's zygote (``zygotes.py``) while the function and the server are
under their caps, else wait up to ``queue_wait_ms`` and throttle); ``handle.py`` runs the call on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import uuid
from collections import deque
from typing import Any

from faas.background import WakeLoop
from faas.config import ExecutorConfig, ServerConfig
from faas.exceptions import ExecutorUnavailable, PayloadTooLarge, Throttled
from faas.executor import protocol
from faas.executor.protocol import WorkerSpec
from faas.executor.handle import RunResult, WorkerHandle, WorkerState
from faas.executor.zygotes import Zygotes
from faas.records import Status
from faas.registry import Function

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 30.0  # how long calls in flight may take to finish when the pool closes


class _Slots:
    """Per-function bookkeeping: busy count, idle workers (LIFO keeps the warmest), waiters."""

    __slots__ = ("busy", "idle", "waiters")

    def __init__(self) -> None:
        self.busy = 0
        self.idle: list[WorkerHandle] = []
        self.waiters: deque[asyncio.Future[Any]] = deque()


class WorkerPool:
    """Hands out warm workers, starts new ones through the zygote, enforces caps and deadlines."""

    def __init__(self, zygotes: Zygotes, executor: ExecutorConfig, server: ServerConfig, workers_dir: str) -> None:
        self.zygotes = zygotes
        self.executor = executor
        self.server = server
        self.workers_dir = workers_dir
        self._slots: dict[str, _Slots] = {}
        self._versions: dict[str, int] = {}
        self._total = 0
        self._closing = False
        self._drained = asyncio.Event()  # set when the last busy call ends during shutdown
        self._reaper = WakeLoop(self._reap_idle, name="idle worker reaper", interval=self._reap_every)
        self.uid: int | None = None
        self.gid: int | None = None
        if executor.user:
            try:
                entry = pwd.getpwnam(executor.user)
            except KeyError:
                raise ExecutorUnavailable(f'executor.user = "{executor.user}": no such user') from None
            self.uid, self.gid = entry.pw_uid, entry.pw_gid

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> "WorkerPool":
        self._reaper.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        for slots in self._slots.values():
            for fut in slots.waiters:
                if not fut.done():
                    fut.set_result(None)
        # In-flight calls finish (they are metered after), within a grace period. A waiter woken
        # above may still take a slot, so look again each time the last call ends.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SHUTDOWN_GRACE):
                while self._busy():
                    self._drained.clear()
                    await self._drained.wait()
        await self._reaper.stop()
        for slots in self._slots.values():
            for w in slots.idle:
                w.close()
            slots.idle.clear()

    def update_settings(self, executor: ExecutorConfig) -> None:
        self.executor = executor

    def set_version(self, name: str, version: int | None) -> None:
        """A function moved to a new code version (or went away): idle old workers retire now."""
        if version is None:
            self._versions.pop(name, None)
        else:
            self._versions[name] = version
        slots = self._slots.get(name)
        if slots is None:
            return
        keep = []
        for w in slots.idle:
            if w.version == version:
                keep.append(w)
            else:
                self._retire(w)
        slots.idle = keep
        self._wake(slots)

    # --- stats ----------------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: {"busy": s.busy, "idle": len(s.idle)} for name, s in self._slots.items()}

    @property
    def total_workers(self) -> int:
        return self._total

    # --- running a call -------------------------------------------------------------------------

    async def run(self, fn: Function, request_id: str, meta: bytes, event: bytes) -> tuple[RunResult, bool]:
        """Run one invocation; returns the result and whether it was a cold start."""
        size = protocol.INVOKE_META.size + len(meta) + len(event)
        if size > protocol.MAX_FRAME:
            raise PayloadTooLarge(size, protocol.MAX_FRAME)  # the worker would refuse the frame
        worker, cold = await self._acquire(fn)
        worker.call_started = asyncio.get_running_loop().time()
        reusable = False
        try:
            result = await worker.call(fn, request_id, meta, event, init_timeout=self.executor.init_timeout)
            reusable = result.status is Status.SUCCESS or result.status is Status.ERROR
            return result, cold
        except asyncio.CancelledError:
            worker.kill()  # it is still running the handler: nobody will read its answer
            raise
        finally:
            self._release(worker, reusable and worker.alive)

    async def _acquire(self, fn: Function) -> tuple[WorkerHandle, bool]:
        if self._closing:
            raise ExecutorUnavailable("the server is shutting down")
        got = self._try_acquire(fn)
        if got is None:
            got = await self._wait_for_worker(fn)
        worker, cold = got
        if cold:
            try:
                await self._start(worker, fn)
            except BaseException:
                self._slots[fn.name].busy -= 1
                self._check_drained()
                self._retire(worker)
                self._wake_all()
                raise
        return worker, cold

    def _try_acquire(self, fn: Function) -> tuple[WorkerHandle, bool] | None:
        slots = self._slots.get(fn.name)
        if slots is None:
            slots = self._slots[fn.name] = _Slots()
            self._versions.setdefault(fn.name, fn.version)
        if slots.busy >= fn.config.concurrency:
            return None
        idle = slots.idle
        while idle:
            w = idle.pop()
            if w.version == fn.version and w.state is WorkerState.IDLE:
                w.state = WorkerState.BUSY
                slots.busy += 1
                return w, False
            self._retire(w)
        if self._total >= self.executor.max_workers and not self._evict_idle():
            return None
        slots.busy += 1
        self._total += 1
        return WorkerHandle(fn, uuid.uuid4().hex, self._forget_idle), True

    async def _wait_for_worker(self, fn: Function) -> tuple[WorkerHandle, bool]:
        loop = asyncio.get_running_loop()
        slots = self._slots[fn.name]
        deadline = loop.time() + self.executor.queue_wait_ms / 1000.0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                break
            fut: asyncio.Future[Any] = loop.create_future()
            slots.waiters.append(fut)
            handle = loop.call_later(remaining, _wake_with_none, fut)
            try:
                got = await fut
            finally:
                handle.cancel()
                try:
                    slots.waiters.remove(fut)
                except ValueError:
                    pass
            if isinstance(got, WorkerHandle):
                return got, False
            again = self._try_acquire(fn)
            if again is not None:
                return again
        if slots.busy >= fn.config.concurrency:
            reason = f"function concurrency limit of {fn.config.concurrency} reached"
        else:
            reason = f"server limit of {self.executor.max_workers} workers reached"
        raise Throttled(fn.name, reason)

    async def _start(self, worker: WorkerHandle, fn: Function) -> None:
        pid, sock, exited = await self.zygotes.spawn(fn, self._spec(fn, worker.id))
        worker.pid = pid
        worker.exited = exited
        loop = asyncio.get_running_loop()
        worker.conn.ready = loop.create_future()
        await loop.connect_accepted_socket(lambda: worker.conn, sock)
        worker.state = WorkerState.BUSY

    def _spec(self, fn: Function, worker_id: str) -> WorkerSpec:
        ex = self.executor
        return WorkerSpec(
            worker_id=worker_id,
            function=fn.name,
            handler=fn.config.handler,
            memory_mb=fn.config.memory,
            env=fn.env,
            dir=os.path.join(self.workers_dir, worker_id),
            code_paths=fn.code_paths,
            log_stream=f"{_today()}/[$LATEST]{worker_id}",
            log_cap=ex.log_cap_bytes,
            max_processes=ex.max_processes,
            max_open_files=ex.max_open_files,
            max_file_bytes=ex.max_file_bytes,
            uid=self.uid,
            gid=self.gid,
        )

    def _release(self, worker: WorkerHandle, reusable: bool) -> None:
        slots = self._slots[worker.function]
        slots.busy -= 1
        self._check_drained()
        current = self._versions.get(worker.function)
        if reusable and not self._closing and worker.version == current:
            while slots.waiters:
                fut = slots.waiters.popleft()
                if not fut.done():
                    slots.busy += 1
                    fut.set_result(worker)  # handed over warm, still BUSY
                    return
            worker.state = WorkerState.IDLE
            worker.idle_since = asyncio.get_running_loop().time()
            slots.idle.append(worker)
            self._wake_others(worker.function)
        else:
            self._retire(worker)
            self._wake_all()

    def _busy(self) -> bool:
        return any(s.busy for s in self._slots.values())

    def _check_drained(self) -> None:
        """During shutdown, wake ``__aexit__``'s drain once no call is busy any more."""
        if self._closing and not self._busy():
            self._drained.set()

    def _retire(self, worker: WorkerHandle) -> None:
        worker.close()
        if worker.counted:
            worker.counted = False
            self._total -= 1

    def _forget_idle(self, worker: WorkerHandle) -> None:
        """An idle worker died on its own (e.g. killed from outside): drop it."""
        slots = self._slots.get(worker.function)
        if slots is not None and worker in slots.idle:
            slots.idle.remove(worker)
            self._retire(worker)
            self._wake_all()

    def _evict_idle(self) -> bool:
        """At the server cap: retire the least recently used idle worker, if any."""
        oldest: WorkerHandle | None = None
        for slots in self._slots.values():
            if slots.idle and (oldest is None or slots.idle[0].idle_since < oldest.idle_since):
                oldest = slots.idle[0]
        if oldest is None:
            return False
        self._slots[oldest.function].idle.remove(oldest)
        self._retire(oldest)
        return True

    def _wake(self, slots: _Slots) -> None:
        for fut in slots.waiters:
            if not fut.done():
                fut.set_result(None)
                return

    def _wake_all(self) -> None:
        for slots in self._slots.values():
            self._wake(slots)

    def _wake_others(self, name: str) -> None:
        """An idle worker can be evicted for a function waiting on the server cap."""
        if self._total >= self.executor.max_workers:
            for other, slots in self._slots.items():
                if other != name:
                    self._wake(slots)

    def _reap_every(self) -> float:
        return min(5.0, max(0.2, self.executor.idle_timeout / 4))

    async def _reap_idle(self) -> None:
        cutoff = asyncio.get_running_loop().time() - self.executor.idle_timeout
        for slots in self._slots.values():
            stale = [w for w in slots.idle if w.idle_since < cutoff]
            for w in stale:
                slots.idle.remove(w)
                self._retire(w)


def _today() -> str:
    import time

    return time.strftime("%Y/%m/%d", time.gmtime())


def _wake_with_none(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_result(None)
