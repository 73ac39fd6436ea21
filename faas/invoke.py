"""The Invoker: the one door every trigger goes through.

HTTP routes, the Invoke API, WebSockets, schedules, buckets and async events all call
``Invoker.invoke``. It takes a worker (or throttles), runs the call under its deadline, and meters
and logs it exactly once, shielded from cancellation so a call whose client went away is billed.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import os
from collections.abc import Callable
from dataclasses import dataclass

from faas import billing
from faas.exceptions import Throttled
from faas.executor.pool import Outcome, RunResult, WorkerPool
from faas.logs import iso_now, log_body, render, timeout_message
from faas.metering import MeteringWriter
from faas.records import Invocation, LogEntry, Status
from faas.registry import Function, Registry

RESPONSE_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous response cap

_STATUS = {
    Outcome.SUCCESS: Status.SUCCESS,
    Outcome.ERROR: Status.ERROR,
    Outcome.TIMEOUT: Status.TIMEOUT,
    Outcome.CRASH: Status.CRASHED,
    Outcome.OOM: Status.OOM,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class InvokeResult:
    """What a caller gets back: the result (or error object) bytes and the call's log."""

    request_id: str
    function: str
    status: Status
    body: bytes
    row: Invocation
    log_body: str
    error_type: str | None
    duration_ms: float
    cold: bool

    @property
    def ok(self) -> bool:
        return self.status is Status.SUCCESS

    @property
    def log(self) -> str:
        """The call's log with Lambda's START, END and REPORT lines (rendered on demand)."""
        return render(self.row, self.log_body)


def new_request_id() -> str:
    """A random (version 4) UUID string, about twice as fast as ``str(uuid.uuid4())``."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


class Invoker:
    def __init__(
        self,
        registry: Registry,
        pool: WorkerPool,
        metering: MeteringWriter,
        *,
        granularity_ms: int = 1,
        bill_init: bool = True,
    ) -> None:
        self.registry = registry
        self.pool = pool
        self.metering = metering
        self.granularity_ms = granularity_ms
        self.bill_init = bill_init
        # Called with every metered row (metrics count here, once, for every trigger).
        self.observers: list[Callable[[Invocation], None]] = []

    async def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        trigger: str,
        caller: str | None = None,
        client_context: str | None = None,
        invoked_arn: str | None = None,
        request_id: str | None = None,
    ) -> InvokeResult:
        """Run ``name`` with ``payload`` (JSON bytes). Raises FunctionNotFound or Throttled."""
        fn = self.registry.get(name)
        rid = request_id or new_request_id()
        arn = invoked_arn or fn.arn
        cc = f',"cc":{client_context}' if client_context else ""
        meta = f'{{"id":"{rid}","arn":{json.dumps(arn)},"timeout":{int(fn.config.timeout * 1000)}{cc}}}'.encode()
        started = time.time()
        try:
            result, cold = await self.pool.run(fn, rid, meta, payload)
        except Throttled:
            self._meter_throttled(fn, rid, trigger, caller, started)
            raise
        except asyncio.CancelledError:
            # Our caller was cancelled mid-call (shutdown past its grace): the pool killed the
            # worker; the call is still metered and billed for the time it ran. (Cheaper than
            # shielding every call in a task of its own, which costs an event-loop turn per call.)
            self._meter_cancelled(fn, rid, trigger, caller, started)
            raise
        return self._finish(fn, rid, trigger, caller, started, result, cold)

    def _finish(
        self, fn: Function, rid: str, trigger: str, caller: str | None, started: float, result: RunResult, cold: bool
    ) -> InvokeResult:
        status = _STATUS[result.outcome]
        body = result.body
        duration = result.duration_ms
        error_type = result.error_type
        error_message: str | None = None
        if len(body) > RESPONSE_LIMIT:
            status, error_type = Status.ERROR, "Function.ResponseSizeTooLarge"
            error_message = (
                f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size "
                f"({RESPONSE_LIMIT} bytes)."
            )
            body = json.dumps({"errorMessage": error_message, "errorType": error_type}).encode()
        elif status is Status.TIMEOUT:
            if result.error_message:  # the init phase ran out of time
                duration = result.duration_ms
                error_message = f"{iso_now()} {rid} {result.error_message}"
            else:
                duration = fn.config.timeout * 1000.0
                error_message = timeout_message(rid, fn.config.timeout)
            body = json.dumps({"errorMessage": error_message, "errorType": "Sandbox.Timedout"}).encode()
        elif status in (Status.CRASHED, Status.OOM):
            error_message = json.loads(body)["errorMessage"]
        billed = billing.billed_ms(duration, result.init_ms, granularity_ms=self.granularity_ms, bill_init=self.bill_init)
        memory = fn.config.memory
        max_used = memory if status is Status.OOM else math.ceil(result.max_memory_kib / 1024)
        body_text = log_body(result.log, error_message, error_type, status)
        row = Invocation(
            request_id=rid, function=fn.name, version=fn.version, trigger=trigger, caller=caller,
            started_at=started, duration_ms=duration, billed_ms=billed, memory_mb=memory,
            max_memory_mb=max_used, init_ms=result.init_ms, cold=cold, status=status.value,
            error_type=error_type,
        )
        # Only output is stored; START/END/REPORT are rendered from the row when the log is read.
        entry = LogEntry(request_id=rid, function=fn.name, started_at=started, text=body_text) if body_text else None
        self._record(row, entry)
        return InvokeResult(
            request_id=rid, function=fn.name, status=status, body=body, row=row, log_body=body_text,
            error_type=error_type, duration_ms=duration, cold=cold,
        )

    def _meter_cancelled(self, fn: Function, rid: str, trigger: str, caller: str | None, started: float) -> None:
        duration = (time.time() - started) * 1000.0
        billed = billing.billed_ms(duration, None, granularity_ms=self.granularity_ms, bill_init=self.bill_init)
        row = Invocation(
            request_id=rid, function=fn.name, version=fn.version, trigger=trigger, caller=caller,
            started_at=started, duration_ms=duration, billed_ms=billed, memory_mb=fn.config.memory, max_memory_mb=0,
            init_ms=None, cold=False, status=Status.ERROR.value, error_type="Sandbox.Cancelled",
        )
        self._record(row, None)

    def _meter_throttled(self, fn: Function, rid: str, trigger: str, caller: str | None, started: float) -> None:
        row = Invocation(
            request_id=rid, function=fn.name, version=fn.version, trigger=trigger, caller=caller,
            started_at=started, duration_ms=0.0, billed_ms=0, memory_mb=fn.config.memory, max_memory_mb=0,
            init_ms=None, cold=False, status=Status.THROTTLED.value, error_type="TooManyRequestsException",
        )
        self._record(row, None)

    def _record(self, row: Invocation, entry: LogEntry | None) -> None:
        self.metering.record(row, entry)
        for observe in self.observers:
            observe(row)
