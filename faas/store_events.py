"""SQL of the event sources: the async queue, dead letters, schedule state and runs, bucket manifests.

``EventStore`` has a connection of its own to the same SQLite file, so its transactions never
interleave with the metering writer's on one connection. What we acknowledge to someone outside
(an event answered with 202, a file announced) commits with ``synchronous=FULL``: on disk before we
say so. Bookkeeping (claims, finished tries, schedule fires and runs) commits with the WAL's
``synchronous=NORMAL``: it survives a crash or SIGKILL of the server, and only a power loss can
take its last moments back (a fire is then caught up by the misfire logic, a try is run again).
An fsync per schedule run would cap a few hundred runs a second and make every fire late.
Every method holds one lock, so each is one transaction. The schema is in ``EVENT_MIGRATIONS``,
applied by ``faas.store.SQLiteStore`` with the other named migrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from faas.events import (
    BucketObject,
    DeadLetter,
    DeadLetterReason,
    EventState,
    QueuedEvent,
    RunStatus,
    ScheduleRun,
    ScheduleState,
)
from faas.exceptions import StoreError
from faas.records import Trigger
from faas.store_tx import write_transaction

EVENT_MIGRATIONS: dict[str, str] = {
    "async_1": """
    CREATE TABLE async_queue (
        id           TEXT PRIMARY KEY,
        function     TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        caller       TEXT,
        payload      BLOB NOT NULL,
        enqueued_at  REAL NOT NULL,
        next_at      REAL NOT NULL,
        state        TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        starts       INTEGER NOT NULL DEFAULT 0,
        request_ids  TEXT NOT NULL DEFAULT '[]',
        error_type   TEXT,
        error_message TEXT,
        run_id       INTEGER
    );
    CREATE INDEX async_queue_due ON async_queue (state, next_at);
    CREATE TABLE dead_letters (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id     TEXT NOT NULL,
        function     TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        caller       TEXT,
        payload      BLOB NOT NULL,
        enqueued_at  REAL NOT NULL,
        failed_at    REAL NOT NULL,
        attempts     INTEGER NOT NULL,
        reason       TEXT NOT NULL,
        error_type   TEXT,
        error_message TEXT,
        request_ids  TEXT NOT NULL
    );
    CREATE INDEX dead_letters_function ON dead_letters (function, id);
    """,
    "schedules_1": """
    CREATE TABLE schedules (
        name         TEXT PRIMARY KEY,
        paused       INTEGER NOT NULL DEFAULT 0,
        expression   TEXT NOT NULL,
        anchor       REAL NOT NULL,
        last_fire_at REAL
    );
    CREATE TABLE schedule_runs (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule     TEXT NOT NULL,
        scheduled_at REAL NOT NULL,
        manual       INTEGER NOT NULL DEFAULT 0,
        status       TEXT NOT NULL,
        event_id     TEXT,
        request_id   TEXT,
        started_at   REAL,
        finished_at  REAL,
        duration_ms  REAL,
        error        TEXT
    );
    CREATE INDEX schedule_runs_schedule ON schedule_runs (schedule, id);
    CREATE INDEX schedule_runs_status ON schedule_runs (status);
    """,
    "buckets_1": """
    CREATE TABLE bucket_objects (
        bucket       TEXT NOT NULL,
        key          TEXT NOT NULL,
        size         INTEGER NOT NULL,
        mtime_ns     INTEGER NOT NULL,
        etag         TEXT NOT NULL,
        announced_at REAL NOT NULL,
        PRIMARY KEY (bucket, key)
    );
    CREATE TABLE bucket_sequencers (
        bucket       TEXT PRIMARY KEY,
        last         INTEGER NOT NULL
    );
    """,
}

_EVENT_COLUMNS = (
    "id, function, trigger, caller, payload, enqueued_at, next_at, state, attempts, starts, request_ids, "
    "error_type, error_message, run_id"
)
_DEAD_COLUMNS = (
    "id, event_id, function, trigger, caller, payload, enqueued_at, failed_at, attempts, reason, error_type, "
    "error_message, request_ids"
)
_RUN_COLUMNS = (
    "id, schedule, scheduled_at, manual, status, event_id, request_id, started_at, finished_at, duration_ms, error"
)
_ACTIVE = tuple(s.value for s in RunStatus if s.active)


class EventStore:
    """Async access to the event-source tables. Use as ``async with EventStore(path) as events``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._durable = False

    async def __aenter__(self) -> "EventStore":
        # The same pragmas and migrations as the main store (imported here: store.py imports our schema).
        from faas.store import SQLiteStore

        opener = SQLiteStore(self.path)
        await opener.open()
        self._db = opener.db
        try:
            await self._db.execute("PRAGMA synchronous=NORMAL")
            self._durable = False
        except sqlite3.Error as exc:
            await self.close()
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @contextlib.asynccontextmanager
    async def _tx(self, what: str, *, durable: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, under the lock; sqlite errors become StoreError naming ``what``.
        ``durable`` commits with an fsync (for what we acknowledge to a client)."""
        if self._db is None:
            raise StoreError("the event store is not open")
        db = self._db
        async with self._lock:
            if durable != self._durable:
                try:
                    await db.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
                except sqlite3.Error as exc:
                    raise StoreError(f"{what} failed: {exc}") from exc
                self._durable = durable
            async with write_transaction(db, what, "BEGIN IMMEDIATE"):
                yield db

    async def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if self._db is None:
            raise StoreError("the event store is not open")
        async with self._lock:
            try:
                async with self._db.execute(sql, args) as cur:
                    return list(await cur.fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"store read failed: {exc}") from exc

    # --- the async queue ------------------------------------------------------------------------

    async def enqueue(self, events: Sequence[QueuedEvent]) -> None:
        """Queue events durably, all or none."""
        async with self._tx("enqueue", durable=True) as db:
            await _insert_events(db, events)

    async def recover(self) -> int:
        """At start: tries cut short by a crash or kill are due again (they did not count)."""
        async with self._tx("recovering interrupted events") as db:
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
        async with self._tx("claiming due events") as db:
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
        async with self._tx("finishing an event") as db:
            await db.execute("DELETE FROM async_queue WHERE id = ?", (ev.id,))
            await _finish_run(db, ev, RunStatus.SUCCESS, duration_ms, None)

    async def retry_later(
        self, ev: QueuedEvent, next_at: float, *, error_type: str | None, error_message: str | None,
        counts: bool, duration_ms: float | None = None,
    ) -> None:
        """Put a claimed event back, due at ``next_at``; ``counts``: the try failed (not throttled)."""
        async with self._tx("re-queueing an event") as db:
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
        async with self._tx("dead-lettering an event") as db:
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
        rows = await self._read("SELECT MIN(next_at) FROM async_queue WHERE state = ?", (EventState.QUEUED.value,))
        return rows[0][0] if rows and rows[0][0] is not None else None

    async def queued(self, function: str | None = None) -> list[QueuedEvent]:
        where, args = (" WHERE function = ?", (function,)) if function else ("", ())
        rows = await self._read(f"SELECT {_EVENT_COLUMNS} FROM async_queue{where} ORDER BY next_at", args)
        return [_event(r) for r in rows]

    async def dead_letters(self, function: str | None = None, limit: int = 1000) -> list[DeadLetter]:
        where, args = (" WHERE function = ?", [function]) if function else ("", [])
        rows = await self._read(f"SELECT {_DEAD_COLUMNS} FROM dead_letters{where} ORDER BY id LIMIT ?", [*args, limit])
        return [_dead(r) for r in rows]

    async def dead_letter_counts(self) -> dict[str, int]:
        """How many dead letters each function has (no payloads read)."""
        rows = await self._read("SELECT function, COUNT(*) FROM dead_letters GROUP BY function ORDER BY function")
        return {str(r[0]): int(r[1]) for r in rows}

    async def replay(self, ids: Sequence[int] | None, *, function: str | None = None) -> list[DeadLetter]:
        """Hand dead letters back to the queue, due now, with a fresh event age and no tries counted.

        ``ids`` None replays them all (of ``function`` if given). Returns those replayed.
        """
        now = time.time()
        async with self._tx("replaying dead letters") as db:
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
            await _insert_events(db, events, or_ignore=True)
            await db.executemany("DELETE FROM dead_letters WHERE id = ?", [(d.id,) for d in letters])
            return letters

    # --- schedules ------------------------------------------------------------------------------

    async def schedule_state(self, name: str, expression: str, now: float) -> ScheduleState:
        """The persisted state of a schedule, created on first sight; a new expression restarts the
        rate anchor (and forgets the last fire, so no catch-up is computed on the old one)."""
        async with self._tx("reading schedule state") as db:
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
        return {r[0] for r in await self._read("SELECT name FROM schedules WHERE paused = 1")}

    async def set_paused(self, name: str, expression: str, paused: bool) -> None:
        now = float(int(time.time()))
        async with self._tx("pausing a schedule") as db:
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
        async with self._tx("recording a schedule fire") as db:
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
            await _insert_events(db, [ev])
            return _run_from(run_id, name, scheduled_at, manual, RunStatus.QUEUED, ev.id, None)

    async def missed(self, name: str, scheduled_at: float, note: str) -> None:
        async with self._tx("recording a missed fire") as db:
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
        rows = await self._read(f"SELECT {_RUN_COLUMNS} FROM schedule_runs{where} ORDER BY id DESC LIMIT ?",
                                [*args, limit])
        return [_run(r) for r in rows]

    async def last_runs(self) -> dict[str, ScheduleRun]:
        rows = await self._read(
            f"SELECT {_RUN_COLUMNS} FROM schedule_runs WHERE id IN (SELECT MAX(id) FROM schedule_runs GROUP BY schedule)"
        )
        return {r[1]: _run(r) for r in rows}

    # --- bucket manifests -----------------------------------------------------------------------

    async def bucket_objects(self) -> dict[tuple[str, str], BucketObject]:
        rows = await self._read("SELECT bucket, key, size, mtime_ns, etag FROM bucket_objects")
        return {(r[0], r[1]): BucketObject(bucket=r[0], key=r[1], size=r[2], mtime_ns=r[3], etag=r[4]) for r in rows}

    async def object_changed(
        self, obj: BucketObject, *, removed: bool, make_events: Callable[[int], Sequence[QueuedEvent]]
    ) -> None:
        """Record a created/overwritten (or removed) object and queue its notifications, atomically.
        ``make_events(sequencer)`` builds them from the bucket's next sequencer value."""
        async with self._tx("announcing a bucket object", durable=True) as db:
            await db.execute(
                "INSERT INTO bucket_sequencers (bucket, last) VALUES (?, 1) "
                "ON CONFLICT (bucket) DO UPDATE SET last = last + 1",
                (obj.bucket,),
            )
            async with db.execute("SELECT last FROM bucket_sequencers WHERE bucket = ?", (obj.bucket,)) as cur:
                row = await cur.fetchone()
            sequencer = int(row[0]) if row else 1
            if removed:
                await db.execute("DELETE FROM bucket_objects WHERE bucket = ? AND key = ?", (obj.bucket, obj.key))
            else:
                await db.execute(
                    "INSERT OR REPLACE INTO bucket_objects (bucket, key, size, mtime_ns, etag, announced_at) "
                    "VALUES (?,?,?,?,?,?)",
                    (obj.bucket, obj.key, obj.size, obj.mtime_ns, obj.etag, time.time()),
                )
            await _insert_events(db, make_events(sequencer))

    async def object_touched(self, obj: BucketObject) -> None:
        """Same content, new mtime (e.g. ``touch``): remember it without announcing anything."""
        async with self._tx("updating a bucket object") as db:
            await db.execute(
                "UPDATE bucket_objects SET size = ?, mtime_ns = ? WHERE bucket = ? AND key = ?",
                (obj.size, obj.mtime_ns, obj.bucket, obj.key),
            )


# --- row helpers -------------------------------------------------------------------------------


async def _insert_events(db: aiosqlite.Connection, events: Sequence[QueuedEvent], *, or_ignore: bool = False) -> None:
    if not events:
        return
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    await db.executemany(
        f"{verb} INTO async_queue ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (e.id, e.function, e.trigger, e.caller, e.payload, e.enqueued_at, e.next_at, e.state.value, e.attempts,
             e.starts, json.dumps(e.request_ids), e.last_error_type, e.last_error_message, e.run_id)
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
        last_error_type=r[11], last_error_message=r[12], run_id=r[13],
    )


def _replace(ev: QueuedEvent, **changes: Any) -> QueuedEvent:
    return dataclasses.replace(ev, **changes)


def _dead(r: Sequence[Any]) -> DeadLetter:
    return DeadLetter(
        id=r[0], event_id=r[1], function=r[2], trigger=Trigger(r[3]), caller=r[4], payload=bytes(r[5]), enqueued_at=r[6],
        failed_at=r[7], attempts=r[8], reason=r[9], error_type=r[10], error_message=r[11],
        request_ids=tuple(json.loads(r[12])),
    )


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
