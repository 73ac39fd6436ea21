"""faas.store.schedules: schedule state (pause, anchor, last fire) and one row per fire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from faas.events import QueuedEvent, RunStatus, ScheduleState
from faas.store.schedules import ScheduleStore


def _maker(name: str) -> tuple[list[int], Callable[[int], QueuedEvent]]:
    made: list[int] = []

    def make_event(run_id: int) -> QueuedEvent:
        made.append(run_id)
        return QueuedEvent(id=f"{name}-run-{run_id}", function="f", trigger="schedule", caller=None,
                           payload=b"{}", enqueued_at=1.0, next_at=1.0, run_id=run_id)

    return made, make_event


def test_state_is_created_on_first_sight_and_restarts_with_a_new_expression(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with ScheduleStore(tmp_path / "faas.db") as schedules:
            first = await schedules.schedule_state("nightly", "rate(1 hour)", 1_000.75)
            assert first == ScheduleState(name="nightly", paused=False, expression="rate(1 hour)", anchor=1_000.0,
                                          last_fire_at=None)
            assert await schedules.schedule_state("nightly", "rate(1 hour)", 5_000.0) == first
            await schedules.fire("nightly", 4_600.0, max_concurrency=1, manual=False, make_event=_maker("n")[1])
            fired = await schedules.schedule_state("nightly", "rate(1 hour)", 5_000.0)
            assert fired.last_fire_at == 4_600.0 and fired.anchor == 1_000.0
            changed = await schedules.schedule_state("nightly", "rate(2 hours)", 6_000.5)
            assert (changed.expression, changed.anchor, changed.last_fire_at) == ("rate(2 hours)", 6_000.0, None)
        async with ScheduleStore(tmp_path / "faas.db") as schedules:
            assert await schedules.schedule_state("nightly", "rate(2 hours)", 9_999.0) == changed

    asyncio.run(scenario())


def test_pause_and_resume(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with ScheduleStore(tmp_path / "faas.db") as schedules:
            assert await schedules.paused_schedules() == set()
            await schedules.set_paused("a", "rate(1 minute)", True)  # before it was ever seen
            await schedules.schedule_state("b", "rate(1 minute)", 10.0)
            await schedules.set_paused("b", "rate(1 minute)", True)
            assert await schedules.paused_schedules() == {"a", "b"}
            await schedules.set_paused("a", "rate(1 minute)", False)
            assert await schedules.paused_schedules() == {"b"}
            assert (await schedules.schedule_state("b", "rate(1 minute)", 20.0)).paused is True

    asyncio.run(scenario())


def test_fires_queue_an_event_or_are_skipped_at_max_concurrency(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with ScheduleStore(tmp_path / "faas.db") as schedules:
            await schedules.schedule_state("s", "rate(1 minute)", 0.0)
            made, make_event = _maker("s")
            run = await schedules.fire("s", 60.0, max_concurrency=1, manual=False, make_event=make_event)
            assert (run.status, run.event_id, run.manual, made) == (RunStatus.QUEUED, f"s-run-{run.id}", False, [run.id])
            queued = await schedules.read("SELECT id, run_id FROM async_queue")
            assert [tuple(r) for r in queued] == [(run.event_id, run.id)]
            skipped = await schedules.fire("s", 120.0, max_concurrency=1, manual=True, make_event=make_event)
            assert skipped.status is RunStatus.SKIPPED and skipped.event_id is None and made == [run.id]
            assert skipped.error == "1 run(s) still busy (max_concurrency = 1)"
            assert (await schedules.schedule_state("s", "rate(1 minute)", 0.0)).last_fire_at == 60.0  # manual: no
            assert await schedules.runs("s") == [skipped, run]  # newest first
            assert await schedules.last_runs() == {"s": skipped}

    asyncio.run(scenario())


def test_a_fire_whose_event_cannot_be_built_leaves_no_trace(tmp_path: Path) -> None:
    def broken(run_id: int) -> QueuedEvent:
        raise ValueError("no event")

    async def scenario() -> None:
        async with ScheduleStore(tmp_path / "faas.db") as schedules:
            await schedules.schedule_state("s", "rate(1 minute)", 0.0)
            with pytest.raises(ValueError):
                await schedules.fire("s", 60.0, max_concurrency=1, manual=False, make_event=broken)
            assert await schedules.runs() == []
            assert (await schedules.schedule_state("s", "rate(1 minute)", 0.0)).last_fire_at is None

    asyncio.run(scenario())


def test_missed_fires_and_run_listings(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with ScheduleStore(tmp_path / "faas.db") as schedules:
            await schedules.schedule_state("a", "rate(1 minute)", 0.0)
            await schedules.missed("a", 120.0, "server was down")
            await schedules.missed("a", 60.0, "server was down")  # an older one does not move last_fire_at back
            await schedules.missed("b", 60.0, "server was down")
            assert (await schedules.schedule_state("a", "rate(1 minute)", 0.0)).last_fire_at == 120.0
            runs = await schedules.runs()
            assert [(r.schedule, r.scheduled_at, r.status, r.error) for r in runs] == [
                ("b", 60.0, RunStatus.MISSED, "server was down"),
                ("a", 60.0, RunStatus.MISSED, "server was down"),
                ("a", 120.0, RunStatus.MISSED, "server was down"),
            ]
            assert await schedules.runs("a", limit=1) == [runs[1]]
            assert await schedules.last_runs() == {"a": runs[1], "b": runs[0]}

    asyncio.run(scenario())
