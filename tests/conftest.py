"""Test harness: real ``faas serve`` processes on free ports, called over real HTTP.

``start_server(root, functions, config)`` writes a config and function files under ``root`` and
starts the server as a subprocess; ``Server`` has small helpers to call it and read its data.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ADMIN_KEY = "test-admin-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Server:
    root: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def functions_dir(self) -> Path:
        return self.root / "functions"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def invoke(self, name: str, payload: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None) -> httpx.Response:
        body = raw if raw is not None else json.dumps(payload if payload is not None else {}).encode()
        h = {"Authorization": f"Bearer {ADMIN_KEY}"}
        h.update(headers or {})
        return self.client.post(f"/2015-03-31/functions/{name}/invocations", content=body, headers=h)

    def write_function(self, filename: str, code: str) -> None:
        path = self.functions_dir / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))

    def db_rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.data_dir / "faas.db") as db:
            return list(db.execute(sql, args))

    def wait_environments(self, timeout: float = 90.0) -> list[dict[str, Any]]:
        """Wait until every function's environment is built (first start builds them in the background)."""

        def ready() -> list[dict[str, Any]] | None:
            r = self.client.get("/admin/api/functions", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
            functions: list[dict[str, Any]] = r.json()["functions"]
            failed = [f for f in functions if f["state"] == "failed"]
            if failed:
                raise AssertionError(f"environment builds failed: {failed}")
            return functions if all(f["state"] == "ready" for f in functions) else None

        return wait_for(ready, timeout, 0.2, "every function's environment")  # type: ignore[no-any-return]

    def wait_metered(self, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
        def row() -> dict[str, Any] | None:
            with sqlite3.connect(self.data_dir / "faas.db") as db:
                db.row_factory = sqlite3.Row
                r = db.execute("SELECT * FROM invocations WHERE request_id = ?", (request_id,)).fetchone()
                return dict(r) if r else None

        return wait_for(row, timeout, what=f"metering row {request_id}")  # type: ignore[no-any-return]

    def wait_log(self, request_id: str, timeout: float = 10.0) -> str:
        """The call's whole log (START ... REPORT), once it is metered."""
        from faas.store import log_query, rendered_log

        def text() -> str | None:
            sql, args = log_query(request_id=request_id)
            rows = self.db_rows(sql, tuple(args))
            return rendered_log(rows[0])[1].text if rows else None

        return wait_for(text, timeout, what=f"log of {request_id}")  # type: ignore[no-any-return]

    def faas(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        run_env = dict(self.env)
        run_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "faas", *args, "--config", str(self.config_path)],
            capture_output=True, text=True, timeout=timeout, env=run_env, cwd=self.root,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def write_project(root: Path, functions: dict[str, str], config: str, server_extra: str = "", port: int | None = None) -> int:
    port = port or free_port()
    (root / "functions").mkdir(parents=True, exist_ok=True)
    for filename, code in functions.items():
        path = root / "functions" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))
    header = f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "data"\nfunctions_dir = "functions"\n{server_extra}\n'
    (root / "config.toml").write_text(header + textwrap.dedent(config))
    return port


def start_server(
    root: Path,
    functions: dict[str, str],
    config: str,
    *,
    server_extra: str = "",
    env: dict[str, str] | None = None,
    expect_fail: bool = False,
) -> Server:
    port = write_project(root, functions, config, server_extra)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")}
    run_env["FAAS_ADMIN_KEY"] = ADMIN_KEY
    run_env.update(env or {})
    log_path = root / "server.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "faas", "serve", "--config", str(root / "config.toml")],
        stdout=log_file, stderr=subprocess.STDOUT, env=run_env, cwd=root, start_new_session=True,
    )
    log_file.close()
    server = Server(root=root, port=port, proc=proc, log_path=log_path, env=run_env)
    if expect_fail:
        return server

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            return httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, 30, what="server to be healthy")
    except BaseException:
        server.stop(signal.SIGKILL)
        raise
    return server


@pytest.fixture
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def factory(functions: dict[str, str], config: str, **kwargs: Any) -> Server:
        server = start_server(tmp_path_factory.mktemp("srv"), functions, config, **kwargs)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


def log_result(response: httpx.Response) -> str:
    return base64.b64decode(response.headers["x-amz-log-result"]).decode()


REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TRACE_ID = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]")


def wire(server: Server, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> str:
    """The response exactly as it crossed the socket (status line, headers in their order and case,
    body), with the Date header dropped, request ids shown as ``<rid>`` and trace ids as ``<trace>``: error responses are part
    of the API, so tests pin them byte for byte."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    if body or method in ("POST", "PUT"):
        head += f"Content-Length: {len(body)}\r\n"
    chunks = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(head.encode("latin-1") + b"\r\n" + body)
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return masked(b"".join(chunks).decode("latin-1"))


def shown(r: httpx.Response) -> str:
    """An httpx response in ``wire``'s form, for requests a raw socket cannot make (a refused
    upload is answered before it is sent, and closing then resets the socket)."""
    head = [f"HTTP/1.1 {r.status_code} {r.reason_phrase}"]
    head += [f"{name.decode('latin-1')}: {value.decode('latin-1')}" for name, value in r.headers.raw]
    return masked("\r\n".join([*head, "", r.content.decode("latin-1")]))


def http(status: str, *headers: str, body: str = "", close: bool = True) -> str:
    """A response as ``wire`` (``close``) or ``shown`` gives it: uvicorn adds the server header first
    and, on a connection the client closes, the connection header last."""
    return "\r\n".join([f"HTTP/1.1 {status}", "server: uvicorn", *headers, *(["connection: close"] * close), "", body])


def masked(text: str) -> str:
    lines = [line for line in text.split("\r\n") if not line.lower().startswith("date: ")]
    return TRACE_ID.sub("<trace>", REQUEST_ID.sub("<rid>", "\r\n".join(lines)))
