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
APScheduler adapter (``ExpressionTrigger``) is in ``scheduler/expressions.py``.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Schedule", "ScheduleExpressionError", "parse_expression"]


class ScheduleExpressionError(ValueError):
    """A schedule expression (or its time zone) is invalid; the message says what is wrong."""


class _Invalid(Exception):
    """Raised by the parsers; `parse_expression` prefixes the expression and re-raises."""


_DIGITS = re.compile(r"[0-9]+")
_ONE_MINUTE = timedelta(minutes=1)
# The Gregorian calendar, weekdays included, repeats every 400 years: a crontab line that has not
# matched within that many years never will.
_CRONTAB_HORIZON_YEARS = 400
_LAST_SEARCH_YEAR = 9998
_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)
    hint: str = ""


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTH_NAMES, "JAN-DEC")
_AWS_DAY_OF_WEEK = _Field(
    "day-of-week", 1, 7, {name: n for n, name in enumerate(_DAY_NAMES, 1)}, "SUN-SAT"
)
_UNIX_DAY_OF_WEEK = _Field(
    "day-of-week", 0, 7, {name: n for n, name in enumerate(_DAY_NAMES)}, "SUN-SAT"
)
_YEAR = _Field("year", 1970, 2199)


def _aws_weekday(value: int) -> int:
    """EventBridge day-of-week (1 = Sunday .. 7 = Saturday) -> `date.weekday()` (0 = Monday)."""
    return (value + 5) % 7


def _unix_weekday(value: int) -> int:
    """Crontab day-of-week (0 and 7 = Sunday) -> `date.weekday()` (0 = Monday)."""
    return (value + 6) % 7


def _nearest_weekday(day: int, first_weekday: int, month_days: int) -> int:
    """The weekday nearest `day` without leaving the month (the ``W`` rule)."""
    weekday = (first_weekday + day - 1) % 7
    if weekday == 5:  # Saturday: the Friday before, unless that is in the previous month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, unless that is in the next month
        return day + 1 if day < month_days else day - 2
    return day


@dataclass(frozen=True, slots=True, kw_only=True)
class _DayOfMonth:
    days: frozenset[int] = frozenset()
    last: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekday: frozenset[int] = frozenset()  # nW

    def matching(self, first_weekday: int, month_days: int) -> set[int]:
        out = {day for day in self.days if day <= month_days}
        if self.last:
            out.add(month_days)
        if self.last_weekday:
            out.add(_nearest_weekday(month_days, first_weekday, month_days))
        for day in self.nearest_weekday:
            if day <= month_days:  # 31W does not fire in a 30-day month
                out.add(_nearest_weekday(day, first_weekday, month_days))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _DayOfWeek:
    # All weekdays here are `date.weekday()` numbers (0 = Monday).
    weekdays: frozenset[int] = frozenset()
    last_of: frozenset[int] = frozenset()  # nL: the last such weekday of the month
    nth: frozenset[tuple[int, int]] = frozenset()  # n#k: (weekday, k)

    def matching(self, first_weekday: int, month_days: int) -> set[int]:
        out: set[int] = set()
        for day in range(1, month_days + 1):
            weekday = (first_weekday + day - 1) % 7
            if (
                weekday in self.weekdays
                or (weekday in self.last_of and day + 7 > month_days)
                or (weekday, (day - 1) // 7 + 1) in self.nth
            ):
                out.add(day)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _CronSpec:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...] | None  # None: any year (crontab)
    day_of_month: _DayOfMonth | None  # None: not restricted ("?")
    day_of_week: _DayOfWeek | None
    either_day: bool = False  # crontab: a day matching either day field fires

    def days(self, year: int, month: int) -> tuple[int, ...]:
        first_weekday, month_days = calendar.monthrange(year, month)
        dom, dow = self.day_of_month, self.day_of_week
        by_dom = dom.matching(first_weekday, month_days) if dom is not None else None
        by_dow = dow.matching(first_weekday, month_days) if dow is not None else None
        if by_dom is None or by_dow is None:
            days = by_dom if by_dom is not None else by_dow
            if days is None:
                days = set(range(1, month_days + 1))
        else:
            days = by_dom | by_dow if self.either_day else by_dom & by_dow
        return tuple(sorted(days))


def _ceil(values: tuple[int, ...], at_least: int) -> int | None:
    """The smallest of the sorted `values` that is >= `at_least`, or None."""
    index = bisect_left(values, at_least)
    return values[index] if index < len(values) else None


