"""Small pure-ASGI helpers for the hot path, where a Request/Response object per call costs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from starlette.types import Receive, Send

from faas.exceptions import PayloadTooLarge, RequestTimeout


def fold_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers by lower-cased name, a repeated header's values joined with "," (RFC 9110
    section 5.3): what API Gateway puts in an event's ``headers`` and what SigV4 canonicalises."""
    folded: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        folded[name] = f"{folded[name]},{value}" if name in folded else value
    return folded


async def read_body(scope: dict[str, Any], receive: Receive, limit: int, timeout: float = 30.0) -> bytes:
    """The whole request body, refusing it early when Content-Length or the bytes pass ``limit``,
    and giving up (RequestTimeout) when it takes longer than ``timeout`` seconds to arrive."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = 0
            if declared > limit:
                raise PayloadTooLarge(declared, limit)
            break
    chunks: list[bytes] = []
    size = 0
    deadline = 0.0
    while True:
        if not chunks:
            message = await receive()  # the common case: the whole body in one message, no timer
        else:
            loop = asyncio.get_running_loop()
            if not deadline:
                deadline = loop.time() + timeout
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise RequestTimeout(timeout) from None
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(size, limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


async def send_response(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def json_message(status: int, message: str, request_id: str | None = None, extra: list[tuple[bytes, bytes]] | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    import json

    headers = [(b"content-type", b"application/json")]
    if request_id:
        headers.append((b"x-amzn-RequestId", request_id.encode()))
    if extra:
        headers.extend(extra)
    return status, headers, json.dumps({"message": message}).encode()
