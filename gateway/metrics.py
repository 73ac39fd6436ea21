"""``GET /metrics`` and the HTTP request counter.

``HttpMetrics`` wraps the whole gateway as pure ASGI and counts every HTTP response by route and
status, in this one place. The route label is the matched ``[[routes]]`` key (``"GET /items/{id}"``,
left in the scope by the route handler) or a fixed platform label, so a scan of random paths cannot
grow the label set.

``/metrics`` takes the admin key as a Bearer token unless ``server.metrics_auth = false``: the same
port serves the public routes, and call counts per function are nobody else's business. Point
Prometheus at it with ``authorization: {credentials_file: .../admin.key}``, or turn the check off
when the port is reachable only from the scraper.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faas.metrics import CONTENT_TYPE, Metrics
from faas.runtime import Runtime
from gateway.auth import ADMIN_ONLY, REFUSALS, authorize
from gateway.errors import admin_error

__all__ = ["ROUTE_KEY", "HttpMetrics", "metrics_endpoint"]

ROUTE_KEY = "faas.route"  # set in the scope by whoever matched a [[routes]] entry
INVOKE_API = "POST /2015-03-31/functions/{name}/invocations"
CONNECTIONS_API = "/{stage}/@connections/{connectionId}"


def platform_label(path: str) -> str:
    if path.startswith("/2015-03-31/"):
        return INVOKE_API
    if "/@connections/" in path:
        return CONNECTIONS_API
    for prefix in ("/admin", "/metrics", "/healthz", "/openapi.json"):
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return "unmatched"


class HttpMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            self.metrics.observe_http(scope.get(ROUTE_KEY) or platform_label(scope["path"]), status)


def metrics_endpoint(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        if runtime.config.server.metrics_auth:
            try:
                await authorize(runtime, request.scope, ADMIN_ONLY)
            except REFUSALS as exc:
                return admin_error(exc, hint="Unauthorized: send the admin key as Authorization: Bearer, "
                                   "or set server.metrics_auth = false")
        return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE)

    return metrics
