"""faas.store.usage: quota counters per API key and period."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faas.exceptions import StoreError
from faas.store import SQLiteStore, UsageStore


def test_counts_round_trip_and_never_go_down(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            usage = UsageStore(store)
            assert await usage.usage("k1", "day:2026-11-22") == 0
            await usage.save_usage([("k1", "day:2026-11-22", 5), ("k1", "day:2026-11-23", 1), ("k2", "month:2026-11", 9)])
            await usage.save_usage(iter([("k1", "day:2026-11-22", 7)]))  # any iterable
            await usage.save_usage([("k1", "day:2026-11-22", 3)])  # a late, lower save
        async with SQLiteStore(tmp_path / "faas.db") as store:
            usage = UsageStore(store)
            assert await usage.usage("k1", "day:2026-11-22") == 7
            assert await usage.usage("k1", "day:2026-11-23") == 1
            assert await usage.usage("k2", "month:2026-11") == 9
            assert await usage.usage("k2", "month:2026-12") == 0

    asyncio.run(scenario())


def test_a_failed_save_writes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            usage = UsageStore(store)
            with pytest.raises(StoreError, match="saving key usage failed"):
                await usage.save_usage([("k1", "day:2026-11-22", 5), ("k1", "day:2026-11-23", None)])  # type: ignore[list-item]
            assert await usage.usage("k1", "day:2026-11-22") == 0

    asyncio.run(scenario())
