"""Lambda-shaped log text around what a worker printed: START, END and REPORT lines."""

from __future__ import annotations

import time

from faas.records import Invocation, Status


def iso_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def timeout_message(request_id: str, timeout_s: float) -> str:
    return f"{iso_now()} {request_id} Task timed out after {timeout_s:.2f} seconds"


def log_body(output: bytes, error_message: str | None, error_type: str | None, status: Status) -> str:
    """What a call's stored log holds: its output, then the platform's error lines (if any).
    The START, END and REPORT lines are rendered from the metering row when the log is read."""
    text = output.decode("utf-8", "replace") if output else ""
    if text and not text.endswith("\n"):
        text += "\n"
    if error_message:
        text += error_message + "\n"
        if status in (Status.CRASHED, Status.OOM) and error_type:
            text += error_type + "\n"
    return text


def render(row: Invocation, body: str) -> str:
    """The call's log as Lambda shows it: START, the body, END and REPORT."""
    rid = row.request_id
    report = (
        f"REPORT RequestId: {rid}\tDuration: {row.duration_ms:.2f} ms\tBilled Duration: {row.billed_ms} ms"
        f"\tMemory Size: {row.memory_mb} MB\tMax Memory Used: {row.max_memory_mb} MB"
    )
    if row.init_ms is not None:
        report += f"\tInit Duration: {row.init_ms:.2f} ms"
    status = row.status
    if status == Status.TIMEOUT:
        report += "\tStatus: timeout"
    elif status in (Status.OOM, Status.CRASHED):
        report += f"\tStatus: error\tError Type: {row.error_type}"
    return f"START RequestId: {rid} Version: $LATEST\n{body}END RequestId: {rid}\n{report}\n"
