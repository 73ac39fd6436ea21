"""Records that cross module boundaries: one metered invocation and its log."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(str, enum.Enum):
    """How an invocation ended, as stored in the ``invocations.status`` column."""

    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    OOM = "oom"
    THROTTLED = "throttled"


class Trigger(str, enum.Enum):
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
    trigger: str
    caller: str | None
    started_at: float  # seconds since the epoch, UTC
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None
    cold: bool
    status: str
    error_type: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    request_id: str
    function: str
    started_at: float
    text: str
