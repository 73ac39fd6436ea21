"""Schedule state and runs: each schedule's pause flag, rate anchor and last fire, and one row per
fire (queued, running, succeeded, failed, skipped, missed). A fire records its run and queues its
event in one transaction; the queue moves the run along as the event is tried (``faas.store.queue``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from faas.events import QueuedEvent, RunStatus, ScheduleRun, ScheduleState
from faas.store._db import EventDatabase
from faas.store.queue import insert_events

__all__ = ["ScheduleStore"]

_RUN_COLUMNS = (
    "id, schedule, scheduled_at, manual, status, event_id, request_id, started_at, finished_at, duration_ms, error"
)
_ACTIVE = tuple(s.value for s in RunStatus if s.active)


class ScheduleStore(EventDatabase):
    """The ``schedules`` and ``schedule_runs`` tables, on the event sources' connection."""

    async def schedule_state(self, name: str, expression: str, now: float) -> ScheduleState:
        """The persisted state of a schedule, created on first sight; a new expression restarts the
        rate anchor (and forgets the last fire, so no catch-up is computed on the old one)."""
        async with self.transaction("reading schedule state") as db:
            async with db.execute(
                "SELECT name, paused, expression, anchor, last_fire_at FROM schedules WHERE name = ?", (name,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                await db.execute(
                    "INSERT INTO schedules (name, paused, expression, anchor) VALUES (?, 0, ?, ?)",
                    (name, expression, float(int(now))),
                )
                return ScheduleState(name=name, paused=False, expression=expression, anchor=float(int(now)),
                                     last_fire_at=None)
            if row[2] != expression:
                await db.execute(
                    "UPDATE schedules SET expression = ?, anchor = ?, last_fire_at = NULL WHERE name = ?",
                    (expression, float(int(now)), name),
                )
                return ScheduleState(name=name, paused=bool(row[1]), expression=expression, anchor=float(int(now)),
                                     last_fire_at=None)
            return ScheduleState(name=row[0], paused=bool(row[1]), expression=row[2], anchor=row[3],
                                 last_fire_at=row[4])

    async def paused_schedules(self) -> set[str]:
        return {r[0] for r in await self.read("SELECT name FROM schedules WHERE paused = 1")}

    async def set_paused(self, name: str, expression: str, paused: bool) -> None:
        now = float(int(time.time()))
        async with self.transaction("pausing a schedule") as db:
            await db.execute(
                "INSERT INTO schedules (name, paused, expression, anchor) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
                (name, int(paused), expression, now),
            )

    async def fire(
        self, name: str, scheduled_at: float, *, max_concurrency: int, manual: bool,
        make_event: Callable[[int], QueuedEvent],
    ) -> ScheduleRun:
        """Record a fire: a queued run plus its event, or a skipped run when ``max_concurrency`` runs
        are still active. ``make_event(run_id)`` builds the event. One transaction."""
        async with self.transaction("recording a schedule fire") as db:
            async with db.execute(
                f"SELECT COUNT(*) FROM schedule_runs WHERE schedule = ? AND status IN ({','.join('?' * len(_ACTIVE))})",
                (name, *_ACTIVE),
            ) as cur:
                row = await cur.fetchone()
            active = int(row[0]) if row else 0
            if not manual:
                await db.execute("UPDATE schedules SET last_fire_at = ? WHERE name = ?", (scheduled_at, name))
            if active >= max_concurrency:
                error = f"{active} run(s) still busy (max_concurrency = {max_concurrency})"
                cur = await db.execute(
                    "INSERT INTO schedule_runs (schedule, scheduled_at, manual, status, error) VALUES (?,?,?,?,?)",
                    (name, scheduled_at, int(manual), RunStatus.SKIPPED.value, error),
                )
                return _run_from(int(cur.lastrowid or 0), name, scheduled_at, manual, RunStatus.SKIPPED, None, error)
            cur = await db.execute(
                "INSERT INTO schedule_runs (schedule, scheduled_at, manual, status) VALUES (?,?,?,?)",
                (name, scheduled_at, int(manual), RunStatus.QUEUED.value),
            )
            run_id = int(cur.lastrowid or 0)
            ev = make_event(run_id)
            await db.execute("UPDATE schedule_runs SET event_id = ? WHERE id = ?", (ev.id, run_id))
            await insert_events(db, [ev])
            return _run_from(run_id, name, scheduled_at, manual, RunStatus.QUEUED, ev.id, None)

    async def missed(self, name: str, scheduled_at: float, note: str) -> None:
        async with self.transaction("recording a missed fire") as db:
            await db.execute(
                "INSERT INTO schedule_runs (schedule, scheduled_at, status, error) VALUES (?,?,?,?)",
                (name, scheduled_at, RunStatus.MISSED.value, note),
            )
            await db.execute(
                "UPDATE schedules SET last_fire_at = MAX(COALESCE(last_fire_at, 0), ?) WHERE name = ?",
                (scheduled_at, name),
            )

    async def runs(self, name: str | None = None, limit: int = 20) -> list[ScheduleRun]:
        where, args = (" WHERE schedule = ?", [name]) if name else ("", [])
        rows = await self.read(f"SELECT {_RUN_COLUMNS} FROM schedule_runs{where} ORDER BY id DESC LIMIT ?",
                               [*args, limit])
        return [_run(r) for r in rows]

    async def last_runs(self) -> dict[str, ScheduleRun]:
        rows = await self.read(
            f"SELECT {_RUN_COLUMNS} FROM schedule_runs WHERE id IN (SELECT MAX(id) FROM schedule_runs GROUP BY schedule)"
        )
        return {r[1]: _run(r) for r in rows}


def _run(r: Sequence[Any]) -> ScheduleRun:
    return ScheduleRun(
        id=r[0], schedule=r[1], scheduled_at=r[2], manual=bool(r[3]), status=RunStatus(r[4]), event_id=r[5],
        request_id=r[6], started_at=r[7], finished_at=r[8], duration_ms=r[9], error=r[10],
    )


def _run_from(
    run_id: int, name: str, scheduled_at: float, manual: bool, status: RunStatus, event_id: str | None,
    error: str | None,
) -> ScheduleRun:
    return ScheduleRun(
        id=run_id, schedule=name, scheduled_at=scheduled_at, manual=manual, status=status, event_id=event_id,
        request_id=None, started_at=None, finished_at=None, duration_ms=None, error=error,
    )
