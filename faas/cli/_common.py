"""What the ``faas`` commands share: exit codes, ``CliError``, the admin API call, the store, output.

Command modules import from here, never from ``faas.cli`` itself, so the package has no import
circle. ``faas.cli.main`` turns errors into exit codes: ``EXIT_USAGE`` (2) for bad usage or config,
``EXIT_FAILED`` (1) for a failed operation or a function error, ``EXIT_UNREACHABLE`` (3) when the
server cannot be reached.

The store and the event store are imported inside the functions that open them: ``faas invoke``
and the other commands that only talk HTTP start without loading aiosqlite.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faas.admin_key import load_admin_key
from faas.config import Config
from faas.locations import db_path, local_url

if TYPE_CHECKING:
    from faas.store import EventStore, SQLiteStore

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class CliError(Exception):
    """A command cannot do what was asked: ``main`` prints the message and exits with ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# --- the running server ------------------------------------------------------------------------


def server_url(config: Config, url: str | None) -> str:
    """``--url`` if given, else where the configured server listens, as seen from this machine."""
    if url:
        return url.rstrip("/")
    return local_url(config.server.host, config.server.port)


def admin_key(config: Config) -> str:
    key = load_admin_key(config.server.data_dir, os.environ, create=False)
    if not key:
        raise CliError(f"no admin key: set FAAS_ADMIN_KEY or start the server once to create {config.server.data_dir / 'admin.key'}")
    return key


def request(config: Config, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One call with the admin key: (status, headers, body) for any answer, even an error status.

    Raises ``CliError`` with ``EXIT_UNREACHABLE`` when nothing answers at ``url``.
    """
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {admin_key(config)}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=960) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()
    except (urllib.error.URLError, ConnectionError) as exc:
        raise CliError(f"cannot reach the server at {url}: {getattr(exc, 'reason', exc)}", EXIT_UNREACHABLE) from exc


def server_else_store(
    config: Config,
    method: str,
    url: str,
    on_store: Callable[[], Coroutine[Any, Any, Any]] | None,
    *,
    body: dict[str, Any] | None = None,
    keyless_to_store: bool = False,
    note: str | None = None,
    bad_request: int = EXIT_FAILED,
) -> Any:
    """Ask the running server's admin API; when no server answers, do the same work on the store.

    The server applies a change at once (a paused schedule stops firing now); the store is the way
    when it is down, and the server picks the change up later. Returns the server's JSON answer, or
    what ``on_store()`` returns, which has the same shape.

    - ``on_store`` None: only the server can do it, so an unreachable server is the error.
    - ``keyless_to_store``: with no admin key at all (no server ever started here, no
      ``FAAS_ADMIN_KEY``), go straight to the store instead of failing for the missing key.
    - ``note``: printed to stderr before falling back to the store.
    - A refusal (status >= 400) is a ``CliError`` with the server's message, exit code
      ``bad_request`` for a 400 and ``EXIT_FAILED`` for the rest.
    """
    if keyless_to_store and on_store is not None and load_admin_key(config.server.data_dir, os.environ, create=False) is None:
        return asyncio.run(on_store())
    payload = None if body is None else json.dumps(body).encode()
    try:
        status, _, raw = request(config, method, url, payload, {"Content-Type": "application/json"} if payload else None)
    except CliError as exc:
        if exc.code != EXIT_UNREACHABLE or on_store is None:
            raise
        if note:
            print(f"faas: note: {note}", file=sys.stderr)
        return asyncio.run(on_store())
    try:
        data: Any = json.loads(raw or b"null")
    except ValueError:
        if status < 400:
            raise CliError(f"the server answered {status} with a body that is not JSON") from None
        data = {"message": raw.decode("utf-8", "replace")}
    if status >= 400:
        message = data.get("message", status) if isinstance(data, dict) else data or status
        raise CliError(str(message), bad_request if status == 400 else EXIT_FAILED)
    return data


# --- the store ---------------------------------------------------------------------------------


def _store_file(config: Config, must_exist: bool) -> Path:
    path = db_path(config.server.data_dir)
    if must_exist and not path.exists():
        raise CliError(f"no data yet: {path} does not exist (has the server run?)")
    return path


def open_store(config: Config, *, must_exist: bool = True) -> SQLiteStore:
    """The server's store, to use in ``async with``; ``must_exist`` refuses to create an empty one."""
    from faas.store import SQLiteStore

    return SQLiteStore(_store_file(config, must_exist))


def open_event_store(config: Config, *, must_exist: bool = True) -> EventStore:
    """The server's event store (async queue, dead letters, schedule state), to use in ``async with``."""
    from faas.store import EventStore

    return EventStore(_store_file(config, must_exist))


# --- output ------------------------------------------------------------------------------------


def print_table(rows: Sequence[Sequence[object]]) -> None:
    """Print rows (the first is the header) in left-aligned columns two spaces apart."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


def quiet_builder_log(verbose: bool) -> None:
    """The builder logs for the server; here each set gets its own line instead, and uv's
    output only with ``--verbose``."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    else:
        logging.getLogger("faas.builder").addHandler(logging.NullHandler())
        logging.getLogger("faas.builder").propagate = False


def shown(path: Path) -> str:
    """``path`` relative to the working folder when it is below it (shorter lines), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
