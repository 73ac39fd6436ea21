"""The WebSocket API with the real ``websockets`` client, and @connections with real boto3."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from botocore.config import Config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ADMIN_KEY, Server, http, shown, start_server, wait_for

FUNCTIONS = {
    "ws.py": """
        import json, os, time
        def record(event):
            ctx = event["requestContext"]
            path = os.path.join(os.environ["EVENTS_DIR"], f"{ctx['eventType']}-{ctx['connectionId']}.json")
            with open(path + ".tmp", "w") as f:
                json.dump(event, f)
            os.replace(path + ".tmp", path)  # the test sees the whole event or none
        def on_connect(event, context):
            record(event)
            if (event.get("queryStringParameters") or {}).get("deny"):
                return {"statusCode": 403}
            return {"statusCode": 200}
        def on_disconnect(event, context):
            record(event)
            return {"statusCode": 200}
        def echo(event, context):
            return {"statusCode": 200, "body": json.dumps({"route": "echo", "event": event})}
        def slow(event, context):
            time.sleep(1.0)
            return {"statusCode": 200, "body": "slow done"}
        def fail(event, context):
            raise RuntimeError("ws boom")
        def default(event, context):
            return {"statusCode": 200, "body": "default:" + (event.get("body") or "")}
    """,
}

CONFIG_TEMPLATE = """
[functions.on_connect]
handler = "ws.on_connect"
environment = {{ EVENTS_DIR = "{events}" }}
[functions.on_disconnect]
handler = "ws.on_disconnect"
environment = {{ EVENTS_DIR = "{events}" }}
[functions.echo]
handler = "ws.echo"
[functions.slow]
handler = "ws.slow"
[functions.fail]
handler = "ws.fail"
[functions.default]
handler = "ws.default"

[[websockets]]
path = "/ws"
[websockets.routes]
"$connect" = "on_connect"
"$disconnect" = "on_disconnect"
"$default" = "default"
echo = "echo"
slow = "slow"
fail = "fail"

[[websockets]]
path = "/strict"
route_selection = "$request.body.meta.kind"
auth = "api_key"
[websockets.routes]
echo = "echo"

