"""The CLI (faas invoke, faas logs, faas serve errors) and metering: one row per call, none lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import ADMIN_KEY, free_port, write_project

FUNCTIONS = {
    "hello.py": """
        def handler(event, context):
            print("saying hello to", event.get("name"))
            return {"hello": event.get("name")}
    """,
    "bad.py": """
        def handler(event, context):
            raise RuntimeError("bad things")
    """,
}
CONFIG = """
[functions.hello]
handler = "hello.handler"
[functions.bad]
handler = "bad.handler"
"""


def test_invoke_prints_result_and_exit_codes(make_server: Any, tmp_path: Path) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    out = srv.faas("invoke", "hello", "--payload", '{"name": "cli"}')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"hello": "cli"}
    payload = tmp_path / "p.json"
    payload.write_text('{"name": "file"}')
    out = srv.faas("invoke", "hello", "--payload", f"@{payload}", "--log")
    assert json.loads(out.stdout) == {"hello": "file"}
    assert "REPORT RequestId:" in out.stderr
    out = srv.faas("invoke", "bad")
    assert out.returncode == 1
    assert json.loads(out.stdout)["errorType"] == "RuntimeError"
    out = srv.faas("invoke", "missing")
    assert out.returncode == 1 and "ResourceNotFoundException" in out.stderr
    out = srv.faas("invoke", "hello", "--payload", "{nope")
    assert out.returncode == 2 and "--payload is not valid JSON" in out.stderr
    out = srv.faas("invoke", "hello", "--url", f"http://127.0.0.1:{free_port()}")
    assert out.returncode == 3 and "cannot reach the server" in out.stderr


def test_logs_filters_and_follow(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    first = srv.invoke("hello", {"name": "one"}).headers["x-amzn-requestid"]
    second = srv.invoke("hello", {"name": "two"}).headers["x-amzn-requestid"]
    srv.wait_log(second)
    out = srv.faas("logs", "hello")
    assert out.returncode == 0
    assert f"START RequestId: {first}" in out.stdout and "saying hello to two" in out.stdout
    assert out.stdout.index(first) < out.stdout.index(second)
    out = srv.faas("logs", "hello", "--request-id", first)
    assert "saying hello to one" in out.stdout and "two" not in out.stdout
    out = srv.faas("logs", "hello", "--since", "10m")
    assert out.returncode == 0 and first in out.stdout
    out = srv.faas("logs", "hello", "--since", "yesterday")
    assert out.returncode == 2 and "--since" in out.stderr
    follower = subprocess.Popen(
        [sys.executable, "-m", "faas", "logs", "hello", "--follow", "--config", str(srv.config_path)],
        stdout=subprocess.PIPE, text=True, env=srv.env, cwd=srv.root,
    )
    try:
        third = srv.invoke("hello", {"name": "three"}).headers["x-amzn-requestid"]
        assert follower.stdout is not None
        seen = ""
        deadline = time.monotonic() + 10
        while f"END RequestId: {third}" not in seen and time.monotonic() < deadline:
            seen += follower.stdout.readline()
        assert "saying hello to three" in seen
    finally:
        follower.kill()
        follower.wait()
        assert follower.stdout is not None
        follower.stdout.close()


def test_every_call_metered_and_flushed_on_shutdown(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    ids = [srv.invoke("hello", {"name": str(i)}).headers["x-amzn-requestid"] for i in range(50)]
    ids.append(srv.invoke("bad").headers["x-amzn-requestid"])
    # a clean shutdown flushes the metering batch (uvicorn re-raises the signal once it has shut down)
    assert srv.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "faas stopped cleanly" in srv.log()
    rows = {r[0]: r for r in srv.db_rows(
        "SELECT request_id, function, trigger, caller, status, duration_ms, billed_ms, memory_mb, max_memory_mb, cold, version "
        "FROM invocations")}
    assert set(ids) <= set(rows)
    first = rows[ids[0]]
    assert first[1:5] == ("hello", "invoke", "admin", "success")
    assert first[6] >= 1 and first[7] == 128 and first[8] > 0 and first[9] == 1
    assert rows[ids[1]][9] == 0  # warm
    assert rows[ids[-1]][4] == "error"
    assert len(srv.db_rows("SELECT 1 FROM logs")) == 51


def test_serve_refuses_bad_config(tmp_path: Path) -> None:
    write_project(tmp_path, {}, '[functions.x]\nhandler = "x.handler"\nmemory = 64\n')
    out = subprocess.run([sys.executable, "-m", "faas", "serve", "--config", str(tmp_path / "config.toml")],
                         capture_output=True, text=True, timeout=30, env={"FAAS_ADMIN_KEY": ADMIN_KEY, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert "functions.x.memory = 64: must be an integer from 128 to 10240" in out.stderr
    out = subprocess.run([sys.executable, "-m", "faas", "serve", "--config", str(tmp_path / "missing.toml")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "config file not found" in out.stderr


def test_admin_key_generated_once_with_mode_0600(tmp_path: Path) -> None:
    from faas.admin_key import load_admin_key

    key = load_admin_key(tmp_path, {})
    assert key and (tmp_path / "admin.key").stat().st_mode & 0o777 == 0o600
    assert load_admin_key(tmp_path, {}) == key
    assert load_admin_key(tmp_path, {"FAAS_ADMIN_KEY": "from-env"}) == "from-env"
