"""Per-worker memory and process caps through Linux cgroups (v1 or v2), used by the zygote.

Standard library only: it runs in the zygote and in a worker right after fork. Layout:
``<our cgroup>/faas-<server pid>.<zygote pid>/w-<worker id>`` in each controller we use: one folder
per zygote, since each zygote names its workers' cgroups on its own. When no writable cgroup
hierarchy is found, ``CgroupLimits.detect`` returns ``None`` and the zygote polls RSS instead.
A folder whose zygote is gone (it was killed, or the whole server was) is swept by the next
zygote to start, or by the server itself (``sweep_stale``) right after it lost a zygote.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """Map controller name ("" for the v2 unified tree) to this process's cgroup path."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs. A zombie does not: a zygote orphaned by a killed server may wait a while
    for init to reap it, and its workers' cgroups must not wait with it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


@dataclass(slots=True)
class CgroupLimits:
    """Creates, fills, reads and removes one cgroup per worker."""

    version: int
    memory_base: Path  # faas-<server pid>.<zygote pid> folder in the memory (or unified) hierarchy
    pids_base: Path | None  # the same folder in the pids hierarchy (v1), = memory_base on v2

    @property
    def description(self) -> str:
        return f"cgroup v{self.version} ({self.memory_base})"

    @classmethod
    def detect(cls, server_pid: int) -> "CgroupLimits | None":
        """In the zygote, at its start (still in the server's cgroup): our folders, or None."""
        name = f"faas-{server_pid}.{os.getpid()}"
        try:
            if (ROOT / "cgroup.controllers").exists():
                return cls._detect_v2(name)
            return cls._detect_v1(name)
        except OSError as exc:
            log.info("cgroups not usable: %s", exc)
            return None

    @classmethod
    def _detect_v1(cls, name: str) -> "CgroupLimits | None":
        own = _own_paths()
        if "memory" not in own or not (ROOT / "memory").is_dir():
            return None
        memory_parent = ROOT / "memory" / own["memory"].lstrip("/")
        memory_base = memory_parent / name
        _sweep_stale(memory_parent)
        memory_base.mkdir(exist_ok=True)
        pids_base: Path | None = None
        if "pids" in own and (ROOT / "pids").is_dir():
            pids_parent = ROOT / "pids" / own["pids"].lstrip("/")
            _sweep_stale(pids_parent)
            pids_base = pids_parent / name
            pids_base.mkdir(exist_ok=True)
        return cls(version=1, memory_base=memory_base, pids_base=pids_base)

    @classmethod
    def _detect_v2(cls, name: str) -> "CgroupLimits | None":
        own = _own_paths().get("", "/")
        parent = ROOT / own.lstrip("/")
        if "memory" not in (parent / "cgroup.controllers").read_text().split():
            return None
        _sweep_stale(parent)
        base = parent / name
        base.mkdir(exist_ok=True)
        # Enabling controllers for children needs the parent's subtree_control; that fails when
        # the parent holds processes itself (the "no internal processes" rule), then we give up.
        (parent / "cgroup.subtree_control").write_text("+memory +pids")
        (base / "cgroup.subtree_control").write_text("+memory +pids")
        return cls(version=2, memory_base=base, pids_base=base)

    # --- per worker ----------------------------------------------------------------------------

    def prepare(self, slot: str, pid: int) -> None:
        """Create the cgroups of the next worker and move process ``pid`` (the zygote) in.

        Moving a process between cgroups waits for an RCU grace period (~12 ms on cgroup v1 here)
        unless another move just happened, and it is the writer that waits. Done ahead of time by
        a helper process, the next worker is simply forked inside its cgroup: neither its cold
        start nor the zygote pays for the move.
        """
        for d in self._dirs(slot):
            d.mkdir(exist_ok=True)
            (d / "cgroup.procs").write_text(str(pid))

    def set_limits(self, slot: str, memory_mb: int, max_processes: int) -> None:
        """Caps for the worker about to be forked into ``slot`` (cheap writes, no move)."""
        mem = self.memory_base / f"w-{slot}"
        limit = str(memory_mb * 1024 * 1024)
        if self.version == 1:
            (mem / "memory.limit_in_bytes").write_text(limit)
            swap = mem / "memory.memsw.limit_in_bytes"
            if swap.exists():
                try:
                    swap.write_text(limit)
                except OSError:
                    pass
            if self.pids_base is not None:
                (self.pids_base / f"w-{slot}" / "pids.max").write_text(str(max_processes))
        else:
            (mem / "memory.max").write_text(limit)
            swap = mem / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
            (mem / "pids.max").write_text(str(max_processes))

    def enter(self, worker_id: str, memory_mb: int, max_processes: int) -> None:
        """In a worker right after fork (when no cgroup was entered ahead): create, cap, move in."""
        for d in self._dirs(worker_id):
            d.mkdir(exist_ok=True)
        self.set_limits(worker_id, memory_mb, max_processes)
        for d in self._dirs(worker_id):
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def _dirs(self, worker_id: str) -> list[Path]:
        dirs = [self.memory_base / f"w-{worker_id}"]
        if self.version == 1 and self.pids_base is not None:
            dirs.append(self.pids_base / f"w-{worker_id}")
        return dirs

    def kill_all(self, worker_id: str) -> None:
        """SIGKILL every process left in the worker's cgroups (children that left its group)."""
        for d in self._dirs(worker_id):
            _kill_cgroup(d)

    def oom_killed(self, worker_id: str) -> bool:
        d = self.memory_base / f"w-{worker_id}"
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (d / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except OSError:
            pass
        return False

    def remove(self, worker_id: str) -> None:
        for d in self._dirs(worker_id):
            _remove_cgroup(d)

    def close(self) -> None:
        """Leave the pre-entered slot (back to where the server put us) and remove every cgroup."""
        pid = str(os.getpid())
        for base in {self.memory_base, self.pids_base} - {None}:
            assert base is not None
            try:
                (base.parent / "cgroup.procs").write_text(pid)
            except OSError:
                pass
        bases = {self.memory_base, self.pids_base} - {None}
        for base in bases:
            assert base is not None
            for child in base.glob("w-*"):
                _remove_cgroup(child)
            _remove_cgroup(base)


def _kill_cgroup(d: Path) -> None:
    me = os.getpid()
    for _ in range(50):
        try:
            pids = [int(p) for p in (d / "cgroup.procs").read_text().split() if int(p) != me]
        except (OSError, ValueError):
            return
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.001)


