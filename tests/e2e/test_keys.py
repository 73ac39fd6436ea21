"""API keys, usage plans (rate, burst, quota) and SigV4 with the real boto3 client."""

from __future__ import annotations

import datetime as dt
import json
import signal
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.auth
import botocore.exceptions
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from botocore.config import Config

from tests.conftest import ADMIN_KEY, Server, start_server, wait_for

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
