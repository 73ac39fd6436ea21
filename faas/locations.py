"""Where a server is found from outside it: the URL a client on this machine dials, and the store file.

The runtime (the endpoint it gives workers) and the CLI (the server it calls, the store it opens when
the server is down) must agree on both, so they are computed here, once. The module imports nothing
of ours, which keeps ``faas invoke`` from loading the runtime just to find the server.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DB_FILE", "db_path", "local_url"]

DB_FILE = "faas.db"

# A server listening on every address is reached through the loopback one.
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def db_path(data_dir: Path) -> Path:
    """The SQLite file of the server whose ``server.data_dir`` is ``data_dir``."""
    return data_dir / DB_FILE


def local_url(host: str, port: int) -> str:
    """The base URL a client on this machine uses to reach a server listening on ``host:port``."""
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    return f"http://{host}:{port}"
