"""Shared by the event-source tests: a recording function, reading what it saw, restarts and kills."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, start_server, wait_for

# Records every event it gets as OUT/<request id>.json (written whole, then renamed into place).
# Controls, from the event's "ctl" or from files in OUT: sleep seconds, fail.
RECORDER = """
import json, os, time

def handler(event, context):
    out = os.environ["OUT"]
    rid = context.aws_request_id
    ctl = event.get("ctl", {}) if isinstance(event, dict) else {}
    started = time.time()
    open(os.path.join(out, "started-" + rid), "w").close()
    time.sleep(ctl.get("sleep", float(os.environ.get("SLEEP", "0"))))
    record = {"event": event, "requestId": rid, "function": context.function_name, "start": started,
              "end": time.time()}
    tmp = os.path.join(out, "." + rid)
    with open(tmp, "w") as f:
        json.dump(record, f)
    os.rename(tmp, os.path.join(out, rid + ".json"))
    if ctl.get("fail") or os.path.exists(os.path.join(out, "FAIL")):
        raise ValueError("asked to fail")
    return "ok"
"""


def records(out: Path) -> list[dict[str, Any]]:
    """What the recorder saw, in the order the calls started."""
    found = []
    for path in out.glob("*.json"):
        found.append(json.loads(path.read_text()))
    return sorted(found, key=lambda r: r["start"])


def wait_records(out: Path, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0,
                 what: str = "recorded events") -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        seen = records(out)
        return seen if predicate(seen) else None

    return wait_for(check, timeout, 0.05, what)  # type: ignore[no-any-return]


def kill(server: Server) -> None:
    """SIGKILL the server's whole process group (server, zygote, workers), as a crash would."""
    server.client.close()
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)


def let_time_pass(seconds: float) -> None:
    """Wall-clock time passing is what some tests are about (downtime, proof that nothing fires)."""
    time.sleep(seconds)


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    """``servers(root, functions, config, **kw)``: start (or restart, on the same root) a server; all
    are stopped at the end."""
    started: list[Server] = []

    def start(root: Path, functions: dict[str, str], config: str, **kwargs: Any) -> Server:
        server = start_server(root, functions, config, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()
        else:
            server.client.close()
