"""Row 10: idle memory (USS) of each extra zygote, against a bare interpreter measured alongside.

One ``Runtime`` in-process. ``count`` functions each use their own layer (a folder with a
``python/`` dir), so each is its own environment with its own zygote, started by one cold start.
Their workers are then retired (the pool drops idle workers of a version no longer served) and,
once every zygote has reported its worker gone, each zygote is measured idle, as it waits until
``idle_timeout``. The base zygote (no requirements, no layers) is measured the same way.

What an extra zygote costs is its process *and* the helper it forks (the cgroup mover), which
shares most of the zygote's pages copy-on-write: each one's own USS (``Private_Clean +
Private_Dirty``, /proc/PID/smaps_rollup) misses those. So the figure is the USS of the group, the
pages mapped by the zygote and its children and no other process (``procs.group_uss_kib``, which
needs root; without it, the zygote's own USS plus its children's, a lower bound, and the row says
so). The baseline is ``count`` bare ``python3 -I -S`` processes (the zygotes' own interpreter and
flags) sleeping meanwhile.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

from bench.procs import descendants, group_uss_kib, uss_kib
from bench.report import Row, median, times
from bench.workspace import Workspace
from faas.records import Trigger
from faas.registry import BASE_ENVIRONMENT
from faas.runtime import Runtime

SETTLE = 0.3  # seconds after the workers are gone, before reading


def _mb(kib: float) -> str:
    return f"{kib / 1024:.2f} MB"


def _group(pid: int) -> tuple[int, int, bool]:
    """(group USS, the zygote's own USS, exact) for a zygote and its children, in KiB."""
    pids = [pid, *descendants(pid)]
    exact = group_uss_kib(pids)
    own = uss_kib(pid)
    return (exact, own, True) if exact is not None else (sum(uss_kib(p) for p in pids), own, False)


async def run(*, count: int) -> list[Row]:
    with Workspace("zmem") as ws:
        layers = {}
        for i in range(count):
            folder = ws.root / "layers" / f"l{i}"
            (folder / "python").mkdir(parents=True)
            (folder / "python" / f"layermod{i}.py").write_text(f"VALUE = {i}\n")
            layers[f"l{i}"] = {"path": str(folder)}
        functions = {"zbase": {"handler": "noop.handler"},
                     **{f"z{i}": {"handler": "noop.handler", "layers": [f"l{i}"]} for i in range(count)}}
        config = ws.config(functions=functions, layers=layers,
                           executor={"max_workers": count + 8, "idle_timeout": 3600, "max_zygotes": count + 2})
        bare: list[subprocess.Popen[bytes]] = []
        try:
            async with Runtime(config, environ={}, watch=False) as rt:
                python = str(rt.zygotes.runtime.python)
                bare = [subprocess.Popen([python, "-I", "-S", "-c", "import time; time.sleep(60)"],
                                         stdin=subprocess.DEVNULL) for _ in range(count)]
                for name in functions:
                    result = await rt.invoker.invoke(name, b"{}", trigger=Trigger.INVOKE)
                    if not (result.ok and result.cold):
                        raise RuntimeError(f"cold start of {name} failed: {result.status} {result.body[:200]!r}")
                await _zygotes(rt, count + 1)
                for name in functions:
                    rt.pool.set_version(name, None)  # retires its idle worker
                zygotes = await _zygotes(rt, count + 1, idle=True)
                await asyncio.sleep(SETTLE)
                groups = {z["environment"]: _group(z["pid"]) for z in zygotes}
                bare_uss = [uss_kib(p.pid) for p in bare]
        finally:
            for p in bare:
                p.kill()
                p.wait()

    base = groups.pop(BASE_ENVIRONMENT.key)
    extra = [g[0] for g in groups.values()]
    extra_p50, bare_p50 = median(extra), median(bare_uss)
    exact = all(g[2] for g in groups.values())
    ratio = extra_p50 / bare_p50
    print(f"  idle zygote USS (with its helper): extra {_mb(extra_p50)} median of {len(extra)} (max "
          f"{_mb(max(extra))}; the zygote alone {_mb(median([g[1] for g in groups.values()]))}), base "
          f"{_mb(base[0])}; bare python3 -I -S {_mb(bare_p50)}; {ratio:.2f}x", flush=True)
    how = "" if exact else "; lower bound: not root"
    return [
        Row(
            section="10",
            measure=f"Idle USS per extra zygote + its helper (1 layer each, no workers), median of {len(extra)}",
            faas=(f"{_mb(extra_p50)} (max {max(extra) / 1024:.2f}; zygote alone "
                  f"{median([g[1] for g in groups.values()]) / 1024:.2f}; base zygote {_mb(base[0])}{how})"),
            baseline=f"{_mb(bare_p50)} bare python3 -I -S",
            ratio=f"{times(ratio)} bare",
            target="(context)",
            data={"group_uss_kib": {k: g[0] for k, g in groups.items()}, "zygote_uss_kib": {k: g[1] for k, g in groups.items()},
                  "base_group_uss_kib": base[0], "base_zygote_uss_kib": base[1], "exact": exact, "bare_uss_kib": bare_uss},
        ),
    ]


async def _zygotes(rt: Runtime, expected: int, *, idle: bool = False) -> list[dict[str, Any]]:
    """The running zygotes once there are ``expected`` of them (and, if ``idle``, none has workers)."""
    deadline = time.monotonic() + 10.0
    while True:
        running = [z for z in rt.zygotes.describe() if z["state"] == "running" and z["pid"] is not None]
        if len(running) == expected and not (idle and any(z["workers"] for z in running)):
            return running
        if time.monotonic() > deadline:
            raise RuntimeError(f"expected {expected} running zygotes{' without workers' if idle else ''}: {running}")
        await asyncio.sleep(0.02)
