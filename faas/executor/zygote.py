"""The zygote: a single-threaded fork server that makes the workers of one execution environment.

Started by the server (``zygote_client.py``) as an isolated interpreter, ``python3 -I -S -c
BOOTSTRAP ROOT FD SETTINGS``: no site-packages, no user site, no PYTHON* variables. The bootstrap
imports this module from the platform's source folder ROOT, then ``enter_world`` makes the
function's world the only one left: ``sys.path`` becomes the environment's folders (dependency set,
layers), the runtime's site-packages (boto3) and the standard library; ROOT leaves ``sys.path`` and
``faas``/``gateway``/``scheduler`` leave ``sys.modules``. The code already loaded keeps working
through its globals (nothing on this side imports lazily), but a handler's ``import faas`` fails as
it would on Lambda. Then the environment's ``preload`` modules are imported (one the environment
cannot import is skipped with a log line), the GC is frozen so forked children share those pages,
and a worker is forked for each spawn request. The zygote reaps its workers, cleans up after them
(leftover processes, cgroups, temporary folder) and reports each exit with its status and the
tail of its log.

Messages in (JSON): ``spawn`` {id} with the ``WorkerSpec`` as its raw bytes and the worker's socket
attached; ``ping`` (the server's watchdog).
Messages out: ``ready`` {limits, pid}; ``spawned`` {id, pid} or ``spawn_failed`` {id, message};
``exit`` {worker, pid, status, signal, oom} + log tail; ``pong``.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import importlib
import json
import os
import resource
import select
import selectors
import shutil
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

from faas.executor import protocol
from faas.executor.protocol import WorkerSpec
from faas.executor import worker as worker_runtime
from faas.executor.cgroups import CgroupLimits

PR_SET_PDEATHSIG = 1
RSS_POLL_SECONDS = 0.02
# Packages of the platform: loaded to run the zygote, then made unimportable for functions.
PLATFORM_PACKAGES = frozenset({"faas", "gateway", "scheduler"})


def _set_pdeathsig() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Mover:
    """A helper process that moves the zygote into the next worker's cgroup, so the zygote keeps
    reaping and spawning while the kernel makes the mover (the writer) wait out the move."""

    def __init__(self, limits: CgroupLimits, target: int, close: list[int]) -> None:
        req_r, self.req_w = os.pipe()
        self.ack_r, ack_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _set_pdeathsig()
                signal.set_wakeup_fd(-1)
                os.close(self.req_w)
                os.close(self.ack_r)
                for fd in close:
                    os.close(fd)
                with os.fdopen(req_r, "rb") as requests:
                    for line in requests:
                        slot = line.strip().decode()
                        try:
                            limits.prepare(slot, target)
                            os.write(ack_w, f"{slot} ok\n".encode())
                        except OSError as exc:
                            os.write(ack_w, f"{slot} failed {exc}\n".encode())
            except BaseException:
                code = 1
            os._exit(code)
        os.close(req_r)
        os.close(ack_w)
        self.pid = pid
        self._acks = b""

    def request(self, slot: str) -> None:
        os.write(self.req_w, slot.encode() + b"\n")

    def wait(self, slot: str, timeout: float) -> bool:
        """True once ``slot`` is entered; False if the move failed or took longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._acks:
                line, self._acks = self._acks.split(b"\n", 1)
                name, _, result = line.decode().partition(" ")
                if name == slot:
                    if result != "ok":
                        print(f"faas zygote: cannot pre-enter a cgroup: {result}", file=sys.stderr)
                    return result == "ok"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready, _, _ = select.select([self.ack_r], [], [], remaining)
            if ready:
                chunk = os.read(self.ack_r, 4096)
                if not chunk:
                    return False
                self._acks += chunk

    def fds(self) -> list[int]:
        return [self.req_w, self.ack_r]

    def close(self) -> None:
        os.close(self.req_w)
        os.close(self.ack_r)


@dataclass(slots=True)
class Child:
    worker: str
    pid: int
    dir: str
    memory_mb: int
    log_cap: int
    slot: str = ""  # the cgroup it was forked into ("" when it entered one itself, or none)
    oom: bool = False


