"""The ``invocations`` and ``logs`` tables: metering rows written in batches, read back for the CLI
and the admin pages, and calls' logs rendered the Lambda way.

``SQLiteStore`` is the main store: the shared connection (``faas.store._db.Database``) plus these
tables; the other table families of the main connection take it as their argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faas.logs import render
from faas.records import Invocation, LogEntry, Status, Trigger
from faas.store._db import Database

__all__ = [
    "INVOCATION_COLUMNS",
    "SQLiteStore",
    "invocation_filters",
    "invocation_from_row",
    "log_query",
    "rendered_log",
]

INVOCATION_COLUMNS = (
    "request_id, function, version, trigger, caller, started_at, duration_ms, billed_ms, memory_mb, "
    "max_memory_mb, init_ms, cold, status, error_type, trace_id, http_status"
)


class SQLiteStore(Database):
    """The main store: the one SQLite file's shared connection, with the metering rows and logs.
    Use as ``async with SQLiteStore(path) as store``; ``KeyStore``, ``UsageStore``, the stats and
    the rollups read and write through it."""

    # --- metering ---------------------------------------------------------------------------

    async def write_invocations(self, rows: Sequence[Invocation], logs: Sequence[LogEntry]) -> None:
        """Write one batch in a single transaction (all or nothing)."""
        async with self.transaction("metering write") as db:
            await db.executemany(
                f"INSERT OR IGNORE INTO invocations ({INVOCATION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (r.request_id, r.function, r.version, r.trigger, r.caller, r.started_at, r.duration_ms,
                     r.billed_ms, r.memory_mb, r.max_memory_mb, r.init_ms, int(r.cold), r.status, r.error_type,
                     r.trace_id, r.http_status)
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
        where, args = invocation_filters(function=function, since=since)
        sql = f"SELECT {INVOCATION_COLUMNS} FROM invocations{where} ORDER BY started_at DESC LIMIT ?"
        async with self.db.execute(sql, (*args, limit)) as cur:
            rows = await cur.fetchall()
        return [invocation_from_row(r) for r in rows]

    async def invocation(self, request_id: str) -> Invocation | None:
        sql = f"SELECT {INVOCATION_COLUMNS} FROM invocations WHERE request_id = ?"
        async with self.db.execute(sql, (request_id,)) as cur:
            row = await cur.fetchone()
        return invocation_from_row(row) if row else None

    # --- logs -------------------------------------------------------------------------------

    async def logs(
        self,
        *,
        function: str | None = None,
        since: float | None = None,
        request_id: str | None = None,
        trace_id: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[tuple[int, LogEntry]]:
        """Calls' logs in the order they were metered, rendered the Lambda way. The cursor (first
        item) is the invocation's rowid: pass the last one as ``after_id`` to follow new calls.
        ``trace_id`` (a Root): the calls of one trace, across functions, in the order they started."""
        sql, args = log_query(function=function, since=since, request_id=request_id, trace_id=trace_id,
                              after_id=after_id)
        async with self.db.execute(sql + " LIMIT ?", (*args, limit)) as cur:
            rows = await cur.fetchall()
        return [rendered_log(r) for r in rows]


def log_query(
    *, function: str | None = None, since: float | None = None, request_id: str | None = None,
    trace_id: str | None = None, after_id: int = 0,
) -> tuple[str, list[Any]]:
    """SQL (and its arguments) for calls' logs: metering rows joined with their stored output.
    Throttled calls never ran, so they have no log. With ``trace_id``, the calls of that trace (Root)
    in the order they started (the cursor still only grows within one metering order)."""
    cols = ", ".join(f"i.{c.strip()}" for c in INVOCATION_COLUMNS.split(","))
    clauses, args = _conditions(function, since, "i.")
    clauses[:0] = ["i.rowid > ?", "i.status != 'throttled'"]
    args.insert(0, after_id)
    if request_id is not None:
        clauses.append("i.request_id = ?")
        args.append(request_id)
    order = "i.rowid"
    if trace_id is not None:
        clauses.append("i.trace_id = ?")
        args.append(trace_id)
        order = "i.started_at, i.rowid"
    sql = (
        f"SELECT i.rowid, {cols}, l.text FROM invocations i LEFT JOIN logs l ON l.request_id = i.request_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY {order}"
    )
    return sql, args


def rendered_log(r: Sequence[Any]) -> tuple[int, LogEntry]:
    """A row of ``log_query`` as (cursor, entry with the full Lambda-shaped text)."""
    row = invocation_from_row(r[1:17])
    body = r[17] or ""
    # logs stored before metering_2 already hold the whole Lambda-shaped text
    text = body if body.startswith("START RequestId: ") else render(row, body)
    return int(r[0]), LogEntry(request_id=row.request_id, function=row.function, started_at=row.started_at, text=text)


def invocation_filters(*, function: str | None, since: float | None) -> tuple[str, list[Any]]:
    """A WHERE clause (empty if no filter) and its arguments on the ``invocations`` columns."""
    clauses, args = _conditions(function, since, "")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _conditions(function: str | None, since: float | None, prefix: str) -> tuple[list[str], list[Any]]:
    """Conditions on ``invocations`` (whose columns carry ``prefix`` in a join) and their arguments."""
    clauses: list[str] = []
    args: list[Any] = []
    if function is not None:
        clauses.append(f"{prefix}function = ?")
        args.append(function)
    if since is not None:
        clauses.append(f"{prefix}started_at >= ?")
        args.append(since)
    return clauses, args


def invocation_from_row(r: Sequence[Any]) -> Invocation:
    """An ``Invocation`` from a row selected as ``INVOCATION_COLUMNS``."""
    return Invocation(
        request_id=r[0], function=r[1], version=r[2], trigger=Trigger(r[3]), caller=r[4], started_at=r[5],
        duration_ms=r[6], billed_ms=r[7], memory_mb=r[8], max_memory_mb=r[9], init_ms=r[10],
        cold=bool(r[11]), status=Status(r[12]), error_type=r[13], trace_id=r[14], http_status=r[15],
    )
