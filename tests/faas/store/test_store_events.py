"""faas.store.events: ``EventStore``, one connection over the queue, schedule and bucket tables, beside
the main store's. A schedule's fire is tried through the queue and its run follows the tries."""

from __future__ import annotations

import asyncio
from pathlib import Path

from faas.events import DeadLetterReason, QueuedEvent, RunStatus
from faas.records import Invocation
from faas.store import EventStore, SQLiteStore


def _scheduled(run_id: int) -> QueuedEvent:
    return QueuedEvent(id=f"fire-{run_id}", function="f", trigger="schedule", caller=None, payload=b"{}",
                       enqueued_at=10.0, next_at=10.0, run_id=run_id)


def test_a_scheduled_run_follows_its_event_through_the_queue(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with EventStore(tmp_path / "faas.db") as events:
            ok = await events.fire("s", 10.0, max_concurrency=5, manual=False, make_event=_scheduled)
            bad = await events.fire("s", 20.0, max_concurrency=5, manual=True, make_event=_scheduled)
            claimed = {ev.id: ev for ev in await events.claim(30.0, lambda due: due)}
            assert {r.id: r.status for r in await events.runs("s")} == {ok.id: RunStatus.RUNNING, bad.id: RunStatus.RUNNING}
            await events.succeeded(claimed[f"fire-{ok.id}"], duration_ms=4.0)
            await events.retry_later(claimed[f"fire-{bad.id}"], 40.0, error_type="Boom", error_message="no",
                                     counts=True, duration_ms=2.0)
            runs = {r.id: r for r in await events.runs("s")}
            assert (runs[ok.id].status, runs[ok.id].request_id, runs[ok.id].duration_ms) == (
                RunStatus.SUCCESS, f"fire-{ok.id}", 4.0
            )
            assert runs[ok.id].started_at == 30.0 and runs[ok.id].finished_at is not None
            assert (runs[bad.id].status, runs[bad.id].error) == (RunStatus.RETRYING, "Boom: no")
            [retry] = await events.claim(50.0, lambda due: due)
            await events.dead_letter(retry, DeadLetterReason.RETRIES_EXHAUSTED, error_type="Boom", error_message="no",
                                     attempts=2)
            failed = (await events.last_runs())["s"]
            assert (failed.id, failed.status, failed.error) == (bad.id, RunStatus.FAILED, "RetriesExhausted: Boom: no")

    asyncio.run(scenario())


def test_an_interrupted_scheduled_run_is_queued_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with EventStore(tmp_path / "faas.db") as events:
            run = await events.fire("s", 10.0, max_concurrency=1, manual=False, make_event=_scheduled)
            await events.claim(30.0, lambda due: due)
        async with EventStore(tmp_path / "faas.db") as events:
            assert await events.recover() == 1
            assert [r.status for r in await events.runs("s")] == [RunStatus.QUEUED]
            [again] = await events.claim(30.0, lambda due: due)
            assert again.run_id == run.id and again.starts == 2

    asyncio.run(scenario())


def test_the_event_store_and_the_main_store_write_side_by_side(tmp_path: Path) -> None:
    path = tmp_path / "faas.db"
    row = Invocation(request_id="r", function="f", version=1, trigger="async", caller=None, started_at=1.0,
                     duration_ms=1.0, billed_ms=1, memory_mb=128, max_memory_mb=10, init_ms=None, cold=False,
                     status="success", error_type=None)

    async def scenario() -> None:
        async with SQLiteStore(path) as store, EventStore(path) as events:
            await asyncio.gather(
                store.write_invocations([row], []),
                events.enqueue([_scheduled(1)]),
                events.set_paused("s", "rate(1 minute)", True),
            )
            assert await store.invocations() == [row]
            assert [e.id for e in await events.queued()] == ["fire-1"]
            assert await events.paused_schedules() == {"s"}

    asyncio.run(scenario())
