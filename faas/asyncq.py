"""Asynchronous invocation: a durable queue in SQLite, a dispatcher, retries and dead letters.

``AsyncQueue.enqueue`` returns once the event is committed (the 202 of ``X-Amz-Invocation-Type:
Event`` and of ``async = true`` routes; schedule fires and bucket notifications are queued the same
way, in the transaction that records them). The dispatcher claims due events and runs each through
the Invoker, so they are metered, logged and limited like any call:

- success: the event is gone;
- an error, timeout, crash or OOM: retried after ``retry_base_delay`` seconds, doubling each time,
  at most ``max_retries`` times; then it is moved to the dead letters with its last error;
- an event older than ``max_event_age`` (or whose next try would come after that) is dead-lettered;
- a function that no longer exists dead-letters the event at once;
- throttled (the function at its concurrency) or the server shutting down: put back, not counted.

Delivery is at least once: a try cut short by a crash, a SIGKILL or a shutdown past its grace
period is run again at the next start. Other processes (``faas dlq replay``) may add events to the
queue; the dispatcher looks for due events at least every ``poll`` seconds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter

from faas.background import TaskSet, WakeLoop
from faas.events import DeadLetterReason, QueuedEvent
from faas.exceptions import (
    EnvironmentNotReady,
    ExecutorUnavailable,
    FaaSError,
    FunctionNotFound,
    PayloadTooLarge,
    StoreError,
    Throttled,
)
from faas.invoke import Invoker
from faas.records import Trigger
from faas.registry import Registry
from faas import trace as tracing
from faas.store import EventStore

log = logging.getLogger(__name__)

ASYNC_PAYLOAD_LIMIT = 1024 * 1024  # Lambda's asynchronous payload cap (1 MB)
THROTTLE_BACKOFF = (0.5, 10.0)  # first and largest wait before a throttled event is tried again


class AsyncQueue:
    """The durable queue and its dispatcher; an async context manager owned by the Runtime."""

    def __init__(
        self, store: EventStore, registry: Registry, invoker: Invoker, *, poll: float = 0.5, grace: float = 10.0
    ) -> None:
        self.store = store
        self.registry = registry
        self.invoker = invoker
        self.poll = poll
        self.grace = grace
        self._dispatcher = WakeLoop(self._dispatch_due, name="async queue")
        self._tasks = TaskSet("async queue: dispatch", on_done=self._dispatcher.wake)
        self._inflight: Counter[str] = Counter()
        self._throttled: dict[str, int] = {}
        self.dispatched = 0

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> "AsyncQueue":
        recovered = await self.store.recover()
        if recovered:
            log.warning("async queue: %d event(s) were running when the server stopped; running them again",
                        recovered)
        self._dispatcher.wake()  # look for due events at once
        self._dispatcher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop claiming; give tries in flight ``grace`` seconds, then leave the rest for next start."""
        await self._dispatcher.stop()
        pending = await self._tasks.join(self.grace)
        if pending:
            log.warning("async queue: %d event(s) still running after %.0f s; they run again at next start",
                        pending, self.grace)
            await self._tasks.cancel()

    # --- accepting events -----------------------------------------------------------------------

    def new_event(
        self, function: str, payload: bytes, *, trigger: Trigger, caller: str | None = None,
        event_id: str | None = None, run_id: int | None = None, delay: float = 0.0, trace: str | None = None,
    ) -> QueuedEvent:
        """Build an event for ``function``, checking it exists and the payload fits (no I/O). A
        function whose environment is still building takes events: they run once it is built.
        ``trace`` is the X-Amzn-Trace-Id its tries run under (a new trace when None)."""
        self.registry.config_of(function)
        if len(payload) > ASYNC_PAYLOAD_LIMIT:
            raise PayloadTooLarge(len(payload), ASYNC_PAYLOAD_LIMIT)
        now = time.time()
        return QueuedEvent(
            id=event_id or str(uuid.uuid4()), function=function, trigger=trigger, caller=caller,
            payload=payload, enqueued_at=now, next_at=now + delay, run_id=run_id,
            trace_id=trace or tracing.mint().header,
        )

    async def enqueue(
        self, function: str, payload: bytes, *, trigger: Trigger, caller: str | None = None,
        event_id: str | None = None, trace: str | None = None,
    ) -> str:
        """Queue one event durably and return its id. Raises FunctionNotFound or PayloadTooLarge."""
        ev = self.new_event(function, payload, trigger=trigger, caller=caller, event_id=event_id, trace=trace)
        await self.store.enqueue([ev])
        self.wake()
        return ev.id

    def wake(self) -> None:
        """Look for due events now (after a commit that added some)."""
        self._dispatcher.wake()

    # --- the dispatcher -------------------------------------------------------------------------

    async def _dispatch_due(self) -> float:
        """One pass of the dispatcher; returns how long to wait for a wake before the next."""
        try:
            await self._claim_and_start()
            return await self._idle_timeout()
        except StoreError as exc:
            log.error("async queue: %s; trying again in 1 s", exc)
            return 1.0

    async def _idle_timeout(self) -> float:
        due = await self.store.next_due()
        if due is None:
            return self.poll
        return min(self.poll, max(0.0, due - time.time()))

    async def _claim_and_start(self) -> None:
        if self._dispatcher.closing:
            return
        claimed = await self.store.claim(time.time(), self._choose, skip=self._at_cap())
        for ev in claimed:
            self._inflight[ev.function] += 1
            self._tasks.spawn(self._dispatch(ev))

    def _at_cap(self) -> frozenset[str]:
        capped = set()
        for name, n in self._inflight.items():
            try:
                if n >= self.registry.config_of(name).concurrency:
                    capped.add(name)
            except FunctionNotFound:
                pass
        return frozenset(capped)

    def _choose(self, due: list[QueuedEvent]) -> list[QueuedEvent]:
        """Take due events while each function stays under its concurrency and the server under
        max_workers, so queued work waits here (durably) rather than in the pool."""
        total_cap = self.registry.config.executor.max_workers
        total = sum(self._inflight.values())
        planned: Counter[str] = Counter()
        chosen: list[QueuedEvent] = []
        for ev in due:
            if total >= total_cap:
                break
            try:
                cap = self.registry.config_of(ev.function).concurrency
            except FunctionNotFound:
                cap = 1  # taken, so that it is dead-lettered
            if self._inflight[ev.function] + planned[ev.function] >= cap:
                continue
            planned[ev.function] += 1
            total += 1
            chosen.append(ev)
        return chosen

    def _backoff(self, ev: QueuedEvent) -> float:
        """How long an event that could not run yet (throttled, environment not ready) waits: doubling."""
        n = self._throttled.get(ev.id, 0)
        self._throttled[ev.id] = n + 1
        return float(min(THROTTLE_BACKOFF[1], THROTTLE_BACKOFF[0] * 2**n))

    async def _dispatch(self, ev: QueuedEvent) -> None:
        try:
            await self._try(ev)
        finally:
            self._inflight[ev.function] -= 1
            if self._inflight[ev.function] <= 0:
                del self._inflight[ev.function]

    async def _try(self, ev: QueuedEvent) -> None:
        store = self.store
        try:
            cfg = self.registry.config_of(ev.function)
        except FunctionNotFound as exc:
            await self._dead(ev, DeadLetterReason.FUNCTION_NOT_FOUND, "ResourceNotFoundException", str(exc), ev.attempts)
            return
        age = time.time() - ev.enqueued_at
        if age > cfg.max_event_age:
            await self._dead(ev, DeadLetterReason.EVENT_AGE_EXCEEDED, ev.last_error_type,
                             ev.last_error_message or f"event is {age:.0f} s old (max_event_age = {cfg.max_event_age:g})",
                             ev.attempts)
            return
        rid = ev.request_ids[-1]
        # Every try under the event's Root, each with a segment (Parent) of its own.
        trace = tracing.for_call(ev.trace_id)
        try:
            result = await self.invoker.invoke(
                ev.function, ev.payload, trigger=ev.trigger, caller=ev.caller, request_id=rid, trace=trace
            )
        except Throttled as exc:
            wait = self._backoff(ev)
            log.info("async queue: %s throttled (%s); again in %.1f s", ev.id, exc.reason, wait)
            await store.retry_later(ev, time.time() + wait, error_type=None, error_message=None, counts=False)
            return
        except EnvironmentNotReady as exc:
            # Not a try: the event waits (durably) for the build, or for a fix, up to max_event_age.
            wait = self._backoff(ev)
            log.info("async queue: %s waits for %s; again in %.1f s", ev.id, exc, wait)
            await store.retry_later(ev, time.time() + wait, error_type="Runtime.EnvironmentNotReady",
                                    error_message=str(exc)[:4000], counts=False)
            return
        except ExecutorUnavailable:
            await store.retry_later(ev, time.time(), error_type=None, error_message=None, counts=False)
            return
        except FunctionNotFound as exc:  # removed from config while queued
            await self._dead(ev, DeadLetterReason.FUNCTION_NOT_FOUND, "ResourceNotFoundException", str(exc), ev.attempts)
            return
        except FaaSError as exc:
            log.error("async queue: %s of %s failed before running: %s", ev.id, ev.function, exc)
            await self._failed(ev, cfg.max_retries, cfg.retry_base_delay, cfg.max_event_age,
                               type(exc).__name__, str(exc), None)
            return
        self._throttled.pop(ev.id, None)
        self.dispatched += 1
        if result.ok:
            await store.succeeded(ev, duration_ms=result.duration_ms)
            return
        message = None if result.error_message is None else result.error_message[:4000]
        await self._failed(ev, cfg.max_retries, cfg.retry_base_delay, cfg.max_event_age, result.error_type, message,
                           result.duration_ms)

    async def _failed(
        self, ev: QueuedEvent, max_retries: int, base_delay: float, max_age: float,
        error_type: str | None, message: str | None, duration_ms: float | None,
    ) -> None:
        attempts = ev.attempts + 1
        if attempts > max_retries:
            await self._dead(ev, DeadLetterReason.RETRIES_EXHAUSTED, error_type, message, attempts, duration_ms)
            return
        next_at = time.time() + base_delay * 2 ** (attempts - 1)
        if next_at - ev.enqueued_at > max_age:
            await self._dead(ev, DeadLetterReason.EVENT_AGE_EXCEEDED, error_type, message, attempts, duration_ms)
            return
        log.info("async queue: %s of %s failed (%s), try %d of %d in %.1f s", ev.id, ev.function, error_type,
                 attempts + 1, max_retries + 1, next_at - time.time())
        await self.store.retry_later(ev, next_at, error_type=error_type, error_message=message, counts=True,
                                     duration_ms=duration_ms)

    async def _dead(
        self, ev: QueuedEvent, reason: DeadLetterReason, error_type: str | None, message: str | None,
        attempts: int, duration_ms: float | None = None,
    ) -> None:
        self._throttled.pop(ev.id, None)
        letter = await self.store.dead_letter(ev, reason, error_type=error_type, error_message=message,
                                              attempts=attempts, duration_ms=duration_ms)
        log.warning("async queue: %s of %s dead-lettered as #%d (%s, %d tries): %s: %s", ev.id, ev.function, letter,
                    reason.value, attempts, error_type, message)

