"""HTTP routes: API Gateway HTTP API payload 2.0 events in, 2.0 result mapping out, every error path."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from tests.conftest import Server, http, shown, start_server, wire

FUNCTIONS = {
    "echo.py": """
        def handler(event, context):
            return {"event": event, "request_id": context.aws_request_id}
    """,
    "respond.py": """
        import base64, json
        def handler(event, context):
            spec = json.loads(event["body"])
            if spec.get("binary"):
                return {"statusCode": 200, "headers": {"content-type": "image/png"},
                        "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
            return spec["result"]
    """,
    "boom.py": """
        def handler(event, context):
            raise ValueError("boom")
    """,
    "sleepy.py": """
        import time
        def handler(event, context):
            time.sleep(float((event.get("queryStringParameters") or {}).get("s", "0.5")))
            return {"ok": True}
    """,
    "aio.py": """
        import asyncio
        async def handler(event, context):
            await asyncio.sleep(0.01)
            return {"async": True, "path": event["rawPath"]}
    """,
}

CONFIG = """
[functions.echo]
handler = "echo.handler"
[functions.respond]
handler = "respond.handler"
[functions.boom]
handler = "boom.handler"
[functions.sleepy]
handler = "sleepy.handler"
timeout = 1
concurrency = 1
[functions.aio]
handler = "aio.handler"

[[routes]]
method = "ANY"
path = "/echo/{proxy+}"
function = "echo"
[[routes]]
method = "POST"
path = "/items/{id}"
function = "echo"
[[routes]]
method = "GET"
path = "/items/{id}/parts/{part}"
function = "echo"
[[routes]]
method = "POST"
path = "/respond"
function = "respond"
[[routes]]
method = "GET"
path = "/boom"
function = "boom"
[[routes]]
method = "GET"
path = "/sleepy"
function = "sleepy"
[[routes]]
method = "GET"
path = "/aio"
function = "aio"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("http"), FUNCTIONS, CONFIG, server_extra="max_body_bytes = 1000")
    yield srv
    srv.stop()


