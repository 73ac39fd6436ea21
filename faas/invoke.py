"""The Invoker: the one door every trigger goes through.

HTTP routes, the Invoke API, WebSockets, schedules, buckets and async events all call
``Invoker.invoke``. It takes a worker (or throttles), runs the call under its deadline, and meters
and logs it exactly once. The call is not shielded from cancellation: a call cancelled mid-way (a
shutdown past its grace period) has its worker killed by the pool and is still metered and billed,
as an error of type ``Sandbox.Cancelled``, for the time it ran.

The client-facing error object of a call that ended without an answer from its handler (a timeout,
a crash, a failed init, an oversized response) is serialised in one place: ``InvokeResult.body``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faas import billing
from faas import trace as tracing
from faas.exceptions import Throttled
from faas.executor.handle import RunResult
from faas.executor.pool import WorkerPool
from faas.logs import iso_now, log_body, render, timeout_message
from faas.metering import MeteringWriter
from faas.records import Invocation, LogEntry, Status, Trigger
from faas.registry import Function, Registry
from faas.trace import Trace

RESPONSE_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous response cap


@dataclass(frozen=True, slots=True)
class DoorAnswer:
    """What an HTTP door made of a call's end: the status its client got, why it refused the
    function's response if it did (added to the call's log, as API Gateway's execution log has it),
    and the door's own mapped response, handed back as ``InvokeResult.answer``."""

    http_status: int
    rejected: str | None = None
    response: Any = None


# An HTTP door's mapping of a call's end (its status and the handler's answer, if any), run by the
# Invoker before it meters the call, so the row and the log are written once, with the client's status.
Door = Callable[[Status, bytes | None], DoorAnswer]


@dataclass(frozen=True, slots=True, kw_only=True)
class InvokeResult:
    """What a caller gets back: the answer (or why there is none) and the call's log."""

    request_id: str
    function: str
    status: Status
    # The handler's answer as the worker sent it: its result, or its own error object when it
    # raised. None when the call ended without one; ``body`` then makes Lambda's error object.
    output: bytes | None
    row: Invocation
    log_body: str
    error_type: str | None
    error_message: str | None
    stack_trace: tuple[str, ...] | None  # a failed init's
    duration_ms: float
    cold: bool
    answer: DoorAnswer | None = None  # the door's, when the caller passed one

    @property
    def ok(self) -> bool:
        return self.status is Status.SUCCESS

    @property
    def body(self) -> bytes:
        """The response body a client sees."""
        if self.output is not None:
            return self.output
        assert self.error_type is not None and self.error_message is not None
        return error_object(self.status, self.error_type, self.error_message, self.request_id, self.stack_trace)

    @property
    def log(self) -> str:
        """The call's log with Lambda's START, END and REPORT lines (rendered on demand)."""
        return render(self.row, self.log_body)


def error_object(
    status: Status, error_type: str, message: str, request_id: str, stack_trace: tuple[str, ...] | None
) -> bytes:
    """Lambda's error object for a call that ended without an answer, in the shape Lambda gives each
    kind: a runtime that exited names its type first; a failed init carries the request id and its
    stack trace; a timeout or an oversized response has the message and the type."""
    obj: dict[str, object]
    if status is Status.CRASHED or status is Status.OOM:
        obj = {"errorType": error_type, "errorMessage": message}
    else:
        obj = {"errorMessage": message, "errorType": error_type}
        if stack_trace is not None:
            obj["requestId"] = request_id
            obj["stackTrace"] = list(stack_trace)
    return json.dumps(obj).encode()


