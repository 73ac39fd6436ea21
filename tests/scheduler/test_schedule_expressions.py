"""Unit tests for faas/expressions.py and scheduler/expressions.py: parsing, fire times, time zones, APScheduler adapter."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from scheduler.expressions import (
    ExpressionTrigger,
    Schedule,
    ScheduleExpressionError,
    parse_expression,
)

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fires(expression: str, after: datetime, count: int, timezone: str = "UTC") -> list[datetime]:
    schedule = parse_expression(expression, timezone)
    out: list[datetime] = []
    current: datetime | None = after
    for _ in range(count):
        assert current is not None
        current = schedule.next_fire(current)
        if current is None:
            break
        out.append(current)
    return out


def first_fire(expression: str, after: datetime, timezone: str = "UTC") -> datetime | None:
    return parse_expression(expression, timezone).next_fire(after)


def error_message(expression: str, timezone: str = "UTC") -> str:
    with pytest.raises(ScheduleExpressionError) as info:
        parse_expression(expression, timezone)
    return str(info.value)


# --- parsing results -------------------------------------------------------------------------


def test_parse_kinds_and_intervals() -> None:
    cron = parse_expression("cron(0 12 * * ? *)")
    rate = parse_expression("rate(5 minutes)")
    crontab = parse_expression("*/5 * * * *", NEW_YORK)
    assert (cron.kind, cron.interval, cron.timezone) == ("cron", None, "UTC")
    assert (rate.kind, rate.interval) == ("rate", timedelta(minutes=5))
    assert (crontab.kind, crontab.interval, crontab.timezone) == ("crontab", None, NEW_YORK)
    assert isinstance(cron, Schedule)
    assert cron.expression == "cron(0 12 * * ? *)"


def test_expression_is_stripped() -> None:
    assert parse_expression("  rate(1 day)\n").expression == "rate(1 day)"


def test_schedule_error_is_a_value_error() -> None:
    assert issubclass(ScheduleExpressionError, ValueError)


def test_schedule_pickles() -> None:
    schedule = parse_expression("cron(0 9 ? * 2#1 *)", BERLIN)
    clone = pickle.loads(pickle.dumps(schedule))
    after = utc(2024, 1, 1)
    assert clone == schedule
    assert clone.next_fire(after) == schedule.next_fire(after) == utc(2024, 1, 1, 8)


# --- EventBridge cron: fields ----------------------------------------------------------------


def test_cron_fixed_time_daily() -> None:
    assert fires("cron(0 12 * * ? *)", utc(2024, 1, 1, 12), 2) == [
        utc(2024, 1, 2, 12),
        utc(2024, 1, 3, 12),
    ]


def test_cron_next_fire_is_strictly_after() -> None:
    assert first_fire("cron(0 12 * * ? *)", utc(2024, 1, 1, 11, 59, 59)) == utc(2024, 1, 1, 12)
    assert first_fire("cron(0 12 * * ? *)", utc(2024, 1, 1, 12)) == utc(2024, 1, 2, 12)
    assert first_fire("cron(* * * * ? *)", utc(2024, 1, 1, 12, 0, 30)) == utc(2024, 1, 1, 12, 1)


def test_cron_step_from_start() -> None:
    minutes = [t.minute for t in fires("cron(0/10 * * * ? *)", utc(2024, 1, 1), 7)]
    assert minutes == [10, 20, 30, 40, 50, 0, 10]
    assert [t.minute for t in fires("cron(5/20 * * * ? *)", utc(2024, 1, 1), 4)] == [5, 25, 45, 5]
    assert [t.minute for t in fires("cron(*/30 * * * ? *)", utc(2024, 1, 1), 2)] == [30, 0]


def test_cron_range_with_step_and_list() -> None:
    hours = [t.hour for t in fires("cron(0 8-17/3,22 * * ? *)", utc(2024, 1, 1), 6)]
    assert hours == [8, 11, 14, 17, 22, 8]


def test_cron_month_names_and_numbers() -> None:
    assert fires("cron(0 0 1 JAN,jul ? *)", utc(2024, 1, 1), 3) == [
        utc(2024, 7, 1),
        utc(2025, 1, 1),
        utc(2025, 7, 1),
    ]
    assert first_fire("cron(0 0 1 MAR-5 ? *)", utc(2024, 1, 1)) == utc(2024, 3, 1)


def test_cron_day_of_week_one_is_sunday() -> None:
    # 2024-01-01 is a Monday.
    assert first_fire("cron(0 0 ? * 1 *)", utc(2024, 1, 1)) == utc(2024, 1, 7)
    assert first_fire("cron(0 0 ? * SUN *)", utc(2024, 1, 1)) == utc(2024, 1, 7)
    assert first_fire("cron(0 0 ? * 7 *)", utc(2024, 1, 1)) == utc(2024, 1, 6)


def test_cron_weekdays_by_name() -> None:
    days = [t.day for t in fires("cron(0 18 ? * MON-FRI *)", utc(2024, 1, 5, 19), 5)]
    assert days == [8, 9, 10, 11, 12]


def test_cron_year_field_and_exhaustion() -> None:
    assert first_fire("cron(0 0 1 1 ? 2026)", utc(2024, 6, 1)) == utc(2026, 1, 1)
    assert first_fire("cron(0 0 1 1 ? 2025)", utc(2025, 1, 1)) is None
    assert fires("cron(0 0 1 1 ? 2024-2030/3)", utc(2020, 1, 1), 5) == [
        utc(2024, 1, 1),
        utc(2027, 1, 1),
        utc(2030, 1, 1),
    ]


def test_cron_last_year_of_range() -> None:
    last = utc(2199, 12, 31, 23, 59)
    assert first_fire("cron(59 23 31 12 ? *)", last - timedelta(minutes=1)) == last
    assert first_fire("cron(59 23 31 12 ? *)", utc(2199, 12, 31, 23, 59)) is None


def test_cron_before_1970_starts_in_1970() -> None:
    assert first_fire("cron(0 0 1 1 ? *)", utc(1960, 5, 5)) == utc(1970, 1, 1)


def test_cron_sparse_schedule_jumps_years() -> None:
    assert first_fire("cron(0 0 29 2 ? *)", utc(2024, 3, 1)) == utc(2028, 2, 29)
    assert first_fire("cron(0 0 29 2 ? *)", utc(2097, 3, 1)) == utc(2104, 2, 29)  # 2100 is not leap
    assert first_fire("cron(0 0 30 2 ? *)", utc(2024, 1, 1)) is None


def test_cron_31st_skips_30_day_months() -> None:
    assert fires("cron(0 0 31 * ? *)", utc(2024, 4, 1), 3) == [
        utc(2024, 5, 31),
        utc(2024, 7, 31),
        utc(2024, 8, 31),
    ]


# --- EventBridge cron: L, W, # ---------------------------------------------------------------


def test_dom_last_day_of_month_including_february() -> None:
    assert fires("cron(0 0 L * ? *)", utc(2024, 1, 31), 3) == [
        utc(2024, 2, 29),
        utc(2024, 3, 31),
        utc(2024, 4, 30),
    ]
    assert first_fire("cron(0 0 L 2 ? *)", utc(2023, 1, 1)) == utc(2023, 2, 28)
    assert first_fire("cron(0 0 L 2 ? *)", utc(2100, 1, 1)) == utc(2100, 2, 28)
    assert first_fire("cron(0 0 L 2 ? *)", utc(2000, 1, 1)) == utc(2000, 2, 29)


def test_dom_nearest_weekday() -> None:
    # 2024-06-15 is a Saturday -> Friday 14th; 2024-09-15 is a Sunday -> Monday 16th.
    assert first_fire("cron(0 0 15W 6 ? *)", utc(2024, 1, 1)) == utc(2024, 6, 14)
    assert first_fire("cron(0 0 15W 9 ? *)", utc(2024, 1, 1)) == utc(2024, 9, 16)
    # 2024-01-15 is a Monday: itself.
    assert first_fire("cron(0 0 15W 1 ? *)", utc(2024, 1, 1)) == utc(2024, 1, 15)


def test_dom_1w_on_saturday_does_not_cross_into_previous_month() -> None:
    # 2024-06-01 is a Saturday: the nearest weekday in June is Monday the 3rd.
    assert first_fire("cron(0 0 1W 6 ? *)", utc(2024, 1, 1)) == utc(2024, 6, 3)


def test_dom_31w_on_sunday_does_not_cross_into_next_month() -> None:
    # 2024-03-31 is a Sunday: the nearest weekday in March is Friday the 29th.
    assert first_fire("cron(0 0 31W 3 ? *)", utc(2024, 1, 1)) == utc(2024, 3, 29)


def test_dom_w_beyond_month_length_does_not_fire() -> None:
    assert fires("cron(0 0 31W * ? *)", utc(2024, 4, 1), 2) == [utc(2024, 5, 31), utc(2024, 7, 31)]


def test_dom_last_weekday() -> None:
    # 2024-08-31 is a Saturday, 2024-06-30 a Sunday, 2024-07-31 a Wednesday.
    assert first_fire("cron(0 0 LW 8 ? *)", utc(2024, 1, 1)) == utc(2024, 8, 30)
    assert first_fire("cron(0 0 LW 6 ? *)", utc(2024, 1, 1)) == utc(2024, 6, 28)
    assert first_fire("cron(0 0 LW 7 ? *)", utc(2024, 1, 1)) == utc(2024, 7, 31)


def test_dom_list_mixing_specials() -> None:
    assert fires("cron(0 0 1,L * ? *)", utc(2024, 2, 1), 3) == [
        utc(2024, 2, 29),
        utc(2024, 3, 1),
        utc(2024, 3, 31),
    ]


def test_dow_l_alone_is_saturday() -> None:
    assert first_fire("cron(0 0 ? * L *)", utc(2024, 1, 1)) == utc(2024, 1, 6)


def test_dow_last_weekday_of_month() -> None:
    # Last Thursday: 2024-01-25, 2024-02-29 (leap day), 2024-03-28.
    assert fires("cron(0 0 ? * 5L *)", utc(2024, 1, 1), 3) == [
        utc(2024, 1, 25),
        utc(2024, 2, 29),
        utc(2024, 3, 28),
    ]
    assert first_fire("cron(0 0 ? * FRIL *)", utc(2024, 1, 1)) == utc(2024, 1, 26)


def test_dow_nth_weekday() -> None:
    # Second Tuesday.
    assert fires("cron(0 9 ? * 3#2 *)", utc(2024, 1, 1), 2) == [
        utc(2024, 1, 9, 9),
        utc(2024, 2, 13, 9),
    ]
    assert first_fire("cron(0 9 ? * MON#1 *)", utc(2024, 1, 2)) == utc(2024, 2, 5, 9)


def test_dow_fifth_weekday_skips_months_without_one() -> None:
    # The first fifth Friday of 2024 is March 29th.
    assert first_fire("cron(0 0 ? * 6#5 *)", utc(2024, 1, 1)) == utc(2024, 3, 29)


@pytest.mark.parametrize(
    ("expression", "apscheduler_fields"),
    [
        (
            "cron(0/10 8-17 ? * MON-FRI *)",
            {"minute": "*/10", "hour": "8-17", "day_of_week": "mon-fri"},
        ),
        ("cron(15 10 L * ? *)", {"minute": "15", "hour": "10", "day": "last"}),
        ("cron(0 9 ? * 3#2 *)", {"minute": "0", "hour": "9", "day": "2nd tue"}),
        ("cron(30 6 ? * 6L *)", {"minute": "30", "hour": "6", "day": "last fri"}),
        (
            "cron(0 0 1,15 JAN,JUL ? 2024-2030)",
            {"day": "1,15", "month": "1,7", "year": "2024-2030"},
        ),
        ("cron(5 4 ? * SUN *)", {"minute": "5", "hour": "4", "day_of_week": "sun"}),
    ],
)
def test_cron_agrees_with_apscheduler_cron_trigger(
    expression: str, apscheduler_fields: dict[str, str]
) -> None:
    """An independent implementation as the oracle, over many successive fires in UTC."""
    fields = {"minute": "0", "hour": "0", **apscheduler_fields}
    oracle = CronTrigger(timezone=UTC, **fields)
    after = utc(2024, 1, 1)
    ours = fires(expression, after, 150)
    theirs: list[datetime] = []
    previous = after
    while len(theirs) < 150:
        upcoming = oracle.get_next_fire_time(previous, previous)
        if upcoming is None:
            break
        theirs.append(upcoming)
        previous = upcoming
    assert ours == theirs


# --- EventBridge cron: errors ----------------------------------------------------------------


def test_error_both_day_fields_star() -> None:
    message = error_message("cron(0 12 * * * *)")
    assert message == (
        'cron(0 12 * * * *): day-of-month and day-of-week cannot both be "*"; '
        'exactly one of them must be "?"'
    )


def test_error_both_day_fields_question_mark() -> None:
    message = error_message("cron(0 12 ? * ? *)")
    assert 'cannot both be "?"' in message
    assert 'exactly one of them must be "?"' in message


def test_error_both_day_fields_set() -> None:
    message = error_message("cron(0 12 1 * MON *)")
    assert 'day-of-month "1", day-of-week "MON"' in message
    assert 'exactly one of them must be "?"' in message


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(61 0 * * ? *)", "cron(61 0 * * ? *): minutes: 61 is out of range 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24 is out of range 0-23"),
        ("cron(0 0 32 * ? *)", "day-of-month: 32 is out of range 1-31"),
        ("cron(0 0 0 * ? *)", "day-of-month: 0 is out of range 1-31"),
        ("cron(0 0 1 13 ? *)", "month: 13 is out of range 1-12"),
        ("cron(0 0 ? * 0 *)", "day-of-week: 0 is out of range 1-7"),
        ("cron(0 0 ? * 8 *)", "day-of-week: 8 is out of range 1-7"),
        ("cron(0 0 1 * ? 1969)", "year: 1969 is out of range 1970-2199"),
        ("cron(0 0 1 * ? 2200)", "year: 2200 is out of range 1970-2199"),
        ("cron(0 0 32W * ? *)", "day-of-month: 32 is out of range 1-31"),
        ("cron(0 0 ? * 8L *)", "day-of-week: 8 is out of range 1-7"),
        ("cron(0 0 ? * 9#1 *)", "day-of-week: 9 is out of range 1-7"),
    ],
)
def test_error_value_out_of_range(expression: str, expected: str) -> None:
    assert expected in error_message(expression)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 0 1 FOO ? *)", 'month: "FOO" is not a number or a name (JAN-DEC)'),
        ("cron(0 0 ? * FUNDAY *)", 'day-of-week: "FUNDAY" is not a number or a name (SUN-SAT)'),
        ("cron(x 0 1 * ? *)", 'minutes: "X" is not a number'),
        ("cron(L 0 1 * ? *)", 'minutes: "L" is not a number'),
        ("cron(0 0 1 * ? -5)", 'year: "" is not a number'),
        ("cron(*/0 0 1 * ? *)", 'minutes: step in "*/0" must be a positive integer'),
        ("cron(0/x 0 1 * ? *)", 'minutes: step in "0/X" must be a positive integer'),
        ("cron(0 5-1 1 * ? *)", 'hours: range "5-1" is reversed'),
        ("cron(0 0 ? * MON/2 *)", 'day-of-week: "/" is not allowed'),
        ("cron(? 0 1 * ? *)", 'minutes: "?" must stand alone, in day-of-month or day-of-week'),
        ("cron(0 0 1,? * ? *)", 'day-of-month: "?" must stand alone'),
        ("cron(0 0 1,,2 * ? *)", "day-of-month: empty item in a list"),
        ("cron(0 0 ? * 3#6 *)", 'day-of-week: occurrence in "3#6" must be 1-5'),
        ("cron(0 0 ? * 3#0 *)", 'day-of-week: occurrence in "3#0" must be 1-5'),
        ("cron(0 0 1-5W * ? *)", 'day-of-month: "W" must follow a single day'),
        (
            "cron(0 0 * * ?)",
            "expected 6 fields (minutes hours day-of-month month day-of-week year), got 5",
        ),
        ("cron(0 0 * * ? * *)", "got 7"),
        ("cron(0 0 * * ? *", 'missing closing ")"'),
    ],
)
def test_error_cron_syntax(expression: str, expected: str) -> None:
    message = error_message(expression)
    assert message.startswith(expression + ": ")
    assert expected in message


# --- rate() ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
        ("rate(1 second)", timedelta(seconds=1)),
        ("rate(30 seconds)", timedelta(seconds=30)),
    ],
)
def test_rate_units(expression: str, interval: timedelta) -> None:
    assert parse_expression(expression).interval == interval


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 hours)", 'rate(1 hours): unit must be singular ("hour") when the value is 1'),
        ("rate(5 hour)", 'rate(5 hour): unit must be plural ("hours") when the value is not 1'),
        ("rate(1 minutes)", 'unit must be singular ("minute")'),
        ("rate(2 minute)", 'unit must be plural ("minutes")'),
        ("rate(1 days)", 'unit must be singular ("day")'),
        ("rate(3 day)", 'unit must be plural ("days")'),
        ("rate(1 seconds)", 'unit must be singular ("second")'),
        ("rate(10 second)", 'unit must be plural ("seconds")'),
        ("rate(0 minutes)", 'value must be a positive integer, got "0"'),
        ("rate(-1 minutes)", 'value must be a positive integer, got "-1"'),
        ("rate(1.5 minutes)", 'value must be a positive integer, got "1.5"'),
        ("rate(5 weeks)", 'unknown unit "weeks"'),
        ("rate(5 Minutes)", 'unknown unit "Minutes"'),
        ("rate(5)", 'expected "rate(value unit)"'),
        ("rate(5 minutes", 'missing closing ")"'),
        ("rate(99999999999999 days)", "is too large"),
    ],
)
def test_rate_errors(expression: str, expected: str) -> None:
    message = error_message(expression)
    assert message.startswith(expression + ": ")
    assert expected in message


def test_rate_fires_on_anchor_grid() -> None:
    anchor = utc(2024, 1, 1)
    schedule = parse_expression("rate(5 minutes)", anchor=anchor)
    assert schedule.anchor == anchor
    assert schedule.next_fire(anchor) == utc(2024, 1, 1, 0, 5)
    assert schedule.next_fire(utc(2024, 1, 1, 0, 7, 30)) == utc(2024, 1, 1, 0, 10)
    assert schedule.next_fire(utc(2024, 1, 1, 0, 10)) == utc(2024, 1, 1, 0, 15)
    assert schedule.next_fire(utc(2024, 3, 1, 0, 0, 1)) == utc(2024, 3, 1, 0, 5)


def test_rate_anchor_is_the_first_fire() -> None:
    anchor = utc(2024, 1, 1, 12)
    schedule = parse_expression("rate(1 day)", anchor=anchor)
    assert schedule.next_fire(utc(2023, 6, 1)) == anchor
    assert schedule.next_fire(anchor - timedelta(microseconds=1)) == anchor


def test_rate_seconds() -> None:
    schedule = parse_expression("rate(30 seconds)", anchor=utc(2024, 1, 1))
    assert schedule.next_fire(utc(2024, 1, 1, 0, 0, 45)) == utc(2024, 1, 1, 0, 1)


def test_rate_is_absolute_time_across_dst() -> None:
    # 01:00 CET on the spring-forward day is 00:00Z; an hour later the wall clock reads 03:00 CEST.
    anchor = datetime(2024, 3, 31, 1, tzinfo=ZoneInfo(BERLIN))
    schedule = parse_expression("rate(1 hour)", BERLIN, anchor=anchor)
    first = schedule.next_fire(anchor)
    assert first == utc(2024, 3, 31, 1)
    assert first is not None and first.tzinfo is UTC


def test_rate_default_anchor_is_now_truncated_to_the_second() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    schedule = parse_expression("rate(1 minute)")
    after = datetime.now(UTC)
    assert before <= schedule.anchor <= after
    assert schedule.anchor.microsecond == 0
    assert schedule.anchor.utcoffset() == timedelta(0)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_expression("rate(1 minute)", anchor=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_expression("cron(0 0 * * ? *)").next_fire(datetime(2024, 1, 1))


# --- crontab lines ---------------------------------------------------------------------------


def test_crontab_every_five_minutes() -> None:
    assert fires("*/5 * * * *", utc(2024, 1, 1, 12, 3), 3) == [
        utc(2024, 1, 1, 12, 5),
        utc(2024, 1, 1, 12, 10),
        utc(2024, 1, 1, 12, 15),
    ]


def test_crontab_sunday_is_zero_and_seven() -> None:
    for expression in ("0 0 * * 0", "0 0 * * 7", "0 0 * * sun"):
        assert first_fire(expression, utc(2024, 1, 1)) == utc(2024, 1, 7)
    assert first_fire("0 0 * * 1", utc(2024, 1, 2)) == utc(2024, 1, 8)
    assert [t.day for t in fires("0 0 * * 5-7", utc(2024, 1, 1), 4)] == [5, 6, 7, 12]


def test_crontab_names() -> None:
    assert first_fire("30 9 * JUN-AUG MON-FRI", utc(2024, 1, 1)) == utc(2024, 6, 3, 9, 30)


def test_crontab_day_fields_or_when_both_restricted() -> None:
    # Fridays or the 13th: 2024-01-13 is a Saturday.
    assert [t.day for t in fires("0 0 13 * 5", utc(2024, 1, 1), 4)] == [5, 12, 13, 19]


def test_crontab_day_fields_and_when_one_starts_with_star() -> None:
    # Vixie cron: "*/10" counts as unrestricted-looking, so both fields must match.
    # Mondays on day 1, 11, 21 or 31: 2024-01-01, then 2024-03-11.
    assert fires("0 0 */10 * 1", utc(2023, 12, 31), 2) == [utc(2024, 1, 1), utc(2024, 3, 11)]


def test_crontab_only_one_day_field_restricted() -> None:
    assert first_fire("0 0 15 * *", utc(2024, 1, 16)) == utc(2024, 2, 15)
    assert first_fire("0 0 * * 3", utc(2024, 1, 1)) == utc(2024, 1, 3)


def test_crontab_never_matching_returns_none() -> None:
    assert first_fire("0 0 30 2 *", utc(2024, 1, 1)) is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            "0 0 * * * *",
            "5-field crontab line (minute hour day-of-month month day-of-week), got 6 fields",
        ),
        ("0 0 *", "got 3 fields"),
        ("60 * * * *", "minutes: 60 is out of range 0-59"),
        ("* * * * 8", "day-of-week: 8 is out of range 0-7"),
        ("* * 0 * *", "day-of-month: 0 is out of range 1-31"),
        ("*/0 * * * *", 'minutes: step in "*/0" must be a positive integer'),
        ("* * L * *", 'day-of-month: "L" is not a number'),
        ("CRON(0 0 * * ? *)", "got 6 fields"),
    ],
)
def test_crontab_errors(expression: str, expected: str) -> None:
    message = error_message(expression)
    assert message.startswith(expression + ": ")
    assert expected in message


def test_error_empty_expression() -> None:
    assert error_message("   ") == "schedule expression is empty"


def test_error_unknown_time_zone() -> None:
    message = error_message("cron(0 0 * * ? *)", "Mars/Olympus_Mons")
    assert "unknown time zone 'Mars/Olympus_Mons'" in message


# --- time zones ------------------------------------------------------------------------------


def test_cron_in_time_zone_follows_wall_clock() -> None:
    # 09:00 New York is 14:00Z in winter (EST) and 13:00Z in summer (EDT).
    assert first_fire("cron(0 9 ? * MON-FRI *)", utc(2024, 1, 8), NEW_YORK) == utc(2024, 1, 8, 14)
    assert first_fire("cron(0 9 ? * MON-FRI *)", utc(2024, 7, 8), NEW_YORK) == utc(2024, 7, 8, 13)


def test_results_are_utc_and_after_may_be_in_any_zone() -> None:
    after = datetime(2024, 1, 8, 23, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 14:00Z
    result = first_fire("cron(0 9 ? * MON-FRI *)", after, NEW_YORK)
    assert result == utc(2024, 1, 9, 14)
    assert result is not None and result.tzinfo is UTC


def test_new_york_gap_is_skipped() -> None:
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day.
    assert fires("cron(30 2 * * ? *)", utc(2024, 3, 9), 2, NEW_YORK) == [
        utc(2024, 3, 9, 7, 30),  # 02:30 EST
        utc(2024, 3, 11, 6, 30),  # 02:30 EDT
    ]


def test_new_york_gap_with_frequent_schedule() -> None:
    # From 01:50 EST: 02:00-02:45 do not exist, the next wall time is 03:00 EDT (07:00Z).
    assert fires("cron(0/15 * * * ? *)", utc(2024, 3, 10, 6, 50), 2, NEW_YORK) == [
        utc(2024, 3, 10, 7, 0),
        utc(2024, 3, 10, 7, 15),
    ]


def test_new_york_fold_runs_once() -> None:
    # 2024-11-03: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice; it fires at the first.
    assert fires("cron(30 1 * * ? *)", utc(2024, 11, 2, 12), 2, NEW_YORK) == [
        utc(2024, 11, 3, 5, 30),  # 01:30 EDT
        utc(2024, 11, 4, 6, 30),  # 01:30 EST, next day
    ]


def test_new_york_fold_with_frequent_schedule() -> None:
    # 00:00 EDT is 04:00Z; the repeated 01:00 and 01:30 EST (06:00Z, 06:30Z) do not fire.
    assert fires("cron(0/30 * * * ? *)", utc(2024, 11, 3, 4), 4, NEW_YORK) == [
        utc(2024, 11, 3, 4, 30),
        utc(2024, 11, 3, 5, 0),
        utc(2024, 11, 3, 5, 30),
        utc(2024, 11, 3, 7, 0),
    ]


def test_new_york_after_inside_second_pass_of_fold() -> None:
    # 06:10Z is 01:10 EST, the second 01:10 of the day; 01:20 and 01:45 already fired as EDT.
    after = utc(2024, 11, 3, 6, 10)
    assert first_fire("cron(20 1 * * ? *)", after, NEW_YORK) == utc(2024, 11, 4, 6, 20)
    assert first_fire("cron(45 1 * * ? *)", after, NEW_YORK) == utc(2024, 11, 4, 6, 45)
    assert first_fire("cron(0 * * * ? *)", after, NEW_YORK) == utc(2024, 11, 3, 7)


def test_berlin_gap_is_skipped() -> None:
    # 2024-03-31: 02:00 CET jumps to 03:00 CEST.
    assert fires("cron(30 2 * * ? *)", utc(2024, 3, 30, 12), 1, BERLIN) == [utc(2024, 4, 1, 0, 30)]
    assert first_fire("0 2 * * *", utc(2024, 3, 30, 12), BERLIN) == utc(2024, 4, 1, 0)


def test_berlin_fold_runs_once() -> None:
    # 2024-10-27: 03:00 CEST falls back to 02:00 CET.
    assert fires("cron(30 2 * * ? *)", utc(2024, 10, 26, 12), 2, BERLIN) == [
        utc(2024, 10, 27, 0, 30),  # 02:30 CEST
        utc(2024, 10, 28, 1, 30),  # 02:30 CET, next day
    ]
    assert fires("*/30 2 * * *", utc(2024, 10, 26, 23), 3, BERLIN) == [
        utc(2024, 10, 27, 0, 0),
        utc(2024, 10, 27, 0, 30),
        utc(2024, 10, 28, 1, 0),
    ]


# --- APScheduler 3 adapter -------------------------------------------------------------------


def test_trigger_is_an_apscheduler_trigger() -> None:
    trigger = ExpressionTrigger(parse_expression("cron(0 12 * * ? *)"))
    assert isinstance(trigger, BaseTrigger)
    assert str(trigger) == "cron(0 12 * * ? *)"
    assert "cron(0 12 * * ? *)" in repr(trigger)


def test_trigger_without_previous_fires_at_or_after_now() -> None:
    trigger = ExpressionTrigger(parse_expression("cron(0 12 * * ? *)"))
    assert trigger.get_next_fire_time(None, utc(2024, 1, 1, 12)) == utc(2024, 1, 1, 12)
    assert trigger.get_next_fire_time(None, utc(2024, 1, 1, 11, 59)) == utc(2024, 1, 1, 12)
    noon_and_a_bit = utc(2024, 1, 1, 12) + timedelta(microseconds=1)
    assert trigger.get_next_fire_time(None, noon_and_a_bit) == utc(2024, 1, 2, 12)


def test_trigger_with_previous_fires_strictly_after_it() -> None:
    trigger = ExpressionTrigger(parse_expression("cron(* * * * ? *)"))
    # APScheduler walks misfires this way: previous 12:00 with now 12:05 gives 12:01.
    assert trigger.get_next_fire_time(utc(2024, 1, 1, 12), utc(2024, 1, 1, 12, 5)) == utc(
        2024, 1, 1, 12, 1
    )
    assert trigger.get_next_fire_time(utc(2024, 1, 1, 12), utc(2024, 1, 1, 12)) == utc(
        2024, 1, 1, 12, 1
    )


def test_trigger_rate() -> None:
    trigger = ExpressionTrigger(parse_expression("rate(10 minutes)", anchor=utc(2024, 1, 1)))
    assert trigger.get_next_fire_time(None, utc(2024, 1, 1, 0, 10)) == utc(2024, 1, 1, 0, 10)
    assert trigger.get_next_fire_time(None, utc(2024, 1, 1, 0, 11)) == utc(2024, 1, 1, 0, 20)
    assert trigger.get_next_fire_time(utc(2024, 1, 1, 0, 10), utc(2024, 1, 1, 1)) == utc(
        2024, 1, 1, 0, 20
    )


def test_trigger_exhausted_returns_none() -> None:
    trigger = ExpressionTrigger(parse_expression("cron(0 0 1 1 ? 2024)"))
    assert trigger.get_next_fire_time(None, utc(2024, 6, 1)) is None
    assert trigger.get_next_fire_time(utc(2024, 1, 1), utc(2024, 1, 1)) is None


def test_trigger_pickles() -> None:
    trigger = ExpressionTrigger(parse_expression("cron(0 9 ? * 2 *)", BERLIN))
    clone = pickle.loads(pickle.dumps(trigger))
    assert clone.schedule == trigger.schedule
    now = utc(2024, 1, 1)
    assert clone.get_next_fire_time(None, now) == trigger.get_next_fire_time(None, now)


def test_trigger_in_a_real_scheduler() -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(print, ExpressionTrigger(parse_expression("cron(0 0 1 1 ? 2199)")))
        assert job.next_run_time == utc(2199, 1, 1)
    finally:
        scheduler.shutdown(wait=False)
