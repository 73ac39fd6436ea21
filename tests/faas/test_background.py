"""faas/background.py: WakeLoop and TaskSet, run on a real event loop (asyncio.run per test)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from faas.background import TaskSet, WakeLoop


class Flaky(Exception):
    pass


def test_wake_loop_runs_the_step_when_woken_and_batches_within_the_window() -> None:
    async def main() -> list[list[int]]:
        pending: list[int] = []
        batches: list[list[int]] = []

        async def step() -> None:
            if pending:
                batches.append(pending[:])
                pending.clear()

        loop = WakeLoop(step, name="test", window=0.05)
        async with loop:
            for i in range(5):
                pending.append(i)
                loop.wake()
            await _until(lambda: batches)
            pending.append(5)
            loop.wake()
            await _until(lambda: len(batches) == 2)
        return batches

    assert asyncio.run(main()) == [[0, 1, 2, 3, 4], [5]]


def test_wake_loop_does_not_run_unwoken_without_an_interval() -> None:
    async def main() -> int:
        runs = 0

        async def step() -> None:
            nonlocal runs
            runs += 1

        async with WakeLoop(step, name="test"):
            await asyncio.sleep(0.1)
        return runs

    assert asyncio.run(main()) == 0


def test_wake_loop_runs_every_interval_without_a_wake() -> None:
    async def main() -> tuple[int, int]:
        by_interval = 0
        by_return = 0

        async def every() -> None:
            nonlocal by_interval
            by_interval += 1

        async def soon() -> float:
            nonlocal by_return
            by_return += 1
            return 0.01

        async with WakeLoop(every, name="interval", interval=lambda: 0.02), WakeLoop(soon, name="soon", interval=60):
            await _until(lambda: by_interval >= 3)
            soon_started = by_return
        return soon_started, by_interval

    soon_runs, _ = asyncio.run(main())
    assert soon_runs == 0  # the first wait is the interval (60 s); nothing woke it


def test_wake_loop_step_returning_a_delay_runs_again_without_a_wake() -> None:
    async def main() -> int:
        runs = 0

        async def step() -> float:
            nonlocal runs
            runs += 1
            return 0.01

        loop = WakeLoop(step, name="test")
        loop.wake()  # the first run, as the async queue does at start
        async with loop:
            await _until(lambda: runs >= 3)
        return runs

    assert asyncio.run(main()) >= 3


def test_wake_loop_retries_after_an_error_after_the_delay(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[float]:
        tries: list[float] = []

        async def step() -> None:
            tries.append(time.monotonic())
            if len(tries) < 3:
                raise Flaky(f"try {len(tries)}")

        loop = WakeLoop(step, name="flaky", errors=(Flaky,), retry=0.05)
        async with loop:
            loop.wake()
            await _until(lambda: len(tries) == 3)
        return tries

    with caplog.at_level(logging.ERROR, logger="faas.background"):
        tries = asyncio.run(main())
    assert len(tries) == 3
    assert all(b - a >= 0.045 for a, b in zip(tries, tries[1:]))
    assert "flaky: try 1; trying again in 0.05 s" in caplog.text


def test_wake_loop_other_errors_end_the_loop_and_surface_at_stop() -> None:
    async def main() -> None:
        ran = asyncio.Event()

        async def step() -> None:
            ran.set()
            raise ValueError("bug")

        loop = WakeLoop(step, name="test", errors=(Flaky,))
        loop.start()
        loop.wake()
        await ran.wait()
        await loop.stop()

    with pytest.raises(ValueError, match="bug"):
        asyncio.run(main())


def test_wake_loop_stop_runs_the_final_step_after_the_one_in_progress() -> None:
    async def main() -> list[str]:
        events: list[str] = []
        entered = asyncio.Event()

        async def step() -> None:
            events.append("start")
            entered.set()
            await asyncio.sleep(0.05)
            events.append("end")

        loop = WakeLoop(step, name="test", final=True)
        loop.start()
        loop.wake()
        await entered.wait()
        await loop.stop()
        assert loop.closing
        return events

    # The step in progress is not cancelled; the final step runs after it.
    assert asyncio.run(main()) == ["start", "end", "start", "end"]


def test_wake_loop_stop_does_not_wait_out_a_retry_delay() -> None:
    async def main() -> float:
        async def step() -> None:
            raise Flaky("down")

        failed = asyncio.Event()
        loop = WakeLoop(step, name="test", errors=(Flaky,), retry=30.0, on_error=lambda exc: failed.set())
        loop.start()
        loop.wake()
        await failed.wait()
        started = time.monotonic()
        await loop.stop()
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0


def test_outer_cancellation_propagates_through_wake_loop_stop() -> None:
    async def main() -> None:
        entered = asyncio.Event()

        async def step() -> None:
            entered.set()
            await asyncio.sleep(3600)

        loop = WakeLoop(step, name="test")
        loop.start()
        loop.wake()
        await entered.wait()
        owner = asyncio.create_task(loop.stop())
        await _until(lambda: loop.closing)  # the owner is waiting for the step in progress
        owner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await owner
        assert owner.cancelled()

    asyncio.run(main())


def test_task_set_cancel_swallows_only_the_cancellation_it_asked_for() -> None:
    async def main() -> bool:
        tasks = TaskSet("test")
        started = asyncio.Event()

        async def forever() -> None:
            started.set()
            await asyncio.sleep(3600)

        task = tasks.spawn(forever())
        await started.wait()
        await tasks.cancel()  # does not raise: that CancelledError was ours
        return task.cancelled() and len(tasks) == 0

    assert asyncio.run(main())


def test_outer_cancellation_propagates_through_task_set_cancel() -> None:
    """The caller is cancelled while it waits for a task it cancelled: the caller's cancellation
    must reach it, not be mistaken for the task's and swallowed."""

    async def main() -> list[str]:
        tasks = TaskSet("test")
        events: list[str] = []
        started, cleaning_up = asyncio.Event(), asyncio.Event()

        async def slow_to_stop() -> None:
            started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cleaning_up.set()
                await asyncio.sleep(0.05)  # cleanup, during which the owner is cancelled
                events.append("task ended")
                raise

        async def owner() -> None:
            await tasks.cancel()
            events.append("owner carried on")  # the bug: cancellation swallowed

        tasks.spawn(slow_to_stop())
        await started.wait()
        stopping = asyncio.create_task(owner())
        await cleaning_up.wait()  # the owner cancelled the task and waits for it to end
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopping
        assert stopping.cancelled()
        return events

    # The cancelled task still ended before the owner's cancellation went on.
    assert asyncio.run(main()) == ["task ended"]


