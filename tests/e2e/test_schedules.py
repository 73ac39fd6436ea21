"""Schedules on a real clock: a rate(1 second) schedule fires the EventBridge Scheduled Event, never
overlaps itself, pauses, resumes and runs now from the CLI and the admin API, keeps its pause and
catches up (or records misses) across a real SIGKILL and restart."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from tests.conftest import ADMIN_KEY, Server, wait_for, write_project
from tests.event_helpers import RECORDER, kill, let_time_pass, records, servers, wait_records  # noqa: F401


def config(out: Path, extra: str = "") -> str:
    return f"""
[functions.rec]
handler = "rec.handler"
timeout = 10
[functions.rec.environment]
OUT = "{out}"

[functions.slow]
handler = "rec.handler"
timeout = 10
[functions.slow.environment]
OUT = "{out}"
SLEEP = "2.2"
{extra}
"""


TICK = """
[[schedules]]
name = "tick"
expression = "rate(1 second)"
function = "rec"
"""


def runs(server: Server, name: str) -> list[dict[str, Any]]:
    r = server.client.get(f"/admin/api/schedules/{name}", params={"limit": 1000},
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["runs"]))


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def admin(server: Server, method: str, path: str) -> Any:
    return server.client.request(method, f"/admin/api/schedules{path}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})


def test_rate_one_second_fires_eventbridge_events(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    constant = '\n[[schedules]]\nname = "const"\nexpression = "cron(* * * * ? *)"\nfunction = "rec"\ninput = { job = "nightly", n = 1 }\n'
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out, TICK + constant))
    seen = wait_records(out, lambda rs: len([r for r in rs if "detail-type" in r["event"]]) >= 3,
                        what="three scheduled events")
    events = [r for r in seen if "detail-type" in r["event"]]
    times = []
    for record in events:
        model = EventBridgeModel(**record["event"])  # the contract's shape, validated strictly
        assert model.detail_type == "Scheduled Event" and model.source == "aws.events"
        assert model.resources == ["arn:aws:events:us-east-1:000000000000:rule/tick"]
        assert model.account == "000000000000" and model.region == "us-east-1" and model.detail == {}
        assert record["event"]["time"].endswith("Z") and model.time.microsecond == 0
        # the event id is the first try's request id; a try that was throttled under load gets a new one
        assert str(uuid.UUID(model.id)) == model.id
        times.append(model.time.timestamp())
        assert 0 <= record["start"] - model.time.timestamp() < 3.0  # runs when scheduled (give or take load)
    assert times == sorted(set(times))

    history = wait_for(lambda: (h := [r for r in runs(srv, "tick") if r["status"] == "success"]) and len(h) >= 3 and h,
                       what="three successful runs")
    # one fire a second: each second from the first to the last recorded is a run (or, under load, a
    # fire skipped while the previous run was still busy)
    fired = {ts(r["scheduledTime"]) for r in runs(srv, "tick")}
    assert {times[0] + i for i in range(int(times[-1] - times[0]) + 1)} <= fired
    run = history[0]
    assert run["requestId"] in {r["requestId"] for r in events}
    assert ts(run["scheduledTime"]) in times
    assert run["started"] and run["finished"] and run["durationMs"] > 0 and run["manual"] is False
    row = srv.wait_metered(run["requestId"])
    assert (row["trigger"], row["function"], row["status"]) == ("schedule", "rec", "success")

    # the listing, from the admin API and from the CLI (through the running server)
    listing = {s["name"]: s for s in admin(srv, "GET", "").json()["schedules"]}
    assert listing["tick"]["paused"] is False and listing["tick"]["nextFire"].endswith(".000Z")
    assert listing["const"]["expression"] == "cron(* * * * ? *)"
    text = srv.faas("schedules", "list")
    assert text.returncode == 0, text.stderr
    assert "tick" in text.stdout and "rate(1 second)" in text.stdout and "active" in text.stdout

    # run-now fires the constant input in place of the EventBridge event
    r = admin(srv, "POST", "/const/run")
    assert r.status_code == 202 and r.json()["run"]["manual"] is True
    # (the same input also fires every minute from the cron, so find this run's call by its id)
    event_id = r.json()["run"]["eventId"]
    if srv.wait_metered(event_id)["status"] == "success":
        got = wait_records(out, lambda rs: any(x["requestId"] == event_id for x in rs), what="the manual run")
        assert [x for x in got if x["requestId"] == event_id][0]["event"] == {"job": "nightly", "n": 1}
    else:  # the event id is the first try's request id; only a try throttled under load fails
        assert srv.wait_metered(event_id)["status"] == "throttled"
    out_run = srv.faas("schedules", "run", "const")
    assert out_run.returncode == 0 and "queued" in out_run.stdout
    runs_text = srv.faas("schedules", "runs", "const").stdout
    assert "(manual)" in runs_text and "REQUEST ID" in runs_text

    # a schedule added to the config while the server runs starts firing (hot reload)
    srv.config_path.write_text(srv.config_path.read_text() + '\n[[schedules]]\nname = "late"\n'
                               'expression = "rate(1 second)"\nfunction = "rec"\ninput = { late = true }\n')
    wait_records(out, lambda rs: any(x["event"] == {"late": True} for x in rs), what="the reloaded schedule firing")


def test_never_overlaps_itself_and_records_skips(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    slow = '\n[[schedules]]\nname = "slow"\nexpression = "rate(1 second)"\nfunction = "slow"\n'
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out, slow))
    wait_records(out, lambda rs: len(rs) >= 2, 20, "two slow runs")
    history = runs(srv, "slow")
    skipped = [r for r in history if r["status"] == "skipped"]
    assert skipped, history
    assert "still busy (max_concurrency = 1)" in skipped[0]["error"]
    calls = records(out)
    for a, b in zip(calls, calls[1:]):
        assert b["start"] >= a["end"], "two runs of one schedule overlapped"
    # run-now while a run is busy: refused, and recorded as a skipped manual fire
    # (a run that started less than a second ago has more than a second of its 2.2 s left)
    wait_for(lambda: any(r["status"] == "running" and time.time() - ts(r["started"]) < 1.0 for r in runs(srv, "slow")),
             what="a run just started")
    r = admin(srv, "POST", "/slow/run")
    assert r.status_code == 409 and "is busy" in r.json()["message"]
    assert any(h["manual"] and h["status"] == "skipped" for h in runs(srv, "slow"))


def test_pause_resume_persist_across_restart(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    root = tmp_path / "srv"
    disabled = '\n[[schedules]]\nname = "off"\nexpression = "rate(1 minute)"\nfunction = "rec"\nenabled = false\n'
    cfg = config(out, TICK + disabled)
    srv = servers(root, {"rec.py": RECORDER}, cfg)
    wait_records(out, lambda rs: len(rs) >= 1, what="a first fire")
    paused = srv.faas("schedules", "pause", "tick")
    assert paused.returncode == 0 and "schedule tick: paused" in paused.stdout, paused.stderr
    count = len(runs(srv, "tick"))
    let_time_pass(2.5)  # no fire while paused
    assert len(runs(srv, "tick")) == count
    assert admin(srv, "GET", "").json()["schedules"][0]["nextFire"] is None

    # a restart keeps the pause (and no catch-up of the paused time)
    srv.stop()
    listing = srv.faas("schedules", "list")  # server down: read from the store
    assert listing.returncode == 0 and "paused" in listing.stdout and "server not reachable" in listing.stderr
    srv = servers(root, {}, cfg)
    let_time_pass(2.0)
    assert len(runs(srv, "tick")) == count
    assert {s["name"]: s["paused"] for s in admin(srv, "GET", "").json()["schedules"]} == {"tick": True, "off": False}

    r = admin(srv, "POST", "/tick/resume")
    assert r.status_code == 200 and r.json()["paused"] is False
    wait_for(lambda: len(runs(srv, "tick")) >= count + 2, what="fires after resume")
    assert all(r["status"] != "missed" for r in runs(srv, "tick"))

    # errors: unknown schedule, disabled schedule, no key, unknown action
    assert admin(srv, "POST", "/nope/pause").status_code == 404
    assert "no schedule named 'nope' (known: off, tick)" in srv.faas("schedules", "pause", "nope").stderr
    r = admin(srv, "POST", "/off/resume")
    assert r.status_code == 409 and "disabled in config.toml (enabled = false)" in r.json()["message"]
    assert srv.client.get("/admin/api/schedules").status_code == 401  # as /admin/api/keys
    assert admin(srv, "POST", "/tick/explode").status_code == 404
    assert admin(srv, "GET", "/tick?limit=0").status_code == 400
    # pause with the server down, from the store; the next start honours it
    srv.stop()
    assert srv.faas("schedules", "pause", "tick").returncode == 0
    down = srv.faas("schedules", "run", "tick")
    assert down.returncode == 3 and "needs the server running" in down.stderr
    srv = servers(root, {}, cfg)
    assert {s["name"]: s["paused"] for s in admin(srv, "GET", "").json()["schedules"]}["tick"] is True


def test_misfires_after_sigkill_follow_the_grace(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    root = tmp_path / "srv"
    extra = """
