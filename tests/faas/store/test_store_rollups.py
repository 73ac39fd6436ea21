"""faas.store.rollups: daily usage rollups kept by a trigger, read for bills."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faas.billing import Usage
from faas.exceptions import StoreError
from faas.records import Invocation, LogEntry
from faas.store import SQLiteStore
from faas.store.rollups import month_days, months, usage

MAY = 1_777_593_600.0  # 2026-05-01T00:00:00Z
APRIL_LAST = MAY - 1


def _row(rid: str, *, started: float = MAY, function: str = "f", caller: str | None = None, memory: int = 128,
         billed: int = 100, status: str = "success") -> Invocation:
    return Invocation(
        request_id=rid, function=function, version=1, trigger="invoke", caller=caller, started_at=started,
        duration_ms=billed - 0.5, billed_ms=billed, memory_mb=memory, max_memory_mb=20, init_ms=None, cold=False,
        status=status, error_type=None,
    )


def test_month_days() -> None:
    assert month_days("2026-05") == (20574, 20574 + 31)
    assert month_days("2026-12")[1] == month_days("2027-01")[0]


def test_rollups_follow_the_rows(tmp_path: Path) -> None:
    rows = [
        _row("a"), _row("b", started=MAY + 86_399, billed=50), _row("c", caller="k1"), _row("d", memory=1024),
        _row("t", status="throttled", billed=0), _row("e", started=APRIL_LAST, function="g"),
        _row("z", function="only-throttled", status="throttled", billed=0),
    ]

    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            assert await months(store) == []
            await store.write_invocations(rows, [])
            await store.write_invocations(rows[:1], [])  # a duplicate is ignored, and not counted
            may = await usage(store, "2026-05")
            assert sorted(may, key=lambda u: (u.function, u.caller or "", u.memory_mb)) == [
                Usage(function="f", caller=None, memory_mb=128, requests=2, billed_ms=150),
                Usage(function="f", caller=None, memory_mb=1024, requests=1, billed_ms=100),
                Usage(function="f", caller="k1", memory_mb=128, requests=1, billed_ms=100),
            ]
            assert await usage(store, "2026-04") == [
                Usage(function="g", caller=None, memory_mb=128, requests=1, billed_ms=100)
            ]
            assert await usage(store, "2026-06") == []
            assert await months(store) == ["2026-05", "2026-04"]

    asyncio.run(scenario())


def test_a_batch_that_rolls_back_takes_its_rollup_with_it(tmp_path: Path) -> None:
    broken = LogEntry(request_id="a", function="f", started_at=MAY, text=None)  # type: ignore[arg-type]

    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            with pytest.raises(StoreError):
                await store.write_invocations([_row("a")], [broken])
            assert await usage(store, "2026-05") == []
            assert await months(store) == []

    asyncio.run(scenario())
