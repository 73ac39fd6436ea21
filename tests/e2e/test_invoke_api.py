"""The Lambda Invoke API, driven by the real boto3 client, and what a handler sees of Lambda."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore
import pytest
from botocore.config import Config

from tests.conftest import ADMIN_KEY, Server, http, log_result, shown, start_server, wait_for, wire

FUNCTIONS = {
    "inspector.py": """
        import os, time
        COUNT = 0
        def handler(event, context):
            global COUNT
            COUNT += 1
            print("hello from inspect")
            cc = context.client_context
            return {
                "event": event, "count": COUNT, "pid": os.getpid(),
                "context": {
                    "aws_request_id": context.aws_request_id,
                    "function_name": context.function_name,
                    "function_version": context.function_version,
                    "invoked_function_arn": context.invoked_function_arn,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "log_group_name": context.log_group_name,
                    "log_stream_name": context.log_stream_name,
                    "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
                    "client_context": None if cc is None else {"custom": cc.custom, "env": cc.env},
                    "remaining": context.get_remaining_time_in_millis(),
                },
                "env": dict(os.environ),
                "cwd": os.getcwd(),
                "tmpdir_exists": os.path.isdir(os.environ["TMPDIR"]),
            }
    """,
    "fail.py": """
        def handler(event, context):
            raise KeyError("missing thing")
    """,
    "sleeper.py": """
        import time
        def handler(event, context):
            time.sleep(event.get("s", 0))
            return "done"
    """,
    "coldcheck.py": "def handler(e, c):\n    return 1\n",
    "big.py": """
        def handler(event, context):
            return "x" * (7 * 1024 * 1024)
    """,
}

CONFIG = """
[functions.inspect]
handler = "inspector.handler"
memory = 256
timeout = 5
[functions.inspect.environment]
GREETING = "hi"
[functions.fail]
handler = "fail.handler"
[functions.sleeper]
handler = "sleeper.handler"
timeout = 1
concurrency = 1
[functions.big]
handler = "big.handler"
[functions.coldcheck]
handler = "coldcheck.handler"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("invoke"), FUNCTIONS, CONFIG,
        server_extra='region = "eu-west-1"\n[executor]\nqueue_wait_ms = 100',
        env={"SERVER_SECRET": "do-not-leak"},
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    """boto3's lambda client; until SigV4 keys exist it authenticates with the admin key."""
    client = boto3.client(
        "lambda", endpoint_url=server.url, region_name="eu-west-1",
        aws_access_key_id="unused", aws_secret_access_key="unused",
        config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 0}, read_timeout=60),
    )

    def bearer(request: Any, **_: Any) -> None:
        request.headers["Authorization"] = f"Bearer {ADMIN_KEY}"

    client.meta.events.register("before-send.lambda.*", bearer)
    return client