[usage_plans.open]
"""


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("events")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, events_dir: Path) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("ws"), FUNCTIONS, CONFIG_TEMPLATE.format(events=events_dir))
    yield srv
    srv.stop()


def ws_url(server: Server, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def recorded(events_dir: Path, kind: str, conn_id: str) -> dict[str, Any]:
    path = events_dir / f"{kind}-{conn_id}.json"
    wait_for(path.exists, 10, what=f"{kind} event")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def send_json(ws: Any, data: dict[str, Any]) -> Any:
    ws.send(json.dumps(data))
    return ws.recv(timeout=10)


def test_connect_message_disconnect_events(server: Server, events_dir: Path) -> None:
    with connect(ws_url(server) + "?room=1", additional_headers={"X-Extra": "yes"}) as ws:
        reply = json.loads(send_json(ws, {"action": "echo", "text": "hi"}))
        assert reply["route"] == "echo"
        message = reply["event"]
        APIGatewayWebSocketMessageEventModel(**message)
        ctx = message["requestContext"]
        assert ctx["routeKey"] == "echo" and ctx["eventType"] == "MESSAGE"
        assert ctx["stage"] == "ws" and ctx["domainName"] == f"127.0.0.1:{server.port}"
        assert json.loads(message["body"]) == {"action": "echo", "text": "hi"}
        conn_id = ctx["connectionId"]
    connect_event = recorded(events_dir, "CONNECT", conn_id)
    APIGatewayWebSocketConnectEventModel(**connect_event)
    assert connect_event["queryStringParameters"] == {"room": "1"}
    assert connect_event["headers"]["x-extra"] == "yes"
    disconnect_event = recorded(events_dir, "DISCONNECT", conn_id)
    APIGatewayWebSocketDisconnectEventModel(**disconnect_event)
    assert disconnect_event["requestContext"]["disconnectStatusCode"] == 1000


def test_route_selection_and_default(server: Server) -> None:
    with connect(ws_url(server)) as ws:
        assert send_json(ws, {"action": "nope"}) == 'default:{"action": "nope"}'
        ws.send("not json at all")
        assert ws.recv(timeout=10) == "default:not json at all"
        error = json.loads(send_json(ws, {"action": "fail"}))
        assert error["message"] == "Internal server error" and error["connectionId"] and error["requestId"]


def test_no_default_route_answers_forbidden_and_nested_selection(server: Server) -> None:
    out = server.faas("keys", "create", "wsuser", "--plan", "open")
    secret = json.loads(out.stdout)["secret"]
    with connect(ws_url(server, "/strict") + f"?api_key={secret}") as ws:
        reply = json.loads(send_json(ws, {"meta": {"kind": "echo"}}))
        assert reply["route"] == "echo"
        error = json.loads(send_json(ws, {"meta": {"kind": "other"}}))
        assert error["message"] == "Forbidden"
    with connect(ws_url(server, "/strict"), additional_headers={"x-api-key": secret}) as ws:
        assert json.loads(send_json(ws, {"meta": {"kind": "echo"}}))["route"] == "echo"


def test_refused_connections(server: Server) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(server) + "?deny=1").close()
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(server, "/strict")).close()
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(server, "/strict") + "?api_key=wrong").close()
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        connect(ws_url(server, "/nowhere")).close()


def management(server: Server, key_id: str, secret: str) -> Any:
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"{server.url}/ws", region_name="us-east-1",
        aws_access_key_id=key_id, aws_secret_access_key=secret, config=Config(retries={"max_attempts": 0}),
    )


def test_connections_api_with_boto3(server: Server, events_dir: Path) -> None:
    key = json.loads(server.faas("keys", "create", "mgmt", "--plan", "open").stdout)
    api = management(server, key["id"], key["secret"])
    with connect(ws_url(server)) as ws:
        conn_id = json.loads(send_json(ws, {"action": "echo"}))["event"]["requestContext"]["connectionId"]
        api.post_to_connection(ConnectionId=conn_id, Data=b"pushed from boto3")
        assert ws.recv(timeout=10) == "pushed from boto3"
        info = api.get_connection(ConnectionId=conn_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        api.delete_connection(ConnectionId=conn_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    recorded(events_dir, "DISCONNECT", conn_id)
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=conn_id, Data=b"too late")
    # other credentials: admin key and x-api-key work, nothing else does
    r = server.client.post(f"/ws/@connections/{conn_id}", content=b"x", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status_code == 410 and r.headers["x-amzn-errortype"] == "GoneException"
    gone = f'{{"Type": "User", "message": "Connection {conn_id} is gone"}}'
    assert shown(r) == http("410 Gone", "x-amzn-errortype: GoneException", f"content-length: {len(gone)}",
                            "content-type: application/json", body=gone, close=False)
    r = server.client.post(f"/nostage/@connections/{conn_id}", content=b"x", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert shown(r) == http("404 Not Found", "content-length: 23", "content-type: application/json",
                            body='{"message":"Not Found"}', close=False)
    r = server.client.post(f"/ws/@connections/{conn_id}", content=b"x", headers={"x-api-key": key["secret"]})
    assert r.status_code == 410
    r = server.client.post(f"/ws/@connections/{conn_id}", content=b"x")
    assert r.status_code == 403 and r.headers["x-amzn-errortype"] == "ForbiddenException"
    bad = management(server, key["id"], "wrong-secret")
    with pytest.raises(bad.exceptions.ForbiddenException):
        bad.post_to_connection(ConnectionId=conn_id, Data=b"x")


def test_post_too_large(server: Server) -> None:
    with connect(ws_url(server)) as ws:
        conn_id = json.loads(send_json(ws, {"action": "echo"}))["event"]["requestContext"]["connectionId"]
        r = server.client.post(f"/ws/@connections/{conn_id}", content=b"x" * 131073,
                               headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert r.status_code == 413 and r.headers["x-amzn-errortype"] == "PayloadTooLargeException"


def test_frame_over_limit_closes_with_1009(server: Server) -> None:
    with connect(ws_url(server), max_size=None) as ws:
        ws.send("x" * (128 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    with connect(ws_url(server)) as ws:  # the server is fine
        assert json.loads(send_json(ws, {"action": "echo"}))["route"] == "echo"


def test_disconnect_mid_call(server: Server, events_dir: Path) -> None:
    with connect(ws_url(server)) as ws:
        conn_id = json.loads(send_json(ws, {"action": "echo"}))["event"]["requestContext"]["connectionId"]
        ws.send(json.dumps({"action": "slow"}))
    recorded(events_dir, "DISCONNECT", conn_id)
    # the slow call still finishes and is metered; its reply had nowhere to go
    wait_for(lambda: server.db_rows("SELECT status FROM invocations WHERE function = 'slow'"), 10, what="slow metered")
    assert server.db_rows("SELECT status FROM invocations WHERE function = 'slow'")[0][0] == "success"


def test_chat_example_broadcasts(tmp_path: Path) -> None:
    root = Path(__file__).parents[2]
    shutil.copytree(root / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    config = "[executor]" + (root / "config.toml").read_text().split("[executor]", 1)[1]
    srv = start_server(tmp_path, {}, config)
    try:
        url = f"ws://127.0.0.1:{srv.port}/chat"
        with connect(url + "?name=ann") as a, connect(url + "?name=bob") as b, connect(url + "?name=cy") as c:
            a.send(json.dumps({"action": "sendmessage", "message": "hello room"}))
            for ws in (a, b, c):
                assert json.loads(ws.recv(timeout=20)) == {"from": "ann", "message": "hello room"}
            b.send(json.dumps({"hello": "?"}))
            assert "sendmessage" in json.loads(b.recv(timeout=10))["error"]
    finally:
        srv.stop()
