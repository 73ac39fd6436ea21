"""HTTP routes from ``[[routes]]``: API Gateway HTTP APIs (payload format 2.0 or 1.0) and REST APIs
(``api = "rest"``, payload format 1.0) in front of functions.

The route's door (``_door_v2`` / ``_door_v1``) maps the call's end to the client's answer inside the
Invoker, before the call is metered: the row records the HTTP status, and a response the gateway
refuses puts API Gateway's "Malformed Lambda proxy response" line in the call's log.

Handled as pure ASGI: this is the hot path, so no Request/Response objects, one JSON encode of the
event, and the result's JSON bytes passed through untouched when it is not a full response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import Receive, Send

from faas.config import Config
from faas.exceptions import FaaSError, PayloadTooLarge, RequestTimeout, Throttled
from faas.invoke import DoorAnswer, new_request_id
from faas.records import Status, Trigger
from faas.runtime import Runtime
from faas.trace import Trace, from_scope_headers
from gateway.asgi import json_message, read_body, send_response
from gateway.auth import REFUSALS, ROUTES, Caller, authorize
from gateway.cors import Cors
from gateway.errors import gateway_error_asgi
from gateway.http_events import MalformedResponse, build_event, map_result
from gateway.rest_events import build_event_v1, map_result_v1
from gateway.routes import Route, RouteTable

log = logging.getLogger(__name__)

# What a call that ended without a usable answer gets (the Invoker meters it with this status).
_FAILED = {
    Status.ERROR: DoorAnswer(502),
    Status.CRASHED: DoorAnswer(502),
    Status.OOM: DoorAnswer(502),
    Status.TIMEOUT: DoorAnswer(504),
    Status.THROTTLED: DoorAnswer(429),  # the Invoker raises Throttled; gateway/errors.py answers it
}
_MESSAGES = {502: "Internal server error", 504: "Endpoint request timed out"}

Mapper = Callable[[bytes], tuple[int, list[tuple[bytes, bytes]], bytes]]


def _door(status: Status, output: bytes | None, mapper: Mapper) -> DoorAnswer:
    """The client's answer to a call's end, by the route's payload format rules (``mapper``)."""
    failed = _FAILED.get(status)
    if failed is not None:
        return failed
    if output is None:
        return _FAILED[Status.ERROR]
    try:
        response = mapper(output)
    except MalformedResponse as exc:
        return DoorAnswer(502, str(exc))
    return DoorAnswer(response[0], None, response)


def _door_v2(status: Status, output: bytes | None) -> DoorAnswer:
    return _door(status, output, map_result)


def _door_v1(status: Status, output: bytes | None) -> DoorAnswer:
    return _door(status, output, map_result_v1)


class HttpRoutes:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.table = RouteTable(runtime.config.routes, runtime.config.server.rest_stage)
        self.cors = Cors(runtime.config.cors) if runtime.config.cors is not None else None
        runtime.registry.subscribe(self._on_change)

    def _on_change(self, config: Config, changed: set[str]) -> None:
        self.table = RouteTable(config.routes, config.server.rest_stage)
        self.cors = Cors(config.cors) if config.cors is not None else None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        return self.table.match(method, path)

    async def handle(self, scope: dict[str, Any], receive: Receive, send: Send, route: Route, params: dict[str, str]) -> None:
        rid = new_request_id()
        scope["faas.route"] = route.route_key  # the HTTP metrics label (gateway/metrics.py)
        trace = _trace(scope)
        status, headers, body = await self._respond(scope, receive, route, params, rid)
        headers.append((b"X-Amzn-Trace-Id", trace.header.encode("latin-1")))
        if self.cors is not None and route.config.cors:
            headers = self.cors.actual(scope, headers)
        await send_response(send, status, headers, body)

    async def _respond(
        self, scope: dict[str, Any], receive: Receive, route: Route, params: dict[str, str], rid: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        runtime = self.runtime
        server = runtime.config.server
        try:
            body = await read_body(scope, receive, server.max_body_bytes, server.body_timeout)
        except (PayloadTooLarge, RequestTimeout) as exc:
            return gateway_error_asgi(exc, rid)
        caller: Caller | None = None
        if route.config.auth != "none":
            try:
                caller = await authorize(runtime, scope, ROUTES, body)
            except REFUSALS as exc:
                return gateway_error_asgi(exc, rid)
        config = route.config
        _trace_header_in(scope)  # after auth: a signature over the request's own headers still checks
        if config.payload == "1.0":
            event = build_event_v1(
                scope, body, rest=config.api == "rest", method=scope["method"], resource=config.path,
                route_key=route.route_key, path_params=params, request_id=rid, server=server, stage_prefix=route.stage,
                api_key_id=caller.key.id if caller is not None and caller.key is not None else None,
            )
            door = _door_v1
        else:
            authorizer = None
            if caller is not None and caller.key is not None:
                authorizer = {"lambda": {"apiKeyId": caller.key.id, "apiKeyName": caller.key.name}}
            event = build_event(
                scope, body, route_key=route.route_key, path_params=params, request_id=rid, server=server,
                authorizer=authorizer,
            )
            door = _door_v2
        if config.asynchronous:
            return await self._enqueue(route, json.dumps(event).encode(), rid, scope["faas.trace"])
        try:
            result = await runtime.invoker.invoke(
                config.function, json.dumps(event).encode(), trigger=Trigger.HTTP,
                caller=caller.id if caller else None, request_id=rid, trace=scope["faas.trace"], door=door,
            )
        except FaaSError as exc:
            if not isinstance(exc, Throttled):  # throttling is the caps working, not a failure
                log.error("route %s: %s", route.route_key, exc)
            return gateway_error_asgi(exc, rid)
        answer = result.answer
        assert answer is not None
        if answer.rejected is not None:
            log.error("route %s, request %s: malformed function response: %s", route.route_key, rid, answer.rejected)
        if answer.response is None:
            return json_message(answer.http_status, _MESSAGES[answer.http_status], rid)
        status, headers, payload = answer.response
        headers.append((b"x-amzn-RequestId", rid.encode()))
        return status, headers, payload

    async def _enqueue(
        self, route: Route, event: bytes, rid: str, trace: Trace
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """``async = true``: 202 once the event is durably queued (the async queue runs it)."""
        try:
            await self.runtime.asyncq.enqueue(route.config.function, event, trigger=Trigger.ASYNC, event_id=rid,
                                              trace=trace.header)
        except FaaSError as exc:
            if not isinstance(exc, PayloadTooLarge):
                log.error("route %s: %s", route.route_key, exc)
            return gateway_error_asgi(exc, rid)
        return json_message(202, "Accepted", rid)


def _trace(scope: dict[str, Any]) -> Trace:
    """The call's trace (under the request's X-Amzn-Trace-Id or traceparent, else new), kept in the scope."""
    trace = from_scope_headers(scope["headers"])
    scope["faas.trace"] = trace
    return trace


def _trace_header_in(scope: dict[str, Any]) -> None:
    """Put the call's trace in the request's headers, so the event carries it as API Gateway's does."""
    header = (b"x-amzn-trace-id", scope["faas.trace"].header.encode("latin-1"))
    scope["headers"] = [h for h in scope["headers"] if h[0] != b"x-amzn-trace-id"] + [header]
