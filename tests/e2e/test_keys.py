"""API keys, usage plans (rate, burst, quota) and SigV4 with the real boto3 client; how every door refuses."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from botocore.config import Config
from websockets.sync.client import connect

from tests.conftest import ADMIN_KEY, Server, http, start_server, wait_for, wire

FUNCTIONS = {
    "echo.py": """
        def handler(event, context):
            return event
    """,
    "hello.py": """
        def handler(event, context):
            return {"hello": event.get("name", "world")}
    """,
    "caller.py": """
        import json, boto3
        def handler(event, context):
            client = boto3.client("lambda")  # AWS_ENDPOINT_URL and credentials come from the platform
            r = client.invoke(FunctionName="hello", Payload=json.dumps({"name": "from caller"}))
            return json.loads(r["Payload"].read())
    """,
}

CONFIG = """
[usage_plans.tight]
rate = 2
burst = 3
[usage_plans.small]
quota = 4
quota_period = "day"
[usage_plans.open]
[usage_plans.stingy]
rate = 0.01
burst = 1
[usage_plans.once]
quota = 1
quota_period = "day"

[functions.echo]
handler = "echo.handler"
[functions.hello]
handler = "hello.handler"
[functions.caller]
handler = "caller.handler"
timeout = 30

[[routes]]
method = "ANY"
path = "/private"
function = "echo"
auth = "api_key"
[[routes]]
method = "GET"
path = "/public"
function = "echo"

[[buckets]]
name = "vault"
function = "echo"

[[websockets]]
path = "/ws"
auth = "api_key"
[websockets.routes]
"$default" = "echo"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("keys"), FUNCTIONS, CONFIG)
    yield srv
    srv.stop()


def create_key(srv: Server, name: str, plan: str | None = None) -> dict[str, Any]:
    args = ["keys", "create", name] + (["--plan", plan] if plan else [])
    out = srv.faas(*args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def lambda_client(srv: Server, key_id: str, secret: str) -> Any:
    return boto3.client(
        "lambda", endpoint_url=srv.url, region_name="us-east-1",
        aws_access_key_id=key_id, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, read_timeout=60),
    )


def test_create_list_revoke_with_the_cli(server: Server) -> None:
    key = create_key(server, "alice", "open")
    assert set(key) == {"id", "secret", "name", "plan"}
    assert key["id"].startswith("FK") and len(key["id"]) == 20 and key["plan"] == "open"
    listed = json.loads(server.faas("keys", "list", "--format", "json").stdout)
    mine = next(k for k in listed if k["id"] == key["id"])
    assert mine["revoked"] is False and "secret" not in mine
    assert key["secret"] not in server.faas("keys", "list").stdout
    # the secret is stored encrypted: it appears nowhere in the database file
    assert key["secret"].encode() not in (server.data_dir / "faas.db").read_bytes()
    assert (server.data_dir / "master.key").stat().st_mode & 0o777 == 0o600
    assert server.client.get("/private", headers={"x-api-key": key["secret"]}).status_code == 200
    out = server.faas("keys", "revoke", key["id"])
    assert out.returncode == 0 and json.loads(out.stdout)["revoked"] is True
    # revocation takes effect immediately
    assert server.client.get("/private", headers={"x-api-key": key["secret"]}).status_code == 403
    assert server.faas("keys", "revoke", "FKNOSUCHKEY000000000").returncode == 1
    out = server.faas("keys", "create", "bob", "--plan", "gold")
    assert out.returncode == 2 and "no usage plan 'gold'" in out.stderr