def _next_wall_time(spec: _CronSpec, start: datetime, last_year: int) -> datetime | None:
    """The first naive wall time >= `start` matching `spec`, jumping field by field."""
    year, month, day, hour, minute = start.year, start.month, start.day, start.hour, start.minute
    while year <= last_year:
        if spec.years is not None:
            next_year = _ceil(spec.years, year)
            if next_year is None:
                return None
            if next_year != year:
                year, month, day, hour, minute = next_year, 1, 1, 0, 0
        next_month = _ceil(spec.months, month)
        if next_month is None:
            year, month, day, hour, minute = year + 1, 1, 1, 0, 0
            continue
        if next_month != month:
            month, day, hour, minute = next_month, 1, 0, 0
        next_day = _ceil(spec.days(year, month), day)
        if next_day is None:
            month, day, hour, minute = month + 1, 1, 0, 0
            continue
        if next_day != day:
            day, hour, minute = next_day, 0, 0
        next_hour = _ceil(spec.hours, hour)
        if next_hour is None:
            day, hour, minute = day + 1, 0, 0
            continue
        if next_hour != hour:
            hour, minute = next_hour, 0
        next_minute = _ceil(spec.minutes, minute)
        if next_minute is None:
            hour, minute = hour + 1, 0
            continue
        return datetime(year, month, day, hour, next_minute)
    return None


def _next_cron_fire(spec: _CronSpec, after: datetime, tz: ZoneInfo) -> datetime | None:
    wall = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0, fold=0)
    wall += _ONE_MINUTE
    if spec.years is not None:
        last_year = spec.years[-1]
    else:
        last_year = min(wall.year + _CRONTAB_HORIZON_YEARS, _LAST_SEARCH_YEAR)
    while (candidate := _next_wall_time(spec, wall, last_year)) is not None:
        # fold=0 picks the first occurrence of a repeated wall time; the second one then maps to
        # an instant <= `after` on the next search and is passed over, so it fires once.
        instant = candidate.replace(tzinfo=tz).astimezone(UTC)
        exists = instant.astimezone(tz).replace(tzinfo=None) == candidate
        if exists and instant > after:
            return instant
        wall = candidate + _ONE_MINUTE
    return None


def _value(token: str, spec: _Field) -> int:
    if _DIGITS.fullmatch(token):
        number = int(token)
    elif token in spec.names:
        number = spec.names[token]
    else:
        also = f" or a name ({spec.hint})" if spec.hint else ""
        raise _Invalid(f'{spec.name}: "{token}" is not a number{also}')
    if not spec.low <= number <= spec.high:
        raise _Invalid(f"{spec.name}: {number} is out of range {spec.low}-{spec.high}")
    return number


def _item_values(item: str, spec: _Field, *, steps: bool = True) -> set[int]:
    """One list item: ``*``, ``N``, ``A-B``, optionally followed by ``/STEP``."""
    if not item:
        raise _Invalid(f"{spec.name}: empty item in a list")
    if item == "?":
        raise _Invalid(f'{spec.name}: "?" must stand alone, in day-of-month or day-of-week')
    base, slash, step_text = item.partition("/")
    if slash and not steps:
        raise _Invalid(f'{spec.name}: "/" is not allowed here (in "{item}")')
    step = 1
    if slash:
        if not _DIGITS.fullmatch(step_text) or int(step_text) == 0:
            raise _Invalid(f'{spec.name}: step in "{item}" must be a positive integer')
        step = int(step_text)
    if base == "*":
        start, end = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = _value(first, spec), _value(last, spec)
        if start > end:
            raise _Invalid(f'{spec.name}: range "{base}" is reversed (start must not exceed end)')
    else:
        start = _value(base, spec)
        end = spec.high if slash else start
    return set(range(start, end + 1, step))


def _values(text: str, spec: _Field, *, steps: bool = True) -> tuple[int, ...]:
    out: set[int] = set()
    for item in text.upper().split(","):
        out |= _item_values(item, spec, steps=steps)
    return tuple(sorted(out))


def _aws_day_of_month(text: str) -> _DayOfMonth:
    days: set[int] = set()
    nearest: set[int] = set()
    last = last_weekday = False
    for item in text.upper().split(","):
        if item == "L":
            last = True
        elif item == "LW":
            last_weekday = True
        elif item.endswith("W"):
            if not _DIGITS.fullmatch(item[:-1]):
                raise _Invalid(
                    f'day-of-month: "W" must follow a single day, e.g. "15W" (got "{item}")'
                )
            nearest.add(_value(item[:-1], _DAY_OF_MONTH))
        else:
            days |= _item_values(item, _DAY_OF_MONTH)
    return _DayOfMonth(
        days=frozenset(days),
        last=last,
        last_weekday=last_weekday,
        nearest_weekday=frozenset(nearest),
    )


