"""The async queue and its dead letters: events accepted for later (a 202, a schedule's fire, a
bucket notification), claimed by ``faas.asyncq`` when due, retried, and dead-lettered when they
cannot run (tries exhausted, too old, function gone). At least once, never lost: see
``faas.store.events`` for what commits with an fsync. A try of an event fired by a schedule also
moves that schedule run along (``schedule_runs``).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite

from faas.events import DeadLetter, DeadLetterReason, EventState, QueuedEvent, RunStatus
from faas.records import Trigger
from faas.store._db import EventDatabase

__all__ = ["QueueStore", "insert_events"]

_EVENT_COLUMNS = (
    "id, function, trigger, caller, payload, enqueued_at, next_at, state, attempts, starts, request_ids, "
    "error_type, error_message, run_id, trace_id"
)
_DEAD_COLUMNS = (
    "id, event_id, function, trigger, caller, payload, enqueued_at, failed_at, attempts, reason, error_type, "
    "error_message, request_ids"
)


class QueueStore(EventDatabase):
    """The ``async_queue`` and ``dead_letters`` tables, on the event sources' connection."""

    async def enqueue(self, events: Sequence[QueuedEvent]) -> None:
        """Queue events durably, all or none."""
        async with self.transaction("enqueue", durable=True) as db:
            await insert_events(db, events)

    async def recover(self) -> int:
        """At start: tries cut short by a crash or kill are due again (they did not count)."""
        async with self.transaction("recovering interrupted events") as db:
            cur = await db.execute(
                "UPDATE async_queue SET state = ? WHERE state = ?", (EventState.QUEUED.value, EventState.RUNNING.value)
            )
            await db.execute(
                "UPDATE schedule_runs SET status = ? WHERE status = ? AND id IN (SELECT run_id FROM async_queue)",
                (RunStatus.QUEUED.value, RunStatus.RUNNING.value),
            )
            return cur.rowcount

    async def claim(
        self, now: float, choose: Callable[[list[QueuedEvent]], list[QueuedEvent]], *,
        skip: frozenset[str] = frozenset(), limit: int = 200,
    ) -> list[QueuedEvent]:
        """Mark due events running. ``choose`` picks which of the due ones (in due order) to take;
        events of the functions in ``skip`` (at their concurrency) are not even looked at.

        Each claimed event gets the request id of its try: the event id for the first start, a new
        one for a retry or a restart after an interruption (the invocations table keys on it).
        """
        async with self.transaction("claiming due events") as db:
            not_in = f" AND function NOT IN ({','.join('?' * len(skip))})" if skip else ""
            async with db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM async_queue WHERE state = ? AND next_at <= ?{not_in} "
                "ORDER BY next_at LIMIT ?",
                (EventState.QUEUED.value, now, *sorted(skip), limit),
            ) as cur:
                due = [_event(r) for r in await cur.fetchall()]
            claimed: list[QueuedEvent] = []
            for ev in choose(due):
                rid = ev.id if ev.starts == 0 else str(uuid.uuid4())
                rids = (*ev.request_ids, rid)
                await db.execute(
                    "UPDATE async_queue SET state = ?, starts = starts + 1, request_ids = ? WHERE id = ?",
                    (EventState.RUNNING.value, json.dumps(rids), ev.id),
                )
                if ev.run_id is not None:
                    await db.execute(
                        "UPDATE schedule_runs SET status = ?, started_at = COALESCE(started_at, ?), request_id = ? "
                        "WHERE id = ?",
                        (RunStatus.RUNNING.value, now, rid, ev.run_id),
                    )
                claimed.append(_replace(ev, state=EventState.RUNNING, starts=ev.starts + 1, request_ids=rids))
            return claimed

    async def succeeded(self, ev: QueuedEvent, *, duration_ms: float) -> None:
        async with self.transaction("finishing an event") as db:
            await db.execute("DELETE FROM async_queue WHERE id = ?", (ev.id,))
            await _finish_run(db, ev, RunStatus.SUCCESS, duration_ms, None)

    async def retry_later(
        self, ev: QueuedEvent, next_at: float, *, error_type: str | None, error_message: str | None,
        counts: bool, duration_ms: float | None = None,
    ) -> None:
        """Put a claimed event back, due at ``next_at``; ``counts``: the try failed (not throttled)."""
        async with self.transaction("re-queueing an event") as db:
            await db.execute(
                "UPDATE async_queue SET state = ?, next_at = ?, attempts = attempts + ?, "
                "error_type = COALESCE(?, error_type), error_message = COALESCE(?, error_message) WHERE id = ?",
                (EventState.QUEUED.value, next_at, 1 if counts else 0, error_type, error_message, ev.id),
            )
            if ev.run_id is not None:
                error = _error_text(error_type, error_message)
                await db.execute(
                    "UPDATE schedule_runs SET status = ?, error = COALESCE(?, error), duration_ms = COALESCE(?, duration_ms) "
                    "WHERE id = ?",
                    (RunStatus.RETRYING.value if counts else RunStatus.QUEUED.value, error, duration_ms, ev.run_id),
                )

    async def dead_letter(
        self, ev: QueuedEvent, reason: DeadLetterReason, *, error_type: str | None, error_message: str | None,
        attempts: int, duration_ms: float | None = None,
    ) -> int:
        """Move an event from the queue to the dead letters; returns the dead letter's id."""
        now = time.time()
        async with self.transaction("dead-lettering an event") as db:
            await db.execute("DELETE FROM async_queue WHERE id = ?", (ev.id,))
            cur = await db.execute(
                f"INSERT INTO dead_letters ({_DEAD_COLUMNS}) VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?,?)",
                (ev.id, ev.function, ev.trigger, ev.caller, ev.payload, ev.enqueued_at, now, attempts,
                 reason.value, error_type, error_message, json.dumps(ev.request_ids)),
            )
            await _finish_run(db, ev, RunStatus.FAILED, duration_ms,
                              f"{reason.value}: {_error_text(error_type, error_message) or 'no error recorded'}")
            return int(cur.lastrowid or 0)

    async def next_due(self) -> float | None:
        rows = await self.read("SELECT MIN(next_at) FROM async_queue WHERE state = ?", (EventState.QUEUED.value,))
        return rows[0][0] if rows and rows[0][0] is not None else None

    async def queued(self, function: str | None = None) -> list[QueuedEvent]:
        where, args = (" WHERE function = ?", (function,)) if function else ("", ())
        rows = await self.read(f"SELECT {_EVENT_COLUMNS} FROM async_queue{where} ORDER BY next_at", args)
        return [_event(r) for r in rows]

    async def dead_letters(self, function: str | None = None, limit: int = 1000) -> list[DeadLetter]:
        where, args = (" WHERE function = ?", [function]) if function else ("", [])
        rows = await self.read(f"SELECT {_DEAD_COLUMNS} FROM dead_letters{where} ORDER BY id LIMIT ?", [*args, limit])
        return [_dead(r) for r in rows]

    async def dead_letter_counts(self) -> dict[str, int]:
        """How many dead letters each function has (no payloads read)."""
        rows = await self.read("SELECT function, COUNT(*) FROM dead_letters GROUP BY function ORDER BY function")
        return {str(r[0]): int(r[1]) for r in rows}

    async def replay(self, ids: Sequence[int] | None, *, function: str | None = None) -> list[DeadLetter]:
        """Hand dead letters back to the queue, due now, with a fresh event age and no tries counted.

        ``ids`` None replays them all (of ``function`` if given). Returns those replayed.
        """
        now = time.time()
        async with self.transaction("replaying dead letters") as db:
            args: list[Any] = []
            where = ""
            if ids is not None:
                where, args = f" WHERE id IN ({','.join('?' * len(ids))})", list(ids)
            elif function:
                where, args = " WHERE function = ?", [function]
            async with db.execute(f"SELECT {_DEAD_COLUMNS} FROM dead_letters{where} ORDER BY id", args) as cur:
                letters = [_dead(r) for r in await cur.fetchall()]
            events = [
                QueuedEvent(
                    id=d.event_id, function=d.function, trigger=d.trigger, caller=d.caller, payload=d.payload,
                    enqueued_at=now, next_at=now, starts=len(d.request_ids), request_ids=d.request_ids,
                )
                for d in letters
            ]
            # A letter replayed twice, with the first replay still queued, keeps its first copy.
            await insert_events(db, events, or_ignore=True)
            await db.executemany("DELETE FROM dead_letters WHERE id = ?", [(d.id,) for d in letters])
            return letters


