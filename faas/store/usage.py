"""The ``key_usage`` table: each API key's request count per quota period ("day:2026-11-22", ...).

``faas.usage.UsageLimiter`` counts in memory and saves here every few milliseconds; a count only ever
grows, so a late or repeated save never lowers it.
"""

from __future__ import annotations

from collections.abc import Iterable

from faas.store._db import Database

__all__ = ["UsageStore"]


class UsageStore:
    def __init__(self, store: Database) -> None:
        self.store = store

    async def usage(self, key_id: str, period: str) -> int:
        async with self.store.db.execute(
            "SELECT count FROM key_usage WHERE key_id = ? AND period = ?", (key_id, period)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def save_usage(self, counts: Iterable[tuple[str, str, int]]) -> None:
        async with self.store.transaction("saving key usage") as db:
            await db.executemany(
                "INSERT INTO key_usage (key_id, period, count) VALUES (?,?,?) "
                "ON CONFLICT (key_id, period) DO UPDATE SET count = MAX(count, excluded.count)",
                list(counts),
            )
