"""faas/usage.py on its own: quota periods (``period_of``), and the token bucket and quota counters of
``UsageLimiter`` against a real SQLite file. The clock is the real one: rates are chosen so that a
slow, loaded machine can only make a test wait longer, never make it pass or fail by luck."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest

from faas.config import UsagePlanConfig
from faas.exceptions import QuotaExceeded, RateLimited, Unauthorized
from faas.keys import ApiKey
from faas.store import SQLiteStore
from faas.store import UsageStore
from faas.usage import UsageLimiter, period_of

T = TypeVar("T")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """The epoch seconds of a moment in UTC, built timezone-aware."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def key(plan: str | None, key_id: str = "FKTESTKEY000000000001") -> ApiKey:
    return ApiKey(id=key_id, name="test", plan=plan, created_at=0.0)


def plan(name: str = "p", **limits: float | int | str) -> dict[str, UsagePlanConfig]:
    return {name: UsagePlanConfig(name=name, **limits)}  # type: ignore[arg-type]


def with_limiter(path: Path, plans: Mapping[str, UsagePlanConfig], body: Callable[[UsageLimiter, UsageStore], Awaitable[T]]) -> T:
    """Run ``body`` with a started limiter over a real store at ``path``; stopping it flushes."""

    async def scenario() -> T:
        async with SQLiteStore(path) as store:
            keys = UsageStore(store)
            async with UsageLimiter(keys, plans) as limiter:
                return await body(limiter, keys)

    return asyncio.run(scenario())


async def admitted(limiter: UsageLimiter, k: ApiKey, tries: int) -> int:
    """How many of ``tries`` back-to-back requests get through before the first refusal."""
    for n in range(tries):
        try:
            await limiter.admit(k)
        except (RateLimited, QuotaExceeded):
            return n
    return tries


# --- period_of --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "moment", "label"),
    [
        ("day", at(2026, 11, 22, 12, 0), "day:2026-11-22"),
        ("week", at(2026, 11, 22, 12, 0), "week:2026-11-16"),
        ("month", at(2026, 11, 22, 12, 0), "month:2026-11"),
        # a day runs from 00:00:00 to 23:59:59.999 UTC
        ("day", at(2026, 11, 22, 0, 0, 0), "day:2026-11-22"),
        ("day", at(2026, 11, 22, 23, 59, 59) + 0.999, "day:2026-11-22"),
        ("day", at(2026, 11, 23, 0, 0, 0), "day:2026-11-23"),
        # weeks start on Monday 00:00 UTC: Sunday night is the old week, Monday midnight the new one
        ("week", at(2026, 11, 16, 0, 0, 0), "week:2026-11-16"),
        ("week", at(2026, 11, 22, 23, 59, 59), "week:2026-11-16"),
        ("week", at(2026, 11, 23, 0, 0, 0), "week:2026-11-23"),
        # a week that spans two years and two months is labelled by its Monday
        ("week", at(2027, 1, 1, 9, 0), "week:2026-12-28"),
        ("week", at(2027, 1, 3, 23, 59, 59), "week:2026-12-28"),
        ("month", at(2026, 12, 31, 23, 59, 59), "month:2026-12"),
        ("month", at(2027, 1, 1, 0, 0, 0), "month:2027-01"),
        ("month", at(2028, 2, 29, 12, 0), "month:2028-02"),
        ("day", at(2028, 2, 29, 12, 0), "day:2028-02-29"),
        ("month", at(2028, 3, 1, 0, 0), "month:2028-03"),
        # single-digit months and early years are zero-padded
        ("month", at(2030, 3, 5, 0, 0), "month:2030-03"),
        ("day", at(1970, 1, 1, 0, 0), "day:1970-01-01"),
    ],
)
def test_period_labels_and_boundaries(kind: str, moment: float, label: str) -> None:
    assert period_of(kind, moment) == label


