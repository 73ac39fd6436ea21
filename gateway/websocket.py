"""The WebSocket API (API Gateway WebSocket semantics) and its connection registry.

``$connect`` runs before the upgrade completes: a failed auth, a function error or a non-2xx
``statusCode`` refuses the connection (HTTP 403). Each frame picks a route with the route selection
expression (``$request.body.action``), falling back to ``$default``; a ``body`` the function returns
is sent back on the socket. ``$disconnect`` runs after the socket closed, best effort.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Send

from faas.config import Config, WebSocketConfig
from faas.exceptions import FaaSError, Throttled
from faas.invoke import InvokeResult, new_request_id
from faas.records import Trigger
from faas.runtime import Runtime
from faas.trace import child, from_scope_headers
from gateway.asgi import fold_headers
from gateway.http_events import request_time
from gateway.auth import REFUSALS, WEBSOCKETS, Caller, authorize

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message limit


class Connection:
    """One open socket: what @connections needs to send to it, inspect it and close it."""

    def __init__(self, conn_id: str, ws: WebSocketConfig, send: Send, scope: dict[str, Any], caller: Caller | None) -> None:
        self.id = conn_id
        self.ws = ws
        self._send = send
        self.caller = caller
        self.connected_at = int(time.time() * 1000)
        self.last_active = self.connected_at
        client = scope.get("client")
        self.source_ip = client[0] if client else "127.0.0.1"
        self.headers = fold_headers(scope["headers"])
        multi: dict[str, list[str]] = defaultdict(list)
        for raw_name, raw_value in scope["headers"]:
            multi[raw_name.decode("latin-1").lower()].append(raw_value.decode("latin-1"))
        self.multi_headers = dict(multi)
        self.user_agent = self.headers.get("user-agent", "")
        self.domain = self.headers.get("host", "")
        # The connection's trace (under the handshake's X-Amzn-Trace-Id or traceparent, if any): its
        # $connect, every message and its $disconnect run under this Root, each with its own Parent.
        self.trace = from_scope_headers(scope["headers"])
        self.open = True
        self._lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    async def send_text_or_bytes(self, data: bytes) -> bool:
        """Send one message (text when it is UTF-8). False if the socket is gone."""
        if not self.open:
            return False
        try:
            message: dict[str, Any] = {"type": "websocket.send", "text": data.decode("utf-8")}
        except UnicodeDecodeError:
            message = {"type": "websocket.send", "bytes": data}
        async with self._lock:
            if not self.open:
                return False
            try:
                await self._send(message)
            except (OSError, RuntimeError):  # the client went away meanwhile
                self.open = False
                return False
        self.last_active = int(time.time() * 1000)
        return True

    async def close(self, code: int = 1000) -> None:
        async with self._lock:
            if not self.open:
                return
            self.open = False
            try:
                await self._send({"type": "websocket.close", "code": code})
            except (OSError, RuntimeError):
                pass

    def info(self) -> dict[str, Any]:
        def iso(ms: int) -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"

        return {
            "connectedAt": iso(self.connected_at),
            "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
            "lastActiveAt": iso(self.last_active),
        }


class WebSocketApi:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.connections: dict[str, Connection] = {}
        self._by_path = {ws.path: ws for ws in runtime.config.websockets}
        runtime.registry.subscribe(self._on_change)

    def _on_change(self, config: Config, changed: set[str]) -> None:
        self._by_path = {ws.path: ws for ws in config.websockets}

    def match(self, path: str) -> WebSocketConfig | None:
        return self._by_path.get(path.rstrip("/") or "/")

    def stage(self, stage: str) -> WebSocketConfig | None:
        return self._by_path.get("/" + stage)

    # --- one socket ---------------------------------------------------------------------------

    async def handle(self, scope: dict[str, Any], receive: Receive, send: Send, ws: WebSocketConfig) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        caller: Caller | None = None
        if ws.auth == "api_key":
            try:
                caller = await authorize(self.runtime, scope, WEBSOCKETS)
            except REFUSALS:
                await send({"type": "websocket.close", "code": 1008})  # before the upgrade: uvicorn answers 403
                return
        conn = Connection(secrets.token_urlsafe(12), ws, send, scope, caller)
        query = scope.get("query_string", b"").decode("latin-1")
        if "$connect" in ws.routes:
            event = self._base_event(conn, "$connect", "CONNECT")
            event["headers"] = conn.headers
            event["multiValueHeaders"] = conn.multi_headers
            if query:
                pairs = parse_qsl(query, keep_blank_values=True)
                event["queryStringParameters"] = dict(pairs)
                multi: dict[str, list[str]] = defaultdict(list)
                for k, v in pairs:
                    multi[k].append(v)
                event["multiValueQueryStringParameters"] = dict(multi)
            event["isBase64Encoded"] = False
            result = await self._invoke(conn, ws.routes["$connect"], event)
            if result is None or not _accepted(result):
                await send({"type": "websocket.close", "code": 1008})
                return
        await send({"type": "websocket.accept"})
        self.connections[conn.id] = conn
        code = 1005
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("bytes")
                    text = message.get("text")
                    task = asyncio.get_running_loop().create_task(self._on_message(conn, text, data))
                    conn.tasks.add(task)
                    task.add_done_callback(conn.tasks.discard)
                elif kind == "websocket.disconnect":
                    code = int(message.get("code", 1005))
                    break
        finally:
            conn.open = False
            self.connections.pop(conn.id, None)
        if "$disconnect" in ws.routes:
            event = self._base_event(conn, "$disconnect", "DISCONNECT")
            event["headers"] = conn.headers
            event["multiValueHeaders"] = conn.multi_headers
            event["isBase64Encoded"] = False
            event["requestContext"]["disconnectStatusCode"] = code
            event["requestContext"]["disconnectReason"] = ""
            await self._invoke(conn, ws.routes["$disconnect"], event)

    async def _on_message(self, conn: Connection, text: str | None, data: bytes | None) -> None:
        conn.last_active = int(time.time() * 1000)
        route_key = "$default"
        if text is not None:
            route_key = _select_route(text, conn.ws)
        if route_key not in conn.ws.routes:
            rid = new_request_id()
            await conn.send_text_or_bytes(_error("Forbidden", conn.id, rid))
            return
        event = self._base_event(conn, route_key, "MESSAGE")
        event["requestContext"]["messageId"] = secrets.token_urlsafe(12)
        if text is not None:
            event["body"] = text
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(data or b"").decode("ascii")
            event["isBase64Encoded"] = True
        result = await self._invoke(conn, conn.ws.routes[route_key], event)
        rid = event["requestContext"]["requestId"]
        if result is None:
            await conn.send_text_or_bytes(_error("Too Many Requests", conn.id, rid))
            return
        if not result.ok:
            await conn.send_text_or_bytes(_error("Internal server error", conn.id, rid))
            return
        reply = _reply_body(result.body)
        if reply is not None:
            await conn.send_text_or_bytes(reply)

    def _base_event(self, conn: Connection, route_key: str, event_type: str) -> dict[str, Any]:
        now = time.time()
        rid = new_request_id()
        return {
            "requestContext": {
                "routeKey": route_key,
                "eventType": event_type,
                "extendedRequestId": rid,
                "requestTime": request_time(now),
                "messageDirection": "IN",
                "stage": conn.ws.stage,
                "connectedAt": conn.connected_at,
                "requestTimeEpoch": int(now * 1000),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                "requestId": rid,
                "domainName": conn.domain,
                "connectionId": conn.id,
                "apiId": "faas",
            },
        }

    async def _invoke(self, conn: Connection, function: str, event: dict[str, Any]) -> InvokeResult | None:
        """Run a route's function; None when it was throttled or could not run at all."""
        try:
            return await self.runtime.invoker.invoke(
                function, json.dumps(event).encode(), trigger=Trigger.WEBSOCKET,
                caller=conn.caller.id if conn.caller else None, request_id=event["requestContext"]["requestId"],
                trace=child(conn.trace),
            )
        except Throttled:
            return None
        except FaaSError as exc:
            log.error("websocket %s route %s: %s", conn.ws.path, event["requestContext"]["routeKey"], exc)
            return None


def _select_route(text: str, ws: WebSocketConfig) -> str:
    try:
        value: Any = json.loads(text)
    except ValueError:
        return "$default"
    for part in ws.selection_path:
        if not isinstance(value, dict) or part not in value:
            return "$default"
        value = value[part]
    if isinstance(value, str) and value in ws.routes and not value.startswith("$"):
        return value
    return "$default"


def _accepted(result: InvokeResult) -> bool:
    if not result.ok:
        return False
    try:
        data = json.loads(result.body)
    except ValueError:
        return True
    if isinstance(data, dict) and "statusCode" in data:
        status = data["statusCode"]
        return isinstance(status, int) and 200 <= status < 300
    return True


def _reply_body(body: bytes) -> bytes | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("body"), str):
        if data.get("isBase64Encoded") is True:
            try:
                return base64.b64decode(data["body"], validate=True)
            except ValueError:
                return None
        return str(data["body"]).encode()
    return None


def _error(message: str, conn_id: str, rid: str) -> bytes:
    return json.dumps({"message": message, "connectionId": conn_id, "requestId": rid}).encode()
