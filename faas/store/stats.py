"""Read-only views of the ``invocations`` table for the admin pages: per-function figures over a
window, hourly series for charts, and invocation search with filters.

These scan a window of rows through the ``(function, started_at)`` and ``(started_at)`` indexes;
they serve people looking at a page, not the hot path. Bills read the rollups instead
(``faas.store.rollups``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faas.records import Invocation
from faas.store._db import Database
from faas.store.invocations import INVOCATION_COLUMNS, invocation_filters, invocation_from_row

__all__ = ["FunctionStats", "HourStats", "function_stats", "hourly", "search_invocations"]

# Statuses that are failures of the call (throttles are counted apart: the call never ran).
_FAILED = ("error", "timeout", "crashed", "oom")


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionStats:
    function: str
    calls: int  # calls that ran (throttled ones excluded)
    errors: int  # error, timeout, crashed, oom
    throttles: int
    cold_starts: int
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HourStats:
    hour: int  # hours since the epoch (UTC): the hour starting at hour * 3600
    calls: int
    errors: int
    avg_ms: float
    max_ms: float


async def function_stats(store: Database, since: float) -> dict[str, FunctionStats]:
    """Calls, errors, throttles, cold starts and p50/p99 run time per function since ``since``."""
    failed = ",".join(f"'{s}'" for s in _FAILED)
    sql = (
        "SELECT function, sum(status != 'throttled'), sum(status IN (" + failed + ")), "
        "sum(status = 'throttled'), sum(cold) FROM invocations WHERE started_at >= ? GROUP BY function"
    )
    async with store.db.execute(sql, (since,)) as cur:
        counts = await cur.fetchall()
    out: dict[str, FunctionStats] = {}
    for function, calls, errors, throttles, cold in counts:
        p50 = await _percentile(store, function, since, calls, 0.50)
        p99 = await _percentile(store, function, since, calls, 0.99)
        out[function] = FunctionStats(
            function=function, calls=calls, errors=errors, throttles=throttles, cold_starts=cold, p50_ms=p50, p99_ms=p99
        )
    return out


async def _percentile(store: Database, function: str, since: float, n: int, q: float) -> float | None:
    """Nearest-rank percentile of the run times of calls that ran."""
    if n <= 0:
        return None
    offset = max(0, math.ceil(q * n) - 1)
    sql = (
        "SELECT duration_ms FROM invocations WHERE function = ? AND started_at >= ? AND status != 'throttled' "
        "ORDER BY duration_ms LIMIT 1 OFFSET ?"
    )
    async with store.db.execute(sql, (function, since, offset)) as cur:
        row = await cur.fetchone()
    return float(row[0]) if row else None


async def hourly(store: Database, function: str, since: float) -> list[HourStats]:
    """Per UTC hour since ``since``: calls that ran, failures, mean and max run time (hours with calls only)."""
    failed = ",".join(f"'{s}'" for s in _FAILED)
    sql = (
        "SELECT CAST(started_at / 3600 AS INTEGER), count(*), sum(status IN (" + failed + ")), "
        "avg(duration_ms), max(duration_ms) FROM invocations "
        "WHERE function = ? AND started_at >= ? AND status != 'throttled' GROUP BY 1 ORDER BY 1"
    )
    async with store.db.execute(sql, (function, since)) as cur:
        rows = await cur.fetchall()
    return [HourStats(hour=r[0], calls=r[1], errors=r[2], avg_ms=r[3], max_ms=r[4]) for r in rows]


async def search_invocations(
    store: Database,
    *,
    function: str | None = None,
    status: str | None = None,
    trigger: str | None = None,
    caller: str | None = None,
    request_id: str | None = None,
    since: float | None = None,
    before: float | None = None,
    limit: int = 50,
) -> list[Invocation]:
    """Newest first. ``before`` (a started_at) pages backwards; ``request_id`` may be a prefix."""
    where, args = invocation_filters(function=function, since=since)
    clauses = [where[len(" WHERE ") :]] if where else []
    for column, value in (("status", status), ("trigger", trigger), ("caller", caller)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if request_id:
        clauses.append("request_id >= ? AND request_id < ?")
        args += [request_id, request_id + "\uffff"]
    if before is not None:
        clauses.append("started_at < ?")
        args.append(before)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql = f"SELECT {INVOCATION_COLUMNS} FROM invocations{where} ORDER BY started_at DESC LIMIT ?"
    async with store.db.execute(sql, (*args, limit)) as cur:
        rows: Sequence[Any] = list(await cur.fetchall())
    return [invocation_from_row(r) for r in rows]