@pytest.mark.parametrize(
    ("local", "utc_day"),
    [
        # 01:00 on the 23rd in UTC+5 is still the 22nd in UTC
        (datetime(2026, 11, 23, 1, 0, tzinfo=timezone(timedelta(hours=5))), "day:2026-11-22"),
        # 22:00 on the 22nd in UTC-5 is already the 23rd in UTC
        (datetime(2026, 11, 22, 22, 0, tzinfo=timezone(timedelta(hours=-5))), "day:2026-11-23"),
        # a half-hour zone, just before and after UTC midnight
        (datetime(2026, 11, 23, 5, 29, 59, tzinfo=timezone(timedelta(hours=5, minutes=30))), "day:2026-11-22"),
        (datetime(2026, 11, 23, 5, 30, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))), "day:2026-11-23"),
    ],
)
def test_periods_are_utc_whatever_the_local_zone(local: datetime, utc_day: str) -> None:
    assert period_of("day", local.timestamp()) == utc_day


def test_a_period_label_holds_for_its_whole_length() -> None:
    start = at(2026, 11, 16, 0, 0)
    days = {period_of("day", start + hour * 3600) for hour in range(24)}
    weeks = {period_of("week", start + hour * 3600) for hour in range(7 * 24)}
    months = {period_of("month", start + hour * 3600) for hour in range(15 * 24)}  # Nov 16 -> Nov 30
    assert days == {"day:2026-11-16"}
    assert weeks == {"week:2026-11-16"}
    assert months == {"month:2026-11"}
    assert period_of("week", start + 7 * 86400) == "week:2026-11-23"


# --- the token bucket ---------------------------------------------------------------------------


def test_a_full_bucket_lets_exactly_the_burst_through(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, _: UsageStore) -> int:
        return await admitted(limiter, key("p"), 10)

    # one token a thousand seconds: nothing refills during the test
    assert with_limiter(tmp_path / "faas.db", plan(rate=0.001, burst=3), body) == 3


def test_throttled_says_which_key_and_when_to_retry(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, _: UsageStore) -> RateLimited:
        await limiter.admit(key("p"))
        with pytest.raises(RateLimited) as caught:
            await limiter.admit(key("p"))
        return caught.value

    exc = with_limiter(tmp_path / "faas.db", plan(rate=0.01, burst=1), body)
    assert exc.key_id == "FKTESTKEY000000000001"
    # the bucket is empty: one whole token at 0.01/s is 100 s away (minus the instant since)
    assert 99.0 < exc.retry_after <= 100.0


def test_the_bucket_refills_at_the_rate(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, _: UsageStore) -> tuple[int, int, float]:
        k = key("p")
        first = await admitted(limiter, k, 5)
        with pytest.raises(RateLimited) as caught:
            await limiter.admit(k)
        await asyncio.sleep(caught.value.retry_after + 0.01)
        await limiter.admit(k)  # one token came back
        return first, await admitted(limiter, k, 1), caught.value.retry_after

    first, after, retry_after = with_limiter(tmp_path / "faas.db", plan(rate=20.0, burst=2), body)
    assert first == 2
    assert 0.0 < retry_after <= 0.05  # 1 token at 20/s
    assert after in (0, 1)  # the next one only if the machine was slow enough to refill it


def test_the_bucket_never_holds_more_than_the_burst(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, _: UsageStore) -> int:
        k = key("p")
        await admitted(limiter, k, 5)
        await asyncio.sleep(0.2)  # ten tokens' worth at 50/s
        return await admitted(limiter, k, 10)

    assert with_limiter(tmp_path / "faas.db", plan(rate=50.0, burst=2), body) == 2


def test_each_key_has_its_own_bucket(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, _: UsageStore) -> tuple[int, int, int]:
        a, b = key("p", "FKAAAAAAAAAAAAAAAAAA"), key("p", "FKBBBBBBBBBBBBBBBBBB")
        return await admitted(limiter, a, 5), await admitted(limiter, b, 5), await admitted(limiter, a, 5)

    assert with_limiter(tmp_path / "faas.db", plan(rate=0.001, burst=2), body) == (2, 2, 0)


