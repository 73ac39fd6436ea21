"""faas.store.schema: every migration, by name, applied forward-only. A shipped migration never
changes (an existing database would not run it again), so its text is pinned here by hash."""

from __future__ import annotations

import ast
import hashlib
import sqlite3
from pathlib import Path

import faas.store.schema as schema
from faas.store.schema import MIGRATIONS

# name -> first 16 hex digits of the SHA-256 of its SQL. Add a line for a new migration; never edit one.
SHIPPED = {
    "async_1": "f57217e8983c2ec4",
    "async_2": "a32dd3abcdefd064",
    "buckets_1": "be06eeaa91418dff",
    "keys_1": "f09ab31b175d65b8",
    "metering_1": "6215d7389d6cf2e8",
    "metering_2": "a7539933c5b909ea",
    "metering_3": "b2d2b9ce1d57b5bb",
    "schedules_1": "4b3e9439c2de197f",
    "usage_1": "b78f62e04a828e73",
}


def test_shipped_migrations_are_unchanged() -> None:
    for name, digest in SHIPPED.items():
        assert hashlib.sha256(MIGRATIONS[name].encode()).hexdigest()[:16] == digest, f"migration {name} was edited"


def test_every_migration_is_pinned() -> None:
    assert set(MIGRATIONS) == set(SHIPPED), "pin a new migration's hash in SHIPPED"


def test_the_schema_imports_nothing_of_ours() -> None:
    tree = ast.parse(Path(schema.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__"}


def test_migrations_in_name_order_build_every_table(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "plain.db") as db:
        for name in sorted(MIGRATIONS):
            db.executescript(MIGRATIONS[name])
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert tables - {"sqlite_sequence"} == {
        "invocations", "logs", "api_keys", "key_usage", "usage_daily", "async_queue", "dead_letters", "schedules",
        "schedule_runs", "bucket_objects", "bucket_sequencers",
    }
    assert triggers == {"invocations_usage_daily"}
