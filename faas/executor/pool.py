"""Warm workers per (function, code version), concurrency caps, deadlines and kills.

The hop to a worker is an asyncio ``Protocol`` over a Unix socket passing raw frames: the event goes
out as the bytes the gateway built and the result comes back as the bytes the handler's JSON made.
A timer at the deadline kills the worker's whole process group; the zygote reaps it and reports.
A worker that announces a frame over ``protocol.MAX_FRAME`` is killed before it is buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import pwd
import signal
import socket
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from faas.background import WakeLoop
from faas.config import ExecutorConfig, ServerConfig
from faas.exceptions import ExecutorUnavailable, PayloadTooLarge, Throttled
from faas.executor import protocol
from faas.executor.protocol import WorkerSpec
from faas.executor.zygote_client import WorkerExit, ZygoteClient
from faas.records import Status
from faas.registry import Function

log = logging.getLogger(__name__)

EXIT_REPORT_WAIT = 2.0
SHUTDOWN_GRACE = 30.0  # how long to wait for the zygote's word on a dead worker


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """What one call on a worker came to.

    ``body`` is the worker's answer: the handler's result, or (status ERROR) the error object the
    worker runtime made when the handler raised, passed on as bytes. It is None when the call ended
    without an answer (init failed, the deadline passed, the worker exited or broke the protocol):
    then ``error_type`` and ``error_message`` say why, and the caller makes the error object.
    ``stack_trace`` is set only for a failed init, which the worker reported and logged itself.
    """

    status: Status  # SUCCESS, ERROR, TIMEOUT, CRASHED or OOM
    body: bytes | None
    log: bytes
    duration_ms: float
    init_ms: float | None
    max_memory_kib: int
    error_type: str | None = None
    error_message: str | None = None
    stack_trace: tuple[str, ...] | None = None


class _State(enum.Enum):
    STARTING = 1
    IDLE = 2
    BUSY = 3
    DEAD = 4


_EOF = object()


class _Connection(asyncio.Protocol):
    """Frames from one worker. Exactly one call is in flight at a time."""

    __slots__ = ("buf", "transport", "waiter", "ready", "worker")

    def __init__(self, worker: "WorkerHandle") -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Any] | None = None
        self.ready: asyncio.Future[Any] | None = None
        self.worker = worker

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        size = protocol.HEADER_SIZE
        while len(buf) >= size:
            try:
                length, kind = protocol.unpack_header(buf)
            except protocol.FrameTooLarge as exc:
                buf.clear()
                self.worker.refuse(exc)
                return
            end = size + length
            if len(buf) < end:
                return
            payload = bytes(buf[size:end])
            del buf[:end]
            if kind == protocol.RESULT:
                waiter = self.waiter
                self.waiter = None
                if waiter is not None and not waiter.done():
                    waiter.set_result(payload)
            elif kind == protocol.READY:
                ready = self.ready
                if ready is not None and not ready.done():
                    ready.set_result(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker._on_lost()
        for fut in (self.ready, self.waiter):
            if fut is not None and not fut.done():
                fut.set_result(_EOF)


class WorkerHandle:
    """The gateway's view of one worker process."""

    def __init__(self, fn: Function, worker_id: str, pool: "WorkerPool") -> None:
        self.id = worker_id
        self.function = fn.name
        self.version = fn.version
        self.pool = pool
        self.pid = 0
        self.state = _State.STARTING
        self.conn = _Connection(self)
        self.exited: asyncio.Future[WorkerExit] | None = None
        self.idle_since = 0.0
        self.initialised = False
        self.killed_for: Status | None = None
        self.bad_frame: protocol.FrameTooLarge | None = None
        self.counted = True  # counted in the pool's total until retired
        self.max_rss_kib = 0  # the worker's peak so far, reported when it dies mid-call
        self.call_started = 0.0
        self.init_timed_out = False

    @property
    def alive(self) -> bool:
        return self.state is not _State.DEAD

    def _on_lost(self) -> None:
        was = self.state
        self.state = _State.DEAD
        if was is _State.IDLE:
            self.pool._forget_idle(self)

    def refuse(self, exc: protocol.FrameTooLarge) -> None:
        """The worker announced an oversized frame: kill it rather than buffer it."""
        log.warning("worker %s of %s (pid %s) killed: %s", self.id, self.function, self.pid, exc)
        self.bad_frame = exc
        self.kill()

    def kill(self) -> None:
        """SIGKILL the worker's process group; the zygote reaps it and sweeps its cgroup."""
        if self.pid:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.close()

    def close(self) -> None:
        """Close the socket: an idle worker sees EOF and exits by itself."""
        self.state = _State.DEAD
        if self.conn.transport is not None:
            self.conn.transport.close()

    async def _exit_report(self) -> WorkerExit | None:
        if self.exited is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(self.exited), EXIT_REPORT_WAIT)
        except asyncio.TimeoutError:
            return None

    async def call(self, fn: Function, request_id: str, meta: bytes, event: bytes) -> RunResult:
        loop = asyncio.get_running_loop()
        conn = self.conn
        assert conn.transport is not None
        waiter: asyncio.Future[Any] = loop.create_future()
        conn.waiter = waiter
        conn.transport.write(protocol.encode_invoke(meta, event))
        init_ms: float | None = None
        init_log = b""
        if not self.initialised:
            ready = conn.ready
            assert ready is not None
            handle = loop.call_later(self.pool.executor.init_timeout, self._expire_init, ready)
            try:
                payload = await ready
            finally:
                handle.cancel()
            if payload is _EOF:
                return await self._failed(request_id, None, b"")
            init_ms, ok, init_log, error = protocol.decode_ready(payload)
            self.initialised = True
            if not ok:
                self.kill()
                error_type, message, stack = _worker_error(error, "Runtime.Unknown")
                return RunResult(
                    status=Status.ERROR, body=None, log=init_log, duration_ms=0.0, init_ms=init_ms,
                    max_memory_kib=0, error_type=error_type, error_message=message or "", stack_trace=stack,
                )
        handle = loop.call_later(fn.config.timeout, self._expire, waiter, Status.TIMEOUT)
        try:
            payload = await waiter
        finally:
            handle.cancel()
        if payload is _EOF:
            return await self._failed(request_id, init_ms, init_log)
        status, duration_ms, max_rss, out, body = protocol.decode_result(payload)
        self.max_rss_kib = max_rss
        if init_log:
            out = init_log + out
        if status == protocol.STATUS_OK:
            return RunResult(
                status=Status.SUCCESS, body=body, log=out, duration_ms=duration_ms, init_ms=init_ms,
                max_memory_kib=max_rss,
            )
        error_type, error_message, _ = _worker_error(body, "Unhandled")
        return RunResult(
            status=Status.ERROR, body=body, log=out, duration_ms=duration_ms, init_ms=init_ms,
            max_memory_kib=max_rss, error_type=error_type, error_message=error_message,
        )

    def _expire_init(self, fut: asyncio.Future[Any]) -> None:
        self.init_timed_out = True
        self._expire(fut, Status.TIMEOUT)

    def _expire(self, fut: asyncio.Future[Any], why: Status) -> None:
        if fut.done():
            return
        self.killed_for = why
        self.kill()
        fut.set_result(_EOF)

    async def _failed(self, request_id: str, init_ms: float | None, init_log: bytes) -> RunResult:
        """The worker is gone mid-call: killed at its deadline or for an oversized frame, out of
        memory, or it exited."""
        self.kill()
        elapsed = (asyncio.get_running_loop().time() - self.call_started) * 1000.0
        report = await self._exit_report()
        tail = report.log_tail if report else b""
        log_bytes = init_log + tail
        if self.killed_for is Status.TIMEOUT:
            message = None
            if self.init_timed_out:
                seconds = self.pool.executor.init_timeout
                message = f"Init phase timed out after {seconds:.2f} seconds (importing the handler module)"
            return RunResult(
                status=Status.TIMEOUT, body=None, log=log_bytes, duration_ms=elapsed, init_ms=init_ms,
                max_memory_kib=self.max_rss_kib, error_type="Sandbox.Timedout", error_message=message,
            )
        if self.bad_frame is not None:
            message = (
                f"Worker frame size ({self.bad_frame.length} bytes) exceeded maximum allowed frame size "
                f"({protocol.MAX_FRAME} bytes); the worker was stopped."
            )
            return RunResult(
                status=Status.ERROR, body=None, log=log_bytes, duration_ms=elapsed, init_ms=init_ms,
                max_memory_kib=self.max_rss_kib, error_type="Function.ResponseSizeTooLarge", error_message=message,
            )
        how = report.describe() if report else "signal: killed"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {how}"
        if report is not None and report.oom:
            error_type, status = "Runtime.OutOfMemory", Status.OOM
        else:
            error_type, status = "Runtime.ExitError", Status.CRASHED
        return RunResult(
            status=status, body=None, log=log_bytes, duration_ms=elapsed, init_ms=init_ms,
            max_memory_kib=self.max_rss_kib, error_type=error_type, error_message=message,
        )


