"""REST routes and payload 1.0 on a real server: handlers written for API Gateway's REST API (the
`sam init` hello world, powertools resolvers) run unchanged; a response the gateway refuses is a 502
whose reason is in the call's log (`faas logs`, the admin page) and whose row says what the client got;
the handler's remaining time counts from the call's start."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import aws_lambda_powertools
import httpx
import pytest
import typing_extensions
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from tests.conftest import ADMIN_KEY, Server, start_server

# A powertools app, unchanged from what runs on AWS but for the resolver and the prefix it is served under.
POWERTOOLS_APP = """
    import json
    from aws_lambda_powertools.event_handler import {resolver}, Response
    from aws_lambda_powertools.shared.cookies import Cookie

    app = {resolver}({strip})

    @app.get("/todos/<todo_id>")
    def get_todo(todo_id):
        event = app.current_event
        return {{
            "id": todo_id,
            "tags": (event.multi_value_query_string_parameters or {{}}).get("tag") if {multi} else None,
            "q": event.get_query_string_value("q"),
            "accept": event.get_header_value("accept"),
            "multi": event.multi_value_headers.get("X-Tag") if {multi} else None,
            "cookie": event.get_header_value("cookie") if {multi} else event.cookies,
            "method": event.http_method,
            "path": event.path,
        }}

    @app.post("/todos")
    def create_todo():
        todo = app.current_event.json_body
        return Response(
            status_code=201, content_type="application/json", body=json.dumps({{"created": todo}}),
            headers={{"X-Multi": ["a", "b"]}}, cookies=[Cookie(name="session", value="abc")],
        )

    def lambda_handler(event, context):
        return app.resolve(event, context)
"""

FUNCTIONS = {
    # `sam init`'s hello-world template, app.py, as it is.
    "hello/app.py": """
        import json

        def lambda_handler(event, context):
            return {
                "statusCode": 200,
                "body": json.dumps({"message": "hello world"}),
            }
    """,
    "echo.py": """
        def handler(event, context):
            return {"statusCode": 200, "body": __import__("json").dumps(event)}
    """,
    "pt_rest.py": POWERTOOLS_APP.format(resolver="APIGatewayRestResolver", strip="", multi=True),
    "pt_http1.py": POWERTOOLS_APP.format(resolver="APIGatewayRestResolver", strip='strip_prefixes=["/h1"]', multi=True),
    "pt_http2.py": POWERTOOLS_APP.format(resolver="APIGatewayHttpResolver", strip='strip_prefixes=["/h2"]', multi=False),
    "bad.py": """
        def handler(event, context):
            return {"statusCode": "200", "body": "fine"}
    """,
    "remaining.py": """
        import json
        def handler(event, context):
            left = context.get_remaining_time_in_millis()
            return {"statusCode": 200, "body": json.dumps({"remaining": left})}
    """,
}

CONFIG = """
[layers.powertools]
path = "powertools"

[functions.hello]
handler = "app.lambda_handler"
code = "functions/hello"
[functions.echo]
handler = "echo.handler"
[functions.pt_rest]
handler = "pt_rest.lambda_handler"
layers = ["powertools"]
[functions.pt_http1]
handler = "pt_http1.lambda_handler"
layers = ["powertools"]
[functions.pt_http2]
handler = "pt_http2.lambda_handler"
layers = ["powertools"]
[functions.bad]
handler = "bad.handler"
[functions.remaining]
handler = "remaining.handler"
timeout = 3