def _remove_cgroup(d: Path) -> None:
    _kill_cgroup(d)
    for _ in range(100):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.005)  # exiting processes can keep it busy for a moment
    log.warning("could not remove cgroup %s", d)


def sweep_stale() -> None:
    """In the server, after it lost a zygote: kill the workers (and whatever they started) that
    the zygote left in their cgroups, and remove its folders. Creates nothing; never raises."""
    try:
        own = _own_paths()
        if (ROOT / "cgroup.controllers").exists():
            parents = [ROOT / own.get("", "/").lstrip("/")]
        else:
            parents = [ROOT / c / own[c].lstrip("/") for c in ("memory", "pids") if c in own and (ROOT / c).is_dir()]
        for parent in parents:
            _sweep_stale(parent)
    except OSError as exc:
        log.warning("could not sweep the cgroups of a lost zygote: %s", exc)


def _sweep_stale(parent: Path) -> None:
    """Remove what a zygote (or a whole server) killed with SIGKILL left behind, and kill its
    stray workers. ``faas-SERVER.ZYGOTE`` belongs to the zygote's pid (``faas-SERVER``, the layout
    before one zygote per environment, to the server's)."""
    for d in parent.glob("faas-*"):
        try:
            pid = int(d.name.split("-", 1)[1].split(".")[-1])
        except ValueError:
            continue
        if pid == os.getpid() or pid == os.getppid() or _pid_alive(pid):
            continue
        for child in d.glob("w-*"):
            _remove_cgroup(child)
        _remove_cgroup(d)
