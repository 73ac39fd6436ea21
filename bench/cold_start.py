"""Row 3: cold start, the time to the first response of a new worker forked from the zygote, against
spawning a fresh ``python3`` worker that imports the handler and answers over a pipe.

The platform side runs the real core in-process (``Runtime`` with its zygote, pool and invoker) and
calls a different function each time, so every call starts a new worker while none is torn down.

Two figures, because spacing matters on this kernel: a cold start that comes alone (samples
``GAP`` apart, as cold starts come in real life; fork and spawn samples alternate) and a burst of
cold starts back to back. Moving a new worker into its cgroup (v1) can wait for an RCU grace
period when no other move happened just before, which a burst amortises and a lone start pays.
"""

from __future__ import annotations

import asyncio
import time

from bench.report import Row, median, ms, percentile, times, verdict
from bench.spawned import spawn_worker
from bench.workspace import Workspace
from faas.records import Trigger
from faas.runtime import Runtime

P50_TARGET_MS = 5.0
SPEEDUP_TARGET = 10.0
GAP = 0.1  # seconds between two isolated samples


async def run(*, isolated: int, burst: int, spawns: int) -> list[Row]:
    with Workspace("cold") as ws:
        # One extra function: the first cold start warms the page cache and the handler's .pyc.
        functions = [f"cold{i:03d}" for i in range(isolated + burst + 1)]
        names = iter(functions)
        config = ws.config(
            functions={name: {"handler": "noop.handler"} for name in functions},
            executor={"max_workers": isolated + burst + 8, "idle_timeout": 3600},
        )
        init_ms: list[float] = []
        async with Runtime(config, environ={}, watch=False) as rt:

            async def fork_sample() -> float:
                name = next(names)
                start = time.perf_counter()
                result = await rt.invoker.invoke(name, b"{}", trigger=Trigger.INVOKE)
                elapsed = (time.perf_counter() - start) * 1000.0
                if not (result.ok and result.cold):
                    raise RuntimeError(f"cold start of {name} failed: {result.status} {result.body[:200]!r}")
                if result.row.init_ms is not None:
                    init_ms.append(result.row.init_ms)
                return elapsed

            async def spawn_sample() -> float:
                worker = await spawn_worker(ws.functions_dir, "noop.handler")
                await worker.close()
                return worker.first_response_ms

            await fork_sample()
            await spawn_sample()
            isolated_ms: list[float] = []
            spawn_ms: list[float] = []
            for i in range(isolated):
                await asyncio.sleep(GAP)
                isolated_ms.append(await fork_sample())
                if i < spawns:
                    await asyncio.sleep(GAP)
                    spawn_ms.append(await spawn_sample())
            await asyncio.sleep(GAP)
            burst_ms = [await fork_sample() for _ in range(burst)]

    iso_p50, spawn_p50, burst_p50 = median(isolated_ms), median(spawn_ms), median(burst_ms)
    speedup = spawn_p50 / iso_p50
    print(
        f"  cold start: fork p50 {iso_p50:.2f} ms alone, {burst_p50:.2f} ms in a burst; spawn p50 {spawn_p50:.2f} ms",
        flush=True,
    )
    spawn_cell = f"{ms(spawn_p50)} (p99 {ms(percentile(spawn_ms, 99))}) python3 spawn"
    return [
        Row(
            section="3",
            measure=f"Cold start to first response, p50, alone (n={len(isolated_ms)}/{len(spawn_ms)})",
            faas=f"{ms(iso_p50)} (p99 {ms(percentile(isolated_ms, 99))}; init {ms(median(init_ms))})",
            baseline=spawn_cell,
            ratio=f"{times(speedup)} faster",
            target=f"< {P50_TARGET_MS:.0f} ms, >= {SPEEDUP_TARGET:.0f}x faster",
            verdict=verdict(iso_p50 < P50_TARGET_MS and speedup >= SPEEDUP_TARGET),
            data={"isolated_ms": isolated_ms, "spawn_ms": spawn_ms, "init_ms": init_ms, "speedup": speedup},
        ),
        Row(
            section="3",
            measure=f"Cold start to first response, p50, burst back to back (n={len(burst_ms)})",
            faas=f"{ms(burst_p50)} (p99 {ms(percentile(burst_ms, 99))})",
            baseline=spawn_cell,
            ratio=f"{times(spawn_p50 / burst_p50)} faster",
            target="(context: cgroup move amortised)",
            data={"burst_ms": burst_ms},
        ),
    ]
