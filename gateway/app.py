"""The gateway's ASGI application.

User routes from ``[[routes]]`` are matched first by a pure-ASGI dispatcher (the hot path); the
platform's own endpoints (health, the Lambda Invoke API, and later admin and metrics) are a
Starlette app behind it. Paths the platform reserves are never handed to user routes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from faas.config import RESERVED_PREFIXES
from faas.runtime import Runtime
from gateway.admin import admin_routes
from gateway.asgi import json_message, send_response
from gateway.http_api import HttpRoutes
from gateway.invoke_api import InvokeApi
from gateway.metrics import HttpMetrics, metrics_endpoint

log = logging.getLogger(__name__)

PLATFORM_PREFIXES = tuple(p.rstrip("/") for p in RESERVED_PREFIXES)


def create_app(runtime: Runtime) -> HttpMetrics:
    return HttpMetrics(GatewayApp(runtime), runtime.metrics)


class GatewayApp:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = HttpRoutes(runtime)
        invoke = InvokeApi(runtime)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with runtime:
                yield

        async def healthz(request: Request) -> Response:
            if not runtime.ready:
                return JSONResponse({"status": "starting"}, 503)
            return JSONResponse({"status": "ok"})

        async def not_found(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            message = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Internal server error")
            return JSONResponse({"message": message}, status)

        self.platform = Starlette(
            routes=[
                Route("/healthz", healthz, methods=["GET", "HEAD"]),
                Route("/2015-03-31/functions/{name:path}/invocations", invoke.invoke, methods=["POST"]),
                Route("/metrics", metrics_endpoint(runtime), methods=["GET"]),
                *admin_routes(runtime),
            ],
            exception_handlers={404: not_found, 405: not_found},
            lifespan=lifespan,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if not path.startswith(PLATFORM_PREFIXES):
                matched = self.http.match(scope["method"], path)
                if matched is not None:
                    await self.http.handle(scope, receive, send, matched[0], matched[1])  # type: ignore[arg-type]
                    return
                status, headers, body = json_message(404, "Not Found")
                await send_response(send, status, headers, body)
                return
        await self.platform(scope, receive, send)

