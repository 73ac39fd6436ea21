"""The gateway's ASGI application.

User routes from ``[[routes]]`` are matched first by a pure-ASGI dispatcher (the hot path); the
platform's own endpoints (health, the Lambda Invoke API, and later admin and metrics) are a
Starlette app behind it. Paths the platform reserves are never handed to user routes.
"""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import unquote_to_bytes
from collections.abc import AsyncIterator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from faas.config import RESERVED_PREFIXES
from faas.runtime import Runtime
from gateway import keys_api
from gateway.admin import admin_routes
from gateway.admin_api import AdminApi
from gateway.asgi import json_message, send_response
from gateway.buckets_api import BucketApi
from gateway.connections_api import ConnectionsApi
from gateway.http_api import HttpRoutes
from gateway.invoke_api import InvokeApi
from gateway.metrics import HttpMetrics, metrics_endpoint
from gateway.openapi import build_openapi
from gateway.websocket import WebSocketApi

log = logging.getLogger(__name__)

PLATFORM_PREFIXES = tuple(p.rstrip("/") for p in RESERVED_PREFIXES)


def create_app(runtime: Runtime) -> HttpMetrics:
    return HttpMetrics(GatewayApp(runtime), runtime.metrics)


class GatewayApp:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = HttpRoutes(runtime)
        self.sockets = WebSocketApi(runtime)
        invoke = InvokeApi(runtime)
        connections = ConnectionsApi(runtime, self.sockets)
        buckets = BucketApi(runtime)
        admin = AdminApi(runtime)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with runtime:
                yield

        async def healthz(request: Request) -> Response:
            if not runtime.ready:
                return JSONResponse({"status": "starting"}, 503)
            return JSONResponse({"status": "ok"})

        async def openapi(request: Request) -> Response:
            return JSONResponse(build_openapi(runtime.config))

        async def not_found(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            message = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Internal server error")
            return JSONResponse({"message": message}, status)

        self.platform = Starlette(
            routes=[
                Route("/healthz", healthz, methods=["GET", "HEAD"]),
                Route("/openapi.json", openapi, methods=["GET"]),
                Route("/2015-03-31/functions/{name:path}/invocations", invoke.invoke, methods=["POST"]),
                Route("/metrics", metrics_endpoint(runtime), methods=["GET"]),
                *admin_routes(runtime),
                *keys_api.routes(runtime),
                # Event sources: bucket objects and the schedules' admin API.
                Route("/buckets/{name}/{key:path}", buckets.get, methods=["GET", "HEAD"]),
                Route("/buckets/{name}/{key:path}", buckets.put, methods=["PUT"]),
                Route("/buckets/{name}/{key:path}", buckets.delete, methods=["DELETE"]),
                Route("/admin/api/schedules", admin.schedules, methods=["GET"]),
                Route("/admin/api/schedules/{name}", admin.schedule, methods=["GET"]),
                Route("/admin/api/schedules/{name}/{action}", admin.action, methods=["POST"]),
                Route(
                    "/{stage:path}/@connections/{connection_id}", connections.handle, methods=["GET", "POST", "DELETE"]
                ),
            ],
            exception_handlers={404: not_found, 405: not_found},
            lifespan=lifespan,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refuse(scope)
            if refusal is not None:
                status, headers, body = refusal
                await send_response(send, status, headers, body)
                return
            path: str = scope["path"]
            if not path.startswith(PLATFORM_PREFIXES) and "/@connections/" not in path:
                matched = self.http.match(scope["method"], path)
                if matched is not None:
                    await self.http.handle(scope, receive, send, matched[0], matched[1])  # type: ignore[arg-type]
                    return
                status, headers, body = json_message(404, "Not Found")
                await send_response(send, status, headers, body)
                return
        elif scope["type"] == "websocket":
            ws = self.sockets.match(scope["path"])
            if ws is not None:
                await self.sockets.handle(scope, receive, send, ws)  # type: ignore[arg-type]
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.platform(scope, receive, send)

    def _refuse(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """Requests no endpoint should see: oversized headers, a path that is not UTF-8."""
        size = 0
        for name, value in scope["headers"]:
            size += len(name) + len(value)
        limit = self.runtime.config.server.max_header_bytes
        if size > limit:
            return json_message(431, f"Request Header Fields Too Large: {size} bytes of headers, the limit is {limit}")
        raw_path = scope.get("raw_path")
        if raw_path and b"%" in raw_path:
            try:
                unquote_to_bytes(raw_path).decode("utf-8")
            except UnicodeDecodeError:
                return json_message(400, "Bad Request: the path is not valid UTF-8 once percent-decoded")
        return None

