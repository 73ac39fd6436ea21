"""faas.store.invocations: metering rows and logs, written in batches and read back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faas.exceptions import StoreError
from faas.records import Invocation, LogEntry
from faas.store import SQLiteStore
from faas.store.invocations import invocation_filters


def _row(rid: str, *, function: str = "f", started: float = 1_000.0, status: str = "success",
         init_ms: float | None = None) -> Invocation:
    return Invocation(
        request_id=rid, function=function, version=3, trigger="invoke", caller="key1", started_at=started,
        duration_ms=12.5, billed_ms=13, memory_mb=256, max_memory_mb=40, init_ms=init_ms, cold=init_ms is not None,
        status=status, error_type="Runtime.ExitError" if status == "crashed" else None,
    )


def _log(row: Invocation, text: str) -> LogEntry:
    return LogEntry(request_id=row.request_id, function=row.function, started_at=row.started_at, text=text)


def test_rows_round_trip_and_duplicates_are_ignored(tmp_path: Path) -> None:
    a = _row("a", started=1_000.0, init_ms=80.25)
    b = _row("b", function="g", started=2_000.0, status="crashed")
    c = _row("c", started=3_000.0)

    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            await store.write_invocations([a, b, c], [])
            await store.write_invocations([a], [])  # metered twice: one row
            assert await store.invocation("a") == a
            assert await store.invocation("b") == b
            assert await store.invocation("nope") is None
            assert await store.invocations() == [c, b, a]  # newest first
            assert await store.invocations(function="f") == [c, a]
            assert await store.invocations(since=2_000.0) == [c, b]
            assert await store.invocations(function="f", since=2_000.0, limit=5) == [c]
            assert await store.invocations(limit=1) == [c]

    asyncio.run(scenario())


def test_logs_render_the_lambda_way_in_metering_order(tmp_path: Path) -> None:
    a = _row("a", started=5.0, init_ms=1.5)
    t = _row("t", started=6.0, status="throttled")
    b = _row("b", function="g", started=4.0)

    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            await store.write_invocations([a, t], [_log(a, "hello\n")])
            await store.write_invocations([b], [])  # a call that printed nothing still has a log
            logs = await store.logs()
            assert [(cursor, e.request_id) for cursor, e in logs] == [(1, "a"), (3, "b")]  # no log for a throttle
            text = logs[0][1].text
            assert text.startswith("START RequestId: a Version: $LATEST\nhello\nEND RequestId: a\nREPORT RequestId: a")
            assert "Init Duration: 1.50 ms" in text
            assert logs[1][1].text.startswith("START RequestId: b Version: $LATEST\nEND RequestId: b\n")
            assert [e.request_id for _, e in await store.logs(after_id=1)] == ["b"]
            assert [e.request_id for _, e in await store.logs(function="f")] == ["a"]
            assert [e.request_id for _, e in await store.logs(request_id="b")] == ["b"]
            assert [e.request_id for _, e in await store.logs(since=4.5)] == ["a"]
            assert len(await store.logs(limit=1)) == 1

    asyncio.run(scenario())


def test_a_log_stored_whole_before_metering_2_is_shown_as_stored(tmp_path: Path) -> None:
    a = _row("a")
    whole = "START RequestId: a Version: $LATEST\nold\nEND RequestId: a\nREPORT RequestId: a\n"

    async def scenario() -> str:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            await store.write_invocations([a], [_log(a, whole)])
            return (await store.logs(request_id="a"))[0][1].text

    assert asyncio.run(scenario()) == whole


def test_a_batch_is_all_or_nothing(tmp_path: Path) -> None:
    a = _row("a")
    broken = LogEntry(request_id="a", function="f", started_at=1.0, text=None)  # type: ignore[arg-type]

    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            with pytest.raises(StoreError, match="metering write failed"):
                await store.write_invocations([a], [broken])  # logs.text is NOT NULL
            assert await store.invocations() == []
            await store.write_invocations([a], [])
            assert await store.invocations() == [a]

    asyncio.run(scenario())


def test_invocation_filters() -> None:
    assert invocation_filters(function=None, since=None) == ("", [])
    assert invocation_filters(function="f", since=2.0) == (" WHERE function = ? AND started_at >= ?", ["f", 2.0])