[[routes]]
method = "GET"
path = "/hello"
function = "hello"
api = "rest"
[[routes]]
path = "/echo/{proxy+}"
function = "echo"
api = "rest"
[[routes]]
method = "GET"
path = "/keyed"
function = "echo"
api = "rest"
auth = "api_key"
[[routes]]
path = "/echo1/{id}"
function = "echo"
payload = "1.0"
[[routes]]
method = "GET"
path = "/todos/{todo_id}"
function = "pt_rest"
api = "rest"
[[routes]]
method = "POST"
path = "/todos"
function = "pt_rest"
api = "rest"
[[routes]]
path = "/h1/{proxy+}"
function = "pt_http1"
payload = "1.0"
[[routes]]
path = "/h2/{proxy+}"
function = "pt_http2"
[[routes]]
method = "GET"
path = "/bad"
function = "bad"
api = "rest"
[[routes]]
method = "GET"
path = "/bad2"
function = "bad"
[[routes]]
method = "GET"
path = "/remaining"
function = "remaining"
api = "rest"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("rest")
    # A layer with powertools (and its one dependency boto3's runtime lacks), as a user would build it.
    python = root / "powertools" / "python"
    python.mkdir(parents=True)
    shutil.copytree(Path(aws_lambda_powertools.__file__).parent, python / "aws_lambda_powertools",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(typing_extensions.__file__, python / "typing_extensions.py")
    srv = start_server(root, FUNCTIONS, CONFIG)
    srv.wait_environments()
    yield srv
    srv.stop()


def test_sam_hello_world_with_and_without_the_stage(server: Server) -> None:
    for path in ("/hello", "/Prod/hello"):
        r = server.client.get(path)
        assert r.status_code == 200, r.text
        assert r.json() == {"message": "hello world"}
        assert r.headers["content-type"] == "application/json"
    assert server.client.get("/Dev/hello").status_code == 404


def test_rest_event_validates_and_carries_the_stage(server: Server) -> None:
    r = server.client.post(
        "/Prod/echo/a/b?x=1&x=2", content=b'{"k": 1}',
        headers=[("content-type", "application/json"), ("x-tag", "one"), ("x-tag", "two"), ("Cookie", "c=1; d=2")],
    )
    assert r.status_code == 200, r.text
    event = r.json()
    APIGatewayProxyEventModel(**event)
    assert event["resource"] == "/echo/{proxy+}" and event["path"] == "/echo/a/b"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["requestContext"]["path"] == "/Prod/echo/a/b" and event["requestContext"]["stage"] == "Prod"
    assert event["multiValueHeaders"]["X-Tag"] == ["one", "two"] and event["headers"]["X-Tag"] == "two"
    assert event["headers"]["Cookie"] == "c=1; d=2"
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"


def test_api_key_route_fills_identity(server: Server) -> None:
    out = server.faas("keys", "create", "rest-user")
    assert out.returncode == 0, out.stderr
    key = json.loads(out.stdout)
    assert server.client.get("/Prod/keyed").status_code == 403
    r = server.client.get("/Prod/keyed", headers={"x-api-key": key["secret"]})
    assert r.status_code == 200, r.text
    identity = r.json()["requestContext"]["identity"]
    assert identity["apiKey"] == key["secret"] and identity["apiKeyId"] == key["id"]


def test_http_api_1_0_event_validates(server: Server) -> None:
    r = server.client.get("/echo1/7?a=b")
    assert r.status_code == 200, r.text
    event = r.json()
    APIGatewayProxyEventModel(**event)
    assert event["version"] == "1.0" and event["resource"] == "/echo1/{id}" and event["path"] == "/echo1/7"
    assert event["requestContext"]["stage"] == "$default" and event["requestContext"]["routeKey"] == "ANY /echo1/{id}"
    assert event["pathParameters"] == {"id": "7"} and event["headers"]["host"].startswith("127.0.0.1:")


@pytest.mark.parametrize(("prefix", "multi"), [("", True), ("/Prod", True), ("/h1", True), ("/h2", False)])
def test_powertools_resolvers_run_unchanged(server: Server, prefix: str, multi: bool) -> None:
    r = server.client.get(
        f"{prefix}/todos/42?tag=a&tag=b&q=find",
        headers=[("accept", "application/json"), ("x-tag", "one"), ("x-tag", "two"), ("Cookie", "s=1; t=2")],
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == "42" and got["q"] == "find" and got["method"] == "GET"
    assert got["accept"] == "application/json"
    if multi:
        assert got["tags"] == ["a", "b"] and got["multi"] == ["one", "two"] and got["cookie"] == "s=1; t=2"
        assert got["path"] == f"{prefix if prefix == '/h1' else ''}/todos/42"
    else:
        assert got["cookie"] == ["s=1", "t=2"]
    created = server.client.post(f"{prefix}/todos", json={"title": "write tests"})
    assert created.status_code == 201, created.text
    assert created.json() == {"created": {"title": "write tests"}}
    # 1.0 sends multiValueHeaders; powertools folds a list into one 2.0 header, as on AWS
    assert created.headers.get_list("x-multi") == (["a", "b"] if multi else ["a, b"])
    assert created.headers["set-cookie"].startswith("session=abc")


@pytest.mark.parametrize("path", ["/bad", "/bad2"])  # payload 1.0 (REST) and 2.0 alike
def test_malformed_response_is_an_honest_502(server: Server, path: str) -> None:
    r = server.client.get(path)
    assert r.status_code == 502
    assert r.json() == {"message": "Internal server error"}
    rid = r.headers["x-amzn-requestid"]
    row = server.wait_metered(rid)
    assert row["status"] == "success" and row["http_status"] == 502 and row["billed_ms"] >= 1
    reason = ("Execution failed due to configuration error: Malformed Lambda proxy response: "
              "statusCode must be an integer from 100 to 599, got '200'")
    log = server.wait_log(rid)
    assert reason in log and "Method completed with status: 502" in log
    out = server.faas("logs", "bad", "--request-id", rid)
    assert out.returncode == 0, out.stderr
    assert reason in out.stdout and f"END RequestId: {rid}" in out.stdout
    with httpx.Client(base_url=server.url, timeout=30) as admin:
        login = admin.post("/admin/login", data={"key": ADMIN_KEY, "next": "/admin/invocations"})
        assert login.status_code == 303
        page = admin.get(f"/admin/invocations/{rid}")
        assert page.status_code == 200
        assert "HTTP 502" in page.text and "Malformed Lambda proxy response" in page.text
        assert ">success<" in page.text
        listing = admin.get("/admin/invocations?function=bad")
        assert "HTTP 502" in listing.text


def test_every_http_route_call_records_its_status(server: Server) -> None:
    r = server.client.get("/hello")
    assert server.wait_metered(r.headers["x-amzn-requestid"])["http_status"] == 200
    r = server.client.post("/h2/todos", json={})
    assert server.wait_metered(r.headers["x-amzn-requestid"])["http_status"] == 201


def test_remaining_time_counts_from_the_call_start(server: Server) -> None:
    for _ in range(3):  # the first is a cold start: init time does not count against the timeout
        r = server.client.get("/remaining")
        assert r.status_code == 200, r.text
        left = json.loads(r.text)["remaining"]
        assert 2000 < left < 3000

