"""Lambda-shaped log text around what a worker printed: START, END and REPORT lines."""

from __future__ import annotations

import time

from faas.records import Status


def iso_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def timeout_message(request_id: str, timeout_s: float) -> str:
    return f"{iso_now()} {request_id} Task timed out after {timeout_s:.2f} seconds"


def format_log(
    *,
    request_id: str,
    output: bytes,
    status: Status,
    error_message: str | None,
    error_type: str | None,
    duration_ms: float,
    billed_ms: int,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None,
) -> str:
    parts = [f"START RequestId: {request_id} Version: $LATEST\n"]
    if output:
        text = output.decode("utf-8", "replace")
        parts.append(text if text.endswith("\n") else text + "\n")
    if error_message:
        parts.append(error_message + "\n")
        if status is not Status.TIMEOUT and error_type:
            parts.append(error_type + "\n")
    parts.append(f"END RequestId: {request_id}\n")
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed_ms} ms"
        f"\tMemory Size: {memory_mb} MB\tMax Memory Used: {max_memory_mb} MB"
    )
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms:.2f} ms"
    if status is Status.TIMEOUT:
        report += "\tStatus: timeout"
    elif status is Status.OOM:
        report += "\tStatus: error\tError Type: Runtime.OutOfMemory"
    elif status is Status.CRASHED:
        report += "\tStatus: error\tError Type: Runtime.ExitError"
    parts.append(report + "\n")
    return "".join(parts)
