"""Usage plans per API key: a token bucket for the rate, a counter per period for the quota.

Buckets live in memory (a restart refills them, as a throttle should); quota counters are kept in
memory and written to SQLite every 50 ms and at shutdown, so a restart does not reset a quota (a
crash can forget at most that window's requests). A throttled request never reaches a worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Mapping

from faas.background import WakeLoop
from faas.config import UsagePlanConfig
from faas.exceptions import QuotaExceeded, RateLimited, StoreError, Unauthorized
from faas.keys import ApiKey
from faas.store import UsageStore

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05


def period_of(kind: str, now: float) -> str:
    """The quota period a moment falls in, as a stable label: day:2026-11-22, week:2026-11-16, month:2026-11."""
    day = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    if kind == "day":
        return f"day:{day.isoformat()}"
    if kind == "week":
        return f"week:{(day - dt.timedelta(days=day.weekday())).isoformat()}"
    return f"month:{day.year:04d}-{day.month:02d}"


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, burst: int, now: float) -> None:
        self.tokens = float(burst)
        self.stamp = now


class UsageLimiter:
    def __init__(self, store: UsageStore, plans: Mapping[str, UsagePlanConfig]) -> None:
        self.store = store
        self.plans = plans
        self._buckets: dict[str, _Bucket] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[int]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._flusher = WakeLoop(
            self.flush, name="usage counters", window=FLUSH_SECONDS, errors=(StoreError,), retry=1.0,
            on_error=self._flush_failed, final=True,
        )

    def update_plans(self, plans: Mapping[str, UsagePlanConfig]) -> None:
        self.plans = plans
        self._buckets.clear()

    async def __aenter__(self) -> "UsageLimiter":
        self._flusher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._flusher.stop()  # its last step saves every counter

    async def admit(self, key: ApiKey) -> None:
        """Let one request of ``key`` through, or raise RateLimited / QuotaExceeded / Unauthorized."""
        if key.plan is None:
            return
        plan = self.plans.get(key.plan)
        if plan is None:
            raise Unauthorized(f"API key {key.id} belongs to usage plan {key.plan!r}, which is not configured")
        now = time.monotonic()
        if plan.rate is not None and plan.burst is not None:
            bucket = self._buckets.get(key.id)
            if bucket is None:
                bucket = self._buckets[key.id] = _Bucket(plan.burst, now)
            bucket.tokens = min(float(plan.burst), bucket.tokens + (now - bucket.stamp) * plan.rate)
            bucket.stamp = now
            if bucket.tokens < 1.0:
                raise RateLimited(key.id, (1.0 - bucket.tokens) / plan.rate)
        if plan.quota is not None:
            slot = (key.id, period_of(plan.quota_period, time.time()))
            used = self._counts.get(slot)
            if used is None:
                used = await self._load(slot)
            if used >= plan.quota:
                raise QuotaExceeded(key.id, plan.quota, plan.quota_period)
            self._counts[slot] = used + 1
            self._dirty.add(slot)
            self._flusher.wake()
        if plan.rate is not None:
            self._buckets[key.id].tokens -= 1.0

    async def _load(self, slot: tuple[str, str]) -> int:
        pending = self._loading.get(slot)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._loading[slot] = pending
            try:
                count = await self.store.usage(*slot)
            except BaseException as exc:
                pending.set_exception(exc)
                del self._loading[slot]
                raise
            self._counts.setdefault(slot, count)
            pending.set_result(count)
            del self._loading[slot]
        await pending
        return self._counts[slot]

    def _flush_failed(self, exc: Exception) -> None:
        log.error("%s; will retry", exc)

    async def flush(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        try:
            await self.store.save_usage((k, p, self._counts[(k, p)]) for k, p in dirty)
        except StoreError:
            self._dirty |= dirty
            raise
        # forget old periods
        for slot in [s for s in self._counts if s not in dirty and s not in self._dirty]:
            if len(self._counts) > 10000:
                del self._counts[slot]
