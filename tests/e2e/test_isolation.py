"""Isolation: workers see only their own function's environment; with ``[executor] user`` they run
as that user and cannot read the server's data, keys or environment."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, start_server

FUNCTIONS = {
    "probe.py": """
        import os
        def try_read(path):
            try:
                with open(path, "rb") as f:
                    f.read(1)
                return "read"
            except OSError as exc:
                return type(exc).__name__
        def try_list(path):
            try:
                return sorted(os.listdir(path))
            except OSError as exc:
                return type(exc).__name__
        def handler(event, context):
            data = event["data_dir"]
            try:
                os.kill(event["server_pid"], 0)
                signal_server = "allowed"
            except OSError as exc:
                signal_server = type(exc).__name__
            tmp = os.path.join(os.environ["TMPDIR"], "scratch")
            with open(tmp, "w") as f:
                f.write("mine")
            try:
                import boto3  # the runtime's, reachable by the workers' user
                runtime_boto3 = boto3.__version__ + " " + str(try_list(os.path.dirname(boto3.__file__)))
            except ImportError as exc:
                runtime_boto3 = repr(exc)
            return {
                "uid": os.getuid(),
                "boto3": runtime_boto3,
                "listing": try_list(data),
                "db": try_read(os.path.join(data, "faas.db")),
                "db_wal": try_read(os.path.join(data, "faas.db-wal")),
                "admin_key": try_read(os.path.join(data, "admin.key")),
                "master_key": try_read(os.path.join(data, "master.key")),
                "server_environ": try_read(f"/proc/{event['server_pid']}/environ"),
                "signal_server": signal_server,
                "env": sorted(os.environ),
            }
    """,
    "other.py": "def handler(event, context):\n    return sorted(__import__('os').environ)\n",
    "forker.py": """
        import os, time
        def handler(event, context):
            children = []
            try:
                for _ in range(100):
                    pid = os.fork()
                    if pid == 0:
                        time.sleep(30)
                        os._exit(0)
                    children.append(pid)
            except OSError as exc:
                return {"forked": len(children), "error": type(exc).__name__}
            finally:
                for pid in children:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
            return {"forked": len(children), "error": None}
    """,
}

CONFIG = """
[executor]
user = "nobody"
max_processes = 20
# boto3 comes from the runtime folder under data_dir; preloaded because on a machine whose Python
# lives under /root (pyenv), the standard library it imports is out of nobody's reach
preload = ["boto3"]

[functions.probe]
handler = "probe.handler"
[functions.probe.environment]
PROBE_ONLY = "1"
[functions.forker]
handler = "forker.handler"
timeout = 20
[functions.other]
handler = "other.handler"
[functions.other.environment]
OTHER_SECRET = "x"
"""


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    if os.getuid() != 0:
        pytest.skip("dropping to another user needs the server to run as root")
    root = Path(tempfile.mkdtemp(prefix="faas-iso-"))
    root.chmod(0o755)  # the workers' user must be able to read the function code
    srv = start_server(root, FUNCTIONS, CONFIG, env={"SERVER_SECRET": "s3cret"})
    yield srv
    srv.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_worker_runs_as_the_configured_user_and_cannot_read_server_data(server: Server) -> None:
    r = server.invoke("probe", {"data_dir": str(server.data_dir), "server_pid": server.proc.pid})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["uid"] == 65534
    # what exists cannot be read (SQLite gives -wal the db's mode; admin.key is absent when the key
    # comes from FAAS_ADMIN_KEY, as here)
    for key, name in (("db", "faas.db"), ("db_wal", "faas.db-wal"), ("admin_key", "admin.key"), ("master_key", "master.key")):
        assert body[key] == ("PermissionError" if (server.data_dir / name).exists() else "FileNotFoundError"), (key, body)
    assert body["db"] == body["master_key"] == "PermissionError"
    for name in ("faas.db", "faas.db-wal", "faas.db-shm", "admin.key", "master.key"):
        if (server.data_dir / name).exists():
            assert (server.data_dir / name).stat().st_mode & 0o077 == 0, name
    assert body["listing"] == "PermissionError"  # data_dir can be passed through, not listed
    assert body["boto3"][0].isdigit() and "session.py" in body["boto3"], body["boto3"]  # its folder is readable
    assert body["server_environ"] == "PermissionError"
    assert body["signal_server"] == "PermissionError"


def test_workers_see_only_their_own_environment(server: Server) -> None:
    env = server.invoke("probe", {"data_dir": str(server.data_dir), "server_pid": server.proc.pid}).json()["env"]
    assert "PROBE_ONLY" in env
    assert not {"OTHER_SECRET", "SERVER_SECRET", "FAAS_ADMIN_KEY"} & set(env)
    other = server.invoke("other").json()
    assert "OTHER_SECRET" in other and "PROBE_ONLY" not in other


def test_process_cap_holds_for_a_dropped_user(server: Server) -> None:
    # RLIMIT_NPROC (enforced for non-root users) and the cgroup's pids.max both cap it at 20
    body = server.invoke("forker").json()
    assert body["error"] == "BlockingIOError", body
    assert body["forked"] < 20