def test_admin_api_needs_the_admin_key(server: Server) -> None:
    assert server.client.get("/admin/api/keys").status_code == 401
    assert server.client.get("/admin/api/keys", headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    r = server.client.post("/admin/api/keys", json={"name": "svc", "plan": "open"}, headers=auth)
    assert r.status_code == 201 and r.json()["secret"]
    r = server.client.post("/admin/api/keys", json={"name": ""}, headers=auth)
    assert r.status_code == 400 and "name" in r.json()["message"]
    r = server.client.post("/admin/api/keys", content=b"{", headers=auth)
    assert r.status_code == 400
    assert server.client.delete("/admin/api/keys/FKNOPE", headers=auth).status_code == 404


def test_route_auth_forbidden_cases(server: Server) -> None:
    assert server.client.get("/public").status_code == 200
    for headers in ({}, {"x-api-key": "wrong"}, {"Authorization": f"Bearer {ADMIN_KEY}"}):
        r = server.client.get("/private", headers=headers)
        assert r.status_code == 403
        assert r.json() == {"message": "Forbidden"}


def test_key_reaches_the_event_and_the_metering_row(server: Server) -> None:
    key = create_key(server, "carol", "open")
    r = server.client.get("/private", headers={"x-api-key": key["secret"]})
    event = r.json()
    APIGatewayProxyEventV2Model(**event)
    assert event["requestContext"]["authorizer"]["lambda"] == {"apiKeyId": key["id"], "apiKeyName": "carol"}
    assert server.wait_metered(r.headers["x-amzn-requestid"])["caller"] == key["id"]


def test_rate_and_burst(server: Server) -> None:
    key = create_key(server, "dave", "tight")
    h = {"x-api-key": key["secret"]}
    codes = [server.client.get("/private", headers=h).status_code for _ in range(3)]
    assert codes == [200, 200, 200]  # the burst
    r = server.client.get("/private", headers=h)
    assert r.status_code == 429
    assert r.json() == {"message": "Too Many Requests"}
    assert int(r.headers["retry-after"]) >= 1
    # rate = 2/s: a token is back within half a second
    wait_for(lambda: server.client.get("/private", headers=h).status_code == 200, 3, interval=0.1, what="refill")


def test_quota_persists_across_restart(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    key = create_key(srv, "erin", "small")
    h = {"x-api-key": key["secret"]}
    assert [srv.client.get("/private", headers=h).status_code for _ in range(3)] == [200, 200, 200]
    srv.stop(signal.SIGTERM)
    again = start_server(srv.root, {}, CONFIG)
    try:
        assert again.client.get("/private", headers=h).status_code == 200  # the 4th of 4
        r = again.client.get("/private", headers=h)
        assert r.status_code == 429
        assert r.json() == {"message": "Limit Exceeded"}
        # refused requests never reached a worker: 4 calls metered in all
        rows = wait_for(lambda: again.db_rows("SELECT count(*) FROM invocations WHERE caller = ?", (key["id"],))[0][0] == 4 or None,
                        what="metering")
        assert rows
    finally:
        again.stop()


def test_boto3_sigv4_invoke(server: Server) -> None:
    key = create_key(server, "frank", "open")
    client = lambda_client(server, key["id"], key["secret"])
    r = client.invoke(FunctionName="hello", Payload=b'{"name": "sigv4"}')
    assert json.loads(r["Payload"].read()) == {"hello": "sigv4"}
    r = client.invoke(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:hello", Qualifier="$LATEST")
    assert json.loads(r["Payload"].read()) == {"hello": "world"}
    rid = r["ResponseMetadata"]["RequestId"]
    assert server.wait_metered(rid)["caller"] == key["id"]


def test_sigv4_rejections(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    key = create_key(server, "grace", "open")
    bad_secret = lambda_client(server, key["id"], key["secret"] + "x")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        bad_secret.invoke(FunctionName="hello")
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = lambda_client(server, "FKUNKNOWNUNKNOWN0000", key["secret"])
    with pytest.raises(botocore.exceptions.ClientError) as info:
        unknown.invoke(FunctionName="hello")
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    # a correctly signed request from 6 minutes ago is refused
    six_minutes_ago = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: six_minutes_ago)
    client = lambda_client(server, key["id"], key["secret"])
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.invoke(FunctionName="hello")
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "Signature expired" in info.value.response["Error"]["Message"]


def test_revoked_key_fails_sigv4_immediately(server: Server) -> None:
    key = create_key(server, "heidi", "open")
    client = lambda_client(server, key["id"], key["secret"])
    assert client.invoke(FunctionName="hello")["StatusCode"] == 200
    server.faas("keys", "revoke", key["id"])
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.invoke(FunctionName="hello")
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_x_api_key_on_the_invoke_api_and_plan_limits(server: Server) -> None:
    key = create_key(server, "ivan", "tight")
    h = {"x-api-key": key["secret"]}
    url = "/2015-03-31/functions/hello/invocations"
    codes = [server.client.post(url, content=b"{}", headers=h).status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    r = server.client.post(url, content=b"{}", headers=h)
    if r.status_code == 429:
        assert r.headers["x-amzn-errortype"] == "TooManyRequestsException"


def test_function_calls_another_function_with_plain_boto3(server: Server) -> None:
    r = server.invoke("caller")
    assert r.status_code == 200, r.text
    assert r.json() == {"hello": "from caller"}
    rows = wait_for(lambda: server.db_rows(
        "SELECT caller FROM invocations WHERE function = 'hello' AND caller LIKE 'FI%'"), what="inner call metered")
    assert rows[0][0].startswith("FI")


def test_keys_work_while_server_is_down(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    srv.stop()
    key = create_key(srv, "offline", "open")
    again = start_server(srv.root, {}, CONFIG)
    try:
        assert again.client.get("/private", headers={"x-api-key": key["secret"]}).status_code == 200
    finally:
        again.stop()


# --- every door's refusals, byte for byte ----------------------------------------------------------

WS_UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def signed(srv: Server, path: str, key_id: str, secret: str, service: str, body: bytes = b"") -> dict[str, str]:
    """The headers of a SigV4-signed POST to ``path`` (what boto3 sends, without boto3's client)."""
    request = botocore.awsrequest.AWSRequest(method="POST", url=f"{srv.url}{path}", data=body)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), service, "us-east-1").add_auth(request)
    return {name: value for name, value in request.headers.items() if name.lower() != "content-length"}


def api_key(srv: Server, name: str, plan: str) -> dict[str, Any]:
    r = srv.client.post("/admin/api/keys", json={"name": name, "plan": plan},
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


INVOKE = "/2015-03-31/functions/hello/invocations"


def test_every_door_refuses_bad_credentials_in_its_own_words(server: Server) -> None:
    key = api_key(server, "doors", "open")
    cases = {
        "route, none": ("GET", "/private", {}),
        "route, unknown key": ("GET", "/private", {"x-api-key": "wrong"}),
        "route, admin key": ("GET", "/private", {"Authorization": f"Bearer {ADMIN_KEY}"}),
        "invoke, none": ("POST", INVOKE, {}),
        "invoke, unknown key": ("POST", INVOKE, {"x-api-key": "wrong"}),
        "invoke, wrong bearer": ("POST", INVOKE, {"Authorization": "Bearer wrong"}),
        "invoke, wrong service": ("POST", INVOKE, signed(server, INVOKE, key["id"], key["secret"], "s3")),
        "invoke, unknown key id": ("POST", INVOKE, signed(server, INVOKE, "FKUNKNOWNUNKNOWN0000", "x", "lambda")),
        "invoke, bad signature": ("POST", INVOKE, signed(server, INVOKE, key["id"], "wrong", "lambda")),
        "bucket, none": ("GET", "/buckets/vault/a.txt", {}),
        "bucket, unknown key": ("PUT", "/buckets/vault/a.txt", {"x-api-key": "wrong"}),
        "bucket, wrong bearer": ("GET", "/buckets/vault/a.txt", {"Authorization": "Bearer wrong"}),
        "connections, none": ("POST", "/ws/@connections/abc", {}),
        "connections, unknown key": ("DELETE", "/ws/@connections/abc", {"x-api-key": "wrong"}),
        "connections, bad signature": ("POST", "/ws/@connections/abc",
                                       signed(server, "/ws/@connections/abc", key["id"], "wrong", "execute-api")),
        "websocket, none": ("GET", "/ws", WS_UPGRADE),
        "websocket, unknown key": ("GET", "/ws?api_key=wrong", WS_UPGRADE),
        "keys api, none": ("GET", "/admin/api/keys", {}),
        "keys api, wrong bearer": ("DELETE", "/admin/api/keys/FKX", {"Authorization": "Bearer wrong"}),
        "schedules api, none": ("GET", "/admin/api/schedules", {}),
        "schedules api, api key": ("POST", "/admin/api/schedules/x/run", {"x-api-key": key["secret"]}),
        "bill api, none": ("GET", "/admin/api/bill", {}),
        "metrics, none": ("GET", "/metrics", {}),
    }
    got = {name: masked_signature(wire(server, method, path, headers)) for name, (method, path, headers) in cases.items()}
    assert got == DOOR_REFUSALS


def test_every_door_answers_rate_and_quota_in_its_own_words(server: Server) -> None:
    doors = {
        "route": ("GET", "/private", {}),
        "invoke": ("POST", INVOKE, {}),
        "bucket": ("GET", "/buckets/vault/none.txt", {}),
        "connections": ("POST", "/ws/@connections/abc", {}),
        "websocket": ("GET", "/ws", WS_UPGRADE),
    }
    got = {}
    for plan in ("stingy", "once"):
        for door, (method, path, headers) in doors.items():
            key = api_key(server, f"{door}-{plan}", plan)
            if door == "websocket":
                path += f"?api_key={key['secret']}"
                with connect(f"ws://127.0.0.1:{server.port}{path}"):
                    pass  # the first connection gets in
            else:
                headers = {**headers, "x-api-key": key["secret"]}
                assert wire(server, method, path, headers).split(" ")[1] != "429"
            text = wire(server, method, path, headers)
            # stingy: one request per 100 s, so the wait is 100 s (99 s when the machine stalled a second)
            got[f"{door}, {plan}"] = re.sub(r"(?i)(retry-after: )99\r\n", r"\g<1>100\r\n", text)
    assert got == DOOR_LIMITS


def masked_signature(text: str) -> str:
    """A signature mismatch explains itself with the host, date and hashes of the request: mask them."""
    head, sep, body = text.partition("\r\n\r\n")
    if "does not match the signature you provided" not in body:
        return text
    head = re.sub(r"content-length: \d+", "content-length: <n>", head)
    return head + sep + body.split(" Check your AWS Secret")[0] + " ...\"}"


JSON = "content-type: application/json"
RID = "x-amzn-requestid: <rid>"
TRACE = "x-amzn-trace-id: <trace>"  # every route's answer carries the call's trace id
MISMATCH = '{"Type": "User", "message": "The request signature we calculated does not match the signature you provided. ..."}'
ROUTE_FORBIDDEN = http("403 Forbidden", JSON, RID, TRACE, "content-length: 24", body='{"message": "Forbidden"}')
LAMBDA_UNRECOGNIZED = http(
    "403 Forbidden", "x-amzn-errortype: UnrecognizedClientException", RID, "content-length: 85", JSON,
    body='{"Type": "User", "message": "The security token included in the request is invalid."}')
BUCKET_FORBIDDEN = http("403 Forbidden", "content-length: 24", JSON, body='{"message": "Forbidden"}')
CONNECTIONS_FORBIDDEN = http("403 Forbidden", "x-amzn-errortype: ForbiddenException", "content-length: 40", JSON,
                             body='{"Type": "User", "message": "Forbidden"}')
WEBSOCKET_REFUSED = ("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n\r\n")  # uvicorn's answer to a close before accept
ADMIN_UNAUTHORIZED = http("401 Unauthorized", "www-authenticate: Bearer", "content-length: 77", JSON,
                          body='{"message":"Unauthorized: send the admin key as Authorization: Bearer <key>"}')

DOOR_REFUSALS = {
    "route, none": ROUTE_FORBIDDEN,
    "route, unknown key": ROUTE_FORBIDDEN,
    "route, admin key": ROUTE_FORBIDDEN,
    "invoke, none": http("403 Forbidden", "x-amzn-errortype: MissingAuthenticationTokenException", RID,
                         "content-length: 59", JSON, body='{"Type": "User", "message": "Missing Authentication Token"}'),
    "invoke, unknown key": LAMBDA_UNRECOGNIZED,
    "invoke, wrong bearer": LAMBDA_UNRECOGNIZED,
    "invoke, wrong service": http(
        "403 Forbidden", "x-amzn-errortype: InvalidSignatureException", RID, "content-length: 88", JSON,
        body='{"Type": "User", "message": "Credential should be scoped to correct service: \'lambda\'."}'),
    "invoke, unknown key id": LAMBDA_UNRECOGNIZED,
    "invoke, bad signature": http("403 Forbidden", "x-amzn-errortype: InvalidSignatureException", RID,
                                  "content-length: <n>", JSON, body=MISMATCH),
    "bucket, none": BUCKET_FORBIDDEN,
    "bucket, unknown key": BUCKET_FORBIDDEN,
    "bucket, wrong bearer": BUCKET_FORBIDDEN,
    "connections, none": CONNECTIONS_FORBIDDEN,
    "connections, unknown key": CONNECTIONS_FORBIDDEN,
    "connections, bad signature": http("403 Forbidden", "x-amzn-errortype: ForbiddenException", "content-length: <n>",
                                       JSON, body=MISMATCH),
    "websocket, none": WEBSOCKET_REFUSED,
    "websocket, unknown key": WEBSOCKET_REFUSED,
    "keys api, none": ADMIN_UNAUTHORIZED,
    "keys api, wrong bearer": ADMIN_UNAUTHORIZED,
    "schedules api, none": ADMIN_UNAUTHORIZED,
    "schedules api, api key": ADMIN_UNAUTHORIZED,
    "bill api, none": http(
        "401 Unauthorized", "www-authenticate: Bearer", "content-length: 71", JSON,
        "content-security-policy: default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
        "x-frame-options: DENY", "x-content-type-options: nosniff", "referrer-policy: same-origin",
        "cache-control: no-store", body='{"message":"Unauthorized: send the admin key as Authorization: Bearer"}'),
    "metrics, none": http(
        "401 Unauthorized", "www-authenticate: Bearer", "content-length: 107", JSON,
        body='{"message":"Unauthorized: send the admin key as Authorization: Bearer, or set server.metrics_auth = false"}'),
}

LIMIT_EXCEEDED = http("429 Too Many Requests", "x-amzn-errortype: LimitExceededException", "retry-after: 1",
                      "content-length: 48", JSON, body='{"Type": "User", "message": "Too Many Requests"}')

DOOR_LIMITS = {
    "route, stingy": http("429 Too Many Requests", JSON, RID, "retry-after: 100", TRACE, "content-length: 32",
                          body='{"message": "Too Many Requests"}'),
    "invoke, stingy": http(
        "429 Too Many Requests", "x-amzn-errortype: TooManyRequestsException", RID, "retry-after: 100",
        "content-length: 82", JSON,
        body='{"Type": "User", "message": "Rate Exceeded.", "Reason": "CallerRateLimitExceeded"}'),
    "bucket, stingy": http("429 Too Many Requests", "retry-after: 100", "content-length: 32", JSON,
                           body='{"message": "Too Many Requests"}'),
    "connections, stingy": LIMIT_EXCEEDED,
    "websocket, stingy": WEBSOCKET_REFUSED,
    "route, once": http("429 Too Many Requests", JSON, RID, TRACE, "content-length: 29", body='{"message": "Limit Exceeded"}'),
    "invoke, once": http(
        "429 Too Many Requests", "x-amzn-errortype: TooManyRequestsException", RID, "retry-after: 1",
        "content-length: 78", JSON,
        body='{"Type": "User", "message": "Limit Exceeded", "Reason": "CallerQuotaExceeded"}'),
    "bucket, once": http("429 Too Many Requests", "content-length: 29", JSON, body='{"message": "Limit Exceeded"}'),
    "connections, once": LIMIT_EXCEEDED,
    "websocket, once": WEBSOCKET_REFUSED,
}
