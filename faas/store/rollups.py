"""Usage rollups for bills: one row per (UTC day, function, caller, memory size), kept by SQLite itself.

A trigger on ``invocations`` adds every inserted row to its rollup inside the same transaction, so
the rollups can never disagree with the rows: a batch that rolls back takes its rollup with it, and
a row ignored as a duplicate (``INSERT OR IGNORE``) is not counted. A month's bill then reads a few
hundred rollup rows instead of scanning millions of calls. Rollups outlive the rows: pruning old
invocations does not change a past month's bill.

Days, not months, because the day number is integer arithmetic (``started_at / 86400``) where a
month needs ``strftime`` for every row: this trigger runs once per metered call. The table and the
trigger are migration "usage_1" in ``faas.store.schema``.
"""

from __future__ import annotations

import calendar

from faas.billing import Usage
from faas.store._db import Database

__all__ = ["month_days", "months", "usage"]


def month_days(month: str) -> tuple[int, int]:
    """The UTC day numbers (days since the epoch) of ``month`` ("YYYY-MM"): first, and one past the last."""
    year, mon = int(month[:4]), int(month[5:7])
    first = calendar.timegm((year, mon, 1, 0, 0, 0)) // 86400
    return first, first + calendar.monthrange(year, mon)[1]


async def usage(store: Database, month: str) -> list[Usage]:
    """Billable usage of ``month`` ("YYYY-MM", UTC): requests and billed ms per function, caller and memory."""
    sql = (
        "SELECT function, caller, memory_mb, sum(requests), sum(billed_ms) FROM usage_daily "
        "WHERE day >= ? AND day < ? GROUP BY function, caller, memory_mb HAVING sum(requests) > 0"
    )
    async with store.db.execute(sql, month_days(month)) as cur:
        rows = await cur.fetchall()
    return [
        Usage(function=r[0], caller=r[1] or None, memory_mb=r[2], requests=r[3], billed_ms=r[4]) for r in rows
    ]


async def months(store: Database) -> list[str]:
    """Months that have metered calls, newest first."""
    sql = "SELECT DISTINCT strftime('%Y-%m', day * 86400, 'unixepoch') FROM usage_daily ORDER BY 1 DESC"
    async with store.db.execute(sql) as cur:
        return [r[0] for r in await cur.fetchall()]
