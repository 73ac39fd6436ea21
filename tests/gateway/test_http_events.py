"""gateway/http_events.py on its own: the API Gateway HTTP API payload 2.0 event built from real ASGI
scopes (made by httpx's ASGI transport from real requests), and the 2.0 rules that map a handler's
result to a response."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from faas.config import ServerConfig
from gateway.http_events import MalformedResponse, build_event, is_text, map_result
from tests.gateway.asgi_client import event_through, server_config

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> ServerConfig:
    return server_config(tmp_path_factory.mktemp("cfg"))


def event_for(
    server: ServerConfig,
    method: str,
    url: str,
    *,
    headers: list[tuple[str, str]] | None = None,
    content: bytes | None = None,
    route_key: str = "ANY /{proxy+}",
    path_params: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The 2.0 event of a real request."""
    return event_through(
        lambda scope, body: build_event(
            scope, body, route_key=route_key, path_params=path_params or {}, request_id="req-1",
            server=server, authorizer=authorizer,
        ),
        method, url, headers=headers, content=content,
    )


def scope_event(server: ServerConfig, scope: dict[str, Any], body: bytes = b"") -> dict[str, Any]:
    """The event of a hand-written ASGI scope: for what no HTTP client sends (no Host, no client)."""
    return build_event(scope, body, route_key="$default", path_params={}, request_id="req-2", server=server)


# --- the event ------------------------------------------------------------------------------------


