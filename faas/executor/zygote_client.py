"""The server's side of one zygote: start it, ask it for workers, hear about their exits, watch it.

A zygote is started as ``python3 -I -S -c BOOTSTRAP ROOT FD SETTINGS`` with the runtime's
interpreter (``runtime_libs.py``): isolated, so the platform's virtualenv is never on its path (see
``zygote.py``). Every message we send is a question (``spawn``, ``ping``) and each is answered in
order, so the age of the oldest unanswered one says whether the zygote is alive:
``Zygotes``' watchdog pings an idle zygote and kills one that leaves a question unanswered for
``init_timeout``. A spawn has its own deadline, so a caller never waits on a hung zygote longer
than it was given.

When a zygote is lost (it exited, or was killed as hung), every caller waiting on it fails at once
with ``ExecutorUnavailable``, every worker it had is killed (they die with it through
``PR_SET_PDEATHSIG`` anyway, except those that changed user, which loses it) and their calls get
an exit report naming the cause.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faas.exceptions import ExecutorUnavailable
from faas.executor import protocol
from faas.executor.protocol import WorkerSpec

__all__ = ["PLATFORM_ROOT", "WorkerExit", "ZygoteClient"]

log = logging.getLogger(__name__)

# The folder that holds the ``faas`` package: the zygote imports its own code from here, then drops it.
PLATFORM_ROOT = str(Path(__file__).resolve().parents[2])
# Appended (not prepended) so the standard library still wins while the zygote starts up.
BOOTSTRAP = "import sys; sys.path.append(sys.argv[1]); from faas.executor.zygote import main; main()"
CLOSE_WAIT = 5.0  # how long a closed zygote gets to kill its workers and exit before SIGKILL


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerExit:
    """How a worker process ended, as the zygote saw it when it reaped it (or, when the zygote
    itself was lost, as the server concluded: killed, with ``cause`` saying why)."""

    pid: int
    status: int | None
    signal: int | None
    oom: bool
    log_tail: bytes
    cause: str = ""

    def describe(self) -> str:
        if self.signal is not None:
            names = {9: "killed", 11: "segmentation fault", 6: "aborted", 15: "terminated", 7: "bus error"}
            how = f"signal: {names.get(self.signal, f'signal {self.signal}')}"
        else:
            how = f"exit status {self.status}"
        return f"{how} ({self.cause})" if self.cause else how


Spawned = tuple[int, socket.socket, "asyncio.Future[WorkerExit]"]


class ZygoteClient:
    """Owns one zygote process. ``spawn`` returns a new worker's pid, the server's end of its
    socket and a future for its exit report."""

    def __init__(
        self,
        *,
        label: str,
        python: str,
        paths: tuple[str, ...],
        preload: tuple[str, ...] = (),
        environment: str = "",
        on_lost: Callable[[ZygoteClient], None] | None = None,
    ) -> None:
        self.label = label  # "environment KEY (...)": how messages name it
        self.python = python
        self.paths = paths
        self.preload = preload
        self.environment = environment
        self.on_lost = on_lost
        self.process: asyncio.subprocess.Process | None = None
        self.limits = ""
        self.lost: str | None = None  # why it is gone ("exited unexpectedly", "... was killed")
        self.ready_at: float | None = None
        self.idle_since = 0.0  # loop time its last worker exited (meaningful while it has none)
        self._sock: socket.socket | None = None
        self._reader = protocol.ControlReader()
        self._ready: asyncio.Future[None] | None = None
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._asked: dict[int, float] = {}  # spawn id -> when it was sent, until the zygote answers
        self._ping_at: float | None = None
        self._exits: dict[str, asyncio.Future[WorkerExit]] = {}
        self._pids: dict[str, int] = {}
        self._next = 0
        self._closed = False
        self._kill_reason: str | None = None
        self._send_lock = asyncio.Lock()
        self._writable: asyncio.Future[None] | None = None

    # --- state ----------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def usable(self) -> bool:
        return self.ready_at is not None and self.lost is None and not self._closed

    @property
    def live_workers(self) -> int:
        """Workers started (or being started) and not yet reported gone."""
        return len(self._exits)

    def unanswered_for(self, now: float) -> float:
        """How long the oldest question the zygote has not answered has been waiting (0: none)."""
        oldest = min(self._asked.values(), default=now)
        if self._ping_at is not None:
            oldest = min(oldest, self._ping_at)
        return now - oldest

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, timeout: float) -> None:
        """Start the zygote and wait until it says ready; ExecutorUnavailable if it does not
        within ``timeout`` seconds (it is killed) or exits first."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        settings = json.dumps({"environment": self.environment, "paths": list(self.paths), "preload": list(self.preload)})
        try:
            self.process = await asyncio.create_subprocess_exec(
                self.python, "-I", "-S", "-c", BOOTSTRAP, PLATFORM_ROOT, str(theirs.fileno()), settings,
                pass_fds=(theirs.fileno(),),
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                stdin=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise ExecutorUnavailable(f"the zygote of {self.label} could not be started: {exc}") from exc
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._ready = loop.create_future()
        # Plain add_reader rather than a transport: spawn requests go out with sendmsg on the same
        # socket, which a transport (uvloop's in particular) would not share.
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            async with asyncio.timeout(timeout):
                await self._ready
        except TimeoutError:
            self.kill(f"did not start within {timeout:g} s")
            await self._reap()
            raise ExecutorUnavailable(f"the zygote of {self.label} did not start within {timeout:g} s") from None
        except ExecutorUnavailable:
            code = await self._reap()
            raise ExecutorUnavailable(f"the zygote of {self.label} exited while starting ({_exit_text(code)})") from None
        self.ready_at = self.idle_since = loop.time()
        log.info("zygote pid %s of %s ready; worker limits enforced by %s", self.process.pid, self.label, self.limits)

    def kill(self, reason: str) -> None:
        """SIGKILL the zygote now (it is hung or must go); its waiting callers fail with ``reason``."""
        self._kill_reason = reason
        if self.process is not None and self.process.returncode is None:
            try:
                self.process.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._on_lost()

    async def close(self) -> None:
        """Close the control socket: the zygote kills and reaps every worker, then exits."""
        self._closed = True
        self._close_socket()
        if self.process is not None and self.process.returncode is None:
            try:
                self.process.send_signal(signal.SIGCONT)  # a stopped zygote must still see us leave
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(self.process.wait(), CLOSE_WAIT)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._on_lost()

    async def _reap(self) -> int | None:
        if self.process is None:
            return None
        try:
            return await asyncio.wait_for(self.process.wait(), CLOSE_WAIT)
        except asyncio.TimeoutError:
            return None

    async def wait_exit(self) -> str:
        """After a loss: how the process ended, for the log."""
        return _exit_text(await self._reap())

    def _close_socket(self) -> None:
        """Gone for good: stop watching the socket (a send waiting to write gives up) and close it."""
        sock = self._sock
        if sock is None or sock.fileno() < 0:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(sock.fileno())
        loop.remove_writer(sock.fileno())
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        sock.close()

    # --- messages in ----------------------------------------------------------------------------

    def _on_readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._on_lost()
            return
        for message, raw in self._reader.feed(data):
            self._on_message(message, raw)

    def _on_message(self, message: dict[str, Any], raw: bytes) -> None:
        op = message.get("op")
        if op == "spawned" or op == "spawn_failed":
            request_id = int(message["id"])
            self._asked.pop(request_id, None)
            fut = self._pending.pop(request_id, None)
            if fut is not None and not fut.done():
                if op == "spawned":
                    fut.set_result(int(message["pid"]))
                else:
                    fut.set_exception(ExecutorUnavailable(f"the zygote of {self.label} could not fork: {message.get('message')}"))
        elif op == "exit":
            worker = str(message["worker"])
            self._pids.pop(worker, None)
            exited = self._exits.pop(worker, None)
            if not self._exits:
                self.idle_since = asyncio.get_running_loop().time()
            if exited is not None and not exited.done():
                exited.set_result(WorkerExit(
                    pid=int(message["pid"]), status=message.get("status"), signal=message.get("signal"),
                    oom=bool(message.get("oom")), log_tail=raw,
                ))
        elif op == "pong":
            self._ping_at = None
        elif op == "ready":
            self.limits = str(message.get("limits"))
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)

    def _on_lost(self) -> None:
        if self.lost is not None:
            return
        self.lost = self._kill_reason or ("was stopped" if self._closed else "exited unexpectedly")
        self._close_socket()
        error = ExecutorUnavailable(f"the zygote of {self.label} {self.lost}")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(error)
        self._pending.clear()
        # A zygote we stopped killed and reaped its workers itself (their pids may be reused now).
        self._forget_workers(f"the zygote of {self.label} {self.lost}", signal_them=not self._closed)
        if not self._closed and self.ready_at is not None and self.on_lost is not None:
            self.on_lost(self)

    def _forget_workers(self, cause: str, *, signal_them: bool) -> None:
        """The zygote is gone: so are its workers (killed here too, in case one changed user and
        lost its parent-death signal), and their calls hear why."""
        for worker, exited in self._exits.items():
            pid = self._pids.get(worker, 0)
            if pid and signal_them:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if not exited.done():
                exited.set_result(WorkerExit(pid=pid, status=None, signal=signal.SIGKILL, oom=False, log_tail=b"", cause=cause))
        self._pids.clear()
        self._exits.clear()
        self._asked.clear()
        self._ping_at = None

    # --- questions out --------------------------------------------------------------------------

    def ping(self) -> None:
        """Ask the zygote for a sign of life, unless a question is already out (its answer will do)."""
        if self._asked or self._ping_at is not None or self._send_lock.locked() or not self.usable:
            return
        assert self._sock is not None
        try:
            # Nothing is unanswered, so the zygote has read everything: the socket buffer is
            # empty and these few bytes go out whole.
            self._sock.send(protocol.encode_control({"op": "ping"}))
        except OSError:
            return
        self._ping_at = asyncio.get_running_loop().time()

    async def spawn(self, spec: WorkerSpec, timeout: float) -> Spawned:
        """Ask for a worker; ExecutorUnavailable if the zygote is gone, fails, or does not answer
        within ``timeout`` seconds."""
        if not self.usable:
            raise ExecutorUnavailable(f"the zygote of {self.label} {self.lost or 'is not running'}")
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
            async with asyncio.timeout(timeout):
                try:
                    async with self._send_lock:
                        self._asked[request_id] = loop.time()
                        await self._send_with_fd(message, theirs.fileno())
                finally:
                    theirs.close()
                pid = await fut
        except BaseException as exc:
            self._pending.pop(request_id, None)
            self._exits.pop(worker_id, None)
            if not self._exits:
                self.idle_since = loop.time()
            ours.close()
            if isinstance(exc, TimeoutError):
                raise ExecutorUnavailable(f"the zygote of {self.label} did not answer within {timeout:.2f} s") from None
            if isinstance(exc, OSError):
                raise ExecutorUnavailable(f"could not reach the zygote of {self.label}: {exc}") from exc
            raise
        self._pids[worker_id] = pid
        return pid, ours, exited

    async def _send_with_fd(self, data: bytes, fd: int) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        sent = 0
        while sent < len(data):
            if self.lost is not None:
                raise ExecutorUnavailable(f"the zygote of {self.label} {self.lost}")
            try:
                if sent == 0:
                    sent = self._sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])
                else:
                    sent += self._sock.send(data[sent:])
            except BlockingIOError:
                fd = self._sock.fileno()
                self._writable = writable = loop.create_future()
                loop.add_writer(fd, _resolve, writable)
                try:
                    await writable
                finally:
                    if self._sock.fileno() >= 0:
                        loop.remove_writer(fd)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
