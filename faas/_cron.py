"""Cron fields: parse them (EventBridge ``cron(...)`` bodies and five-field crontab lines) and find the
next wall time they match. The private half of `faas.expressions`, which owns the syntax rules and
the public `Schedule`; see its docstring for the semantics.

A parse error is `Invalid`, whose message names the field; `faas.expressions.parse_expression`
prefixes the expression and turns it into a `ScheduleExpressionError`.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["DIGITS", "CronSpec", "Invalid", "next_cron_fire", "parse_cron", "parse_crontab"]


class Invalid(Exception):
    """Raised by the parsers; `faas.expressions.parse_expression` prefixes the expression and re-raises."""


DIGITS = re.compile(r"[0-9]+")
_ONE_MINUTE = timedelta(minutes=1)
# The Gregorian calendar, weekdays included, repeats every 400 years: a crontab line that has not
# matched within that many years never will.
_CRONTAB_HORIZON_YEARS = 400
_LAST_SEARCH_YEAR = 9998
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
class CronSpec:
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


def _next_wall_time(spec: CronSpec, start: datetime, last_year: int) -> datetime | None:
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


def next_cron_fire(spec: CronSpec, after: datetime, tz: ZoneInfo) -> datetime | None:
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
    if DIGITS.fullmatch(token):
        number = int(token)
    elif token in spec.names:
        number = spec.names[token]
    else:
        also = f" or a name ({spec.hint})" if spec.hint else ""
        raise Invalid(f'{spec.name}: "{token}" is not a number{also}')
    if not spec.low <= number <= spec.high:
        raise Invalid(f"{spec.name}: {number} is out of range {spec.low}-{spec.high}")
    return number


def _item_values(item: str, spec: _Field, *, steps: bool = True) -> set[int]:
    """One list item: ``*``, ``N``, ``A-B``, optionally followed by ``/STEP``."""
    if not item:
        raise Invalid(f"{spec.name}: empty item in a list")
    if item == "?":
        raise Invalid(f'{spec.name}: "?" must stand alone, in day-of-month or day-of-week')
    base, slash, step_text = item.partition("/")
    if slash and not steps:
        raise Invalid(f'{spec.name}: "/" is not allowed here (in "{item}")')
    step = 1
    if slash:
        if not DIGITS.fullmatch(step_text) or int(step_text) == 0:
            raise Invalid(f'{spec.name}: step in "{item}" must be a positive integer')
        step = int(step_text)
    if base == "*":
        start, end = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = _value(first, spec), _value(last, spec)
        if start > end:
            raise Invalid(f'{spec.name}: range "{base}" is reversed (start must not exceed end)')
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
            if not DIGITS.fullmatch(item[:-1]):
                raise Invalid(
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
            if not DIGITS.fullmatch(occurrence) or not 1 <= int(occurrence) <= 5:
                raise Invalid(f'day-of-week: occurrence in "{item}" must be 1-5')
            nth.add((_aws_weekday(_value(day, _AWS_DAY_OF_WEEK)), int(occurrence)))
        else:
            values = _item_values(item, _AWS_DAY_OF_WEEK, steps=False)
            weekdays |= {_aws_weekday(value) for value in values}
    return _DayOfWeek(weekdays=frozenset(weekdays), last_of=frozenset(last_of), nth=frozenset(nth))


def parse_cron(body: str) -> CronSpec:
    parts = body.split()
    if len(parts) != 6:
        raise Invalid(
            "expected 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(parts)}"
        )
    minutes, hours, dom, month, dow, year = parts
    spec = CronSpec(
        minutes=_values(minutes, _MINUTES),
        hours=_values(hours, _HOURS),
        months=_values(month, _MONTH),
        years=_values(year, _YEAR),
        day_of_month=None if dom == "?" else _aws_day_of_month(dom),
        day_of_week=None if dow == "?" else _aws_day_of_week(dow),
    )
    if dom == "?" and dow == "?":
        raise Invalid(
            'day-of-month and day-of-week cannot both be "?"; exactly one of them must be "?"'
        )
    if dom != "?" and dow != "?":
        both = '"*"' if dom == dow == "*" else f'set (day-of-month "{dom}", day-of-week "{dow}")'
        raise Invalid(
            f'day-of-month and day-of-week cannot both be {both}; exactly one of them must be "?"'
        )
    return spec


def parse_crontab(text: str) -> CronSpec:
    parts = text.split()
    if len(parts) != 5:
        raise Invalid(
            'expected "cron(...)", "rate(...)" or a 5-field crontab line '
            f"(minute hour day-of-month month day-of-week), got {len(parts)} fields"
        )
    minutes, hours, dom, month, dow = parts
    return CronSpec(
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
