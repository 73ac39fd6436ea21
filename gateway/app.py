"""The gateway's ASGI application.

User routes from ``[[routes]]`` are matched first by a pure-ASGI dispatcher (the hot path); the
platform's own endpoints (health, the OpenAPI document, the Lambda Invoke API, metrics, the admin
pages and JSON API, bucket objects, @connections) are a Starlette app behind it. Paths the platform
reserves are never handed to user routes.
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
from gateway.auth import is_admin
from gateway.buckets_api import BucketApi
from gateway.connections_api import ConnectionsApi
from gateway.http_api import HttpRoutes
from gateway.invoke_api import INVOCATION_TYPES, InvokeApi
from gateway.metrics import HttpMetrics, metrics_endpoint
from gateway.openapi import (
    ApiRoute,
    Operation,
    binary_body,
    build_openapi,
    each_bucket,
    each_websocket,
    json_body,
    param,
)
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
            """Ready and able to start workers; with the admin key, each zygote too (pids)."""
            if not runtime.ready:
                return JSONResponse({"status": "starting"}, 503)
            problem = runtime.zygotes.problem()
            body: dict[str, object] = {"status": "ok"} if problem is None else {"status": "unavailable", "reason": problem}
            if is_admin(request, runtime.admin_key):
                body["zygotes"] = runtime.zygotes.describe()
            return JSONResponse(body, 200 if problem is None else 503)

        async def openapi(request: Request) -> Response:
            return JSONResponse(build_openapi(self.platform.routes, runtime.config))

        async def not_found(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            message = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Internal server error")
            return JSONResponse({"message": message}, status)

        self.platform = Starlette(
            routes=[
                ApiRoute("/healthz", healthz, {"GET": Operation(summary="Readiness", responses=("200", "503"))}),
                Route("/openapi.json", openapi, methods=["GET"]),
                ApiRoute("/2015-03-31/functions/{name:path}/invocations", invoke.invoke, {"POST": Operation(
                    summary="Lambda Invoke API", security="key", body=json_body({}, required=False),
                    parameters=(
                        param("Qualifier", "query"),
                        param("X-Amz-Invocation-Type", "header", type="string", enum=list(INVOCATION_TYPES)),
                        param("X-Amz-Log-Type", "header", type="string", enum=["None", "Tail"]),
                    ),
                    responses=("200", "202", "204", "default"),
                )}),
                ApiRoute("/metrics", metrics_endpoint(runtime), {"GET": Operation(
                    summary="Prometheus metrics", security="admin", responses=("200", "401"))}),
                *admin_routes(runtime),
                *keys_api.routes(runtime),
                # Event sources: bucket objects and the schedules' admin API.
                ApiRoute("/buckets/{name}/{key:path}", buckets.get, {"GET": Operation(
                    summary="Download", security="key", responses=("200", "default"))}, each=each_bucket),
                ApiRoute("/buckets/{name}/{key:path}", buckets.put, {"PUT": Operation(
                    summary="Upload to bucket {}", security="key", body=binary_body(), responses=("200", "default"),
                )}, each=each_bucket),
                ApiRoute("/buckets/{name}/{key:path}", buckets.delete, {"DELETE": Operation(
                    summary="Delete", security="key", responses=("204", "default"))}, each=each_bucket),
                ApiRoute("/admin/api/functions", admin.functions, {"GET": Operation(
                    summary="Functions: serving version and environment state", security="admin",
                    responses=("200", "401"))}),
                ApiRoute("/admin/api/schedules", admin.schedules, {"GET": Operation(
                    summary="List schedules", security="admin", responses=("200", "401"))}),
                ApiRoute("/admin/api/schedules/{name}", admin.schedule, {"GET": Operation(
                    summary="A schedule and its runs", security="admin", responses=("200", "default"))}),
                ApiRoute("/admin/api/schedules/{name}/{action}", admin.action, {"POST": Operation(
                    summary="Pause, resume or run a schedule now", security="admin",
                    parameters=(param("action", "path", type="string", enum=["pause", "resume", "run"]),),
                    responses=("200", "202", "default"),
                )}),
                ApiRoute("/{stage:path}/@connections/{connectionId}", connections.handle, {
                    "POST": Operation(summary="Send to a {} connection", security="key", body=binary_body(),
                                      responses=("200", "default")),
                    "GET": Operation(summary="Describe a connection", security="key", responses=("200", "default")),
                    "DELETE": Operation(summary="Disconnect", security="key", responses=("204", "default")),
                }, each=each_websocket),
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
                if scope["method"] == "OPTIONS" and self.http.cors is not None:
                    preflight = self.http.cors.preflight(scope, self.http.table)
                    if preflight is not None:  # answered by the gateway: no function call
                        await send_response(send, *preflight)
                        return
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