def test_a_plain_get(server: ServerConfig) -> None:
    before = time.time()
    event = event_for(server, "GET", "/hello", headers=[("User-Agent", "probe/1.0"), ("X-Custom", "v")], route_key="GET /hello")
    after = time.time()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /hello"
    assert event["rawPath"] == "/hello"
    assert event["rawQueryString"] == ""
    assert "queryStringParameters" not in event and "cookies" not in event and "pathParameters" not in event
    assert "body" not in event and event["isBase64Encoded"] is False
    # header names arrive lower-case, as HTTP API gives them
    assert event["headers"]["user-agent"] == "probe/1.0"
    assert event["headers"]["x-custom"] == "v"
    assert event["headers"]["host"] == "api.example.com:8080"
    context = event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["apiId"] == "faas"
    assert context["domainName"] == "api.example.com:8080"
    assert context["domainPrefix"] == "api"
    assert context["http"] == {
        "method": "GET", "path": "/hello", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "probe/1.0",
    }
    assert context["requestId"] == "req-1"
    assert context["routeKey"] == "GET /hello"
    assert context["stage"] == "$default"
    assert "authorizer" not in context
    assert int(before * 1000) - 1000 <= context["timeEpoch"] <= int(after * 1000) + 1000
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["time"])
    assert time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(context["timeEpoch"] // 1000)) == context["time"]


def test_the_event_parses_as_aws_lambda_powertools_model(server: ServerConfig) -> None:
    event = event_for(
        server, "POST", "/items/7?q=1", headers=[("content-type", "application/json"), ("cookie", "s=1")],
        content=b'{"a": 1}', route_key="POST /items/{id}", path_params={"id": "7"},
        authorizer={"lambda": {"apiKeyId": "FKX", "apiKeyName": "k"}},
    )
    model = APIGatewayProxyEventV2Model(**event)
    assert model.routeKey == "POST /items/{id}"
    assert model.pathParameters == {"id": "7"}
    assert model.requestContext.http.method == "POST"


def test_query_strings(server: ServerConfig) -> None:
    event = event_for(server, "GET", "/q?a=1&b=two&a=3&empty=&s=hello%20world&plus=a+b")
    assert event["rawQueryString"] == "a=1&b=two&a=3&empty=&s=hello%20world&plus=a+b"
    # repeated names are joined with commas; values are decoded; blank values kept
    assert event["queryStringParameters"] == {"a": "1,3", "b": "two", "empty": "", "s": "hello world", "plus": "a b"}


def test_raw_path_keeps_the_encoding_and_http_path_is_decoded(server: ServerConfig) -> None:
    event = event_for(server, "GET", "/files/a%20b/%C3%A9.txt")
    assert event["rawPath"] == "/files/a%20b/%C3%A9.txt"
    # the decoded path is UTF-8 text the ASGI server made; the event carries it as such
    assert event["requestContext"]["http"]["path"] == "/files/a b/é.txt"


def test_cookies_become_a_list_and_leave_the_headers(server: ServerConfig) -> None:
    event = event_for(server, "GET", "/", headers=[("cookie", "a=1; b=2"), ("Cookie", " c=3 ;; "), ("x-k", "v")])
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-k"] == "v"


def test_repeated_headers_are_joined_with_commas(server: ServerConfig) -> None:
    event = event_for(server, "GET", "/", headers=[("X-Multi", "1"), ("x-multi", "2"), ("X-MULTI", "3, 4")])
    assert event["headers"]["x-multi"] == "1,2,3, 4"


def test_path_parameters_and_authorizer(server: ServerConfig) -> None:
    authorizer = {"lambda": {"apiKeyId": "FKABC", "apiKeyName": "ci"}}
    event = event_for(
        server, "DELETE", "/users/42/posts/7", route_key="DELETE /users/{id}/posts/{post}",
        path_params={"id": "42", "post": "7"}, authorizer=authorizer,
    )
    assert event["pathParameters"] == {"id": "42", "post": "7"}
    assert event["requestContext"]["authorizer"] == authorizer
    assert event["requestContext"]["http"]["method"] == "DELETE"


@pytest.mark.parametrize(
    ("content_type", "body", "as_text"),
    [
        ("application/json", '{"a": "é"}'.encode(), True),
        ("application/json; charset=utf-8", b"{}", True),
        ("text/plain", "plain é".encode(), True),
        ("TEXT/HTML; charset=UTF-8", b"<p>hi</p>", True),
        ("application/xml", b"<a/>", True),
        ("application/javascript", b"let a", True),
        ("application/x-www-form-urlencoded", b"a=1&b=2", True),
        ("application/vnd.api+json", b"{}", True),
        ("image/svg+xml", b"<svg/>", True),
        ("application/octet-stream", b"\x00\x01\xff", False),
        ("image/png", b"\x89PNG", False),
        ("application/pdf", b"%PDF-1.7", False),
        ("text/plain", b"\xff\xfe not utf-8", False),  # a text type whose bytes do not decode
    ],
)
def test_bodies_are_text_or_base64(server: ServerConfig, content_type: str, body: bytes, as_text: bool) -> None:
    event = event_for(server, "POST", "/upload", headers=[("content-type", content_type)], content=body)
    assert event["isBase64Encoded"] is (not as_text)
    if as_text:
        assert event["body"] == body.decode("utf-8")
    else:
        assert base64.b64decode(event["body"]) == body


def test_a_body_without_content_type_is_base64(server: ServerConfig) -> None:
    event = event_for(server, "POST", "/raw", content=b"hello")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"hello"


def test_an_empty_body_is_no_body(server: ServerConfig) -> None:
    event = event_for(server, "POST", "/empty", headers=[("content-type", "application/json")], content=b"")
    assert "body" not in event and event["isBase64Encoded"] is False


def test_a_scope_without_host_or_client_uses_the_server_address(server: ServerConfig) -> None:
    scope: dict[str, Any] = {
        "type": "http", "http_version": "2", "method": "GET", "path": "/x", "raw_path": b"/x",
        "query_string": b"", "headers": [], "client": None,
    }
    event = scope_event(server, scope)
    context = event["requestContext"]
    assert context["domainName"] == "10.0.0.5:9000"
    assert context["domainPrefix"] == "10"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["protocol"] == "HTTP/2"
    assert context["http"]["userAgent"] == ""
    assert event["headers"] == {}
    assert event["routeKey"] == "$default"


def test_a_scope_without_raw_path_uses_the_path(server: ServerConfig) -> None:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/plain", "headers": [(b"host", b"localhost:8080")]}
    event = scope_event(server, scope)
    assert event["rawPath"] == "/plain"
    assert event["rawQueryString"] == ""
    assert event["requestContext"]["http"]["protocol"] == "HTTP/1.1"
    assert event["requestContext"]["domainPrefix"] == "localhost"


def test_non_ascii_header_bytes_pass_as_latin_1(server: ServerConfig) -> None:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-name", "café".encode("latin-1"))]}
    assert scope_event(server, scope)["headers"]["x-name"] == "café"


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("text/csv", True),
        ("application/json", True),
        ("application/problem+json", True),
        ("application/atom+xml; charset=utf-8", True),
        (" Application/JSON ", True),
        ("application/octet-stream", False),
        ("multipart/form-data; boundary=x", False),
        ("", False),
    ],
)
def test_is_text(content_type: str, text: bool) -> None:
    assert is_text(content_type) is text