def event_of(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["event"]


def test_event_is_a_valid_v2_event(server: Server) -> None:
    r = server.client.post(
        "/items/42?b=2&a=1&a=3",
        content=b'{"x": 1}',
        headers=[("content-type", "application/json"), ("x-multi", "one"), ("x-multi", "two"),
                 ("Cookie", "c1=v1; c2=v2"), ("User-Agent", "pytest-agent")],
    )
    event = event_of(r)
    model = APIGatewayProxyEventV2Model(**event)  # strict: real method, real source IP
    assert model.routeKey == "POST /items/{id}"
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "b=2&a=1&a=3"
    assert event["queryStringParameters"] == {"b": "2", "a": "1,3"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one,two"
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/items/42", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "pytest-agent"}
    assert ctx["stage"] == "$default" and ctx["routeKey"] == "POST /items/{id}"
    assert ctx["domainName"] == f"127.0.0.1:{server.port}"
    assert ctx["requestId"] == r.headers["x-amzn-requestid"] == r.json()["request_id"]
    assert isinstance(ctx["timeEpoch"], int) and ctx["time"].endswith("+0000")


def test_greedy_path_and_multiple_params(server: Server) -> None:
    event = event_of(server.client.get("/echo/a/b/c.txt"))
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["routeKey"] == "ANY /echo/{proxy+}"
    event = event_of(server.client.get("/items/7/parts/wheel"))
    assert event["pathParameters"] == {"id": "7", "part": "wheel"}


def test_binary_request_body_is_base64(server: Server) -> None:
    data = bytes(range(256))
    event = event_of(server.client.put("/echo/bin", content=data, headers={"content-type": "application/octet-stream"}))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data


def respond(server: Server, result: object) -> httpx.Response:
    return server.client.post("/respond", content=json.dumps({"result": result}), headers={"content-type": "application/json"})


def test_full_response_with_headers_cookies_and_status(server: Server) -> None:
    r = respond(server, {"statusCode": 201, "headers": {"X-Custom": "yes", "content-type": "text/plain"},
                         "cookies": ["a=1; Path=/", "b=2"], "body": "created"})
    assert r.status_code == 201
    assert r.text == "created"
    assert r.headers["x-custom"] == "yes"
    assert r.headers["content-type"] == "text/plain"
    assert r.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]
    assert r.headers["x-amzn-requestid"]


def test_binary_response_round_trips(server: Server) -> None:
    r = server.client.post("/respond", content=json.dumps({"binary": True}), headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content == bytes(range(256))


@pytest.mark.parametrize("result", [{"no": "status"}, [1, 2], "text", 42, None])
def test_anything_else_becomes_200_json(server: Server, result: object) -> None:
    r = respond(server, result)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == result


def test_full_response_defaults_to_json_content_type(server: Server) -> None:
    r = respond(server, {"statusCode": 200, "body": "{\"a\": 1}"})
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"a": 1}


@pytest.mark.parametrize(
    "bad",
    [
        {"statusCode": "200", "body": "x"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "body": "!!!", "isBase64Encoded": True},
        {"statusCode": 99},
    ],
)
def test_malformed_full_response_is_502(server: Server, bad: dict) -> None:
    r = respond(server, bad)
    assert r.status_code == 502
    assert r.json() == {"message": "Internal server error"}
    assert "malformed function response" in server.log()


def test_no_route_is_404(server: Server) -> None:
    for method, path in [("GET", "/nowhere"), ("GET", "/items/42"), ("DELETE", "/respond")]:
        r = server.client.request(method, path)
        assert r.status_code == 404
        assert r.json() == {"message": "Not Found"}


def test_body_over_limit_is_413(server: Server) -> None:
    r = server.client.post("/items/1", content=b"x" * 1001)
    assert r.status_code == 413
    assert r.json() == {"message": "Request Too Long"}
    r = server.client.post("/items/1", content=iter([b"x" * 600, b"y" * 600]))  # chunked, no length
    assert r.status_code == 413
    assert server.client.post("/items/1", content=b"x" * 1000).status_code == 200


def test_error_responses_byte_for_byte(server: Server) -> None:
    def gateway(status: str, message: str, rid: bool = True) -> str:
        body = json.dumps({"message": message})
        return http(status, "content-type: application/json", *["x-amzn-requestid: <rid>"] * rid,
                    *["x-amzn-trace-id: <trace>"] * rid, f"content-length: {len(body)}", body=body)

    assert wire(server, "POST", "/items/1", body=b"x" * 1001) == gateway("413 Request Entity Too Large", "Request Too Long")
    assert wire(server, "GET", "/boom") == gateway("502 Bad Gateway", "Internal server error")
    assert wire(server, "POST", "/respond", body=b'{"result": {"statusCode": "x"}}') == gateway(
        "502 Bad Gateway", "Internal server error")
    assert wire(server, "GET", "/nowhere") == gateway("404 Not Found", "Not Found", rid=False)


def test_timeout_and_error_rows_record_the_http_status(server: Server) -> None:
    boom = server.client.get("/boom")
    assert server.wait_metered(boom.headers["x-amzn-requestid"])["http_status"] == 502
    ok = server.client.get("/aio")
    row = server.wait_metered(ok.headers["x-amzn-requestid"])
    assert row["http_status"] == 200 and row["status"] == "success"


def test_handler_error_is_502_and_details_stay_in_logs(server: Server) -> None:
    r = server.client.get("/boom")
    assert r.status_code == 502
    assert r.json() == {"message": "Internal server error"}
    text = server.wait_log(r.headers["x-amzn-requestid"])
    assert "[ERROR] ValueError: boom" in text
    assert server.wait_metered(r.headers["x-amzn-requestid"])["status"] == "error"


def test_timeout_is_504(server: Server) -> None:
    r = server.client.get("/sleepy", params={"s": "5"})
    assert r.status_code == 504
    assert r.json() == {"message": "Endpoint request timed out"}
    row = server.wait_metered(r.headers["x-amzn-requestid"])
    assert row["status"] == "timeout"
    assert row["billed_ms"] >= 1000
    assert "Task timed out after 1.00 seconds" in server.wait_log(r.headers["x-amzn-requestid"])


def test_throttled_is_429_and_metered_unbilled(server: Server) -> None:
    results: list[httpx.Response] = []

    def call() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            results.append(c.get("/sleepy", params={"s": "0.8"}))

    # concurrency = 1 and queue_wait_ms defaults to 1000: the third waiting caller gives up
    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert 200 in codes and 429 in codes, codes
    throttled = next(r for r in results if r.status_code == 429)
    assert throttled.json() == {"message": "Too Many Requests"}
    assert shown(throttled) == http("429 Too Many Requests", "content-type: application/json", "x-amzn-requestid: <rid>",
                                    "retry-after: 1", "x-amzn-trace-id: <trace>", "content-length: 32",
                                    body='{"message": "Too Many Requests"}',
                                    close=False)
    row = server.wait_metered(throttled.headers["x-amzn-requestid"])
    assert row["status"] == "throttled" and row["billed_ms"] == 0 and row["http_status"] == 429


def test_async_handler(server: Server) -> None:
    r = server.client.get("/aio")
    assert r.status_code == 200
    assert r.json() == {"async": True, "path": "/aio"}


def test_platform_paths_are_not_routable_and_health(server: Server) -> None:
    assert server.client.get("/healthz").json() == {"status": "ok"}
    assert server.client.get("/2015-03-31/functions/echo/invocations").status_code in (404, 405)
