"""Crashes and restarts: SIGKILL the server under load, restart it, and check what survived."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import start_server, wait_for

FUNCTIONS = {
    "work.py": """
        import os, subprocess, time
        def handler(event, context):
            if event.get("detach"):
                return subprocess.Popen(["sleep", "300"], start_new_session=True).pid
            time.sleep(event.get("s", 0.01))
            return os.getpid()
    """,
}
CONFIG = """
[functions.work]
handler = "work.handler"
concurrency = 20
"""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def test_sigkill_under_load_then_restart(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    answered: list[tuple[float, str]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            while not stop.is_set():
                try:
                    r = client.post("/2015-03-31/functions/work/invocations", content=b'{"s": 0.005}',
                                    headers={"Authorization": "Bearer test-admin-key"})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    answered.append((time.monotonic(), r.headers["x-amzn-requestid"]))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(answered) > 100, 30, what="some load")
    zygote_pids = children_of(srv.proc.pid)
    workers = [c for z in zygote_pids for c in children_of(z)]
    assert zygote_pids and workers
    killed_at = time.monotonic()
    srv.proc.send_signal(signal.SIGKILL)  # the server process alone, not its group
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    # nothing outlives the server: the zygote and every worker die with it
    wait_for(lambda: not any(alive(p) for p in zygote_pids + workers), 10, what="zygote and workers to die")
    with sqlite3.connect(srv.data_dir / "faas.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = start_server(srv.root, {}, CONFIG)
    try:
        rows = {r[0] for r in again.db_rows("SELECT request_id FROM invocations")}
        # every call answered more than the batch window before the kill is metered (docs/reliability.md)
        settled = [rid for when, rid in answered if when < killed_at - 0.5]
        missing = [rid for rid in settled if rid not in rows]
        assert not missing, f"{len(missing)} of {len(settled)} answered calls lost"
        assert again.invoke("work").status_code == 200
    finally:
        again.stop()


def test_detached_grandchild_is_swept_on_restart(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    if "enforced by cgroup" not in srv.log():
        import pytest

        pytest.skip("without cgroups a detached grandchild cannot be found after a SIGKILL")
    pid = srv.invoke("work", {"detach": True}).json()
    assert alive(pid)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    again = start_server(srv.root, {}, CONFIG)
    try:
        wait_for(lambda: not alive(pid), 10, what="the orphan of the killed server to be swept")
    finally:
        again.stop()
