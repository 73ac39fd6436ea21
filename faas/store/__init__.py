"""The SQLite store: every SQL statement of the platform lives in this package.

One file in WAL mode, opened with aiosqlite so no query blocks the event loop. No module outside
``faas/store/`` writes SQL, which keeps the door open for a PostgreSQL backend.

- ``_db``: opening the file (pragmas, migration runner), the write transaction, the two connections
- ``schema``: every migration, by name
- ``invocations``: ``SQLiteStore``, the main store; metering rows and logs
- ``keys``, ``usage``: API keys and their quota counters
- ``stats``: read-only figures over the invocations for the admin pages
- ``rollups``: daily usage rollups for bills
- ``queue``, ``schedules``, ``buckets``: the event sources' tables; ``events``: ``EventStore`` over all three
"""

from __future__ import annotations

from faas.store.events import EventStore
from faas.store.invocations import INVOCATION_COLUMNS, SQLiteStore, log_query, rendered_log
from faas.store.keys import KeyRow, KeyStore
from faas.store.schema import MIGRATIONS
from faas.store.stats import FunctionStats, HourStats
from faas.store.usage import UsageStore

__all__ = [
    "INVOCATION_COLUMNS",
    "MIGRATIONS",
    "EventStore",
    "FunctionStats",
    "HourStats",
    "KeyRow",
    "KeyStore",
    "SQLiteStore",
    "UsageStore",
    "log_query",
    "rendered_log",
]
