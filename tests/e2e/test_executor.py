"""Worker limits and failures: timeouts kill the whole process group, memory caps hold, crashes and
broken handlers get Lambda-shaped errors, and the server keeps serving."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, start_server, wait_for

FUNCTIONS = {
    "spawner.py": """
        import os, subprocess, sys, time
        def handler(event, context):
            out = event["pidfile"]
            # a child in our group, and a grandchild that ignores SIGTERM and starts its own session
            child = subprocess.Popen(["sleep", "300"])
            stubborn = subprocess.Popen(
                [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"],
                start_new_session=True)
            with open(out, "w") as f:
                f.write(f"{child.pid} {stubborn.pid}")
            time.sleep(300)
    """,
    "hog.py": """
        def handler(event, context):
            blocks = []
            for _ in range(event.get("mb", 400)):
                blocks.append(bytearray(1024 * 1024))
            return len(blocks)
    """,
    "crash.py": """
        import ctypes, os, sys
        def handler(event, context):
            how = event["how"]
            print("about to", how)
            if how == "exit":
                os._exit(3)
            if how == "sysexit":
                sys.exit(0)
            if how == "segfault":
                ctypes.string_at(0)
            if how == "unserialisable":
                return {"when": object()}
            if how == "baseexception":
                class Custom(BaseException):
                    pass
                raise Custom("not an Exception")
            return "fine"
    """,
    "importerr.py": """
        import does_not_exist_anywhere
        def handler(event, context):
            return 1
    """,
    "syntaxerr.py": "def handler(event, context)\n    return 1\n",
    "noattr.py": "def other(event, context):\n    return 1\n",
    "initraise.py": "raise RuntimeError('init exploded')\n",
    "slow.py": """
        import time
        def handler(event, context):
            time.sleep(event.get("s", 0.5))
            return "ok"
    """,
    "chatty.py": """
        import logging
        def handler(event, context):
            logging.getLogger().warning("warned %s", 1)
            print("x" * 5000)
            print("y" * 5000)
            return "ok"
    """,
}

CONFIG = """
[executor]
max_workers = 20
queue_wait_ms = 200
log_cap_bytes = 4096

[functions.spawner]
handler = "spawner.handler"
timeout = 1
[functions.hog]
handler = "hog.handler"
memory = 128
timeout = 20
[functions.crash]
handler = "crash.handler"
[functions.importerr]
handler = "importerr.handler"
[functions.syntaxerr]
handler = "syntaxerr.handler"
[functions.noattr]
handler = "noattr.handler"
[functions.initraise]
handler = "initraise.handler"
[functions.badname]
handler = "nodots.x.handler"
[functions.slow]
handler = "slow.handler"
concurrency = 2
[functions.chatty]
handler = "chatty.handler"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("exec"), FUNCTIONS, CONFIG)
    yield srv
    srv.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_timeout_kills_the_whole_process_group(server: Server, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    r = server.invoke("spawner", {"pidfile": str(pidfile)})
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert r.json()["errorType"] == "Sandbox.Timedout"
    child, stubborn = (int(p) for p in pidfile.read_text().split())
    wait_for(lambda: not alive(child) and not alive(stubborn), 5, what="children to be killed")


def test_memory_cap_kills_with_out_of_memory(server: Server) -> None:
    r = server.invoke("hog", {"mb": 400}, headers={"X-Amz-Log-Type": "Tail"})
    assert r.headers["x-amz-function-error"] == "Unhandled"
    body = r.json()
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert "Runtime exited with error" in body["errorMessage"]
    row = server.wait_metered(r.headers["x-amzn-requestid"])
    assert row["status"] == "oom"
    # under the cap it runs, and Max Memory Used is measured
    r = server.invoke("hog", {"mb": 40})
    assert r.json() == 40
    row = server.wait_metered(r.headers["x-amzn-requestid"])
    assert 40 <= row["max_memory_mb"] <= 128


@pytest.mark.parametrize(
    ("how", "error_type", "message"),
    [
        ("exit", "Runtime.ExitError", "Runtime exited with error: exit status 3"),
        ("sysexit", "Runtime.ExitError", "Runtime exited with error: exit status 0"),
        ("segfault", "Runtime.ExitError", "Runtime exited with error: signal: segmentation fault"),
        ("unserialisable", "Runtime.MarshalError", "Unable to marshal response: Object of type object is not JSON serializable"),
        ("baseexception", "Custom", "not an Exception"),
    ],
)
def test_crashes_and_bad_results(server: Server, how: str, error_type: str, message: str) -> None:
    r = server.invoke("crash", {"how": how}, headers={"X-Amz-Log-Type": "Tail"})
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    body = r.json()
    assert body["errorType"] == error_type
    assert message in body["errorMessage"]
    log = server.wait_log(r.headers["x-amzn-requestid"])
    assert f"about to {how}" in log
    # and the function still works afterwards
    assert server.invoke("crash", {"how": "nothing"}).json() == "fine"


@pytest.mark.parametrize(
    ("name", "error_type", "message"),
    [
        ("importerr", "Runtime.ImportModuleError", "Unable to import module 'importerr': No module named 'does_not_exist_anywhere'"),
        ("syntaxerr", "Runtime.UserCodeSyntaxError", "Syntax error in module 'syntaxerr'"),
        ("noattr", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'noattr'"),
        ("initraise", "RuntimeError", "init exploded"),
        ("badname", "Runtime.ImportModuleError", "Unable to import module 'nodots.x'"),
    ],
)
def test_init_errors(server: Server, name: str, error_type: str, message: str) -> None:
    r = server.invoke(name)
    assert r.headers["x-amz-function-error"] == "Unhandled"
    body = r.json()
    assert body["errorType"] == error_type
    assert message in body["errorMessage"]
    assert body["requestId"] == r.headers["x-amzn-requestid"]
    assert server.wait_metered(r.headers["x-amzn-requestid"])["status"] == "error"


def test_concurrency_cap_throttles_and_meters(server: Server) -> None:
    results: list[httpx.Response] = []

    def call() -> None:
        results.append(server.invoke("slow", {"s": 1.0}))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r for r in results if r.status_code == 200]
    throttled = [r for r in results if r.status_code == 429]
    assert len(ok) == 2 and len(throttled) == 3, [r.status_code for r in results]
    for r in throttled:
        row = server.wait_metered(r.headers["x-amzn-requestid"])
        assert row["status"] == "throttled" and row["billed_ms"] == 0


def test_log_cap_per_call(server: Server) -> None:
    r = server.invoke("chatty", headers={"X-Amz-Log-Type": "Tail"})
    log = server.wait_log(r.headers["x-amzn-requestid"])
    assert "[WARNING]\t" in log and "\twarned 1" in log
    assert "log output truncated: more than 4096 bytes" in log
    assert "y" * 5000 not in log


def test_server_survives_it_all(server: Server) -> None:
    assert server.client.get("/healthz").json() == {"status": "ok"}
    assert server.invoke("slow", {"s": 0}).json() == "ok"


def test_global_worker_cap(make_server: Any) -> None:
    functions = {f"f{i}.py": "import time\ndef handler(e, c):\n    time.sleep(e.get('s', 0))\n    return 1\n" for i in range(3)}
    config = "[executor]\nmax_workers = 2\nqueue_wait_ms = 300\n" + "".join(
        f'[functions.f{i}]\nhandler = "f{i}.handler"\n' for i in range(3)
    )
    srv = make_server(functions, config)
    results: dict[str, httpx.Response] = {}

    def call(name: str) -> None:
        results[name] = srv.invoke(name, {"s": 1.5})

    threads = [threading.Thread(target=call, args=(f"f{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 200, 429], codes
    # once the busy workers are idle, a third function evicts the least recently used one
    assert all(srv.invoke(f"f{i}").status_code == 200 for i in range(3))
    throttled = next(r for r in results.values() if r.status_code == 429)
    assert "server limit of 2 workers" in json.dumps(throttled.json()) or throttled.json()["Type"] == "User"