def test_task_set_join_waits_with_a_grace_period(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> tuple[int, int, int]:
        done = 0

        def on_done() -> None:
            nonlocal done
            done += 1

        tasks = TaskSet("test job", on_done=on_done)

        async def quick() -> None:
            await asyncio.sleep(0.01)
            # one added while join waits is waited for too
            tasks.spawn(asyncio.sleep(0.01))

        async def broken() -> None:
            raise RuntimeError("boom")

        tasks.spawn(quick())
        tasks.spawn(broken())
        assert await tasks.join() == 0
        tasks.spawn(asyncio.sleep(3600))
        left = await tasks.join(0.05)
        await tasks.cancel()
        return left, len(tasks), done

    with caplog.at_level(logging.ERROR, logger="faas.background"):
        left, remaining, done = asyncio.run(main())
    assert (left, remaining, done) == (1, 0, 4)
    assert "test job failed" in caplog.text and "boom" in caplog.text


def test_task_set_tracks_a_task_created_elsewhere() -> None:
    async def main() -> int:
        tasks = TaskSet("test")
        gate = asyncio.Event()

        async def job() -> None:
            current = asyncio.current_task()
            assert current is not None
            tasks.add(current)
            await gate.wait()

        asyncio.get_running_loop().create_task(job())
        await asyncio.sleep(0)
        tracked = len(tasks)
        gate.set()
        await tasks.join()
        return tracked

    assert asyncio.run(main()) == 1


async def _until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)
