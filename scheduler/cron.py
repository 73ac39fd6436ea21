"""The schedules' clock: APScheduler 3 (``AsyncIOScheduler``) with one job per running schedule.

A job exists for each schedule that is enabled in config and not paused. When it fires, the core's
``ScheduleBook.fire`` records the run and queues the event (see faas/schedules.py); the clock only
says when. What the clock adds:

- catch-up after downtime: at start, a schedule whose fires fell due while the server was down
  fires once for the latest of them if that is within ``misfire_grace_seconds``; fires beyond the
  grace are recorded as one ``missed`` run. While running, a fire that comes more than the grace
  late (a stalled loop) is recorded as missed by the same rule;
- pause, resume (from the admin API or the CLI, through the book) remove and re-add the job;
  resume fires from the next time on, with no catch-up;
- a changed ``[[schedules]]`` config (hot reload) replaces the changed jobs.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from faas.background import TaskSet
from faas.config import Config, ScheduleConfig
from faas.exceptions import FaaSError
from faas.expressions import Schedule
from faas.runtime import Runtime
from scheduler.expressions import ExpressionTrigger

log = logging.getLogger(__name__)


class _FireTrigger(ExpressionTrigger):
    """An ExpressionTrigger that remembers the fire time APScheduler last computed from.

    APScheduler 3 does not hand a job its scheduled time. When a job is due it walks the trigger
    from each due time (``get_next_fire_time(run_time, now)``), last of all from the run time it
    submits, and the job's coroutine starts after that: so ``fired`` is the scheduled time of the
    run that is starting.
    """

    __slots__ = ("fired",)

    def __init__(self, schedule: Schedule) -> None:
        super().__init__(schedule)
        self.fired: datetime | None = None

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is not None:
            self.fired = previous_fire_time
        return super().get_next_fire_time(previous_fire_time, now)


def _job_id(name: str) -> str:
    return f"schedule:{name}"


class CronScheduler:
    """Started by ``faas serve`` as a Runtime extension, after the async queue."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.book = runtime.schedules
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._configs: dict[str, ScheduleConfig] = {}
        self._triggers: dict[str, _FireTrigger] = {}
        self._lock = asyncio.Lock()
        self._tasks = TaskSet("scheduler task")
        self._closing = False

    async def __aenter__(self) -> "CronScheduler":
        # Each fire is logged by the book; APScheduler's "Running job" line per fire is noise.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self._scheduler.start()
        await self._sync(self.runtime.registry.config, catch_up=True)
        self.runtime.registry.subscribe(self._on_config)
        self.book.subscribe(self._on_pause)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._scheduler.pause()
        # Let fires being recorded finish (they are short transactions), then stop the clock.
        await self._tasks.join()
        self._scheduler.shutdown(wait=False)
        done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(done.set_result, None)
        await done  # AsyncIOScheduler.shutdown runs on the next loop turn

    # --- jobs -----------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        if self._closing:
            coro.close()
            return
        self._tasks.spawn(coro)

    def _on_config(self, config: Config, changed: set[str]) -> None:
        self._spawn(self._sync(config, catch_up=True))

    def _on_pause(self, name: str, paused: bool) -> None:
        if paused:
            self._remove(name)
        elif name in self._configs:
            self._spawn(self._add(self._configs[name], catch_up=False))

    async def _sync(self, config: Config, *, catch_up: bool) -> None:
        """Make the jobs match ``config``: changed or removed schedules lose their job, new ones get one."""
        async with self._lock:
            wanted = {s.name: s for s in config.schedules}
            for name in list(self._configs):
                if wanted.get(name) != self._configs[name]:
                    self._remove(name)
                    del self._configs[name]
            paused = await self.book.store.paused_schedules()
            for name, schedule in wanted.items():
                if name in self._configs:
                    continue
                self._configs[name] = schedule
                if schedule.enabled and name not in paused:
                    await self._add(schedule, catch_up=catch_up)

    def _remove(self, name: str) -> None:
        self._triggers.pop(name, None)
        if self._scheduler.get_job(_job_id(name)) is not None:
            self._scheduler.remove_job(_job_id(name))

    async def _add(self, schedule: ScheduleConfig, *, catch_up: bool) -> None:
        parsed, state = await self.book.parsed(schedule)
        now = datetime.now(UTC)
        start_after = now
        if catch_up and state.last_fire_at is not None:
            latest = await self._catch_up(schedule, parsed, datetime.fromtimestamp(state.last_fire_at, UTC), now)
            if latest is not None:
                start_after = max(now, latest)
        if self._scheduler.get_job(_job_id(schedule.name)) is not None:
            return  # resumed twice
        first = parsed.next_fire(start_after)
        if first is None:
            log.warning("schedule %s (%s) never fires again", schedule.name, schedule.expression)
            return
        trigger = _FireTrigger(parsed)
        self._triggers[schedule.name] = trigger
        self._scheduler.add_job(
            self._fire, trigger=trigger, args=[schedule.name], id=_job_id(schedule.name), name=schedule.name,
            next_run_time=first, coalesce=True, max_instances=100,
            # APScheduler drops a run later than this; never less than a second of loop jitter.
            misfire_grace_time=max(1, math.ceil(schedule.misfire_grace_seconds)),
        )
        log.info("schedule %s: %s -> %s, next fire %s", schedule.name, schedule.expression, schedule.function,
                 first.isoformat())

    async def _catch_up(self, schedule: ScheduleConfig, parsed: Schedule, last: datetime, now: datetime) -> datetime | None:
        """Fires due in (last, now]: run the latest if within the grace, record the rest as missed."""
        first_missed = parsed.next_fire(last)
        if first_missed is None or first_missed > now:
            return None
        grace = timedelta(seconds=schedule.misfire_grace_seconds)
        latest = _latest_fire(parsed, max(last, now - grace), now)
        if latest is None:
            await self.book.missed(
                schedule, first_missed.timestamp(),
                f"fires from {first_missed.isoformat()} on were due while the server was down, past "
                f"misfire_grace_seconds = {schedule.misfire_grace_seconds:g}; not run",
            )
        elif latest != first_missed:
            await self.book.missed(
                schedule, first_missed.timestamp(),
                f"fires from {first_missed.isoformat()} on were due while the server was down; only the "
                f"latest, at {latest.isoformat()}, runs",
            )
        if latest is not None:
            log.info("schedule %s: catching up the fire due at %s", schedule.name, latest.isoformat())
            await self.book.fire(schedule, latest.timestamp())
        return latest

    async def _fire(self, name: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # APScheduler's task: shutdown waits for it like for ours
        try:
            schedule, trigger = self._configs.get(name), self._triggers.get(name)
            if schedule is None or trigger is None or trigger.fired is None:
                return
            await self.book.fire(schedule, trigger.fired.timestamp())
        except FaaSError as exc:
            log.error("schedule %s: fire not recorded: %s", name, exc)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        name = event.job_id.removeprefix("schedule:")
        schedule = self._configs.get(name)
        if schedule is None:
            return
        when: datetime = event.scheduled_run_time
        self._spawn(self.book.missed(
            schedule, when.timestamp(),
            f"fire at {when.isoformat()} came more than misfire_grace_seconds = "
            f"{schedule.misfire_grace_seconds:g} late; not run",
        ))


def _latest_fire(parsed: Schedule, after: datetime, until: datetime) -> datetime | None:
    """The last fire time in (after, until], or None."""
    if parsed.interval is not None:  # rate(): no need to walk
        anchor = parsed.anchor.astimezone(UTC)
        if until < anchor:
            return None
        last = anchor + ((until - anchor) // parsed.interval) * parsed.interval
        return last if last > after else None
    latest: datetime | None = None
    t = parsed.next_fire(after)
    while t is not None and t <= until:
        latest = t
        t = parsed.next_fire(t)
    return latest
