"""Who is calling: the admin key as ``Authorization: Bearer``. API keys and SigV4 join later."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection

ADMIN = "admin"


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_admin(conn: HTTPConnection, admin_key: str) -> bool:
    token = bearer_token(conn)
    return token is not None and bool(admin_key) and hmac.compare_digest(token.encode(), admin_key.encode())
