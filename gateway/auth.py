"""Who is calling: the admin key (``Authorization: Bearer``), an API key (``x-api-key``), or AWS
Signature Version 4 made with a key id and its secret (what boto3 sends).

``authenticate`` returns a Caller or raises Unauthorized with a reason meant for the logs; the
HTTP answer stays a plain 403. API keys then pass their usage plan (``admit``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from faas.exceptions import Unauthorized
from faas.keys import ApiKey
from faas.runtime import Runtime
from gateway import sigv4
from gateway.asgi import fold_headers

ADMIN = "admin"


class MissingCredentials(Unauthorized):
    """The request carried no credentials at all."""


@dataclass(frozen=True, slots=True)
class Caller:
    """``id`` is what metering records: "admin", an API key id, or an internal function key id."""

    id: str
    key: ApiKey | None = None

    @property
    def is_admin(self) -> bool:
        return self.id == ADMIN


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_admin(conn: HTTPConnection, admin_key: str) -> bool:
    token = bearer_token(conn)
    return token is not None and _is_admin_token(token, admin_key)


def _is_admin_token(token: str, admin_key: str) -> bool:
    return bool(admin_key) and hmac.compare_digest(token.encode(), admin_key.encode())


def authenticate(
    runtime: Runtime,
    scope: Mapping[str, Any],
    body: bytes,
    *,
    services: tuple[str, ...] = (),
    query_key: str | None = None,
    allow_admin: bool = True,
) -> Caller:
    """Identify the caller from the admin key, SigV4 (for ``services``), ``x-api-key`` or a query key.

    With ``allow_admin=False`` the Authorization header is not read at all: on user routes it
    belongs to the application behind them.
    """
    headers = fold_headers(scope["headers"])
    authorization = headers.get("authorization", "") if allow_admin or services else ""
    if allow_admin and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if allow_admin and _is_admin_token(token, runtime.admin_key):
            return Caller(ADMIN)
        raise Unauthorized("the bearer token is not the admin key")
    if services and sigv4.looks_signed(headers):
        return _sigv4_caller(runtime, scope, headers, body, services)
    secret = headers.get("x-api-key")
    if secret is None and query_key is not None:
        secret = _query_param(scope, query_key)
    if secret:
        key = runtime.keys.by_secret(secret)
        if key is None:
            raise Unauthorized("unknown or revoked API key")
        return Caller(key.id, key)
    raise MissingCredentials("no credentials: send x-api-key, a SigV4 signature or the admin key")


def _sigv4_caller(
    runtime: Runtime, scope: Mapping[str, Any], headers: dict[str, str], body: bytes, services: tuple[str, ...]
) -> Caller:
    credential = sigv4.parse_authorization(headers.get("authorization", ""))
    if credential.service not in services:
        raise sigv4.SigV4Error(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: {' or '.join(repr(s) for s in services)}.",
        )
    found = runtime.keys.by_id(credential.access_key_id)
    if found is None:
        raise sigv4.SigV4Error("UnrecognizedClientException", "The security token included in the request is invalid.")
    key, secret = found
    raw_path = scope.get("raw_path") or scope["path"].encode()
    sigv4.verify(
        method=scope["method"],
        raw_path=raw_path.decode("latin-1"),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
        secret=secret,
        credential=credential,
    )
    return Caller(key.id, key)


def _query_param(scope: Mapping[str, Any], name: str) -> str | None:
    from urllib.parse import parse_qsl

    query: bytes = scope.get("query_string", b"")
    for k, v in parse_qsl(query.decode("latin-1")):
        if k == name:
            return v
    return None


async def admit(runtime: Runtime, caller: Caller) -> None:
    """Apply the caller's usage plan (admin and internal keys have none)."""
    if caller.key is not None and not caller.key.internal:
        await runtime.limiter.admit(caller.key)
