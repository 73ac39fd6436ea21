"""Schedules in the core: their persisted state, their fires and run history.

The clock is the scheduler's (``scheduler/cron.py``, APScheduler); everything a fire does is here,
so the admin API and the CLI can pause, resume and run a schedule without importing the scheduler:

- ``fire(name, scheduled_time)`` records a run and queues the EventBridge Scheduled Event (or the
  schedule's constant ``input``) in one transaction, or records a skipped run when
  ``max_concurrency`` runs are still busy. The async queue runs it with ``trigger = "schedule"``,
  retries it per the function's ``max_retries``, and the run's status follows.
- ``pause`` / ``resume`` persist, and tell listeners (the scheduler) to stop or restart the clock.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faas.asyncq import AsyncQueue
from faas.config import Config, ScheduleConfig
from faas.events import QueuedEvent, ScheduleRun, ScheduleState, iso_time
from faas.exceptions import ScheduleConflict, ScheduleNotFound
from faas.expressions import Schedule, parse_expression
from faas.records import Trigger
from faas.store import EventStore

log = logging.getLogger(__name__)


def scheduled_event(config: Config, schedule: ScheduleConfig, scheduled_at: float, event_id: str) -> bytes:
    """The EventBridge Scheduled Event for a fire at ``scheduled_at``, or the constant ``input``."""
    if schedule.input is not None:
        return schedule.input.encode()
    server = config.server
    event = {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": server.account_id,
        "time": datetime.fromtimestamp(scheduled_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": server.region,
        "resources": [f"arn:aws:events:{server.region}:{server.account_id}:rule/{schedule.name}"],
        "detail": {},
    }
    return json.dumps(event).encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleInfo:
    config: ScheduleConfig
    paused: bool
    next_fire: float | None
    last_run: ScheduleRun | None

    def as_json(self) -> dict[str, Any]:
        c = self.config
        return {
            "name": c.name, "expression": c.expression, "function": c.function, "timezone": c.timezone,
            "enabled": c.enabled, "paused": self.paused, "maxConcurrency": c.max_concurrency,
            "misfireGraceSeconds": c.misfire_grace_seconds, "nextFire": iso_time(self.next_fire),
            "lastRun": None if self.last_run is None else self.last_run.as_json(),
        }


class ScheduleBook:
    """Schedule state and fires. ``config`` is read through a callable so reloads are seen."""

    def __init__(self, store: EventStore, config: Callable[[], Config], queue: AsyncQueue | None) -> None:
        self.store = store
        self._config = config
        self.queue = queue
        self._listeners: list[Callable[[str, bool], None]] = []

    @property
    def config(self) -> Config:
        return self._config()

    def get(self, name: str) -> ScheduleConfig:
        schedules = {s.name: s for s in self.config.schedules}
        try:
            return schedules[name]
        except KeyError:
            raise ScheduleNotFound(name, sorted(schedules)) from None

    def subscribe(self, listener: Callable[[str, bool], None]) -> None:
        """``listener(name, paused)`` runs after a pause or resume."""
        self._listeners.append(listener)

    async def state(self, schedule: ScheduleConfig) -> ScheduleState:
        return await self.store.schedule_state(schedule.name, schedule.expression, time.time())

    async def parsed(self, schedule: ScheduleConfig) -> tuple[Schedule, ScheduleState]:
        """The schedule's expression, with a rate() anchored where it was first seen (persisted)."""
        state = await self.state(schedule)
        anchor = datetime.fromtimestamp(state.anchor, UTC)
        return parse_expression(schedule.expression, schedule.timezone, anchor=anchor), state

    # --- what the admin API and CLI do ----------------------------------------------------------

    async def describe(self) -> list[ScheduleInfo]:
        last = await self.store.last_runs()
        out: list[ScheduleInfo] = []
        now = datetime.now(UTC)
        for schedule in self.config.schedules:
            parsed, state = await self.parsed(schedule)
            nxt = None
            if schedule.enabled and not state.paused:
                when = parsed.next_fire(now)
                nxt = when.timestamp() if when else None
            out.append(ScheduleInfo(config=schedule, paused=state.paused, next_fire=nxt, last_run=last.get(schedule.name)))
        return out

    async def info(self, name: str) -> ScheduleInfo:
        for info in await self.describe():
            if info.config.name == name:
                return info
        raise ScheduleNotFound(name, [s.name for s in self.config.schedules])

    async def runs(self, name: str, limit: int = 20) -> list[ScheduleRun]:
        self.get(name)
        return await self.store.runs(name, limit)

    async def pause(self, name: str) -> None:
        await self._set_paused(self.get(name), True)

    async def resume(self, name: str) -> None:
        schedule = self.get(name)
        if not schedule.enabled:
            raise ScheduleConflict(f"schedule {name!r} is disabled in {self.config.path.name} (enabled = false); "
                                   "enable it there")
        await self._set_paused(schedule, False)

    async def _set_paused(self, schedule: ScheduleConfig, paused: bool) -> None:
        await self.store.set_paused(schedule.name, schedule.expression, paused)
        log.info("schedule %s %s", schedule.name, "paused" if paused else "resumed")
        for listener in self._listeners:
            try:
                listener(schedule.name, paused)
            except Exception:
                log.exception("schedule listener failed")

    async def run_now(self, name: str) -> ScheduleRun:
        """Fire now, whatever the pause; a busy schedule records the fire as skipped and refuses."""
        schedule = self.get(name)
        run = await self.fire(schedule, time.time(), manual=True)
        if run.event_id is None:
            raise ScheduleConflict(f"schedule {name!r} is busy: {run.error}; run #{run.id} recorded as skipped")
        return run

    # --- what the clock does --------------------------------------------------------------------

    async def fire(self, schedule: ScheduleConfig, scheduled_at: float, *, manual: bool = False) -> ScheduleRun:
        """Record the fire and queue its event durably (or record it skipped)."""
        queue = self.queue
        if queue is None:
            raise ScheduleConflict("the server is not running: a schedule can only run inside `faas serve`")
        config = self.config

        def make_event(run_id: int) -> QueuedEvent:
            event_id = str(uuid.uuid4())
            payload = scheduled_event(config, schedule, scheduled_at, event_id)
            return queue.new_event(schedule.function, payload, trigger=Trigger.SCHEDULE, event_id=event_id,
                                   run_id=run_id)

        run = await self.store.fire(schedule.name, scheduled_at, max_concurrency=schedule.max_concurrency,
                                    manual=manual, make_event=make_event)
        if run.event_id is not None:
            queue.wake()
        else:
            log.warning("schedule %s: fire at %s skipped: %s", schedule.name,
                        datetime.fromtimestamp(scheduled_at, UTC).isoformat(), run.error)
        return run

    async def missed(self, schedule: ScheduleConfig, scheduled_at: float, note: str) -> None:
        await self.store.missed(schedule.name, scheduled_at, note)
        log.warning("schedule %s: %s", schedule.name, note)
