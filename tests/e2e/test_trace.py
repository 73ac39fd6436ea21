"""Trace ids end to end: every call has an X-Amzn-Trace-Id, an incoming one is honoured and returned,
the worker sets it as _X_AMZN_TRACE_ID for each call, a function calling another through boto3 and an
async event retried after a failure all share one Root, ``faas logs --trace ROOT`` lists them all, and
the X-Ray SDK and powertools' Logger, installed in a function's own environment, see the trace."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.conftest import ADMIN_KEY, Server, start_server, wait_for

WHEELHOUSE = Path(__file__).parents[2] / ".venv" / "wheelhouse"
REQUIREMENTS = (Path(__file__).parent / "requirements-trace.txt").read_text()
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
HEADER = re.compile(r"^Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])$")

FUNCTIONS = {
    # Calls b synchronously and flaky asynchronously, through boto3 (the trace rides along).
    "chain.py": """
        import json, os, boto3
        def handler(event, context):
            print("chain trace:", os.environ.get("_X_AMZN_TRACE_ID"))
            client = boto3.client("lambda")
            r = client.invoke(FunctionName="b", Payload=b"{}")
            b = json.loads(r["Payload"].read())
            client.invoke(FunctionName="flaky", InvocationType="Event", Payload=b"{}")
            return {"statusCode": 200, "body": json.dumps({
                "mine": os.environ.get("_X_AMZN_TRACE_ID"), "b": b,
                "event_header": (event.get("headers") or {}).get("x-amzn-trace-id"),
            })}
    """,
    "b.py": """
        import os
        def handler(event, context):
            print("b trace:", os.environ.get("_X_AMZN_TRACE_ID"))
            return os.environ.get("_X_AMZN_TRACE_ID")
    """,
    # Fails its first try, succeeds on the retry.
    "flaky.py": """
        import os, pathlib
        def handler(event, context):
            mark = pathlib.Path(os.environ["OUT"]) / "tried"
            print("flaky trace:", os.environ.get("_X_AMZN_TRACE_ID"))
            if not mark.exists():
                mark.write_text("1")
                raise RuntimeError("first try fails")
            return "ok"
    """,
    "env.py": """
        import os
        def handler(event, context):
            return os.environ.get("_X_AMZN_TRACE_ID")
    """,
    # aws-xray-sdk and aws-lambda-powertools from its own requirements.txt (the test wheelhouse)
    "xr/__init__.py": "",
    "xr/requirements.txt": REQUIREMENTS,
    "xr/app.py": """
        import os
        from aws_xray_sdk.core import xray_recorder
        from aws_lambda_powertools import Logger
        xray_recorder.configure(streaming_threshold=0)  # send each subsegment as it ends
        logger = Logger(service="xr")
        def handler(event, context):
            sub = xray_recorder.begin_subsegment("work")
            inside = xray_recorder.current_subsegment()
            segment = xray_recorder.current_segment()
            xray_recorder.end_subsegment()
            logger.info("traced")
            return {
                "kept": sub is not None and inside is not None,
                "dummy": type(inside).__name__ == "DummySubsegment",
                "trace_id": segment.trace_id, "segment_id": segment.id,
                "env": os.environ.get("_X_AMZN_TRACE_ID"),
            }
    """,
}


@pytest.fixture(scope="module")
def daemon() -> Iterator[socket.socket]:
    """A stand-in X-Ray daemon: a UDP socket the SDK sends its subsegments to."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    yield s
    s.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, daemon: socket.socket) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("trace")
    out = root / "out"
    out.mkdir()
    config = f"""
[executor]
find_links = ["{WHEELHOUSE}"]
offline = true

[functions.chain]
handler = "chain.handler"
timeout = 30
[functions.b]
handler = "b.handler"
[functions.flaky]
handler = "flaky.handler"
retry_base_delay = 0.3
[functions.flaky.environment]
OUT = "{out}"
[functions.env]
handler = "env.handler"
[functions.xr]
handler = "xr.app.handler"
timeout = 60
[functions.xr.environment]
AWS_XRAY_DAEMON_ADDRESS = "127.0.0.1:{daemon.getsockname()[1]}"

[[routes]]
method = "GET"
path = "/chain"
function = "chain"
[[routes]]
method = "GET"
path = "/env"
function = "env"

[[schedules]]
name = "tick"
expression = "rate(1 second)"
function = "env"

[[buckets]]
name = "box"
function = "env"

[[websockets]]
path = "/ws"
[websockets.routes]
"$connect" = "env"
"$default" = "env"
"""
    srv = start_server(root, FUNCTIONS, config)
    srv.wait_environments(180)
    yield srv
    srv.stop()


def parts(header: str) -> tuple[str, str, str]:
    m = HEADER.match(header)
    assert m, header
    return m.group(1), m.group(2), m.group(3)


def rows_of(server: Server, root: str) -> list[tuple[Any, ...]]:
    return server.db_rows("SELECT function, status FROM invocations WHERE trace_id = ? ORDER BY started_at", (root,))


