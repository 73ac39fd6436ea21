"""Row 6: scale. 200 functions configured and 100 warm idle workers: the private memory (USS) of an idle
worker against a spawned python worker, and the throughput of one function before and after the
100 others are warm.

Two identical ``faas serve`` subprocesses run side by side, each with the same 200 functions and
one of them served on an HTTP route. On the "crowded" one, 100 other functions get one call each
through the Invoke API (each a cold start, timed, then a second, warm call as its baseline), which
leaves 100 idle workers. wrk then alternates between the two servers' routes. USS is
Private_Clean + Private_Dirty from /proc/PID/smaps_rollup.
"""

from __future__ import annotations

import asyncio
import json
import time

from bench import procs
from bench.loadgen import WrkResult, run_wrk
from bench.report import Row, median, ms, percentile, rps, times, verdict
from bench.servers import ADMIN_KEY, ServerProcess, faas_server, http_post
from bench.spawned import spawn_worker
from bench.workspace import Workspace

FUNCTIONS = 200
WARM_OTHERS = 100
CONNECTIONS = 16
USS_TARGET_MB = 3.0
THROUGHPUT_TARGET = 0.90  # "does not drop": two identical servers differ by up to ~10% run to run here
WARMUP_SECONDS = 1.0


def _zygote(server: ServerProcess) -> int:
    for pid in procs.children(server.pid):
        if "faas.executor.zygote" in procs.cmdline(pid):
            return pid
    raise RuntimeError("no zygote under the server")


def _invoke(server: ServerProcess, name: str) -> float:
    start = time.perf_counter()
    status, body = http_post(
        server.port, f"/2015-03-31/functions/{name}/invocations", b"{}",
        {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    elapsed = (time.perf_counter() - start) * 1000.0
    if status != 200 or json.loads(body) != {"ok": True}:
        raise RuntimeError(f"invoke {name}: {status} {body[:200]!r}")
    return elapsed


async def _spawned_uss(ws: Workspace, samples: int = 3) -> list[int]:
    out = []
    for _ in range(samples):
        worker = await spawn_worker(ws.functions_dir, "noop.handler")
        try:
            out.append(procs.uss_kib(worker.pid))
        finally:
            await worker.close()
    return out


def run(*, seconds: float, rounds: int) -> list[Row]:
    names = [f"f{i:03d}" for i in range(FUNCTIONS)]
    others = names[1 : 1 + WARM_OTHERS]
    with Workspace("scale") as ws:
        config = ws.write_config(
            functions={name: {"handler": "noop.handler"} for name in names},
            routes=[{"method": "GET", "path": "/hot/{name}", "function": names[0]}],
            executor={"max_workers": 256, "idle_timeout": 3600},
        )
        # Two identical servers side by side; only "crowded" gets the 100 warm workers.
        with faas_server(config, ws.root / "quiet.log") as quiet, faas_server(config, ws.root / "crowded.log") as crowded:
            zygote = _zygote(crowded)
            for server in (quiet, crowded):
                run_wrk(server.url + "/hot/bench", connections=CONNECTIONS, seconds=WARMUP_SECONDS)
            hot_workers = set(procs.children(zygote))
            cold_ms = [_invoke(crowded, name) for name in others]
            warm_ms = [_invoke(crowded, name) for name in others]
            idle = [pid for pid in procs.children(zygote) if pid not in hot_workers]
            if len(idle) < WARM_OTHERS:
                raise RuntimeError(f"expected {WARM_OTHERS} idle workers, found {len(idle)}")

            runs: dict[str, list[WrkResult]] = {"quiet": [], "crowded": []}
            for r in range(rounds):
                for who in ("quiet", "crowded") if r % 2 == 0 else ("crowded", "quiet"):
                    server = quiet if who == "quiet" else crowded
                    runs[who].append(run_wrk(server.url + "/hot/bench", connections=CONNECTIONS, seconds=seconds))
            before = max(runs["quiet"], key=lambda x: x.rps)
            after = max(runs["crowded"], key=lambda x: x.rps)
            uss = [procs.uss_kib(pid) for pid in idle]
            rss = [procs.rss_kib(pid) for pid in idle]
            zygote_uss = procs.uss_kib(zygote)
            spawned = asyncio.run(_spawned_uss(ws))
    uss_mb = median(uss) / 1024
    spawned_mb = median(spawned) / 1024
    ratio = after.rps / before.rps
    print(
        f"  scale: idle worker USS {uss_mb:.2f} MB vs spawned {spawned_mb:.2f} MB; "
        f"route {before.rps:,.0f} -> {after.rps:,.0f} req/s",
        flush=True,
    )
    return [
        Row(
            section="6",
            measure=f"Idle worker USS, median of {len(uss)} ({FUNCTIONS} functions configured)",
            faas=f"{uss_mb:.2f} MB (max {max(uss) / 1024:.2f}; RSS {median(rss) / 1024:.1f})",
            baseline=f"{spawned_mb:.2f} MB spawned python",
            ratio=f"{times(spawned_mb / uss_mb)} smaller",
            target=f"< {USS_TARGET_MB:.0f} MB",
            verdict=verdict(uss_mb < USS_TARGET_MB),
            data={"uss_kib": uss, "rss_kib": rss, "spawned_uss_kib": spawned, "zygote_uss_kib": zygote_uss},
        ),
        Row(
            section="6",
            measure=f"Route throughput with {len(idle)} other warm workers, c={CONNECTIONS}",
            faas=f"{rps(after.rps)} (p99 {ms(after.p99_ms, 1)})",
            baseline=f"{rps(before.rps)} (p99 {ms(before.p99_ms, 1)}) no others warm",
            ratio=times(ratio),
            target=f">= {THROUGHPUT_TARGET:.2f}x (no drop)",
            verdict=verdict(ratio >= THROUGHPUT_TARGET and not after.errors),
            data={"before": before.as_dict(), "after": after.as_dict(), "ratio": ratio},
        ),
        Row(
            section="6",
            measure=f"Invoke API over HTTP, first call of {len(cold_ms)} functions, p50",
            faas=f"{ms(median(cold_ms))} cold (p99 {ms(percentile(cold_ms, 99))})",
            baseline=f"{ms(median(warm_ms))} warm, same calls",
            ratio=times(median(cold_ms) / median(warm_ms)),
            target="(context for row 3)",
            data={"cold_ms": cold_ms, "warm_ms": warm_ms},
        ),
    ]
