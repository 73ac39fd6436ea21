"""One write transaction on an aiosqlite connection, shared by the stores (no lock: callers hold theirs)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator

import aiosqlite

from faas.exceptions import StoreError


@contextlib.asynccontextmanager
async def write_transaction(db: aiosqlite.Connection, what: str, begin: str = "BEGIN") -> AsyncIterator[aiosqlite.Connection]:
    """Commit on success, roll back on any exception; a sqlite error becomes a StoreError naming ``what``."""
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
