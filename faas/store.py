"""The SQLite store: schema, migrations and every SQL statement the platform runs.

One file in WAL mode, opened with aiosqlite so no query blocks the event loop. No module outside
``faas/store*`` writes SQL, which keeps the door open for a PostgreSQL backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from faas.exceptions import StoreError
from faas.logs import render
from faas.records import Invocation, LogEntry, Status, Trigger
from faas.store_tx import write_transaction
from faas.store_billing import MIGRATIONS as BILLING_MIGRATIONS
from faas.store_events import EVENT_MIGRATIONS

log = logging.getLogger(__name__)

# Schema migrations by name, each applied once and recorded in the ``migrations`` table. Features
# land in any order, so each owns its own names ("metering_1", "keys_1", "schedules_1", ...); they
# run in name order within a start. Never edit one that has shipped: add another.
MIGRATIONS: dict[str, str] = {
    "metering_1": """
    CREATE TABLE invocations (
        request_id   TEXT PRIMARY KEY,
        function     TEXT NOT NULL,
        version      INTEGER NOT NULL,
        trigger      TEXT NOT NULL,
        caller       TEXT,
        started_at   REAL NOT NULL,
        duration_ms  REAL NOT NULL,
        billed_ms    INTEGER NOT NULL,
        memory_mb    INTEGER NOT NULL,
        max_memory_mb INTEGER NOT NULL,
        init_ms      REAL,
        cold         INTEGER NOT NULL,
        status       TEXT NOT NULL,
        error_type   TEXT
    );
    CREATE INDEX invocations_function_time ON invocations (function, started_at);
    CREATE INDEX invocations_time ON invocations (started_at);
    CREATE TABLE logs (
        id          INTEGER PRIMARY KEY,
        request_id  TEXT NOT NULL,
        function    TEXT NOT NULL,
        started_at  REAL NOT NULL,
        text        TEXT NOT NULL
    );
    CREATE INDEX logs_function_id ON logs (function, id);
    CREATE INDEX logs_request ON logs (request_id);
    """,
    # Logs keep only what a call printed (START/END/REPORT come from its metering row), and are
    # read in metering order per function: index invocations by function (rowid comes with it).
    "metering_2": """
    DROP INDEX IF EXISTS logs_function_id;
    CREATE INDEX IF NOT EXISTS invocations_function ON invocations (function);
    """,
    "keys_1": """
    CREATE TABLE api_keys (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        plan        TEXT,
        secret_hash TEXT NOT NULL UNIQUE,
        secret_enc  BLOB NOT NULL,
        created_at  REAL NOT NULL,
        revoked_at  REAL
    );
    CREATE TABLE key_usage (
        key_id  TEXT NOT NULL,
        period  TEXT NOT NULL,
        count   INTEGER NOT NULL,
        PRIMARY KEY (key_id, period)
    );
    """,
}
MIGRATIONS.update(BILLING_MIGRATIONS)
# The event sources' tables (async queue, dead letters, schedules, bucket manifests): faas/store_events.py.
MIGRATIONS.update(EVENT_MIGRATIONS)

INVOCATION_COLUMNS = (
    "request_id, function, version, trigger, caller, started_at, duration_ms, billed_ms, memory_mb, "
    "max_memory_mb, init_ms, cold, status, error_type"
)


class SQLiteStore:
    """Async access to the one SQLite file. Use as ``async with SQLiteStore(path) as store``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def __aenter__(self) -> "SQLiteStore":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA busy_timeout=5000")
            await self._migrate()
        except sqlite3.Error as exc:
            await self.close()  # its thread would otherwise keep the process alive
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    async def _migrate(self) -> None:
        await self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        async with self.db.execute("SELECT name FROM migrations") as cur:
            applied = {r[0] for r in await cur.fetchall()}
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        if not applied and row and row[0] >= 1:  # a store from before named migrations
            applied = {"metering_1"}
            await self.db.execute("INSERT INTO migrations VALUES ('metering_1', strftime('%s', 'now'))")
        for name in sorted(set(MIGRATIONS) - applied):
            script = MIGRATIONS[name]
            await self.db.executescript(
                f"BEGIN; {script}; INSERT INTO migrations (name, applied_at) VALUES ('{name}', strftime('%s', 'now')); COMMIT;"
            )
            log.info("store migration %s applied", name)

    # --- metering ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self, what: str) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the shared connection. The lock keeps writers from different
        tasks (metering, quotas, keys) from landing inside each other's transactions; a sqlite
        error becomes a StoreError naming ``what``."""
        async with self._write_lock, write_transaction(self.db, what) as db:
            yield db

    async def write_invocations(self, rows: Sequence[Invocation], logs: Sequence[LogEntry]) -> None:
        """Write one batch in a single transaction (all or nothing)."""
        async with self.transaction("metering write") as db:
            await db.executemany(
                f"INSERT OR IGNORE INTO invocations ({INVOCATION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (r.request_id, r.function, r.version, r.trigger, r.caller, r.started_at, r.duration_ms,
                     r.billed_ms, r.memory_mb, r.max_memory_mb, r.init_ms, int(r.cold), r.status, r.error_type)
                    for r in rows
                ],
            )
            if logs:
                await db.executemany(
                    "INSERT INTO logs (request_id, function, started_at, text) VALUES (?,?,?,?)",
                    [(e.request_id, e.function, e.started_at, e.text) for e in logs],
                )

    async def invocations(
        self, *, function: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[Invocation]:
        where, args = _filters(function=function, since=since)
        sql = f"SELECT {INVOCATION_COLUMNS} FROM invocations{where} ORDER BY started_at DESC LIMIT ?"
        async with self.db.execute(sql, (*args, limit)) as cur:
            rows = await cur.fetchall()
        return [_invocation(r) for r in rows]

    async def invocation(self, request_id: str) -> Invocation | None:
        sql = f"SELECT {INVOCATION_COLUMNS} FROM invocations WHERE request_id = ?"
        async with self.db.execute(sql, (request_id,)) as cur:
            row = await cur.fetchone()
        return _invocation(row) if row else None

    # --- logs -------------------------------------------------------------------------------

    async def logs(
        self,
        *,
        function: str | None = None,
        since: float | None = None,
        request_id: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[tuple[int, LogEntry]]:
        """Calls' logs in the order they were metered, rendered the Lambda way. The cursor (first
        item) is the invocation's rowid: pass the last one as ``after_id`` to follow new calls."""
        sql, args = log_query(function=function, since=since, request_id=request_id, after_id=after_id)
        async with self.db.execute(sql + " LIMIT ?", (*args, limit)) as cur:
            rows = await cur.fetchall()
        return [rendered_log(r) for r in rows]


