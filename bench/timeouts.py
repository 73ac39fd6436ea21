"""Row 4: timeout precision, how late past its deadline a runaway handler is killed and reaped.

The platform side invokes a spinning handler (timeout 1 s, the minimum) through the real core
in-process, a handful at a time on warm workers, and takes the time the call returns (the worker
killed, reaped by the zygote and reported) minus the timeout. The calls of a round start a little
apart, so their deadlines do not coincide and each kill is measured on its own; a last case lets 8
deadlines fall at one instant, to show what a storm of kills costs.

The baseline is the floor without a platform: the same spinning processes, started directly, killed
by an event-loop timer with ``killpg`` and reaped through a pidfd. Platform and floor rounds alternate.

Both sides arm their deadline with ``loop.call_later`` on uvloop, whose timers tick in whole
milliseconds, so up to 1 ms of lateness on either side is the loop's clock, not the kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass

from bench.report import Row, Verdict, median, ms, percentile, times, verdict
from bench.workspace import BALLAST_MB, Workspace
from faas.records import Status, Trigger
from faas.runtime import Runtime

TIMEOUT_S = 1.0
SMALL_TARGET_MS = 10.0
BALLAST_TARGET_MS = 50.0

_FLOOR_SOURCE = """
import os
ballast = b"\\x01" * ({mb} * 1024 * 1024)
os.write(1, b"r")
while True:
    pass
"""


async def _platform_round(rt: Runtime, name: str, concurrency: int, stagger: float) -> list[float]:
    trigger = Trigger.INVOKE
    warm = await asyncio.gather(*(rt.invoker.invoke(name, b'{"spin": false}', trigger=trigger) for _ in range(concurrency)))
    if not all(r.ok for r in warm):
        raise RuntimeError(f"{name}: warm-up failed: {[r.body[:200] for r in warm if not r.ok]}")

    async def one(i: int) -> float:
        await asyncio.sleep(i * stagger)
        start = time.perf_counter()
        result = await rt.invoker.invoke(name, b'{"spin": true}', trigger=trigger)
        if result.status is not Status.TIMEOUT:
            raise RuntimeError(f"{name}: expected a timeout, got {result.status}")
        return (time.perf_counter() - start - TIMEOUT_S) * 1000.0

    return list(await asyncio.gather(*(one(i) for i in range(concurrency))))


async def _floor_round(mb: int, concurrency: int, stagger: float) -> list[float]:
    source = _FLOOR_SOURCE.format(mb=mb)
    started: list[int] = []
    try:
        for _ in range(concurrency):
            r, w = os.pipe()
            try:
                pid = os.posix_spawn(
                    sys.executable, [sys.executable, "-c", source], {"PATH": os.environ.get("PATH", "")},
                    file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)], setsid=True,
                )
                started.append(pid)
                os.close(w)
                w = -1
                await asyncio.get_running_loop().run_in_executor(None, os.read, r, 1)  # ready: ballast resident
            finally:
                os.close(r)
                if w >= 0:
                    os.close(w)
        loop = asyncio.get_running_loop()

        async def one(i: int, pid: int) -> float:
            await asyncio.sleep(i * stagger)
            pidfd = os.pidfd_open(pid)
            gone: asyncio.Future[None] = loop.create_future()

            def exited() -> None:
                if not gone.done():
                    gone.set_result(None)

            loop.add_reader(pidfd, exited)
            start = time.perf_counter()
            loop.call_later(TIMEOUT_S, os.killpg, pid, signal.SIGKILL)
            try:
                await gone
                os.waitpid(pid, 0)
            finally:
                loop.remove_reader(pidfd)
                os.close(pidfd)
            started.remove(pid)
            return (time.perf_counter() - start - TIMEOUT_S) * 1000.0

        return list(await asyncio.gather(*(one(i, pid) for i, pid in enumerate(list(started)))))
    finally:
        for pid in started:  # only if something failed midway
            try:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _row(label: str, target: float | None, faas: list[float], floor: list[float]) -> Row:
    f99, b99 = percentile(faas, 99), percentile(floor, 99)
    return Row(
        section="4",
        measure=f"Timeout lateness p99, {label} (n={len(faas)})",
        faas=f"{ms(f99)} (p50 {ms(median(faas))})",
        baseline=f"{ms(b99)} (p50 {ms(median(floor))}) killpg+pidfd floor",
        ratio=f"{times(f99 / b99) if b99 > 0 else '-'} floor",
        target=f"< {target:.0f} ms" if target is not None else "(context: kills at one instant)",
        verdict=verdict(f99 < target) if target is not None else Verdict.INFO,
        data={"faas_ms": faas, "floor_ms": floor},
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    label: str
    function: str
    mb: int
    concurrency: int
    stagger: float  # seconds between two deadlines in a round
    rounds: int
    target: float | None


async def run(*, rounds: int, ballast_rounds: int, storm_rounds: int) -> list[Row]:
    cases = (
        Case(label="small handler, 4 in flight, deadlines 250 ms apart", function="spin", mb=0,
             concurrency=4, stagger=0.25, rounds=rounds, target=SMALL_TARGET_MS),
        Case(label=f"{BALLAST_MB} MB resident, 4 in flight, deadlines 250 ms apart", function="ballast",
             mb=BALLAST_MB, concurrency=4, stagger=0.25, rounds=ballast_rounds, target=BALLAST_TARGET_MS),
        Case(label="small handler, 8 sharing one deadline", function="spin", mb=0,
             concurrency=8, stagger=0.0, rounds=storm_rounds, target=None),
    )
    with Workspace("timeouts") as ws:
        config = ws.config(
            functions={
                "spin": {"handler": "spin.handler", "timeout": TIMEOUT_S, "concurrency": 16},
                "ballast": {"handler": "ballast.handler", "timeout": TIMEOUT_S, "memory": 512, "concurrency": 16},
            },
            executor={"max_workers": 64, "idle_timeout": 3600},
        )
        rows = []
        async with Runtime(config, environ={}, watch=False) as rt:
            for case in cases:
                faas: list[float] = []
                floor: list[float] = []
                for _ in range(case.rounds):
                    faas += await _platform_round(rt, case.function, case.concurrency, case.stagger)
                    floor += await _floor_round(case.mb, case.concurrency, case.stagger)
                print(f"  timeouts, {case.label}: faas p99 {percentile(faas, 99):.2f} ms, "
                      f"floor p99 {percentile(floor, 99):.2f} ms", flush=True)
                rows.append(_row(case.label, case.target, faas, floor))
        return rows
