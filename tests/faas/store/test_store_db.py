"""faas.store._db: opening the file (pragmas, migrations), the write transaction, both connections."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from faas.exceptions import StoreError
from faas.store._db import Database, EventDatabase, connect, write_transaction
from faas.store.schema import MIGRATIONS


def _applied(path: Path) -> dict[str, float]:
    with sqlite3.connect(path) as db:
        return {r[0]: r[1] for r in db.execute("SELECT name, applied_at FROM migrations")}


def test_migrations_apply_on_an_empty_file_and_once_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "faas.db"  # the folder is created too

    async def open_and_close() -> str:
        async with Database(path) as store:
            async with store.db.execute("PRAGMA journal_mode") as cur:
                row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    assert asyncio.run(open_and_close()) == "wal"
    first = _applied(path)
    assert set(first) == set(MIGRATIONS)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE migrations SET applied_at = 1")  # a re-run would write a new time
    asyncio.run(open_and_close())
    assert _applied(path) == {name: 1 for name in MIGRATIONS}


def test_a_store_from_before_named_migrations_is_not_migrated_twice(tmp_path: Path) -> None:
    path = tmp_path / "faas.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS["metering_1"])
        db.execute("PRAGMA user_version = 1")

    async def scenario() -> None:
        async with Database(path):
            pass

    asyncio.run(scenario())  # metering_1 again would fail: its tables exist
    assert set(_applied(path)) == set(MIGRATIONS)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "faas.db"
    path.write_bytes(b"not a database, " * 64)

    async def scenario() -> None:
        async with Database(path):
            pass

    with pytest.raises(StoreError, match="cannot open the store"):
        asyncio.run(scenario())


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = Database(tmp_path / "faas.db")
    with pytest.raises(StoreError, match="not open"):
        store.db


def _count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM key_usage").fetchone()[0])


def test_the_write_transaction_commits_or_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "faas.db"
    insert = "INSERT INTO key_usage (key_id, period, count) VALUES ('k', 'day:2026-01-01', 1)"

    async def scenario() -> None:
        async with Database(path) as store:
            with pytest.raises(RuntimeError):
                async with store.transaction("a failing write") as db:
                    await db.execute(insert)
                    raise RuntimeError("boom")
            assert _count(path) == 0
            with pytest.raises(StoreError, match="adding twice failed"):
                async with store.transaction("adding twice") as db:
                    await db.execute(insert)
                    await db.execute(insert)  # primary key
            assert _count(path) == 0
            async with store.transaction("one write") as db:
                await db.execute(insert)
            assert _count(path) == 1

    asyncio.run(scenario())


def test_write_transaction_on_a_bare_connection(tmp_path: Path) -> None:
    path = tmp_path / "faas.db"

    async def scenario() -> None:
        db = await connect(path)
        try:
            with pytest.raises(KeyError):
                async with write_transaction(db, "a failing write", "BEGIN IMMEDIATE"):
                    await db.execute("INSERT INTO key_usage VALUES ('k', 'p', 1)")
                    raise KeyError("k")
            assert not db.in_transaction
            async with write_transaction(db, "a write"):
                await db.execute("INSERT INTO key_usage VALUES ('k', 'p', 2)")
        finally:
            await db.close()

    asyncio.run(scenario())
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT key_id, period, count FROM key_usage").fetchall() == [("k", "p", 2)]


def test_the_event_connection_switches_durability_per_transaction(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        modes: list[int] = []
        async with EventDatabase(tmp_path / "faas.db") as events:
            for durable in (False, True, True, False):
                async with events.transaction("a write", durable=durable) as db:
                    await db.execute("INSERT INTO bucket_sequencers (bucket, last) VALUES ('b', 1) "
                                     "ON CONFLICT (bucket) DO UPDATE SET last = last + 1")
                modes.append(int((await events.read("PRAGMA synchronous"))[0][0]))
            assert [tuple(r) for r in await events.read("SELECT bucket, last FROM bucket_sequencers")] == [("b", 4)]
        return modes

    assert asyncio.run(scenario()) == [1, 2, 2, 1]  # NORMAL, FULL, FULL, NORMAL


def test_the_event_connection_rolls_back_and_reports_errors(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with EventDatabase(tmp_path / "faas.db") as events:
            with pytest.raises(StoreError, match="a bad write failed"):
                async with events.transaction("a bad write") as db:
                    await db.execute("INSERT INTO bucket_sequencers (bucket, last) VALUES ('b', 1)")
                    await db.execute("INSERT INTO no_such_table VALUES (1)")
            assert await events.read("SELECT * FROM bucket_sequencers") == []
            with pytest.raises(StoreError, match="store read failed"):
                await events.read("SELECT * FROM no_such_table")
        with pytest.raises(StoreError, match="not open"):
            await events.read("SELECT 1")

    asyncio.run(scenario())
