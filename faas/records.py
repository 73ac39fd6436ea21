"""Records that cross module boundaries: one metered invocation and its log."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.StrEnum):
    """How an invocation ended, as stored in the ``invocations.status`` column.

    The one enum for it: the executor reports a call's end with it and the store keeps its value.
    A ``StrEnum``, so sqlite3 binds it, JSON and templates show it, as its value.
    """

    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    OOM = "oom"
    THROTTLED = "throttled"


class Trigger(enum.StrEnum):
    """What started an invocation, as stored in the ``invocations.trigger`` column."""

    HTTP = "http"
    INVOKE = "invoke"
    WEBSOCKET = "websocket"
    SCHEDULE = "schedule"
    BUCKET = "bucket"
    ASYNC = "async"


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """One row of the ``invocations`` table: what a call did and what it is billed for."""

    request_id: str
    function: str
    version: int
    trigger: Trigger
    caller: str | None
    started_at: float  # seconds since the epoch, UTC
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None
    cold: bool
    status: Status
    error_type: str | None
    trace_id: str | None = None  # the X-Amzn-Trace-Id Root ("1-5e1b4151-..."), shared along a call chain
    http_status: int | None = None  # what an HTTP door answered for it, when that says more than status


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    request_id: str
    function: str
    started_at: float
    text: str