class Zygote:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: dict[int, Child] = {}
        self.fds: list[int] = []
        self.reader = protocol.ControlReader()
        self.limits = CgroupLimits.detect(os.getppid())
        self.page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
        self.wake_r, self.wake_w = os.pipe()
        # The cgroup the next worker is forked into, entered (or being entered) ahead of time.
        self.slots = 0
        self.mover = Mover(self.limits, os.getpid(), [control.fileno(), self.wake_r, self.wake_w]) if self.limits else None
        self.slot = self._request_slot()

    def _request_slot(self) -> str:
        """Ask the mover to put the zygote in a fresh cgroup for the next spawn ("" without one)."""
        if self.mover is None:
            return ""
        self.slots += 1
        slot = f"s{self.slots}"
        try:
            self.mover.request(slot)
        except OSError:
            self.mover = None
            return ""
        return slot

    def _entered_slot(self) -> str:
        """The pre-entered cgroup for the worker about to be forked, waiting for the move if needed."""
        slot = self.slot
        if not slot or self.mover is None:
            return ""
        if not self.mover.wait(slot, 2.0):
            return ""  # this worker enters a cgroup of its own
        return slot

    def send(self, message: dict[str, Any], raw: bytes = b"") -> None:
        self.control.sendall(protocol.encode_control(message, raw))

    def run(self) -> None:
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # The gateway handles Ctrl-C and SIGTERM and then closes our socket; we follow it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sel = selectors.DefaultSelector()
        sel.register(self.control, selectors.EVENT_READ, "control")
        sel.register(self.wake_r, selectors.EVENT_READ, "signal")
        mode = self.limits.description if self.limits else "rss polling (no writable cgroup hierarchy)"
        self.send({"op": "ready", "limits": mode, "pid": os.getpid()})
        while True:
            timeout = RSS_POLL_SECONDS if (self.limits is None and self.children) else None
            for key, _ in sel.select(timeout):
                if key.data == "signal":
                    try:
                        os.read(self.wake_r, 4096)
                    except BlockingIOError:
                        pass
                elif not self._read_control():
                    self.shutdown()
                    return
            self.reap()
            if self.limits is None:
                self.poll_rss()

    def _read_control(self) -> bool:
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 262144, 64)
        except InterruptedError:
            return True
        except ConnectionResetError:
            return False
        if not data:
            return False
        self.fds.extend(fds)
        for message, raw in self.reader.feed(data):
            op = message.get("op")
            if op == "spawn":
                self.spawn(message, WorkerSpec.from_json(raw), self.fds.pop(0))
            elif op == "ping":
                self.send({"op": "pong"})
        return True

    def spawn(self, message: dict[str, Any], spec: WorkerSpec, fd: int) -> None:
        slot = self._entered_slot()
        try:
            os.makedirs(spec.tmp_dir, exist_ok=True)
            if slot and self.limits is not None:
                self.limits.set_limits(slot, spec.memory_mb, spec.max_processes)
            pid = os.fork()
        except OSError as exc:
            os.close(fd)
            self.send({"op": "spawn_failed", "id": message["id"], "message": str(exc)})
            return
        if pid == 0:
            self._child(spec, fd, slot)  # never returns
        os.close(fd)
        self.children[pid] = Child(spec.worker_id, pid, spec.dir, spec.memory_mb, spec.log_cap, slot)
        self.send({"op": "spawned", "id": message["id"], "pid": pid})
        if slot or self.slot:
            self.slot = self._request_slot()  # the mover does it while we go on

    def _child(self, spec: WorkerSpec, fd: int, slot: str) -> None:
        code = 1
        try:
            os.setsid()
            _set_pdeathsig()
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            self.control.close()
            os.close(self.wake_r)
            os.close(self.wake_w)
            for extra in self.fds:
                os.close(extra)
            if self.mover is not None:
                for extra in self.mover.fds():
                    os.close(extra)
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("0")  # the zygote shields itself from the OOM killer; its workers must not be
            if self.limits is not None and not slot:
                self.limits.enter(spec.worker_id, spec.memory_mb, spec.max_processes)
            _apply_rlimits(spec)
            os.environ.clear()
            os.environ.update(spec.environ())
            log_fd = os.open(os.path.join(spec.dir, "output.log"), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            if spec.code_paths:
                os.chdir(spec.code_paths[0])
            uid = spec.uid
            if uid is not None:
                gid = uid if spec.gid is None else spec.gid
                os.chown(spec.dir, uid, uid)
                os.chown(spec.tmp_dir, uid, uid)
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            sock = socket.socket(fileno=fd)
            sock.setblocking(True)
            worker_runtime.run(sock, spec, log_fd)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            try:
                traceback.print_exc()
                sys.stdout.flush()
            except BaseException:
                pass
        os._exit(code)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is not None:
                self._finish(child, status)

    def _finish(self, child: Child, status: int) -> None:
        """Report the exit first (a timed-out call is waiting on it), then clean up after it."""
        cgroup = child.slot or child.worker
        oom = child.oom
        if self.limits is not None:
            oom = oom or self.limits.oom_killed(cgroup)
        tail = b""
        try:
            with open(os.path.join(child.dir, "output.log"), "rb") as f:
                tail = f.read(child.log_cap)
        except OSError:
            pass
        message = {
            "op": "exit",
            "worker": child.worker,
            "pid": child.pid,
            "status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "oom": oom,
        }
        try:
            self.send(message, tail)
        except OSError:
            pass
        if self.limits is not None:
            self.limits.kill_all(cgroup)
            self.limits.remove(cgroup)
        else:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(child.dir, ignore_errors=True)

    def poll_rss(self) -> None:
        """Fallback memory cap without cgroups: kill a worker whose RSS passed its limit."""
        for child in self.children.values():
            try:
                with open(f"/proc/{child.pid}/statm", "rb") as f:
                    rss_kib = int(f.read().split()[1]) * self.page_kib
            except (OSError, ValueError, IndexError):
                continue
            if rss_kib > child.memory_mb * 1024:
                child.oom = True
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def shutdown(self) -> None:
        for child in list(self.children.values()):
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + 5
        while self.children and time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            gone = self.children.pop(pid, None)
            if gone is not None:
                self._finish(gone, status)
        if self.mover is not None:
            self.mover.close()
        if self.limits is not None:
            self.limits.close()


def _apply_rlimits(spec: WorkerSpec) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nofile = spec.max_open_files
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    fsize = spec.max_file_bytes
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    if spec.uid is not None:
        nproc = spec.max_processes
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def enter_world(root: str, paths: list[str]) -> None:
    """Leave the platform behind: ``sys.path`` = ``paths`` + the standard library, without ``root``,
    and no platform package in ``sys.modules`` (their code keeps running through its globals)."""
    sys.path[:] = [*paths, *(p for p in sys.path if p != root and p not in paths)]
    sys.path_importer_cache.pop(root, None)
    for name in list(sys.modules):
        if name.partition(".")[0] in PLATFORM_PACKAGES:
            del sys.modules[name]
    sys.argv[1:] = []  # the platform's paths and settings are nobody's business
    importlib.invalidate_caches()
    # ``-S`` skipped site.py; its builtins (exit, quit, help, copyright) are there on Lambda.
    import site

    site.setquit()
    site.setcopyright()
    site.sethelper()


def preload(names: list[str], label: str) -> None:
    """Import the environment's ``preload`` modules; one it cannot import is skipped and logged."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            print(f"faas zygote ({label}): preload of {name!r} skipped: {exc}", file=sys.stderr)
        except Exception as exc:  # a bad preload must not stop the platform
            print(f"faas zygote ({label}): preload of {name!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def main() -> None:
    """Run by the bootstrap: ``argv`` = ROOT FD SETTINGS (JSON: environment, paths, preload)."""
    root, fd, raw = sys.argv[1:4]
    settings = json.loads(raw)
    label = f"environment {settings['environment']}"
    _set_pdeathsig()
    try:
        # The zygote sits in the next worker's cgroup until that worker is forked: a worker that
        # runs out of memory there must never take the zygote with it.
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("-1000")
    except OSError:
        pass
    control = socket.socket(fileno=int(fd))
    control.setblocking(True)
    enter_world(root, list(settings["paths"]))
    preload(list(settings["preload"]), label)
    gc.collect()
    gc.freeze()
    try:
        Zygote(control).run()
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
            raise
