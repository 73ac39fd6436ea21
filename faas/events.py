"""Records of the event sources: queued async events, dead letters, schedule runs, bucket objects.

They cross module boundaries (store, async queue, scheduler, gateway, CLI), so they sit here at the
bottom and import nothing of ours but the other records (``faas.records``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from faas.records import Trigger


def iso_time(ts: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC with milliseconds (``2026-01-01T00:00:00.000Z``)."""
    if ts is None:
        return None
    when = datetime.fromtimestamp(ts, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class EventState(str, enum.Enum):
    """Where a queued event is: waiting for its turn (or its retry), or being run."""

    QUEUED = "queued"
    RUNNING = "running"


class DeadLetterReason(str, enum.Enum):
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"
    FUNCTION_NOT_FOUND = "FunctionNotFound"


class RunStatus(str, enum.Enum):
    """A schedule run, as stored in ``schedule_runs.status``."""

    QUEUED = "queued"  # fired; its event waits in the async queue
    RUNNING = "running"
    RETRYING = "retrying"  # a try failed, another one is due
    SUCCESS = "success"
    FAILED = "failed"  # dead-lettered
    SKIPPED = "skipped"  # fired while max_concurrency runs were still busy
    MISSED = "missed"  # due while the server was down, past misfire_grace_seconds

    @property
    def active(self) -> bool:
        return self in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.RETRYING)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedEvent:
    """One row of ``async_queue``: an accepted asynchronous invocation and how far it got."""

    id: str  # the event id: x-amzn-RequestId of the 202, and the request id of its first try
    function: str
    trigger: Trigger
    caller: str | None
    payload: bytes
    enqueued_at: float
    next_at: float
    state: EventState = EventState.QUEUED
    attempts: int = 0  # tries that ended in an error
    starts: int = 0  # tries started, interrupted ones included
    request_ids: tuple[str, ...] = ()
    last_error_type: str | None = None
    last_error_message: str | None = None
    run_id: int | None = None  # schedule_runs.id when a schedule fired it
    # The X-Amzn-Trace-Id the event came with (or was given when queued): every try runs under its
    # Root, each with a new Parent.
    trace_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    id: int
    event_id: str
    function: str
    trigger: Trigger
    caller: str | None
    payload: bytes
    enqueued_at: float
    failed_at: float
    attempts: int
    reason: str
    error_type: str | None
    error_message: str | None
    request_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleState:
    """What persists of a schedule besides its config: pause, rate anchor, last fire time."""

    name: str
    paused: bool
    expression: str
    anchor: float  # where a rate() schedule counts from (seconds since the epoch)
    last_fire_at: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRun:
    id: int
    schedule: str
    scheduled_at: float
    manual: bool
    status: RunStatus
    event_id: str | None
    request_id: str | None
    started_at: float | None
    finished_at: float | None
    duration_ms: float | None
    error: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id, "schedule": self.schedule, "scheduledTime": iso_time(self.scheduled_at),
            "manual": self.manual, "status": self.status.value, "eventId": self.event_id,
            "requestId": self.request_id, "started": iso_time(self.started_at),
            "finished": iso_time(self.finished_at), "durationMs": self.duration_ms, "error": self.error,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketObject:
    """One announced file of a bucket, as the manifest remembers it."""

    bucket: str
    key: str
    size: int
    mtime_ns: int
    etag: str
