"""Events built from real requests: httpx sends them through its ASGI transport to an app that
answers with the event a builder made of the request (shared by the 2.0 and 1.0 event tests)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from faas.config import ServerConfig, load_config

CLIENT = ("203.0.113.9", 4711)

Builder = Callable[[dict[str, Any], bytes], dict[str, Any]]


def server_config(folder: Path) -> ServerConfig:
    path = folder / "config.toml"
    path.write_text('[server]\nhost = "10.0.0.5"\nport = 9000\naccount_id = "123456789012"\n')
    return load_config(path).server


def event_through(
    build: Builder, method: str, url: str, *, headers: list[tuple[str, str]] | None = None, content: bytes | None = None,
) -> dict[str, Any]:
    """Send a real request to an app that answers with ``build(scope, body)``; return that event."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        event = build(dict(scope), body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(event).encode()})

    async def call() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app, client=CLIENT)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.example.com:8080") as client:
            response = await client.request(method, url, headers=headers, content=content)
            return response.json()  # type: ignore[no-any-return]

    return asyncio.run(call())