[[schedules]]
name = "graceful"
expression = "rate(1 second)"
function = "rec"
misfire_grace_seconds = 60

[[schedules]]
name = "strict"
expression = "rate(1 second)"
function = "rec"
misfire_grace_seconds = 0
"""
    cfg = config(out, extra)
    srv = servers(root, {"rec.py": RECORDER}, cfg)
    wait_for(lambda: all(any(r["status"] == "success" for r in runs(srv, n)) for n in ("graceful", "strict")),
             what="both schedules running")
    kill(srv)
    killed_at = time.time()
    let_time_pass(3.0)  # fires fall due while the server is down
    restarted_at = time.time()
    srv = servers(root, {}, cfg)
    wait_for(lambda: len(runs(srv, "graceful")) > 0 and "catching up the fire" in srv.log(), what="catch-up")

    def in_downtime(name: str) -> list[dict[str, Any]]:
        return [r for r in runs(srv, name) if killed_at < ts(r["scheduledTime"]) < restarted_at]

    graceful = [r for r in runs(srv, "graceful") if killed_at < ts(r["scheduledTime"])]
    assert "schedule graceful: catching up the fire due at" in srv.log()
    # coalesced: of the ~3 fires due while down, at most one ran (the latest, when the server came up)
    assert len([r for r in in_downtime("graceful") if r["status"] != "missed"]) <= 1
    assert any(r["status"] == "missed" for r in graceful)  # the older ones are recorded as missed
    strict = in_downtime("strict")
    assert [r["status"] for r in strict] == ["missed"]
    assert "past misfire_grace_seconds = 0" in strict[0]["error"]
    assert "schedule strict: catching up" not in srv.log()
    # and both go on firing
    wait_for(lambda: any(r["status"] == "success" and ts(r["scheduledTime"]) > restarted_at for r in runs(srv, "strict")),
             what="strict firing again")


def test_bad_expression_refused_at_start(tmp_path: Path) -> None:
    write_project(tmp_path, {"rec.py": RECORDER},
                  '[functions.rec]\nhandler = "rec.handler"\n[[schedules]]\nname = "bad"\n'
                  'expression = "rate(5 minute)"\nfunction = "rec"\n')
    out = subprocess.run([sys.executable, "-m", "faas", "serve", "--config", str(tmp_path / "config.toml")],
                         capture_output=True, text=True, timeout=30, env={"FAAS_ADMIN_KEY": ADMIN_KEY, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert 'schedules[0].expression = "rate(5 minute)"' in out.stderr
    assert "unit" in out.stderr and json is not None
