"""The APScheduler 3 adapter for schedule expressions.

The expression language itself (parsing, fire times, time zones) is pure and lives in the core,
``faas/expressions.py``, so config validation can use it; it is re-exported here for the scheduler.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# APScheduler 3 ships no type information.
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]

from faas.expressions import Schedule, ScheduleExpressionError, parse_expression

__all__ = ["ExpressionTrigger", "Schedule", "ScheduleExpressionError", "parse_expression"]

_ONE_MICROSECOND = timedelta(microseconds=1)


class ExpressionTrigger(BaseTrigger):  # type: ignore[misc]
    """An APScheduler 3 trigger that fires on a `Schedule`."""

    __slots__ = ("schedule",)

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first fire time >= `now` if there was no previous one, else the first after it."""
        if previous_fire_time is None:
            return self.schedule.next_fire(now - _ONE_MICROSECOND)
        return self.schedule.next_fire(previous_fire_time)

    def __str__(self) -> str:
        return self.schedule.expression

    def __repr__(self) -> str:
        schedule = self.schedule
        return f"<{type(self).__name__} {schedule.expression!r} tz={schedule.timezone!r}>"
