"""API Gateway HTTP API payload format 2.0: build the event, map the result to a response."""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from faas.config import ServerConfig
from gateway.asgi import fold_headers

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded")
TEXT_SUFFIXES = ("+json", "+xml")

_time_cache: tuple[int, str] = (0, "")


def request_time(now: float) -> str:
    """'12/Mar/2020:19:03:58 +0000', formatted once per second."""
    global _time_cache
    second = int(now)
    if _time_cache[0] != second:
        _time_cache = (second, time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second)))
    return _time_cache[1]


def is_text(content_type: str) -> bool:
    ct = content_type.split(";", 1)[0].strip().lower()
    return ct.startswith(TEXT_TYPES) or ct.endswith(TEXT_SUFFIXES)


def build_event(
    scope: dict[str, Any],
    body: bytes,
    *,
    route_key: str,
    path_params: dict[str, str],
    request_id: str,
    server: ServerConfig,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    # Payload 2.0 moves cookies out of the headers: every Cookie header, split at ";", into a list.
    headers = fold_headers(h for h in scope["headers"] if h[0] != b"cookie")
    cookies: list[str] = []
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookies.extend(c.strip() for c in value.decode("latin-1").split(";") if c.strip())
    host = headers.get("host", f"{server.host}:{server.port}")
    client = scope.get("client")
    now = time.time()
    raw_query = scope.get("query_string", b"").decode("latin-1")
    method = scope["method"]
    path = scope["path"]
    raw_path = scope.get("raw_path")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path.decode("latin-1") if raw_path else path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if raw_query:
        query: dict[str, str] = {}
        for k, v in parse_qsl(raw_query, keep_blank_values=True):
            query[k] = query[k] + "," + v if k in query else v
        event["queryStringParameters"] = query
    context: dict[str, Any] = {
        "accountId": server.account_id,
        "apiId": "faas",
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "sourceIp": client[0] if client else "127.0.0.1",
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": request_time(now),
        "timeEpoch": int(now * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event["requestContext"] = context
    if path_params:
        event["pathParameters"] = path_params
    if body:
        if is_text(headers.get("content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode("ascii")
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


class MalformedResponse(ValueError):
    """The handler's result claims to be a full response but has the wrong shape."""


JSON_HEADERS = [(b"content-type", b"application/json")]


def map_result(result: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Apply the 2.0 rules: a dict with ``statusCode`` is a full response, anything else is 200 JSON."""
    if b'"statusCode"' not in result:
        try:
            json.loads(result)
        except ValueError as exc:
            raise MalformedResponse(f"the function's result is not JSON: {exc}") from exc
        return 200, list(JSON_HEADERS), result
    try:
        data = json.loads(result)
    except ValueError as exc:
        raise MalformedResponse(f"the function's result is not JSON: {exc}") from exc
    if not isinstance(data, dict) or "statusCode" not in data:
        return 200, list(JSON_HEADERS), result
    status = data["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an integer from 100 to 599, got {status!r}")
    headers: list[tuple[bytes, bytes]] = []
    has_type = False
    raw_headers = data.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise MalformedResponse("headers must be an object")
    for name, value in raw_headers.items():
        if isinstance(value, (dict, list)) or value is None:
            raise MalformedResponse(f"header {name!r} must be a string")
        lname = str(name).lower()
        has_type = has_type or lname == "content-type"
        headers.append((lname.encode("latin-1"), header_value(value)))
    multi = data.get("multiValueHeaders") or {}
    if isinstance(multi, dict):
        for name, values in multi.items():
            if isinstance(values, list):
                for value in values:
                    headers.append((str(name).lower().encode("latin-1"), header_value(value)))
    cookies = data.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResponse("cookies must be a list of strings")
    for cookie in cookies:
        headers.append((b"set-cookie", cookie.encode("latin-1", "replace")))
    if not has_type:
        headers.append((b"content-type", b"application/json"))
    return status, headers, response_body(data)


def response_body(data: dict[str, Any]) -> bytes:
    """A full response's ``body`` (a string, base64 when ``isBase64Encoded``) as bytes; the same rule
    in payload formats 1.0 and 2.0."""
    body = data.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, got {type(body).__name__}")
    if data.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponse(f"body is marked isBase64Encoded but is not base64: {exc}") from exc
    return body.encode("utf-8")


def header_value(value: object) -> bytes:
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    if "\n" in text or "\r" in text:
        raise MalformedResponse("header values may not contain line breaks")
    return text.encode("latin-1", "replace")
