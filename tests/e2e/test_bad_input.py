"""Bad input at the door: fuzzing the served OpenAPI document, and each malformed request class.
Each gets a clear 4xx; the server never answers 500 and keeps serving."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_KEY, Server, http, masked, start_server

FUNCTIONS = {
    "echo.py": "def handler(event, context):\n    return {'path': event['rawPath'], 'params': event.get('pathParameters')}\n",
    "rest_echo.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': event['path']}\n",
}
CONFIG = """
[usage_plans.open]

[functions.echo]
handler = "echo.handler"
[functions.rest_echo]
handler = "rest_echo.handler"

[[routes]]
method = "ANY"
path = "/items/{id}"
function = "echo"
[[routes]]
method = "POST"
path = "/private/{proxy+}"
function = "echo"
auth = "api_key"
[[routes]]
path = "/rest/{id}"
function = "rest_echo"
api = "rest"

[[websockets]]
path = "/ws"
[websockets.routes]
"$default" = "echo"

[[buckets]]
name = "drop"
function = "echo"

[[schedules]]
name = "nightly"
expression = "cron(0 3 * * ? *)"
function = "echo"
enabled = false
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("bad"), FUNCTIONS, CONFIG,
                       server_extra="max_header_bytes = 8192\nbody_timeout = 1")
    yield srv
    srv.stop()


def raw_request(server: Server, data: bytes, pause: float = 0.0, rest: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(data)
        if pause:
            time.sleep(pause)  # a deliberately slow client
            s.sendall(rest)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"content-length" in b"".join(chunks).lower():
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
        return b"".join(chunks)


def test_openapi_document_lists_platform_and_user_routes(server: Server) -> None:
    doc = server.client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"/healthz", "/2015-03-31/functions/{name}/invocations", "/admin/api/keys", "/items/{id}",
            "/private/{proxy}", "/ws/@connections/{connectionId}", "/buckets/drop/{key}",
            "/admin/api/schedules/{name}/{action}", "/metrics", "/rest/{id}", "/Prod/rest/{id}"} <= set(doc["paths"])


def test_fuzz_the_http_api_with_schemathesis(server: Server) -> None:
    st = Path(sys.executable).parent / "st"
    out = subprocess.run(
        [str(st), "run", f"{server.url}/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "25", "--request-timeout", "15", "--generation-deterministic",
         "-H", f"Authorization: Bearer {ADMIN_KEY}", "--no-color"],
        capture_output=True, text=True, timeout=300, cwd=server.root,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert server.client.get("/healthz").status_code == 200


def test_huge_headers_are_431(server: Server) -> None:
    r = server.client.get("/items/1", headers={"x-big": "a" * 10_000})
    assert r.status_code == 431
    assert "Request Header Fields Too Large" in r.json()["message"]


def test_invalid_utf8_paths(server: Server) -> None:
    r = server.client.get("/items/%FF%FE")
    assert r.status_code == 400 and "not valid UTF-8" in r.json()["message"]
    assert raw_request(server, b"GET /items/\xff HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 400")
    r = server.client.get("/items/%C3%A9t%C3%A9")  # valid UTF-8 is fine
    assert r.status_code == 200 and r.json()["params"] == {"id": "été"}


def test_malformed_http_is_400(server: Server) -> None:
    assert raw_request(server, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_slow_body_gets_408_and_others_are_served_meanwhile(server: Server) -> None:
    head = b"POST /items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\nabc"
    import threading

    result: list[bytes] = []
    t = threading.Thread(target=lambda: result.append(raw_request(server, head, pause=3, rest=b"defghij")))
    t.start()
    assert server.client.get("/items/2").status_code == 200  # not blocked by the slow client
    t.join()
    assert result[0].startswith(b"HTTP/1.1 408")
    assert b'{"message": "Request Timeout"}' in result[0]
    assert masked(result[0].decode()) == http(
        "408 Request Timeout", "content-type: application/json", "x-amzn-requestid: <rid>",
        "x-amzn-trace-id: <trace>", "content-length: 30",
        body='{"message": "Request Timeout"}', close=False)


def test_malformed_json_and_bodies(server: Server) -> None:
    r = server.invoke("echo", raw=b'{"unterminated": ')
    assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "InvalidRequestContentException"
    r = server.invoke("echo", raw=b"\xff\xfe not utf8")
    assert r.status_code == 400
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    r = server.client.post("/admin/api/keys", content=b"[1, 2]", headers=auth)
    assert r.status_code == 400 and "JSON object" in r.json()["message"]
    r = server.client.post("/admin/api/keys", json={"name": "x", "plan": "open", "extra": 1}, headers=auth)
    assert r.status_code == 400 and "unknown field 'extra'" in r.json()["message"]