def log_query(
    *, function: str | None = None, since: float | None = None, request_id: str | None = None, after_id: int = 0
) -> tuple[str, list[Any]]:
    """SQL (and its arguments) for calls' logs: metering rows joined with their stored output.
    Throttled calls never ran, so they have no log."""
    cols = ", ".join(f"i.{c.strip()}" for c in INVOCATION_COLUMNS.split(","))
    clauses = ["i.rowid > ?", "i.status != 'throttled'"]
    args: list[Any] = [after_id]
    if function is not None:
        clauses.append("i.function = ?")
        args.append(function)
    if since is not None:
        clauses.append("i.started_at >= ?")
        args.append(since)
    if request_id is not None:
        clauses.append("i.request_id = ?")
        args.append(request_id)
    sql = (
        f"SELECT i.rowid, {cols}, l.text FROM invocations i LEFT JOIN logs l ON l.request_id = i.request_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY i.rowid"
    )
    return sql, args


def rendered_log(r: Sequence[Any]) -> tuple[int, LogEntry]:
    """A row of ``log_query`` as (cursor, entry with the full Lambda-shaped text)."""
    row = _invocation(r[1:15])
    body = r[15] or ""
    # logs stored before metering_2 already hold the whole Lambda-shaped text
    text = body if body.startswith("START RequestId: ") else render(row, body)
    return int(r[0]), LogEntry(request_id=row.request_id, function=row.function, started_at=row.started_at, text=text)


def _filters(*, function: str | None, since: float | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if function is not None:
        clauses.append("function = ?")
        args.append(function)
    if since is not None:
        clauses.append("started_at >= ?")
        args.append(since)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _invocation(r: Sequence[Any]) -> Invocation:
    return Invocation(
        request_id=r[0], function=r[1], version=r[2], trigger=Trigger(r[3]), caller=r[4], started_at=r[5],
        duration_ms=r[6], billed_ms=r[7], memory_mb=r[8], max_memory_mb=r[9], init_ms=r[10],
        cold=bool(r[11]), status=Status(r[12]), error_type=r[13],
    )
