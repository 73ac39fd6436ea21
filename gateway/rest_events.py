"""Payload format 1.0: the REST API proxy event (and HTTP APIs' 1.0 event), and the 1.0 response rules.

One event shape serves both flavours; they differ only where API Gateway's do:

=========================  ===================================  ====================================
                           REST API (``api = "rest"``)          HTTP API, ``payload = "1.0"``
=========================  ===================================  ====================================
header names               as clients write them (Title-Case)   lower case
``version``                absent                               ``"1.0"``
``requestContext.stage``   ``[server] rest_stage`` ("Prod")     ``"$default"``
``requestContext.path``    with the stage: ``/Prod/items/42``   the request path
``resourceId``             a resource id                        null
``routeKey``               absent                               ``"GET /items/{id}"``
=========================  ===================================  ====================================

Built in one pass over the request headers, like the 2.0 event (gateway/http_events.py).
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from typing import Any
from urllib.parse import parse_qsl

from faas.config import ServerConfig
from gateway.http_events import JSON_HEADERS, MalformedResponse, header_value, is_text, request_time, response_body

__all__ = ["build_event_v1", "map_result_v1"]

_titles: dict[str, str] = {}


def _title(name: str) -> str:
    """``x-forwarded-for`` -> ``X-Forwarded-For``, as clients write header names (cached)."""
    title = _titles.get(name)
    if title is None:
        title = "-".join(part[:1].upper() + part[1:] for part in name.split("-"))
        if len(_titles) < 4096:  # a bounded cache: header names are few, but clients choose them
            _titles[name] = title
    return title


def _identity(source_ip: str, user_agent: str, api_key: str | None, api_key_id: str | None) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
        "sourceIp": source_ip, "principalOrgId": None, "accessKey": None, "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None, "userArn": None, "userAgent": user_agent, "user": None,
    }
    if api_key_id is not None:  # as API Gateway fills them for a method that requires an API key
        identity["apiKey"] = api_key
        identity["apiKeyId"] = api_key_id
    return identity


def build_event_v1(
    scope: dict[str, Any],
    body: bytes,
    *,
    rest: bool,
    method: str,
    resource: str,
    route_key: str,
    path_params: dict[str, str],
    request_id: str,
    server: ServerConfig,
    stage_prefix: str | None = None,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """The 1.0 event of one request; ``stage_prefix`` is "/Prod" when a REST route was reached under
    its stage (the event's ``path`` leaves it out); ``api_key_id`` is the caller's key on an api_key route."""
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for raw_name, raw_value in scope["headers"]:
        lname = raw_name.decode("latin-1")
        name = _title(lname) if rest else lname
        value = raw_value.decode("latin-1")
        headers[name] = value  # "headers" keeps the last value of each, as API Gateway's
        values = multi.get(name)
        if values is None:
            multi[name] = [value]
        else:
            values.append(value)
    get = headers.get
    client = scope.get("client")
    source_ip = client[0] if client else "127.0.0.1"
    host = get("Host" if rest else "host") or f"{server.host}:{server.port}"
    user_agent = get("User-Agent" if rest else "user-agent") or ""
    scheme = scope.get("scheme", "http")
    # API Gateway adds these for the integration; a handler reading event["headers"]["X-Forwarded-For"] works.
    xff_name, port_name, proto_name = (
        ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto") if rest
        else ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto")
    )
    xff = f"{headers[xff_name]}, {source_ip}" if xff_name in headers else source_ip
    headers[xff_name] = xff
    multi[xff_name] = [xff]
    port = str(host.rsplit(":", 1)[1]) if ":" in host else ("443" if scheme == "https" else "80")
    for name, value in ((port_name, port), (proto_name, scheme)):
        if name not in headers:
            headers[name] = value
            multi[name] = [value]
    now = time.time()
    raw_query = scope.get("query_string", b"").decode("latin-1")
    query: dict[str, str] | None = None
    multi_query: dict[str, list[str]] | None = None
    if raw_query:
        query, multi_query = {}, {}
        for k, v in parse_qsl(raw_query, keep_blank_values=True):
            query[k] = v
            if k in multi_query:
                multi_query[k].append(v)
            else:
                multi_query[k] = [v]
    path = scope["path"]
    if stage_prefix is not None:
        path = path[len(stage_prefix) :] or "/"
    key = None
    if api_key_id is not None:
        key = get("X-Api-Key" if rest else "x-api-key")
    context: dict[str, Any] = {
        "accountId": server.account_id,
        "apiId": "faas",
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
        "extendedRequestId": request_id,
        "httpMethod": method,
        "identity": _identity(source_ip, user_agent, key, api_key_id),
        "path": f"/{server.rest_stage}{path}" if rest else path,
        "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
        "requestId": request_id,
        "requestTime": request_time(now),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": f"{zlib.crc32(resource.encode()):08x}"[:6] if rest else None,
        "resourcePath": resource,
        "stage": server.rest_stage if rest else "$default",
    }
    event: dict[str, Any] = {}
    if not rest:
        event["version"] = "1.0"
        context["routeKey"] = route_key
    event["resource"] = resource
    event["path"] = path
    event["httpMethod"] = method
    event["headers"] = headers
    event["multiValueHeaders"] = multi
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = context
    event["pathParameters"] = path_params or None
    event["stageVariables"] = None
    if body:
        if is_text(get("Content-Type" if rest else "content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
                return event
            except UnicodeDecodeError:
                pass
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["body"] = None
        event["isBase64Encoded"] = False
    return event


def map_result_v1(result: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Apply the 1.0 rules: the result must be an object with an integer ``statusCode``; ``headers``
    and ``multiValueHeaders`` are merged (the multi-value list wins for a name in both); ``body`` is a
    string, base64 when ``isBase64Encoded``. Anything else raises ``MalformedResponse``."""
    try:
        data = json.loads(result)
    except ValueError as exc:
        raise MalformedResponse(f"the function's result is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedResponse(f"the result must be an object with a statusCode, got {type(data).__name__}")
    allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
    extra = [k for k in data if k not in allowed]
    if extra:
        raise MalformedResponse(f"unexpected field {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")
    if "statusCode" not in data:
        raise MalformedResponse("statusCode is missing")
    status = data["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an integer from 100 to 599, got {status!r}")
    single = data.get("headers") or {}
    if not isinstance(single, dict):
        raise MalformedResponse("headers must be an object")
    multi = data.get("multiValueHeaders") or {}
    if not isinstance(multi, dict):
        raise MalformedResponse("multiValueHeaders must be an object")
    multi_names = {str(name).lower() for name in multi}
    headers: list[tuple[bytes, bytes]] = []
    has_type = False
    for name, value in single.items():
        lname = str(name).lower()
        if lname in multi_names:
            continue
        if isinstance(value, (dict, list)) or value is None:
            raise MalformedResponse(f"header {name!r} must be a string")
        has_type = has_type or lname == "content-type"
        headers.append((lname.encode("latin-1"), header_value(value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders {name!r} must be a list")
        lname = str(name).lower()
        for value in values:
            if isinstance(value, (dict, list)) or value is None:
                raise MalformedResponse(f"multiValueHeaders {name!r} must hold strings")
            has_type = has_type or lname == "content-type"
            headers.append((lname.encode("latin-1"), header_value(value)))
    if not has_type:
        headers.extend(JSON_HEADERS)
    return status, headers, response_body(data)