def rejected_lines(reason: str, http_status: int) -> str:
    """The log lines of a response an HTTP door refused, worded as API Gateway's execution log."""
    return (
        f"Execution failed due to configuration error: Malformed Lambda proxy response: {reason}\n"
        f"Method completed with status: {http_status}\n"
    )


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
        trigger: Trigger,
        caller: str | None = None,
        client_context: str | None = None,
        invoked_arn: str | None = None,
        request_id: str | None = None,
        trace: Trace | None = None,
        door: Door | None = None,
    ) -> InvokeResult:
        """Run ``name`` with ``payload`` (JSON bytes) under ``trace`` (a new one if None: every call
        has one; the worker sets it as ``_X_AMZN_TRACE_ID``). Raises FunctionNotFound or Throttled.

        ``door`` (an HTTP route's) maps the call's end to its client's answer before the call is
        metered: the row gets ``http_status`` and the log the door's refusal, if any."""
        fn = self.registry.get(name)
        rid = request_id or new_request_id()
        arn = invoked_arn or fn.arn
        if trace is None:
            trace = tracing.mint()
        cc = f',"cc":{client_context}' if client_context else ""
        header = json.dumps(trace.header) if trace.extra else f'"{trace.header}"'
        root = trace.root
        started = time.time()
        # The deadline (epoch ms) counts from here, so the handler's remaining time does too.
        deadline = started * 1000 + fn.config.timeout * 1000
        meta = f'{{"id":"{rid}","arn":{json.dumps(arn)},"deadline":{deadline:.3f},"trace":{header}{cc}}}'.encode()
        try:
            result, cold = await self.pool.run(fn, rid, meta, payload)
        except Throttled:
            answered = door(Status.THROTTLED, None).http_status if door is not None else None
            self._meter_throttled(fn, rid, trigger, caller, started, root, answered)
            raise
        except asyncio.CancelledError:
            # Our caller was cancelled mid-call (shutdown past its grace): the pool killed the
            # worker; the call is still metered and billed for the time it ran. (Cheaper than
            # shielding every call in a task of its own, which costs an event-loop turn per call.)
            self._meter_cancelled(fn, rid, trigger, caller, started, root)
            raise
        return self._finish(fn, rid, trigger, caller, started, result, cold, root, door)

    def _finish(
        self, fn: Function, rid: str, trigger: Trigger, caller: str | None, started: float, result: RunResult,
        cold: bool, root: str, door: Door | None = None,
    ) -> InvokeResult:
        status = result.status
        output = result.body
        duration = result.duration_ms
        error_type, error_message = result.error_type, result.error_message
        logged: str | None = None  # the platform's word on the call, added to its log
        if output is not None and len(output) > RESPONSE_LIMIT:
            status, error_type = Status.ERROR, "Function.ResponseSizeTooLarge"
            error_message = logged = (
                f"Response payload size ({len(output)} bytes) exceeded maximum allowed payload size "
                f"({RESPONSE_LIMIT} bytes)."
            )
            output = None
        elif status is Status.TIMEOUT:
            if error_message:  # the init phase ran out of time
                error_message = f"{iso_now()} {rid} {error_message}"
            else:
                duration = fn.config.timeout * 1000.0
                error_message = timeout_message(rid, fn.config.timeout)
            logged = error_message
        elif output is None and result.stack_trace is None:
            logged = error_message  # the worker exited, ran out of memory or sent an oversized frame
        billed = billing.billed_ms(duration, result.init_ms, granularity_ms=self.granularity_ms, bill_init=self.bill_init)
        memory = fn.config.memory
        max_used = memory if status is Status.OOM else math.ceil(result.max_memory_kib / 1024)
        body_text = log_body(result.log, logged, error_type, status)
        answer = door(status, output) if door is not None else None
        if answer is not None and answer.rejected is not None:
            body_text += rejected_lines(answer.rejected, answer.http_status)
        row = Invocation(
            request_id=rid, function=fn.name, version=fn.version, trigger=trigger, caller=caller,
            started_at=started, duration_ms=duration, billed_ms=billed, memory_mb=memory,
            max_memory_mb=max_used, init_ms=result.init_ms, cold=cold, status=status,
            error_type=error_type, trace_id=root, http_status=answer.http_status if answer is not None else None,
        )
        # Only output is stored; START/END/REPORT are rendered from the row when the log is read.
        entry = LogEntry(request_id=rid, function=fn.name, started_at=started, text=body_text) if body_text else None
        self._record(row, entry)
        return InvokeResult(
            request_id=rid, function=fn.name, status=status, output=output, row=row, log_body=body_text,
            error_type=error_type, error_message=error_message, stack_trace=result.stack_trace,
            duration_ms=duration, cold=cold, answer=answer,
        )

    def _meter_cancelled(
        self, fn: Function, rid: str, trigger: Trigger, caller: str | None, started: float, root: str
    ) -> None:
        duration = (time.time() - started) * 1000.0
        billed = billing.billed_ms(duration, None, granularity_ms=self.granularity_ms, bill_init=self.bill_init)
        row = Invocation(
            request_id=rid, function=fn.name, version=fn.version, trigger=trigger, caller=caller,
            started_at=started, duration_ms=duration, billed_ms=billed, memory_mb=fn.config.memory, max_memory_mb=0,
            init_ms=None, cold=False, status=Status.ERROR, error_type="Sandbox.Cancelled", trace_id=root,
        )
        self._record(row, None)

    def _meter_throttled(
        self, fn: Function, rid: str, trigger: Trigger, caller: str | None, started: float, root: str,
        http_status: int | None,
    ) -> None:
        row = Invocation(
            request_id=rid, function=fn.name, version=fn.version, trigger=trigger, caller=caller,
            started_at=started, duration_ms=0.0, billed_ms=0, memory_mb=fn.config.memory, max_memory_mb=0,
            init_ms=None, cold=False, status=Status.THROTTLED, error_type="TooManyRequestsException", trace_id=root,
            http_status=http_status,
        )
        self._record(row, None)

    def _record(self, row: Invocation, entry: LogEntry | None) -> None:
        self.metering.record(row, entry)
        for observe in self.observers:
            observe(row)
