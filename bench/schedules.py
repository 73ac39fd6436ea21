"""Row 7: how late 100 ``rate(1 second)`` schedules fire.

faas: a real server with 100 schedules on one trivial function; lateness is a run's ``started_at``
minus its ``scheduled_at`` from the ``schedule_runs`` table (fire, durable queue, dispatcher, worker
all included). Baseline, side by side: a bare APScheduler 3 AsyncIOScheduler in-process with 100
one-second interval jobs; lateness is when the job ran minus its slot on the one-second grid.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time

from bench.report import Row, ms, percentile, verdict
from bench.servers import faas_server
from bench.workspace import Workspace

SCHEDULES = 100
TARGET_MS = 100.0


async def _apscheduler_lateness(seconds: float) -> list[float]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
    from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

    start = dt.datetime.fromtimestamp(int(time.time()) + 2, dt.timezone.utc)
    base = start.timestamp()
    late: list[float] = []

    def job() -> None:
        now = time.time()
        late.append((now - (base + round(now - base))) * 1000.0)

    scheduler = AsyncIOScheduler(timezone=dt.timezone.utc)
    for i in range(SCHEDULES):
        scheduler.add_job(job, IntervalTrigger(seconds=1, start_date=start), id=f"j{i}", max_instances=1)
    scheduler.start()
    await asyncio.sleep(seconds + 2)
    scheduler.shutdown(wait=False)
    return late


def _faas_lateness(seconds: float) -> list[float]:
    with Workspace("schedules") as ws:
        path = ws.write_config(functions={"noop": {"handler": "noop.handler", "concurrency": 20}})
        text = path.read_text()
        for i in range(SCHEDULES):
            text += f'\n[[schedules]]\nname = "s{i}"\nexpression = "rate(1 second)"\nfunction = "noop"\n'
        path.write_text(text)
        with faas_server(path, ws.root / "server.log"):
            time.sleep(seconds + 2)
        with sqlite3.connect(ws.data_dir / "faas.db") as db:
            rows = db.execute(
                "SELECT scheduled_at, started_at FROM schedule_runs WHERE manual = 0 AND started_at IS NOT NULL"
            ).fetchall()
    if not rows:
        return []
    first = min(r[0] for r in rows) + 2.0  # leave out the first two seconds (the worker's cold start)
    return [(s - sched) * 1000.0 for sched, s in rows if sched >= first]


def run(*, seconds: float = 10.0) -> list[Row]:
    base = asyncio.run(_apscheduler_lateness(seconds))
    ours = _faas_lateness(seconds)
    if not ours or not base:
        return [Row(section="7", measure="Lateness of 100 rate(1 second) schedules, p99", faas="no runs recorded",
                    target=f"< {TARGET_MS:g} ms", verdict=verdict(False))]
    p99, b99 = percentile(ours, 99), percentile(base, 99)
    return [
        Row(
            section="7",
            measure=f"Lateness of {SCHEDULES} rate(1 second) schedules to start, p99 (n={len(ours)}/{len(base)})",
            faas=f"{ms(p99)} (p50 {ms(percentile(ours, 50))})",
            baseline=f"{ms(b99)} (p50 {ms(percentile(base, 50))}) bare APScheduler, in-process job",
            ratio=f"{p99 / b99:.2f}x" if b99 > 0 else "-",
            target=f"< {TARGET_MS:g} ms",
            verdict=verdict(p99 < TARGET_MS),
        )
    ]