# --- the result -----------------------------------------------------------------------------------


def result(data: Any) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize("raw", [b'{"a": 1}', b'"hello"', b"[1, 2]", b"42", b"null", b'{"data": {"statusCode": 404}}', b'[{"statusCode": 500}]'])
def test_anything_but_a_response_object_is_200_json_passed_through(raw: bytes) -> None:
    assert map_result(raw) == (200, [(b"content-type", b"application/json")], raw)


@pytest.mark.parametrize("raw", [b"", b"not json", b"{'a': 1}", b'{"statusCode": 200'])
def test_a_result_that_is_not_json_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedResponse, match="not JSON"):
        map_result(raw)


def test_a_full_response() -> None:
    status, headers, body = map_result(result({"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-A": "1"}, "body": "créé"}))
    assert status == 201
    assert headers == [(b"content-type", b"text/plain"), (b"x-a", b"1")]
    assert body == "créé".encode()


def test_a_response_without_content_type_is_json_and_without_body_is_empty() -> None:
    assert map_result(result({"statusCode": 204})) == (204, [(b"content-type", b"application/json")], b"")
    assert map_result(result({"statusCode": 200, "body": None, "headers": None})) == (200, [(b"content-type", b"application/json")], b"")


def test_header_values_multi_value_headers_and_cookies() -> None:
    status, headers, _ = map_result(result({
        "statusCode": 302,
        "headers": {"Location": "/next", "X-Count": 3, "X-Flag": True, "X-Off": False},
        "multiValueHeaders": {"X-Multi": ["a", "b"], "X-Ignored": "not a list"},
        "cookies": ["a=1; Path=/", "b=2"],
    }))
    assert status == 302
    assert headers == [
        (b"location", b"/next"), (b"x-count", b"3"), (b"x-flag", b"true"), (b"x-off", b"false"),
        (b"x-multi", b"a"), (b"x-multi", b"b"),
        (b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2"),
        (b"content-type", b"application/json"),
    ]


def test_base64_bodies() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00"
    encoded = base64.b64encode(png).decode()
    response = {"statusCode": 200, "headers": {"content-type": "image/png"}, "body": encoded, "isBase64Encoded": True}
    assert map_result(result(response))[2] == png
    # only a real true decodes
    assert map_result(result({**response, "isBase64Encoded": "true"}))[2] == encoded.encode()
    with pytest.raises(MalformedResponse, match="isBase64Encoded"):
        map_result(result({**response, "body": "not base64!"}))


@pytest.mark.parametrize("status", [100, 200, 418, 599])
def test_status_codes_in_range(status: int) -> None:
    assert map_result(result({"statusCode": status}))[0] == status


@pytest.mark.parametrize("status", [99, 600, 0, -1, "200", 200.0, True, None, [200]])
def test_status_codes_out_of_range_or_not_integers(status: Any) -> None:
    with pytest.raises(MalformedResponse, match="statusCode must be an integer from 100 to 599"):
        map_result(result({"statusCode": status}))


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({"statusCode": 200, "headers": ["a"]}, "headers must be an object"),
        ({"statusCode": 200, "headers": {"x": None}}, "header 'x' must be a string"),
        ({"statusCode": 200, "headers": {"x": {"a": 1}}}, "header 'x' must be a string"),
        ({"statusCode": 200, "headers": {"x": [1]}}, "header 'x' must be a string"),
        ({"statusCode": 200, "headers": {"x": "a\r\nSet-Cookie: evil=1"}}, "line breaks"),
        ({"statusCode": 200, "multiValueHeaders": {"x": ["a\nb"]}}, "line breaks"),
        ({"statusCode": 200, "cookies": "a=1"}, "cookies must be a list of strings"),
        ({"statusCode": 200, "cookies": ["a=1", 2]}, "cookies must be a list of strings"),
        ({"statusCode": 200, "body": {"a": 1}}, "body must be a string, got dict"),
        ({"statusCode": 200, "body": 5}, "body must be a string, got int"),
    ],
)
def test_malformed_responses_say_what_is_wrong(response: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedResponse, match=re.escape(message)):
        map_result(result(response))


def test_malformed_response_is_a_value_error() -> None:
    assert issubclass(MalformedResponse, ValueError)
