"""gateway/rest_events.py on its own: the payload 1.0 event (REST API and HTTP API flavours) built from
real ASGI scopes (made by httpx's ASGI transport from real requests), and the 1.0 response rules."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from faas.config import ServerConfig
from gateway.http_events import MalformedResponse
from gateway.rest_events import build_event_v1, map_result_v1
from tests.gateway.asgi_client import event_through, server_config

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> ServerConfig:
    return server_config(tmp_path_factory.mktemp("cfg"))


def event_for(
    server: ServerConfig,
    method: str,
    url: str,
    *,
    rest: bool = True,
    resource: str = "/items/{id}",
    headers: list[tuple[str, str]] | None = None,
    content: bytes | None = None,
    path_params: dict[str, str] | None = None,
    stage_prefix: str | None = None,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """The 1.0 event (REST, or HTTP API's with ``rest=False``) of a real request."""
    return event_through(
        lambda scope, body: build_event_v1(
            scope, body, rest=rest, method=scope["method"], resource=resource,
            route_key=f"GET {resource}", path_params=path_params or {},
            request_id="req-1", server=server, stage_prefix=stage_prefix, api_key_id=api_key_id,
        ),
        method, url, headers=headers, content=content,
    )


def test_rest_event_every_field(server: ServerConfig) -> None:
    before = time.time()
    event = event_for(
        server, "POST", "/Prod/items/42?a=1&b=2&a=3", stage_prefix="/Prod", path_params={"id": "42"},
        headers=[("User-Agent", "probe/1.0"), ("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "c1=v1; c2=v2"),
                 ("Content-Type", "application/json")],
        content=b'{"name": "x"}',
    )
    APIGatewayProxyEventModel(**event)
    assert "version" not in event
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["X-Multi"] == "two"  # the last value, as API Gateway's headers
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert event["headers"]["Cookie"] == "c1=v1; c2=v2"  # 1.0 keeps cookies in the headers
    assert event["headers"]["User-Agent"] == "probe/1.0"
    assert event["headers"]["Host"] == "api.example.com:8080"
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.9"
    assert event["headers"]["X-Forwarded-Port"] == "8080"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["queryStringParameters"] == {"a": "3", "b": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "3"], "b": ["2"]}
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"name": "x"}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["path"] == "/Prod/items/42"
    assert ctx["stage"] == "Prod"
    assert ctx["resourcePath"] == "/items/{id}"
    assert ctx["httpMethod"] == "POST"
    assert len(ctx["resourceId"]) == 6
    assert ctx["requestId"] == ctx["extendedRequestId"] == "req-1"
    assert ctx["accountId"] == "123456789012" and ctx["apiId"] == "faas"
    assert ctx["domainName"] == "api.example.com:8080" and ctx["domainPrefix"] == "api"
    assert ctx["protocol"] == "HTTP/1.1"
    assert before * 1000 - 1 <= ctx["requestTimeEpoch"] <= time.time() * 1000 + 1
    assert ctx["requestTime"] == time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ctx["requestTimeEpoch"] / 1000))
    identity = ctx["identity"]
    assert identity["sourceIp"] == "203.0.113.9" and identity["userAgent"] == "probe/1.0"
    assert identity["caller"] is None and identity["user"] is None and identity["accessKey"] is None
    assert "apiKey" not in identity and "routeKey" not in ctx


def test_rest_event_without_the_stage_prefix_still_carries_it_in_the_context(server: ServerConfig) -> None:
    event = event_for(server, "GET", "/items/42", path_params={"id": "42"})
    APIGatewayProxyEventModel(**event)
    assert event["path"] == "/items/42" and event["requestContext"]["path"] == "/Prod/items/42"
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_http_api_1_0_event(server: ServerConfig) -> None:
    event = event_for(server, "GET", "/items/7?x=1", rest=False, path_params={"id": "7"},
                      headers=[("X-Forwarded-For", "198.51.100.1")])
    APIGatewayProxyEventModel(**event)
    assert event["version"] == "1.0"
    assert event["path"] == "/items/7" and event["resource"] == "/items/{id}"
    assert event["headers"]["x-forwarded-for"] == "198.51.100.1, 203.0.113.9"  # appended, as API Gateway does
    assert "X-Forwarded-For" not in event["headers"]  # HTTP APIs send lower-case names
    ctx = event["requestContext"]
    assert ctx["stage"] == "$default" and ctx["path"] == "/items/7" and ctx["resourceId"] is None
    assert ctx["routeKey"] == "GET /items/{id}" and ctx["resourcePath"] == "/items/{id}"


def test_api_key_identity(server: ServerConfig) -> None:
    event = event_for(server, "GET", "/items/1", headers=[("x-api-key", "secret-value")], api_key_id="k123")
    identity = event["requestContext"]["identity"]
    assert identity["apiKey"] == "secret-value" and identity["apiKeyId"] == "k123"


def test_binary_body_is_base64(server: ServerConfig) -> None:
    raw = bytes(range(256))
    event = event_for(server, "PUT", "/items/1", content=raw, headers=[("Content-Type", "application/octet-stream")])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw


# --- the 1.0 response rules ------------------------------------------------------------------------


def result(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_hello_world_shape() -> None:
    status, headers, body = map_result_v1(result({"statusCode": 200, "body": json.dumps({"message": "hello world"})}))
    assert status == 200 and body == b'{"message": "hello world"}'
    assert headers == [(b"content-type", b"application/json")]


def test_headers_and_multi_value_headers_merge_multi_wins() -> None:
    status, headers, body = map_result_v1(result({
        "statusCode": 201, "headers": {"Content-Type": "text/plain", "X-A": "single", "X-B": "b"},
        "multiValueHeaders": {"x-a": ["m1", "m2"], "Set-Cookie": ["a=1", "b=2"]}, "body": "hi",
    }))
    assert status == 201 and body == b"hi"
    assert headers == [(b"content-type", b"text/plain"), (b"x-b", b"b"), (b"x-a", b"m1"), (b"x-a", b"m2"),
                       (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]


def test_base64_body() -> None:
    _, _, body = map_result_v1(result({"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(),
                                       "isBase64Encoded": True}))
    assert body == b"\x00\x01"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"statusCode": "200"}, "statusCode must be an integer from 100 to 599, got '200'"),
        ({"body": "x"}, "statusCode is missing"),
        ({"message": "hi"}, "unexpected field 'message'"),
        ("just a string", "the result must be an object with a statusCode, got str"),
        ({"statusCode": 200, "body": {"a": 1}}, "body must be a string, got dict"),
        ({"statusCode": 200, "headers": {"x": ["a"]}}, "header 'x' must be a string"),
        ({"statusCode": 200, "multiValueHeaders": {"x": "a"}}, "multiValueHeaders 'x' must be a list"),
        ({"statusCode": 200, "headers": {"x": "a\r\nb"}}, "header values may not contain line breaks"),
        ({"statusCode": 200, "body": "!!", "isBase64Encoded": True}, "body is marked isBase64Encoded but is not base64"),
    ],
)
def test_malformed(bad: object, reason: str) -> None:
    with pytest.raises(MalformedResponse) as info:
        map_result_v1(result(bad))
    assert str(info.value).startswith(reason)