def _aws_day_of_week(text: str) -> _DayOfWeek:
    weekdays: set[int] = set()
    last_of: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.upper().split(","):
        if item == "L":  # L alone is the last day of the week: Saturday
            weekdays.add(_aws_weekday(7))
        elif item.endswith("L"):
            last_of.add(_aws_weekday(_value(item[:-1], _AWS_DAY_OF_WEEK)))
        elif "#" in item:
            day, _, occurrence = item.partition("#")
            if not _DIGITS.fullmatch(occurrence) or not 1 <= int(occurrence) <= 5:
                raise _Invalid(f'day-of-week: occurrence in "{item}" must be 1-5')
            nth.add((_aws_weekday(_value(day, _AWS_DAY_OF_WEEK)), int(occurrence)))
        else:
            values = _item_values(item, _AWS_DAY_OF_WEEK, steps=False)
            weekdays |= {_aws_weekday(value) for value in values}
    return _DayOfWeek(weekdays=frozenset(weekdays), last_of=frozenset(last_of), nth=frozenset(nth))


def _parse_cron(body: str) -> _CronSpec:
    parts = body.split()
    if len(parts) != 6:
        raise _Invalid(
            "expected 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(parts)}"
        )
    minutes, hours, dom, month, dow, year = parts
    spec = _CronSpec(
        minutes=_values(minutes, _MINUTES),
        hours=_values(hours, _HOURS),
        months=_values(month, _MONTH),
        years=_values(year, _YEAR),
        day_of_month=None if dom == "?" else _aws_day_of_month(dom),
        day_of_week=None if dow == "?" else _aws_day_of_week(dow),
    )
    if dom == "?" and dow == "?":
        raise _Invalid(
            'day-of-month and day-of-week cannot both be "?"; exactly one of them must be "?"'
        )
    if dom != "?" and dow != "?":
        both = '"*"' if dom == dow == "*" else f'set (day-of-month "{dom}", day-of-week "{dow}")'
        raise _Invalid(
            f'day-of-month and day-of-week cannot both be {both}; exactly one of them must be "?"'
        )
    return spec


def _parse_crontab(text: str) -> _CronSpec:
    parts = text.split()
    if len(parts) != 5:
        raise _Invalid(
            'expected "cron(...)", "rate(...)" or a 5-field crontab line '
            f"(minute hour day-of-month month day-of-week), got {len(parts)} fields"
        )
    minutes, hours, dom, month, dow = parts
    return _CronSpec(
        minutes=_values(minutes, _MINUTES),
        hours=_values(hours, _HOURS),
        months=_values(month, _MONTH),
        years=None,
        day_of_month=_DayOfMonth(days=frozenset(_values(dom, _DAY_OF_MONTH))),
        day_of_week=_DayOfWeek(
            weekdays=frozenset(_unix_weekday(v) for v in _values(dow, _UNIX_DAY_OF_WEEK))
        ),
        # Vixie cron: if either day field starts with "*", a day must match both; otherwise either.
        either_day=not dom.startswith("*") and not dow.startswith("*"),
    )


def _parse_rate(body: str) -> timedelta:
    parts = body.split()
    if len(parts) != 2:
        raise _Invalid('expected "rate(value unit)", e.g. "rate(5 minutes)"')
    value_text, unit = parts
    if not _DIGITS.fullmatch(value_text) or int(value_text) == 0:
        raise _Invalid(f'value must be a positive integer, got "{value_text}"')
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise _Invalid(f'unknown unit "{unit}"; expected minute(s), hour(s), day(s) or second(s)')
    if value == 1 and unit != singular:
        raise _Invalid(f'unit must be singular ("{singular}") when the value is 1')
    if value != 1 and unit == singular:
        raise _Invalid(f'unit must be plural ("{singular}s") when the value is not 1')
    try:
        return timedelta(seconds=value * _RATE_UNITS[singular])
    except OverflowError:
        raise _Invalid(f"value {value} is too large") from None


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
    spec: _CronSpec | None = field(default=None, repr=False, compare=False)

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
            return _next_cron_fire(self.spec, after, ZoneInfo(self.timezone))
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
                raise _Invalid('missing closing ")"')
            if kind == "cron":
                spec = _parse_cron(text[5:-1])
            else:
                interval = _parse_rate(text[5:-1])
        else:
            spec = _parse_crontab(text)
    except _Invalid as exc:
        raise ScheduleExpressionError(f"{text}: {exc}") from None
    return Schedule(
        expression=text,
        kind=kind,
        timezone=timezone,
        interval=interval,
        anchor=anchor if anchor is not None else _now_to_the_second(),
        spec=spec,
    )