def payload_of(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


def test_request_response_with_log_tail(lam: Any) -> None:
    r = lam.invoke(FunctionName="inspect", Payload=b'{"a": 1}', LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in r
    body = payload_of(r)
    assert body["event"] == {"a": 1}
    log = base64.b64decode(r["LogResult"]).decode()
    rid = body["context"]["aws_request_id"]
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == rid
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert "hello from inspect" in log
    assert f"END RequestId: {rid}" in log
    assert f"REPORT RequestId: {rid}\tDuration: " in log
    assert "\tMemory Size: 256 MB\tMax Memory Used: " in log


def test_context_and_environment(lam: Any, server: Server) -> None:
    custom = base64.b64encode(json.dumps({"custom": {"k": "v"}, "env": {"e": "1"}}).encode()).decode()
    body = payload_of(lam.invoke(FunctionName="inspect", ClientContext=custom))
    ctx = body["context"]
    assert ctx["function_name"] == "inspect"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == "arn:aws:lambda:eu-west-1:000000000000:function:inspect"
    assert ctx["memory_limit_in_mb"] == "256"
    assert ctx["log_group_name"] == "/aws/lambda/inspect"
    assert "/[$LATEST]" in ctx["log_stream_name"]
    assert ctx["identity"] == [None, None]
    assert ctx["client_context"] == {"custom": {"k": "v"}, "env": {"e": "1"}}
    assert 3000 < ctx["remaining"] <= 5000
    env = body["env"]
    assert env["GREETING"] == "hi"
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": "inspect", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/inspect",
        "_HANDLER": "inspector.handler", "LAMBDA_TASK_ROOT": str(server.functions_dir),
        "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
    }
    for name, value in expected.items():
        assert env[name] == value, name
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == ctx["log_stream_name"]
    assert "SERVER_SECRET" not in env and "FAAS_ADMIN_KEY" not in env
    assert body["cwd"] == str(server.functions_dir)
    assert body["tmpdir_exists"] is True


def test_warm_worker_keeps_module_state(lam: Any) -> None:
    first = payload_of(lam.invoke(FunctionName="inspect"))
    second = payload_of(lam.invoke(FunctionName="inspect"))
    assert second["pid"] == first["pid"]
    assert second["count"] == first["count"] + 1


def test_cold_start_reports_init_duration_once(server: Server) -> None:
    cold = server.invoke("coldcheck", headers={"X-Amz-Log-Type": "Tail"})
    assert "\tInit Duration: " in log_result(cold)
    warm = server.invoke("coldcheck", headers={"X-Amz-Log-Type": "Tail"})
    assert "Init Duration" not in log_result(warm)
    rows = {r[0]: r[1:] for r in wait_for(lambda: server.db_rows(
        "SELECT request_id, cold, init_ms FROM invocations WHERE function = 'coldcheck'") or None, what="metering")}
    assert rows[cold.headers["x-amzn-requestid"]][0] == 1 and rows[cold.headers["x-amzn-requestid"]][1] is not None
    wait_for(lambda: warm.headers["x-amzn-requestid"] in {r[0] for r in server.db_rows(
        "SELECT request_id FROM invocations WHERE function = 'coldcheck'")}, what="warm row")
    assert server.db_rows("SELECT cold FROM invocations WHERE request_id = ?", (warm.headers["x-amzn-requestid"],))[0][0] == 0


def test_dry_run(lam: Any) -> None:
    assert lam.invoke(FunctionName="inspect", InvocationType="DryRun")["StatusCode"] == 204


def test_function_error(lam: Any) -> None:
    r = lam.invoke(FunctionName="fail", LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    body = payload_of(r)
    assert body["errorType"] == "KeyError"
    assert body["errorMessage"] == "'missing thing'"
    assert body["requestId"]
    assert any("fail.py" in line for line in body["stackTrace"])
    assert "[ERROR] KeyError: 'missing thing'" in base64.b64decode(r["LogResult"]).decode()


def test_timeout_is_a_function_error(lam: Any, server: Server) -> None:
    r = lam.invoke(FunctionName="sleeper", Payload=b'{"s": 10}')
    assert r["FunctionError"] == "Unhandled"
    body = payload_of(r)
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    # the server keeps serving, with a fresh worker
    assert payload_of(lam.invoke(FunctionName="sleeper", Payload=b'{"s": 0}')) == "done"


def test_unknown_function_is_resource_not_found(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.invoke(FunctionName="nope")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "nope" in info.value.response["Error"]["Message"]


def test_arn_and_qualifier(lam: Any) -> None:
    arn = "arn:aws:lambda:eu-west-1:000000000000:function:inspect"
    assert payload_of(lam.invoke(FunctionName=arn))["context"]["invoked_function_arn"] == arn
    latest = lam.invoke(FunctionName="inspect", Qualifier="$LATEST")
    assert payload_of(latest)["context"]["invoked_function_arn"] == arn + ":$LATEST"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="inspect", Qualifier="prod")


def test_invalid_json_payload(lam: Any) -> None:
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as info:
        lam.invoke(FunctionName="inspect", Payload=b"{not json")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Could not parse request body into json" in info.value.response["Error"]["Message"]


def test_payload_too_large(lam: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lam.invoke(FunctionName="inspect", Payload=json.dumps({"x": "y" * (6 * 1024 * 1024)}).encode())
    assert info.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "6291456 bytes" in info.value.response["Error"]["Message"]


def test_response_too_large(lam: Any) -> None:
    r = lam.invoke(FunctionName="big")
    assert r["FunctionError"] == "Unhandled"
    assert payload_of(r)["errorType"] == "Function.ResponseSizeTooLarge"


def test_throttled(server: Server) -> None:
    import threading

    results: list[Any] = []

    def call() -> None:
        results.append(server.invoke("sleeper", {"s": 0.7}))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    throttled = [r for r in results if r.status_code == 429]
    assert throttled, [r.status_code for r in results]
    assert throttled[0].headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert throttled[0].json()["Type"] == "User"
    assert throttled[0].headers["retry-after"]
    body = '{"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}'
    assert shown(throttled[0]) == http(
        "429 Too Many Requests", "x-amzn-errortype: TooManyRequestsException", "x-amzn-requestid: <rid>",
        "retry-after: 1", f"content-length: {len(body)}", "content-type: application/json", body=body, close=False)


def test_authentication_required(server: Server) -> None:
    r = server.client.post("/2015-03-31/functions/inspect/invocations", content=b"{}")
    assert r.status_code == 403
    assert r.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    r = server.client.post("/2015-03-31/functions/inspect/invocations", content=b"{}",
                           headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403
    assert r.headers["x-amzn-errortype"] == "UnrecognizedClientException"


def test_bad_invocation_type_and_client_context(server: Server) -> None:
    r = server.invoke("inspect", headers={"X-Amz-Invocation-Type": "Sometimes"})
    assert r.status_code == 400 and "Sometimes" in r.json()["message"]
    r = server.invoke("inspect", headers={"X-Amz-Client-Context": "%%%"})
    assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "InvalidRequestContentException"


def test_errors_byte_for_byte(server: Server) -> None:
    """Every way the Invoke API refuses a call, as boto3 and the AWS CLI read it."""
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    cases = {
        "no such function": ("nope", {}, b"{}"),
        "no such qualifier": ("inspect/invocations?Qualifier=prod", {}, b"{}"),
        "qualifiers differ": ("inspect:dev/invocations?Qualifier=prod", {}, b"{}"),
        "bad arn": ("arn:aws:s3:::bucket", {}, b"{}"),
        "not json": ("inspect", {}, b"{nope"),
        "bad client context": ("inspect", {"X-Amz-Client-Context": "e30"}, b"{}"),
        "bad invocation type": ("inspect", {"X-Amz-Invocation-Type": "Later"}, b"{}"),
        "dry run": ("inspect", {"X-Amz-Invocation-Type": "DryRun"}, b"{}"),
    }
    got = {name: wire(server, "POST", f"/2015-03-31/functions/{path}" + ("" if "/" in path else "/invocations"),
                      {**auth, **headers}, body)
           for name, (path, headers, body) in cases.items()}
    for name, limit, headers in [("too large", 6 * 1024 * 1024, {}),
                                 ("too large to queue", 1024 * 1024, {"X-Amz-Invocation-Type": "Event"})]:
        got[name] = shown(server.invoke("inspect", raw=b" " * (limit + 1), headers=headers))
    assert got == INVOKE_ERRORS


def aws(status: str, code: str, length: int, message: str, close: bool = True) -> str:
    return http(status, f"x-amzn-errortype: {code}", "x-amzn-requestid: <rid>", f"content-length: {length}",
                "content-type: application/json", body=f'{{"Type": "User", "message": "{message}"}}', close=close)


ARN = "arn:aws:lambda:eu-west-1:000000000000:function:inspect"
INVOKE_ERRORS = {
    "no such function": aws("404 Not Found", "ResourceNotFoundException", 55, "Function not found: nope"),
    "no such qualifier": aws("404 Not Found", "ResourceNotFoundException", 110, f"Function not found: {ARN}:prod"),
    "qualifiers differ": aws("400 Bad Request", "InvalidRequestContentException", 115,
                             "The derived qualifier from the function name does not match the specified qualifier."),
    "bad arn": aws("404 Not Found", "ResourceNotFoundException", 70, "Function not found: arn:aws:s3:::bucket"),
    "not json": aws("400 Bad Request", "InvalidRequestContentException", 146,
                    "Could not parse request body into json: Expecting property name enclosed in double quotes: "
                    "line 1 column 2 (char 1)"),
    "bad client context": aws("400 Bad Request", "InvalidRequestContentException", 89,
                              "Client context must be a valid Base64-encoded JSON object."),
    "bad invocation type": aws("400 Bad Request", "InvalidParameterValueException", 104,
                               "Invalid invocation type 'Later': must be RequestResponse, Event or DryRun"),
    "dry run": http("204 No Content", "x-amzn-requestid: <rid>"),
    "too large": aws("413 Request Entity Too Large", "RequestEntityTooLargeException", 106,
                     "Request must be smaller than 6291456 bytes for the InvokeFunction operation", close=False),
    "too large to queue": aws("413 Request Entity Too Large", "RequestEntityTooLargeException", 106,
                              "Request must be smaller than 1048576 bytes for the InvokeFunction operation", close=False),
}