def test_a_chain_and_an_async_retry_share_the_incoming_root(server: Server) -> None:
    r = server.client.get("/chain", headers={"X-Amzn-Trace-Id": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"})
    assert r.status_code == 200, r.text
    answered = r.headers["x-amzn-trace-id"]
    root, parent, sampled = parts(answered)
    assert (root, sampled) == (ROOT, "1") and parent != "53995c3f42cd8ad8"  # a segment of its own
    body = r.json()
    # the handler ran with the call's trace, the event's headers carry it, and b ran under the same Root
    assert body["mine"] == answered == body["event_header"]
    b_root, b_parent, _ = parts(body["b"])
    assert b_root == ROOT and b_parent != parent

    wait_for(lambda: [s for _, s in rows_of(server, ROOT)].count("success") == 3, 30, what="flaky's retry")
    rows = rows_of(server, ROOT)
    assert sorted(rows) == [("b", "success"), ("chain", "success"), ("flaky", "error"), ("flaky", "success")]
    assert rows[0][0] == "chain"  # the first to start

    shown = server.faas("logs", "--trace", ROOT)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    for fn in ("chain", "b", "flaky"):
        assert f"== {fn} ==" in out
    assert out.count("== flaky ==") == 2 and "first try fails" in out
    assert out.index("== chain ==") < out.index("== b ==") < out.index("== flaky ==")
    for line in re.findall(r"(?:chain|b|flaky) trace: (\S+)", out):
        assert parts(line)[0] == ROOT
    assert len(set(re.findall(r"trace: Root=[^;]+;Parent=([0-9a-f]{16})", out))) == 4  # one Parent per call
    # a whole header pasted works too; a bad Root is refused
    assert server.faas("logs", "--trace", f"Root={ROOT};Parent=53995c3f42cd8ad8").stdout == out
    bad = server.faas("logs", "--trace", "nope")
    assert bad.returncode != 0 and "--trace" in bad.stderr


def test_a_call_without_a_header_gets_a_new_trace_per_call(server: Server) -> None:
    first = server.client.get("/env")
    second = server.client.get("/env")
    for r in (first, second):
        assert r.status_code == 200
        assert r.json() == r.headers["x-amzn-trace-id"]
        row = server.wait_metered(r.headers["x-amzn-requestid"])
        assert row["trace_id"] == parts(r.headers["x-amzn-trace-id"])[0]
    assert parts(first.headers["x-amzn-trace-id"])[0] != parts(second.headers["x-amzn-trace-id"])[0]


def test_invoke_api_honours_trace_headers(server: Server) -> None:
    r = server.invoke("env", headers={"X-Amzn-Trace-Id": f"Sampled=0;Root={ROOT};Lineage=a87bd80c:0"})
    assert r.status_code == 200
    assert r.headers["x-amzn-trace-id"] == r.json()
    assert r.json().startswith(f"Root={ROOT};Parent=") and r.json().endswith(";Sampled=0;Lineage=a87bd80c:0")
    # only a W3C traceparent: its trace id becomes the Root
    r = server.invoke("env", headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    root, parent, sampled = parts(r.json())
    assert (root, sampled) == ("1-4bf92f35-77b34da6a3ce929d0e0e4736", "1") and parent != "00f067aa0ba902b7"
    assert server.wait_metered(r.headers["x-amzn-requestid"])["trace_id"] == root
    # an async invocation answers with the trace its tries run under
    r = server.invoke("env", headers={"X-Amz-Invocation-Type": "Event", "X-Amzn-Trace-Id": f"Root={ROOT}"})
    assert r.status_code == 202 and parts(r.headers["x-amzn-trace-id"])[0] == ROOT


def test_the_trace_is_per_call_not_per_worker(server: Server) -> None:
    # the same warm worker, two calls: each sees its own, and nothing is left over between them
    a = server.invoke("env", headers={"X-Amzn-Trace-Id": f"Root={ROOT}"}).json()
    b = server.invoke("env").json()
    assert parts(a)[0] == ROOT and parts(b)[0] != ROOT


def test_xray_sdk_keeps_subsegments_and_powertools_logs_the_trace(server: Server, daemon: socket.socket) -> None:
    r = server.invoke("xr", headers={"X-Amzn-Trace-Id": f"Root={ROOT};Sampled=1", "X-Amz-Log-Type": "Tail"})
    assert r.status_code == 200, r.text
    got = r.json()
    root, parent, _ = parts(got["env"])
    assert got["kept"] and not got["dummy"]
    assert (got["trace_id"], got["segment_id"]) == (ROOT, parent)
    # the subsegment reached the daemon, under the call's Root and segment
    data, _ = daemon.recvfrom(65536)
    header, _, doc = data.decode().partition("\n")
    sent = json.loads(doc)
    assert json.loads(header)["format"] == "json"
    assert sent["name"] == "work" and sent["trace_id"] == ROOT and sent["parent_id"] == parent
    # powertools' Logger line carries xray_trace_id
    log = server.wait_log(r.headers["x-amzn-requestid"])
    line = next(json.loads(x) for x in log.splitlines() if x.startswith("{") and '"traced"' in x)
    assert line["xray_trace_id"] == ROOT
    assert "still initializing" not in log


def test_schedules_buckets_and_websockets_have_traces(server: Server) -> None:
    def traced(trigger: str) -> list[tuple[Any, ...]]:
        return server.db_rows("SELECT trace_id FROM invocations WHERE trigger = ?", (trigger,))

    # every schedule fire and bucket notification runs under a trace of its own
    put = server.client.put("/buckets/box/a.txt", content=b"a", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert put.status_code in (200, 201), put.text
    for trigger in ("schedule", "bucket"):
        rows = wait_for(lambda: traced(trigger), 20, what=f"a {trigger} call")
        assert all(re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", r[0]) for r in rows), rows
    # a WebSocket connection's handshake trace id: its $connect and every message run under that Root
    root = "1-6a0f5133-57124090f3334e9f2f9bc726"
    with connect(f"ws://127.0.0.1:{server.port}/ws", additional_headers={"X-Amzn-Trace-Id": f"Root={root}"}) as ws:
        ws.send("one")
        ws.send("two")
        wait_for(lambda: len(rows_of(server, root)) >= 3, 10, what="the connection's calls")
    assert {r[0] for r in rows_of(server, root)} == {"env"}
