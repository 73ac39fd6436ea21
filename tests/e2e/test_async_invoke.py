"""Asynchronous invocation: 202 after a durable enqueue, retries with doubling delays, dead letters,
``faas dlq``, and nothing lost when the server is SIGKILLed with events queued and running."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore
from botocore.config import Config as BotoConfig

from tests.conftest import ADMIN_KEY, Server, http, shown, wait_for
from tests.event_helpers import RECORDER, kill, records, servers, wait_records  # noqa: F401 (fixture)


def config(out: Path, extra: str = "") -> str:
    return f"""
[functions.rec]
handler = "rec.handler"
timeout = 5
retry_base_delay = 0.3
[functions.rec.environment]
OUT = "{out}"

[functions.once]
handler = "rec.handler"
max_retries = 0
timeout = 1
[functions.once.environment]
OUT = "{out}"
SLEEP = "0"

[functions.young]
handler = "rec.handler"
retry_base_delay = 5
max_event_age = 2
[functions.young.environment]
OUT = "{out}"

[[routes]]
method = "POST"
path = "/jobs"
function = "rec"
async = true
{extra}
"""


def event(server: Server, function: str, payload: Any) -> str:
    r = server.invoke(function, payload, headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 202, r.text
    assert r.content == b""
    return r.headers["x-amzn-requestid"]


def dead_letters(server: Server) -> list[dict[str, Any]]:
    out = server.faas("dlq", "list", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_event_invocation_runs_with_async_trigger(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out))
    rid = event(srv, "rec", {"n": 1})
    seen = wait_records(out, lambda rs: any(r["requestId"] == rid for r in rs))
    assert [r["event"] for r in seen if r["requestId"] == rid] == [{"n": 1}]
    row = srv.wait_metered(rid)
    assert (row["trigger"], row["caller"], row["status"]) == ("async", "admin", "success")

    # boto3's own InvocationType="Event" gets 202 too
    lam = boto3.client(
        "lambda", endpoint_url=srv.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
        config=BotoConfig(signature_version=botocore.UNSIGNED, retries={"max_attempts": 0}),
    )
    lam.meta.events.register("before-send.lambda.*",
                             lambda request, **_: request.headers.__setitem__("Authorization", f"Bearer {ADMIN_KEY}"))
    r = lam.invoke(FunctionName="rec", InvocationType="Event", Payload=b'{"n": 2}')
    assert r["StatusCode"] == 202
    wait_records(out, lambda rs: {"n": 2} in [x["event"] for x in rs])

    # an async route answers 202 at once and the function gets the HTTP API event
    r = srv.client.post("/jobs?x=1", json={"n": 3})
    assert r.status_code == 202 and r.json() == {"message": "Accepted"}
    got = wait_records(out, lambda rs: any(x["requestId"] == r.headers["x-amzn-requestid"] for x in rs))
    http_event = next(x["event"] for x in got if x["requestId"] == r.headers["x-amzn-requestid"])
    assert http_event["routeKey"] == "POST /jobs" and json.loads(http_event["body"]) == {"n": 3}
    assert http_event["rawQueryString"] == "x=1"


def test_bad_async_requests_are_refused_and_nothing_is_queued(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out))
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    r = srv.invoke("rec", raw=big, headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 413
    assert r.headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert r.json()["message"] == "Request must be smaller than 1048576 bytes for the InvokeFunction operation"
    r = srv.invoke("rec", raw=b"{nope", headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "InvalidRequestContentException"
    r = srv.invoke("missing", {}, headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 404 and r.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    r = srv.client.post("/2015-03-31/functions/rec/invocations", content=b"{}",
                        headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 403
    # an async route's event (the HTTP API event around the body) over 1 MB: 413 too
    r = srv.client.post("/jobs", content=b"x" * (1024 * 1024))
    assert r.status_code == 413 and r.json() == {"message": "Request Too Long"}
    assert shown(r) == http("413 Request Entity Too Large", "content-type: application/json", "x-amzn-requestid: <rid>",
                            "x-amzn-trace-id: <trace>", "content-length: 31", body='{"message": "Request Too Long"}',
                            close=False)
    assert srv.db_rows("SELECT COUNT(*) FROM async_queue") == [(0,)]
    assert srv.db_rows("SELECT COUNT(*) FROM invocations") == [(0,)]


def test_retries_double_then_dead_letter_and_replay(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out))
    rid = event(srv, "rec", {"ctl": {"fail": True}, "n": "doomed"})
    letters = wait_for(lambda: dead_letters(srv), 15, what="a dead letter")
    tries = [r for r in records(out) if r["event"].get("n") == "doomed"]
    assert len(tries) == 3  # max_retries = 2 (the default): 1 + 2 tries
    assert tries[0]["requestId"] == rid  # the first try runs with the event's id
    gaps = [b["start"] - a["end"] for a, b in zip(tries, tries[1:])]
    assert 0.3 <= gaps[0] < 3 and 0.6 <= gaps[1] < 4, gaps  # retry_base_delay 0.3, doubling
    (letter,) = letters
    assert letter["eventId"] == rid and letter["function"] == "rec" and letter["trigger"] == "async"
    assert (letter["attempts"], letter["reason"]) == (3, "RetriesExhausted")
    assert (letter["errorType"], letter["errorMessage"]) == ("ValueError", "asked to fail")
    assert letter["requestIds"] == [t["requestId"] for t in tries]
    assert letter["payload"] == {"ctl": {"fail": True}, "n": "doomed"}
    wait_for(lambda: srv.db_rows("SELECT trigger, status, error_type FROM invocations WHERE function = 'rec'")
             == [("async", "error", "ValueError")] * 3, what="each try metered")

    text = srv.faas("dlq", "list").stdout
    assert f"{letter['id']}" in text and "RetriesExhausted" in text and "ValueError: asked to fail" in text
    assert srv.faas("dlq", "list", "--function", "once").stdout.strip() == "no dead letters for once"

    # replay while the server runs: the dispatcher picks it up; make it succeed this time by
    # replaying an event whose function no longer fails
    srv.write_function("rec.py", RECORDER.replace('ctl.get("fail")', 'ctl.get("fail") and False'))
    wait_for(lambda: "new version of" in srv.log(), what="code reload")
    replay = srv.faas("dlq", "replay", str(letter["id"]))
    assert replay.returncode == 0, replay.stderr
    assert f"replayed #{letter['id']}: rec event {rid}" in replay.stdout
    wait_records(out, lambda rs: len([r for r in rs if r["event"].get("n") == "doomed"]) == 4)
    wait_for(lambda: srv.db_rows("SELECT COUNT(*) FROM async_queue") == [(0,)], what="queue drained")
    assert dead_letters(srv) == []
    bad = srv.faas("dlq", "replay", "999")
    assert bad.returncode == 1 and "no dead letter with id #999" in bad.stderr
    usage = srv.faas("dlq", "replay")
    assert usage.returncode == 2 and "give dead letter ids, or --all" in usage.stderr


def test_no_retries_timeouts_and_event_age(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out))
    event(srv, "once", {"ctl": {"sleep": 3}, "n": "slow"})  # timeout = 1, max_retries = 0
    event(srv, "young", {"ctl": {"fail": True}, "n": "young"})  # next try (5 s) would be past max_event_age (2 s)
    letters = wait_for(lambda: (d := dead_letters(srv)) and len(d) == 2 and d, 15, what="two dead letters")
    by_fn = {d["function"]: d for d in letters}
    assert (by_fn["once"]["attempts"], by_fn["once"]["reason"], by_fn["once"]["errorType"]) == (
        1, "RetriesExhausted", "Sandbox.Timedout")
    assert "Task timed out after 1.00 seconds" in by_fn["once"]["errorMessage"]
    assert (by_fn["young"]["attempts"], by_fn["young"]["reason"], by_fn["young"]["errorType"]) == (
        1, "EventAgeExceeded", "ValueError")
    wait_for(lambda: srv.db_rows("SELECT status FROM invocations WHERE function = 'once'") == [("timeout",)],
             what="the timed-out try metered")
    out_list = srv.faas("dlq", "list", "--function", "young")
    assert "EventAgeExceeded" in out_list.stdout and "once" not in out_list.stdout


def test_sigkill_with_events_queued_and_running_loses_none(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    root = tmp_path / "srv"
    cfg = config(out, '[functions.slow]\nhandler = "rec.handler"\nconcurrency = 1\ntimeout = 10\n'
                      f'retry_base_delay = 0.2\n[functions.slow.environment]\nOUT = "{out}"\nSLEEP = "0.4"\n')
    srv = servers(root, {"rec.py": RECORDER}, cfg)
    ids = [event(srv, "slow", {"n": i}) for i in range(6)]
    failing = event(srv, "slow", {"n": "fails", "ctl": {"fail": True}})
    # kill while the first runs and the rest wait in the queue
    wait_for(lambda: list(out.glob("started-*")), what="the first event to start")
    kill(srv)
    assert len(records(out)) <= 1
    assert srv.db_rows("SELECT COUNT(*) FROM async_queue WHERE state = 'running'") == [(1,)]

    srv = servers(root, {}, cfg)
    assert "1 event(s) were running when the server stopped; running them again" in srv.log()
    wait_records(out, lambda rs: {r["event"]["n"] for r in rs} >= set(range(6)), 30, "every event run after restart")
    letters = wait_for(lambda: dead_letters(srv), 20, what="the failing event dead-lettered")
    assert [d["eventId"] for d in letters] == [failing]
    assert letters[0]["attempts"] == 3
    wait_for(lambda: srv.db_rows("SELECT COUNT(*) FROM async_queue") == [(0,)], what="queue drained")
    # at least once: each accepted event has a successful metered run (the first try keeps the event id,
    # unless it was the one cut short by the kill)
    def succeeded() -> set[str]:
        return {r[0] for r in srv.db_rows("SELECT request_id FROM invocations WHERE status = 'success'")}

    wait_for(lambda: len(set(ids) - succeeded()) <= 1, what="the events' first tries metered")


def test_replay_while_the_server_is_down(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    root = tmp_path / "srv"
    srv = servers(root, {"rec.py": RECORDER}, config(out))
    event(srv, "once", {"ctl": {"fail": True}, "n": "later"})
    (letter,) = wait_for(lambda: dead_letters(srv), 10, what="a dead letter")
    srv.stop()
    replay = srv.faas("dlq", "replay", "--all", "--function", "once")
    assert replay.returncode == 0 and f"replayed #{letter['id']}" in replay.stdout
    with sqlite3.connect(root / "data" / "faas.db") as db:
        assert db.execute("SELECT id, function, attempts FROM async_queue").fetchall() == [(letter["eventId"], "once", 0)]
    srv = servers(root, {"rec.py": RECORDER.replace('ctl.get("fail")', "False")}, config(out))
    wait_records(out, lambda rs: len([r for r in rs if r["event"].get("n") == "later"]) == 2)
    wait_for(lambda: srv.db_rows("SELECT COUNT(*) FROM async_queue") == [(0,)], what="queue drained")
    assert dead_letters(srv) == []
    wait_for(lambda: srv.db_rows("SELECT status FROM invocations WHERE function = 'once' ORDER BY started_at")
             == [("error",), ("success",)], what="both tries metered")
