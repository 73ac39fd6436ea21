"""Hostile and broken handlers: each gets a precise error, limits hold, and the server keeps serving."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, log_result, start_server, wait_for

MARKER = f"hostile-{uuid.uuid4().hex}"

FUNCTIONS = {
    "hostile.py": """
        import os, signal, subprocess, sys, time

        def spin(event, context):
            while True:
                pass

        def ignore_term(event, context):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(300)

        def fork_bomb(event, context):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass

        def leave_child(event, context):
            child = subprocess.Popen(["sleep", "300"], start_new_session=True)
            return child.pid

        def big_file(event, context):
            with open(os.path.join(os.environ["TMPDIR"], "big"), "wb") as f:
                for _ in range(1000):
                    f.write(b"x" * (1024 * 1024))
            return "wrote it all"

        def flood_stdout(event, context):
            chunk = "y" * (1024 * 1024)
            for _ in range(100):
                print(chunk)
            return "flooded"

        def huge_result(event, context):
            return "z" * (20 * 1024 * 1024)

        def many_files(event, context):
            return [open(os.devnull) for _ in range(500)] and "opened"

        def close_stdout(event, context):
            if event.get("close"):
                sys.stdout.close()
                os.close(1)
                os.close(2)
                return "closed"
            print("still logging")
            return "ok"

        def tmpdir(event, context):
            return os.environ["TMPDIR"]

        def oversized_frame(event, context):
            import struct
            # The worker's socket to the gateway is its only socket: announce a frame over the
            # 64 MiB limit on it, then keep writing, as a gateway that buffered would have to wait.
            fd = next(n for n in range(3, 1024) if _is_socket(n))
            os.write(fd, struct.pack("!IB", 64 * 1024 * 1024 + 1, 3))
            chunk = b"x" * (1024 * 1024)
            while True:
                os.write(fd, chunk)

        def _is_socket(fd):
            import stat
            try:
                return stat.S_ISSOCK(os.fstat(fd).st_mode)
            except OSError:
                return False

        def fine(event, context):
            return "fine"
    """,
    "slowimport.py": """
        import time
        time.sleep(60)
        def handler(event, context):
            return "never"
    """,
}

CONFIG = f"""
[executor]
max_processes = 64
max_open_files = 64
max_file_bytes = 10485760
log_cap_bytes = 65536
init_timeout = 2

[functions.spin]
handler = "hostile.spin"
timeout = 1
[functions.ignore_term]
handler = "hostile.ignore_term"
timeout = 1
[functions.fork_bomb]
handler = "hostile.fork_bomb"
timeout = 2
[functions.fork_bomb.environment]
HOSTILE_MARKER = "{MARKER}"
[functions.leave_child]
handler = "hostile.leave_child"
[functions.big_file]
handler = "hostile.big_file"
timeout = 20
[functions.flood_stdout]
handler = "hostile.flood_stdout"
timeout = 20
[functions.huge_result]
handler = "hostile.huge_result"
memory = 512
[functions.many_files]
handler = "hostile.many_files"
[functions.close_stdout]
handler = "hostile.close_stdout"
[functions.tmpdir]
handler = "hostile.tmpdir"
[functions.oversized_frame]
handler = "hostile.oversized_frame"
timeout = 30
[functions.fine]
handler = "hostile.fine"
[functions.slowimport]
handler = "slowimport.handler"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("hostile"), FUNCTIONS, CONFIG)
    yield srv
    srv.stop()


def still_serving(server: Server) -> None:
    assert server.client.get("/healthz").status_code == 200
    assert server.invoke("fine").json() == "fine"


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def processes_with_marker(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("name", ["spin", "ignore_term"])
def test_runaway_handlers_are_killed_at_the_deadline(server: Server, name: str) -> None:
    r = server.invoke(name)
    assert r.json()["errorType"] == "Sandbox.Timedout"
    assert r.json()["errorMessage"].endswith("Task timed out after 1.00 seconds")
    still_serving(server)


def test_fork_bomb_is_capped_and_cleaned_up(server: Server) -> None:
    r = server.invoke("fork_bomb")
    assert r.json()["errorType"] == "Sandbox.Timedout"
    wait_for(lambda: not processes_with_marker(MARKER), 10, what="every forked process to be gone")
    still_serving(server)


def test_child_left_running_dies_with_its_worker(server: Server) -> None:
    pid = server.invoke("leave_child").json()
    assert alive(pid)  # as on Lambda, the environment keeps it until the worker goes
    server.write_function("hostile.py", (server.functions_dir / "hostile.py").read_text() + "\n# touched\n")
    wait_for(lambda: not alive(pid), 10, what="the left-over child to be killed with its retired worker")
    still_serving(server)


def test_file_size_limit(server: Server) -> None:
    r = server.invoke("big_file")
    body = r.json()
    assert body["errorType"] == "OSError"
    assert "File too large" in body["errorMessage"]
    still_serving(server)


def test_stdout_flood_is_capped(server: Server) -> None:
    r = server.invoke("flood_stdout", headers={"X-Amz-Log-Type": "Tail"})
    assert r.json() == "flooded"
    log = server.wait_log(r.headers["x-amzn-requestid"])
    assert len(log) < 70_000
    assert "log output truncated: more than 65536 bytes" in log


def test_huge_result_is_refused_with_a_clear_error(server: Server) -> None:
    r = server.invoke("huge_result")
    body = r.json()
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert "exceeded maximum allowed payload size (6291456 bytes)" in body["errorMessage"]
    still_serving(server)


def test_open_files_limit(server: Server) -> None:
    body = server.invoke("many_files").json()
    assert body["errorType"] == "OSError" and "Too many open files" in body["errorMessage"]


def test_closing_stdout_does_not_break_the_worker(server: Server) -> None:
    assert server.invoke("close_stdout", {"close": True}).json() == "closed"
    r = server.invoke("close_stdout", headers={"X-Amz-Log-Type": "Tail"})
    assert r.json() == "ok"
    assert "still logging" in log_result(r)


def test_slow_import_hits_the_init_timeout(server: Server) -> None:
    r = server.invoke("slowimport")
    body = r.json()
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Init phase timed out after 2.00 seconds" in body["errorMessage"]
    still_serving(server)


def test_each_worker_has_its_own_tmpdir_removed_on_exit(server: Server) -> None:
    first = server.invoke("tmpdir").json()
    assert os.path.isdir(first)
    assert first != server.invoke("fine").json()
    server.write_function("hostile.py", (server.functions_dir / "hostile.py").read_text() + "\n# again\n")
    wait_for(lambda: not os.path.exists(first), 10, what="the retired worker's TMPDIR to be removed")


def test_oversized_frame_from_a_worker_kills_it_not_the_gateway(server: Server) -> None:
    r = server.invoke("oversized_frame")
    body = r.json()
    assert r.headers["X-Amz-Function-Error"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"  # not a timeout: nothing was buffered
    assert "exceeded maximum allowed frame size (67108864 bytes); the worker was stopped" in body["errorMessage"]
    assert body["errorMessage"] in server.wait_log(r.headers["x-amzn-requestid"])
    still_serving(server)
