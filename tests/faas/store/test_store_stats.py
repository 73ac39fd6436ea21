"""faas.store.stats: the admin pages' figures, hourly series and invocation search."""

from __future__ import annotations

import asyncio
from pathlib import Path

from faas.records import Invocation
from faas.store import SQLiteStore
from faas.store.stats import FunctionStats, HourStats, function_stats, hourly, search_invocations

HOUR = 3600.0
T0 = 1_000 * HOUR  # the start of a UTC hour


def _row(rid: str, *, function: str = "f", started: float = T0, duration: float = 10.0, status: str = "success",
         cold: bool = False, trigger: str = "invoke", caller: str | None = None) -> Invocation:
    return Invocation(
        request_id=rid, function=function, version=1, trigger=trigger, caller=caller, started_at=started,
        duration_ms=duration, billed_ms=int(duration), memory_mb=128, max_memory_mb=20, init_ms=None, cold=cold,
        status=status, error_type=None,
    )


ROWS = [
    _row("f1", duration=10.0, cold=True),
    _row("f2", started=T0 + 60, duration=20.0),
    _row("f3", started=T0 + HOUR, duration=30.0, status="timeout", trigger="http"),
    _row("f4", started=T0 + HOUR + 1, duration=40.0, caller="k1"),
    _row("f5", started=T0 + 2 * HOUR, duration=50.0, status="oom"),
    _row("f6", started=T0 + 2 * HOUR + 1, duration=0.0, status="throttled"),
    _row("g1", function="g", started=T0 - HOUR, duration=7.0),
]


def test_function_stats_and_hourly(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            await store.write_invocations(ROWS, [])
            stats = await function_stats(store, T0)
            assert stats == {
                "f": FunctionStats(function="f", calls=5, errors=2, throttles=1, cold_starts=1, p50_ms=30.0, p99_ms=50.0)
            }
            everything = await function_stats(store, 0.0)
            assert everything["g"] == FunctionStats(
                function="g", calls=1, errors=0, throttles=0, cold_starts=0, p50_ms=7.0, p99_ms=7.0
            )
            only_throttled = await function_stats(store, T0 + 2 * HOUR + 1)
            assert only_throttled == {
                "f": FunctionStats(function="f", calls=0, errors=0, throttles=1, cold_starts=0, p50_ms=None, p99_ms=None)
            }
            assert await hourly(store, "f", T0) == [
                HourStats(hour=1000, calls=2, errors=0, avg_ms=15.0, max_ms=20.0),
                HourStats(hour=1001, calls=2, errors=1, avg_ms=35.0, max_ms=40.0),
                HourStats(hour=1002, calls=1, errors=1, avg_ms=50.0, max_ms=50.0),
            ]
            assert [h.hour for h in await hourly(store, "f", T0 + HOUR)] == [1001, 1002]
            assert await hourly(store, "nope", 0.0) == []

    asyncio.run(scenario())


def test_search_invocations(tmp_path: Path) -> None:
    async def ids(store: SQLiteStore, **filters: object) -> list[str]:
        return [r.request_id for r in await search_invocations(store, **filters)]  # type: ignore[arg-type]

    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            await store.write_invocations(ROWS, [])
            assert await ids(store) == ["f6", "f5", "f4", "f3", "f2", "f1", "g1"]  # newest first
            assert (await search_invocations(store, request_id="f1")) == [ROWS[0]]
            assert await ids(store, function="g") == ["g1"]
            assert await ids(store, status="timeout") == ["f3"]
            assert await ids(store, trigger="http") == ["f3"]
            assert await ids(store, caller="k1") == ["f4"]
            assert await ids(store, request_id="g") == ["g1"]  # a prefix
            assert await ids(store, since=T0 + HOUR, before=T0 + 2 * HOUR) == ["f4", "f3"]
            assert await ids(store, function="f", since=T0, limit=2) == ["f6", "f5"]
            assert await ids(store, function="f", status="success", before=T0 + HOUR) == ["f2", "f1"]

    asyncio.run(scenario())