def test_new_plans_start_with_full_buckets(tmp_path: Path) -> None:
    plans = plan(rate=0.001, burst=2)

    async def body(limiter: UsageLimiter, _: UsageStore) -> tuple[int, int]:
        drained = await admitted(limiter, key("p"), 5)
        limiter.update_plans(plans)
        return drained, await admitted(limiter, key("p"), 5)

    assert with_limiter(tmp_path / "faas.db", plans, body) == (2, 2)


def test_a_key_without_a_plan_is_never_limited(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, _: UsageStore) -> int:
        return await admitted(limiter, key(None), 1000)

    assert with_limiter(tmp_path / "faas.db", plan(rate=0.001, burst=1, quota=1), body) == 1000


def test_a_key_whose_plan_is_not_configured_is_refused(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, _: UsageStore) -> str:
        with pytest.raises(Unauthorized) as caught:
            await limiter.admit(key("gone"))
        return str(caught.value)

    message = with_limiter(tmp_path / "faas.db", plan("p", rate=1.0, burst=1), body)
    assert "'gone'" in message and "not configured" in message


# --- quotas -----------------------------------------------------------------------------------


def test_quota_admits_exactly_the_quota_and_saves_the_count(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, keys: UsageStore) -> tuple[int, QuotaExceeded]:
        k = key("p")
        n = await admitted(limiter, k, 3)
        with pytest.raises(QuotaExceeded) as caught:
            await limiter.admit(k)
        return n, caught.value

    path = tmp_path / "faas.db"
    n, exc = with_limiter(path, plan(quota=3, quota_period="day"), body)
    assert n == 3
    assert exc.key_id == "FKTESTKEY000000000001"
    assert "quota of 3 requests per day" in str(exc)

    async def stored(_: UsageLimiter, keys: UsageStore) -> int:
        return await keys.usage("FKTESTKEY000000000001", period_of("day", time.time()))

    assert with_limiter(path, {}, stored) == 3  # refusals are not counted


def test_a_used_quota_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "faas.db"
    plans = plan(quota=2, quota_period="month")

    async def use(limiter: UsageLimiter, _: UsageStore) -> int:
        return await admitted(limiter, key("p"), 5)

    assert with_limiter(path, plans, use) == 2
    assert with_limiter(path, plans, use) == 0  # a new limiter reads the saved count


def test_counts_already_in_the_store_count(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, keys: UsageStore) -> int:
        k = key("p")
        await keys.save_usage([(k.id, period_of("week", time.time()), 4)])
        return await admitted(limiter, k, 5)

    assert with_limiter(tmp_path / "faas.db", plan(quota=5, quota_period="week"), body) == 1


def test_counts_reach_the_store_while_running(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, keys: UsageStore) -> int:
        k = key("p")
        await admitted(limiter, k, 7)
        period = period_of("month", time.time())
        deadline = time.monotonic() + 10
        while (count := await keys.usage(k.id, period)) < 7 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return count

    assert with_limiter(tmp_path / "faas.db", plan(quota=100), body) == 7


def test_a_throttled_request_does_not_use_quota(tmp_path: Path) -> None:
    async def body(limiter: UsageLimiter, keys: UsageStore) -> tuple[int, int]:
        k = key("p")
        n = await admitted(limiter, k, 5)
        await limiter.flush()
        return n, await keys.usage(k.id, period_of("day", time.time()))

    assert with_limiter(tmp_path / "faas.db", plan(rate=0.001, burst=2, quota=10, quota_period="day"), body) == (2, 2)


def test_concurrent_first_requests_load_the_count_once(tmp_path: Path) -> None:
    """Many requests of a key arriving together before its count is loaded still add up exactly."""

    async def body(limiter: UsageLimiter, keys: UsageStore) -> tuple[int, int]:
        k = key("p")
        await keys.save_usage([(k.id, period_of("day", time.time()), 10)])
        results = await asyncio.gather(*(limiter.admit(k) for _ in range(20)), return_exceptions=True)
        await limiter.flush()
        ok = sum(1 for r in results if r is None)
        assert all(r is None or isinstance(r, QuotaExceeded) for r in results)
        return ok, await keys.usage(k.id, period_of("day", time.time()))

    assert with_limiter(tmp_path / "faas.db", plan(quota=15, quota_period="day"), body) == (5, 15)
