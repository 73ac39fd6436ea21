"""The gateway's side of one worker process: its socket, one call at a time, deadlines and kills.

The hop to a worker is an asyncio ``Protocol`` over a Unix socket passing raw frames: the event goes
out as the bytes the gateway built and the result comes back as the bytes the handler's JSON made.
A timer at the deadline kills the worker's whole process group; the zygote reaps it and reports.
A worker that announces a frame over ``protocol.MAX_FRAME`` is killed before it is buffered.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faas.executor import protocol
from faas.executor.zygote_client import WorkerExit
from faas.records import Status
from faas.registry import Function

__all__ = ["RunResult", "WorkerHandle", "WorkerState"]

log = logging.getLogger(__name__)

EXIT_REPORT_WAIT = 2.0


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


class WorkerState(enum.Enum):
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

    def __init__(self, fn: Function, worker_id: str, on_idle_lost: Callable[[WorkerHandle], None]) -> None:
        self.id = worker_id
        self.function = fn.name
        self.version = fn.version
        self.on_idle_lost = on_idle_lost  # the pool forgets an idle worker that died on its own
        self.pid = 0
        self.state = WorkerState.STARTING
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
        self.init_timeout = 0.0

    @property
    def alive(self) -> bool:
        return self.state is not WorkerState.DEAD

    def _on_lost(self) -> None:
        was = self.state
        self.state = WorkerState.DEAD
        if was is WorkerState.IDLE:
            self.on_idle_lost(self)

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
        self.state = WorkerState.DEAD
        if self.conn.transport is not None:
            self.conn.transport.close()

    async def _exit_report(self) -> WorkerExit | None:
        if self.exited is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(self.exited), EXIT_REPORT_WAIT)
        except asyncio.TimeoutError:
            return None

    async def call(self, fn: Function, request_id: str, meta: bytes, event: bytes, *, init_timeout: float) -> RunResult:
        """Send one invoke frame and wait for its answer, under the init deadline (first call) and
        the function's timeout; a worker that misses either is killed."""
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
            self.init_timeout = init_timeout
            handle = loop.call_later(init_timeout, self._expire_init, ready)
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
                seconds = self.init_timeout
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
