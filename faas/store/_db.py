"""The SQLite file itself: opening a connection (pragmas, migrations), the write transaction, and the
two kinds of connection the stores hold.

One file in WAL mode, opened with aiosqlite so no query blocks the event loop. ``Database`` is the
shared connection of the main store (metering, keys, quotas, rollups, stats), its writers serialised
by a lock; ``EventDatabase`` is the event sources' connection of their own, so their transactions
never interleave with the metering writer's, with a durability switch for what we acknowledge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Self

import aiosqlite

from faas.exceptions import StoreError
from faas.store.schema import MIGRATIONS

log = logging.getLogger(__name__)


async def connect(path: Path) -> aiosqlite.Connection:
    """Open the store file (creating it and its folder), set the pragmas and apply pending migrations."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    db: aiosqlite.Connection | None = None
    try:
        db = await aiosqlite.connect(path, isolation_level=None)
        # Private: the data folder can be passed through by workers' users (runtime, environments),
        # and SQLite gives the -wal and -shm files the mode of the database file.
        os.chmod(path, 0o600)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        await migrate(db)
    except sqlite3.Error as exc:
        if db is not None:
            await db.close()  # its thread would otherwise keep the process alive
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc
    return db


async def migrate(db: aiosqlite.Connection) -> None:
    """Apply, in name order, the migrations of ``faas.store.schema`` not yet recorded in ``migrations``."""
    await db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    async with db.execute("SELECT name FROM migrations") as cur:
        applied = {r[0] for r in await cur.fetchall()}
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    if not applied and row and row[0] >= 1:  # a store from before named migrations
        applied = {"metering_1"}
        await db.execute("INSERT INTO migrations VALUES ('metering_1', strftime('%s', 'now'))")
    for name in sorted(set(MIGRATIONS) - applied):
        script = MIGRATIONS[name]
        await db.executescript(
            f"BEGIN; {script}; INSERT INTO migrations (name, applied_at) VALUES ('{name}', strftime('%s', 'now')); COMMIT;"
        )
        log.info("store migration %s applied", name)


@contextlib.asynccontextmanager
async def write_transaction(db: aiosqlite.Connection, what: str, begin: str = "BEGIN") -> AsyncIterator[aiosqlite.Connection]:
    """Commit on success, roll back on any exception; a sqlite error becomes a StoreError naming ``what``.
    No lock: callers hold theirs."""
    try:
        await db.execute(begin)
        try:
            yield db
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        raise StoreError(f"{what} failed: {exc}") from exc


class Database:
    """The main store's one connection. Use as ``async with SQLiteStore(path) as store``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self._db = await connect(self.path)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    @contextlib.asynccontextmanager
    async def transaction(self, what: str) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the shared connection. The lock keeps writers from different
        tasks (metering, quotas, keys) from landing inside each other's transactions; a sqlite
        error becomes a StoreError naming ``what``."""
        async with self._write_lock, write_transaction(self.db, what) as db:
            yield db


class EventDatabase:
    """The event sources' own connection to the same file. Every method of the event stores holds
    its one lock, so each is one transaction. Use as ``async with EventStore(path) as events``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._durable = False

    async def __aenter__(self) -> Self:
        self._db = await connect(self.path)
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
    async def transaction(self, what: str, *, durable: bool = False) -> AsyncIterator[aiosqlite.Connection]:
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

    async def read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows of one query, under the lock (so never inside another task's transaction)."""
        if self._db is None:
            raise StoreError("the event store is not open")
        async with self._lock:
            try:
                async with self._db.execute(sql, args) as cur:
                    return list(await cur.fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"store read failed: {exc}") from exc
