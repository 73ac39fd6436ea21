"""Schedule expressions: parse them and compute when they fire.

Three syntaxes are accepted:

* EventBridge ``cron(minutes hours day-of-month month day-of-week year)``, with ``?``, ``L``, ``W``
  and ``#``; day-of-week 1-7 with 1 = Sunday; exactly one of the two day fields is ``?``.
* EventBridge ``rate(value unit)`` for minutes, hours and days, plus ``second(s)`` as an extension.
* A plain five-field crontab line (extension) with Vixie cron semantics: day-of-week 0-7 (0 and 7
  are Sunday), and when both day fields are restricted a day matching either one fires.

Cron schedules are evaluated in wall time of the schedule's time zone: a wall time that does not
exist on a daylight-saving change is skipped, and a repeated one fires once (its first occurrence).
The module is pure: it does no I/O and reads the clock only for the default ``rate()`` anchor.
It lives in the core so that config validation can refuse a bad expression at load time; the
APScheduler adapter (``ExpressionTrigger``) is in ``scheduler/expressions.py``. The cron fields, their
parsers and the search for the next matching wall time are in ``faas/_cron.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from faas._cron import DIGITS, CronSpec, Invalid, next_cron_fire, parse_cron, parse_crontab

__all__ = ["Schedule", "ScheduleExpressionError", "parse_expression"]


class ScheduleExpressionError(ValueError):
    """A schedule expression (or its time zone) is invalid; the message says what is wrong."""


_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _parse_rate(body: str) -> timedelta:
    parts = body.split()
    if len(parts) != 2:
        raise Invalid('expected "rate(value unit)", e.g. "rate(5 minutes)"')
    value_text, unit = parts
    if not DIGITS.fullmatch(value_text) or int(value_text) == 0:
        raise Invalid(f'value must be a positive integer, got "{value_text}"')
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise Invalid(f'unknown unit "{unit}"; expected minute(s), hour(s), day(s) or second(s)')
    if value == 1 and unit != singular:
        raise Invalid(f'unit must be singular ("{singular}") when the value is 1')
    if value != 1 and unit == singular:
        raise Invalid(f'unit must be plural ("{singular}s") when the value is not 1')
    try:
        return timedelta(seconds=value * _RATE_UNITS[singular])
    except OverflowError:
        raise Invalid(f"value {value} is too large") from None


def _now_to_the_second() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A parsed schedule expression; build one with `parse_expression`.

    `kind` is ``"cron"`` (EventBridge), ``"rate"`` or ``"crontab"``. Cron kinds are evaluated in
    `timezone` (an IANA name). A rate schedule fires at ``anchor + k * interval`` for k >= 0;
    `interval` is None for cron kinds, and `anchor` is unused by them. `spec` holds the parsed
    cron fields (internal; None for rate).
    """

    expression: str
    kind: str
    timezone: str = "UTC"
    interval: timedelta | None = None
    anchor: datetime = field(default_factory=_now_to_the_second)
    spec: CronSpec | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.anchor.tzinfo is None or self.anchor.utcoffset() is None:
            raise ValueError("Schedule.anchor must be timezone-aware")
        if (self.spec is None) == (self.interval is None):
            raise ValueError("Schedule needs exactly one of cron fields (spec) and an interval")
        if self.interval is not None and self.interval <= timedelta(0):
            raise ValueError("Schedule.interval must be positive")

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after` (timezone-aware), as a UTC datetime.

        Returns None when the schedule never fires again (an EventBridge year range is
        exhausted, or a crontab line matches no day in the next 400 years).
        """
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError("next_fire() needs a timezone-aware datetime")
        if self.spec is not None:
            return next_cron_fire(self.spec, after, ZoneInfo(self.timezone))
        assert self.interval is not None
        anchor = self.anchor.astimezone(UTC)
        after = after.astimezone(UTC)
        if after < anchor:
            return anchor
        try:
            return anchor + ((after - anchor) // self.interval + 1) * self.interval
        except OverflowError:
            return None


def parse_expression(
    expression: str, timezone: str = "UTC", *, anchor: datetime | None = None
) -> Schedule:
    """Parse ``cron(...)``, ``rate(...)`` or a 5-field crontab line into a `Schedule`.

    `timezone` is an IANA name used by cron kinds. `anchor` (timezone-aware) is where a
    ``rate()`` schedule starts counting; it defaults to now, truncated to the second.
    Raises `ScheduleExpressionError` naming what is wrong.
    """
    text = expression.strip()
    if not text:
        raise ScheduleExpressionError("schedule expression is empty")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ScheduleExpressionError(f"{text}: unknown time zone {timezone!r}") from exc
    if anchor is not None and (anchor.tzinfo is None or anchor.utcoffset() is None):
        raise ValueError("anchor must be timezone-aware")
    kind, spec, interval = "crontab", None, None
    try:
        if text.startswith(("cron(", "rate(")):
            kind = text[:4]
            if not text.endswith(")"):
                raise Invalid('missing closing ")"')
            if kind == "cron":
                spec = parse_cron(text[5:-1])
            else:
                interval = _parse_rate(text[5:-1])
        else:
            spec = parse_crontab(text)
    except Invalid as exc:
        raise ScheduleExpressionError(f"{text}: {exc}") from None
    return Schedule(
        expression=text,
        kind=kind,
        timezone=timezone,
        interval=interval,
        anchor=anchor if anchor is not None else _now_to_the_second(),
        spec=spec,
    )
