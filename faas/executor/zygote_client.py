"""The gateway's side of the zygote: start it, ask it for workers, hear about their exits."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from faas.exceptions import ExecutorUnavailable
from faas.executor import protocol
from faas.executor.protocol import WorkerSpec

log = logging.getLogger(__name__)

READY_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerExit:
    """How a worker process ended, as the zygote saw it when it reaped it."""

    pid: int
    status: int | None
    signal: int | None
    oom: bool
    log_tail: bytes

    def describe(self) -> str:
        if self.signal is not None:
            names = {9: "killed", 11: "segmentation fault", 6: "aborted", 15: "terminated", 7: "bus error"}
            return f"signal: {names.get(self.signal, f'signal {self.signal}')}"
        return f"exit status {self.status}"


class ZygoteClient:
    """Owns the zygote process. ``spawn`` returns the new worker's pid and the gateway's socket."""

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self.preload = preload
        self.process: asyncio.subprocess.Process | None = None
        self.limits = ""
        self._sock: socket.socket | None = None
        self._reader = protocol.ControlReader()
        self._lost = False
        self._ready: asyncio.Future[None] | None = None
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._exits: dict[str, asyncio.Future[WorkerExit]] = {}
        self._next = 0
        self._closed = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "faas.executor.zygote",
            str(theirs.fileno()),
            ",".join(self.preload),
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
        )
        theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._ready = loop.create_future()
        # Plain add_reader rather than a transport: spawn requests go out with sendmsg on the same
        # socket, which a transport (uvloop's in particular) would not share.
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            await asyncio.wait_for(self._ready, READY_TIMEOUT)
        except (asyncio.TimeoutError, ExecutorUnavailable) as exc:
            await self.close()
            raise ExecutorUnavailable(f"the zygote did not start: {exc}") from exc
        log.info("zygote pid %s ready; worker limits enforced by %s", self.process.pid, self.limits)

    def _on_message(self, message: dict[str, Any], raw: bytes) -> None:
        op = message.get("op")
        if op == "ready":
            self.limits = str(message.get("limits"))
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
        elif op == "spawned":
            fut = self._pending.pop(int(message["id"]), None)
            if fut is not None and not fut.done():
                fut.set_result(int(message["pid"]))
        elif op == "spawn_failed":
            fut = self._pending.pop(int(message["id"]), None)
            if fut is not None and not fut.done():
                fut.set_exception(ExecutorUnavailable(f"could not start a worker: {message.get('message')}"))
        elif op == "exit":
            exit_ = WorkerExit(
                pid=int(message["pid"]),
                status=message.get("status"),
                signal=message.get("signal"),
                oom=bool(message.get("oom")),
                log_tail=raw,
            )
            exited = self._exits.pop(str(message["worker"]), None)
            if exited is not None and not exited.done():
                exited.set_result(exit_)

    def _on_readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._on_lost()
            return
        for message, raw in self._reader.feed(data):
            self._on_message(message, raw)

    def _on_lost(self) -> None:
        self._lost = True
        error = ExecutorUnavailable("the zygote exited")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(error)
        self._pending.clear()
        if not self._closed:
            log.error("the zygote exited unexpectedly; no new workers can start")

    async def spawn(self, spec: WorkerSpec) -> tuple[int, socket.socket, asyncio.Future[WorkerExit]]:
        if self._closed or self._lost or self._sock is None:
            raise ExecutorUnavailable("the executor is not running")
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._next += 1
        request_id = self._next
        worker_id = spec.worker_id
        fut: asyncio.Future[int] = loop.create_future()
        exited: asyncio.Future[WorkerExit] = loop.create_future()
        self._pending[request_id] = fut
        self._exits[worker_id] = exited
        message = protocol.encode_control({"op": "spawn", "id": request_id}, spec.to_json())
        try:
            await self._send_with_fd(message, theirs.fileno())
        except OSError as exc:
            self._pending.pop(request_id, None)
            self._exits.pop(worker_id, None)
            ours.close()
            raise ExecutorUnavailable(f"could not reach the zygote: {exc}") from exc
        finally:
            theirs.close()
        try:
            pid = await fut
        except BaseException:
            self._exits.pop(worker_id, None)
            ours.close()
            raise
        return pid, ours, exited

    async def _send_with_fd(self, data: bytes, fd: int) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        sent = 0
        while sent < len(data):
            try:
                if sent == 0:
                    sent = self._sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])
                else:
                    sent += self._sock.send(data[sent:])
            except BlockingIOError:
                writable: asyncio.Future[None] = loop.create_future()
                loop.add_writer(self._sock.fileno(), _resolve, writable)
                try:
                    await writable
                finally:
                    loop.remove_writer(self._sock.fileno())

    async def close(self) -> None:
        """Close the control socket; the zygote kills and reaps every worker, then exits."""
        self._closed = True
        if self._sock is not None:
            if not self._lost:
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
        if self.process is not None and self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
