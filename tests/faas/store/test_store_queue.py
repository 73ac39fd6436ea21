"""faas.store.queue: the async queue and dead letters, on the event sources' own connection."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from faas.events import DeadLetterReason, EventState, QueuedEvent
from faas.exceptions import StoreError
from faas.store.queue import QueueStore, insert_events


def _event(event_id: str, *, function: str = "f", next_at: float = 100.0) -> QueuedEvent:
    return QueuedEvent(id=event_id, function=function, trigger="async", caller="k1", payload=b'{"n": 1}\x00',
                       enqueued_at=50.0, next_at=next_at)


def _all(events: list[QueuedEvent]) -> list[QueuedEvent]:
    return events


def test_enqueue_and_read_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with QueueStore(tmp_path / "faas.db") as queue:
            assert await queue.next_due() is None
            await queue.enqueue([_event("b", next_at=200.0), _event("a"), _event("c", function="g", next_at=150.0)])
        async with QueueStore(tmp_path / "faas.db") as queue:  # durable: it outlives the connection
            assert [e.id for e in await queue.queued()] == ["a", "c", "b"]
            assert await queue.queued("g") == [_event("c", function="g", next_at=150.0)]
            assert await queue.next_due() == 100.0

    asyncio.run(scenario())


def test_an_enqueue_is_all_or_none(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with QueueStore(tmp_path / "faas.db") as queue:
            with pytest.raises(StoreError, match="enqueue failed"):
                await queue.enqueue([_event("a"), _event("a")])
            assert await queue.queued() == []

    asyncio.run(scenario())


def test_claim_retry_and_succeed(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with QueueStore(tmp_path / "faas.db") as queue:
            await queue.enqueue([_event("a"), _event("b", function="h", next_at=300.0), _event("c", function="busy")])
            seen: list[list[str]] = []

            def choose(due: list[QueuedEvent]) -> list[QueuedEvent]:
                seen.append([e.id for e in due])
                return due

            claimed = await queue.claim(200.0, choose, skip=frozenset({"busy"}))
            assert seen == [["a"]]  # b is not due, c's function is at its concurrency
            [a] = claimed
            assert (a.state, a.starts, a.request_ids) == (EventState.RUNNING, 1, ("a",))
            assert await queue.queued("f") == [a]
            assert await queue.claim(200.0, choose, skip=frozenset({"busy"})) == []  # a is running

            await queue.retry_later(a, 250.0, error_type="Boom", error_message="it broke", counts=True, duration_ms=5.0)
            [again] = await queue.queued("f")
            assert (again.state, again.next_at, again.attempts) == (EventState.QUEUED, 250.0, 1)
            assert (again.last_error_type, again.last_error_message) == ("Boom", "it broke")
            await queue.retry_later(again, 260.0, error_type=None, error_message=None, counts=False)  # a throttle
            [throttled] = await queue.queued("f")
            assert (throttled.attempts, throttled.last_error_type) == (1, "Boom")

            [second] = await queue.claim(270.0, _all, skip=frozenset({"busy"}), limit=1)
            assert second.id == "a" and second.starts == 2
            assert second.request_ids[0] == "a" and second.request_ids[1] != "a"  # a new request id per try
            await queue.succeeded(second, duration_ms=3.0)
            assert [e.id for e in await queue.queued()] == ["c", "b"]

    asyncio.run(scenario())


def test_recover_makes_interrupted_tries_due_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with QueueStore(tmp_path / "faas.db") as queue:
            await queue.enqueue([_event("a"), _event("b")])
            await queue.claim(100.0, lambda due: due[:1])
        async with QueueStore(tmp_path / "faas.db") as queue:  # "after a crash"
            assert await queue.recover() == 1
            assert {e.state for e in await queue.queued()} == {EventState.QUEUED}
            assert await queue.recover() == 0

    asyncio.run(scenario())


def test_dead_letters_and_replay(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with QueueStore(tmp_path / "faas.db") as queue:
            await queue.enqueue([_event("a"), _event("b"), _event("c", function="g")])
            claimed = await queue.claim(100.0, _all)
            ids = [
                await queue.dead_letter(ev, DeadLetterReason.RETRIES_EXHAUSTED, error_type="Boom",
                                        error_message=f"no {ev.id}", attempts=3)
                for ev in claimed
            ]
            assert await queue.queued() == []
            letters = await queue.dead_letters()
            assert [(d.id, d.event_id, d.reason, d.attempts, d.request_ids) for d in letters] == [
                (ids[0], "a", "RetriesExhausted", 3, ("a",)),
                (ids[1], "b", "RetriesExhausted", 3, ("b",)),
                (ids[2], "c", "RetriesExhausted", 3, ("c",)),
            ]
            assert letters[0].payload == b'{"n": 1}\x00' and letters[0].error_message == "no a"
            assert [d.event_id for d in await queue.dead_letters("g")] == ["c"]
            assert len(await queue.dead_letters(limit=2)) == 2
            assert await queue.dead_letter_counts() == {"f": 2, "g": 1}

            before = time.time()
            replayed = await queue.replay([ids[1]])
            assert [d.event_id for d in replayed] == ["b"]
            [b] = await queue.queued()
            assert (b.id, b.starts, b.request_ids, b.attempts) == ("b", 1, ("b",), 0)
            assert b.enqueued_at >= before and b.next_at == b.enqueued_at
            assert [d.event_id for d in await queue.replay(None, function="g")] == ["c"]
            assert [d.event_id for d in await queue.replay(None)] == ["a"]
            assert await queue.dead_letters() == [] and await queue.dead_letter_counts() == {}
            assert sorted(e.id for e in await queue.queued()) == ["a", "b", "c"]

    asyncio.run(scenario())


def test_insert_events_joins_the_callers_transaction(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with QueueStore(tmp_path / "faas.db") as queue:
            await queue.enqueue([_event("a")])
            async with queue.transaction("inserting") as db:
                await insert_events(db, [_event("a", next_at=1.0), _event("b")], or_ignore=True)
                await insert_events(db, [])
            assert [(e.id, e.next_at) for e in await queue.queued()] == [("a", 100.0), ("b", 100.0)]
            with pytest.raises(StoreError, match="inserting again failed"):
                async with queue.transaction("inserting again") as db:
                    await insert_events(db, [_event("c")])
                    await insert_events(db, [_event("a")])
            assert [e.id for e in await queue.queued()] == ["a", "b"]  # c rolled back with it

    asyncio.run(scenario())
