"""Hot reload: edited functions and config take effect on the next call, without a restart and
without failing calls in flight; an invalid config is refused and the old one kept."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import wait_for

V1 = """
import time
def handler(event, context):
    if "started" in event:
        open(event["started"], "w").close()
    time.sleep(event.get("s", 0))
    return "v1"
"""

CONFIG = """
[functions.app]
handler = "app.handler"
timeout = 10

[[routes]]
method = "GET"
path = "/app"
function = "app"
"""


def test_code_change_takes_effect_and_in_flight_call_finishes(make_server: Any, tmp_path: Path) -> None:
    srv = make_server({"app.py": V1}, CONFIG)
    assert srv.invoke("app").json() == "v1"
    slow: list[httpx.Response] = []
    started = tmp_path / "started"
    t = threading.Thread(target=lambda: slow.append(srv.invoke("app", {"s": 2, "started": str(started)})))
    t.start()
    wait_for(started.exists, 10, what="the slow call to be running")
    srv.write_function("app.py", V1.replace('"v1"', '"v2"'))
    wait_for(lambda: srv.invoke("app").json() == "v2", 10, what="new code to serve")
    t.join()
    assert slow[0].status_code == 200 and slow[0].json() == "v1"  # the old worker finished its call
    # same size, same second: still picked up (stale bytecode is dropped)
    srv.write_function("app.py", V1.replace('"v1"', '"v3"'))
    wait_for(lambda: srv.invoke("app").json() == "v3", 10, what="v3")


def test_syntax_error_saved_mid_edit_then_fixed(make_server: Any) -> None:
    srv = make_server({"app.py": V1}, CONFIG)
    assert srv.client.get("/app").json() == "v1"
    srv.write_function("app.py", "def handler(event, context)\n    return 'broken'\n")
    wait_for(lambda: srv.client.get("/app").status_code == 502, 10, what="broken code to be live")
    r = srv.invoke("app")
    assert r.json()["errorType"] == "Runtime.UserCodeSyntaxError"
    srv.write_function("app.py", V1.replace('"v1"', '"fixed"'))
    wait_for(lambda: srv.client.get("/app").status_code == 200, 10, what="fixed code")
    assert srv.client.get("/app").json() == "fixed"


def test_config_change_and_invalid_config_refused(make_server: Any) -> None:
    srv = make_server({"app.py": V1}, CONFIG)
    original = srv.config_path.read_text()
    # a valid change: a new route appears
    srv.config_path.write_text(original + '\n[[routes]]\nmethod = "GET"\npath = "/other"\nfunction = "app"\n')
    wait_for(lambda: srv.client.get("/other").status_code == 200, 10, what="new route")
    # an invalid change is refused with a logged error naming the key; the running config stays
    srv.config_path.write_text(original.replace("timeout = 10", "timeout = 10\nmemroy = 256"))
    wait_for(lambda: "functions.app.memroy: unknown key" in srv.log(), 10, what="refusal in the log")
    assert "config change refused" in srv.log()
    assert srv.client.get("/other").status_code == 200
    assert srv.client.get("/app").json() == "v1"
    # a memory change gives the function new workers with the new limit
    srv.config_path.write_text(original.replace("timeout = 10", "timeout = 10\nmemory = 256"))
    wait_for(lambda: "Memory Size: 256 MB" in _tail(srv), 10, what="new memory size")


def _tail(srv: Any) -> str:
    from tests.conftest import log_result

    return log_result(srv.invoke("app", headers={"X-Amz-Log-Type": "Tail"}))