async def insert_events(db: aiosqlite.Connection, events: Sequence[QueuedEvent], *, or_ignore: bool = False) -> None:
    """Queue ``events`` inside the caller's transaction (a fire or an announced object queues its
    events in the same transaction as its own bookkeeping)."""
    if not events:
        return
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    await db.executemany(
        f"{verb} INTO async_queue ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (e.id, e.function, e.trigger, e.caller, e.payload, e.enqueued_at, e.next_at, e.state.value, e.attempts,
             e.starts, json.dumps(e.request_ids), e.last_error_type, e.last_error_message, e.run_id,
             e.trace_id)
            for e in events
        ],
    )


async def _finish_run(
    db: aiosqlite.Connection, ev: QueuedEvent, status: RunStatus, duration_ms: float | None, error: str | None
) -> None:
    if ev.run_id is None:
        return
    await db.execute(
        "UPDATE schedule_runs SET status = ?, finished_at = ?, duration_ms = COALESCE(?, duration_ms), "
        "error = COALESCE(?, error) WHERE id = ?",
        (status.value, time.time(), duration_ms, error, ev.run_id),
    )


def _error_text(error_type: str | None, error_message: str | None) -> str | None:
    if error_type and error_message:
        return f"{error_type}: {error_message}"
    return error_type or error_message


def _event(r: Sequence[Any]) -> QueuedEvent:
    return QueuedEvent(
        id=r[0], function=r[1], trigger=Trigger(r[2]), caller=r[3], payload=bytes(r[4]), enqueued_at=r[5], next_at=r[6],
        state=EventState(r[7]), attempts=r[8], starts=r[9], request_ids=tuple(json.loads(r[10])),
        last_error_type=r[11], last_error_message=r[12], run_id=r[13], trace_id=r[14],
    )


def _replace(ev: QueuedEvent, **changes: Any) -> QueuedEvent:
    return dataclasses.replace(ev, **changes)


def _dead(r: Sequence[Any]) -> DeadLetter:
    return DeadLetter(
        id=r[0], event_id=r[1], function=r[2], trigger=Trigger(r[3]), caller=r[4], payload=bytes(r[5]), enqueued_at=r[6],
        failed_at=r[7], attempts=r[8], reason=r[9], error_type=r[10], error_message=r[11],
        request_ids=tuple(json.loads(r[12])),
    )