def _worker_error(body: bytes, default_type: str) -> tuple[str, str | None, tuple[str, ...]]:
    """The errorType, errorMessage and stackTrace of an error object the worker runtime made. Read
    warily: a handler can write to its worker's socket, so the bytes may be anything."""
    try:
        data = json.loads(body)
    except ValueError:
        return default_type, body[:1000].decode("utf-8", "replace") or None, ()
    if not isinstance(data, dict):
        return default_type, None, ()
    message, stack = data.get("errorMessage"), data.get("stackTrace")
    return (
        str(data.get("errorType", default_type)),
        None if message is None else str(message),
        tuple(str(line) for line in stack) if isinstance(stack, list) else (),
    )


class _Slots:
    """Per-function bookkeeping: busy count, idle workers (LIFO keeps the warmest), waiters."""

    __slots__ = ("busy", "idle", "waiters")

    def __init__(self) -> None:
        self.busy = 0
        self.idle: list[WorkerHandle] = []
        self.waiters: deque[asyncio.Future[Any]] = deque()


class WorkerPool:
    """Hands out warm workers, starts new ones through the zygote, enforces caps and deadlines."""

    def __init__(self, zygote: ZygoteClient, executor: ExecutorConfig, server: ServerConfig, workers_dir: str) -> None:
        self.zygote = zygote
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
            result = await worker.call(fn, request_id, meta, event)
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
            if w.version == fn.version and w.state is _State.IDLE:
                w.state = _State.BUSY
                slots.busy += 1
                return w, False
            self._retire(w)
        if self._total >= self.executor.max_workers and not self._evict_idle():
            return None
        slots.busy += 1
        self._total += 1
        return WorkerHandle(fn, uuid.uuid4().hex, self), True

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
        pid, sock, exited = await self.zygote.spawn(self._spec(fn, worker.id))
        worker.pid = pid
        worker.exited = exited
        loop = asyncio.get_running_loop()
        worker.conn.ready = loop.create_future()
        await loop.connect_accepted_socket(lambda: worker.conn, sock)
        worker.state = _State.BUSY

    def _spec(self, fn: Function, worker_id: str) -> WorkerSpec:
        ex = self.executor
        return WorkerSpec(
            worker_id=worker_id,
            function=fn.name,
            handler=fn.config.handler,
            memory_mb=fn.config.memory,
            env=fn.env,
            dir=os.path.join(self.workers_dir, worker_id),
            functions_dir=str(self.server.functions_dir),
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
            worker.state = _State.IDLE
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
