"""Who is calling, and may they come in: one ``authorize`` for every door.

Credentials are the admin key (``Authorization: Bearer``), an API key (``x-api-key``, or a query
parameter where a browser cannot set headers), or AWS Signature Version 4 made with a key id and its
secret (what boto3 sends). A ``Door`` says which of them it takes. An API key then passes its usage
plan (rate and quota).

``authorize`` returns a Caller or raises one of ``REFUSALS``: Unauthorized (its reason goes to the
log, never to the client), SigV4Error (in AWS's words, which the client does see), RateLimited or
QuotaExceeded. Each door answers them from its table in gateway/errors.py.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Scope

from faas.exceptions import MissingCredentials, Refused, Unauthorized
from faas.keys import ApiKey
from faas.runtime import Runtime
from gateway import sigv4
from gateway.asgi import fold_headers

log = logging.getLogger(__name__)

ADMIN = "admin"

REFUSALS: tuple[type[Refused], type[sigv4.SigV4Error]] = (Refused, sigv4.SigV4Error)


@dataclass(frozen=True, slots=True, kw_only=True)
class Door:
    """The credentials one door takes."""

    name: str  # for the log
    admin: bool = True  # the admin key as Authorization: Bearer
    api_key: bool = True  # an API key; False: the admin key and nothing else
    services: tuple[str, ...] = ()  # SigV4, scoped to one of these services
    query_key: str | None = None  # an API key may come in this query parameter


ROUTES = Door(name="route", admin=False)  # Authorization belongs to the application behind the route
INVOKE_API = Door(name="Invoke API", services=("lambda",))
BUCKETS = Door(name="bucket")
CONNECTIONS = Door(name="@connections", services=("execute-api",))
WEBSOCKETS = Door(name="websocket", admin=False, query_key="api_key")  # a browser cannot set headers
ADMIN_ONLY = Door(name="admin", api_key=False)


@dataclass(frozen=True, slots=True)
class Caller:
    """``id`` is what metering records: "admin", an API key id, or an internal function key id."""

    id: str
    key: ApiKey | None = None

    @property
    def is_admin(self) -> bool:
        return self.id == ADMIN


async def authorize(runtime: Runtime, scope: Scope, door: Door, body: bytes = b"") -> Caller:
    """The caller at ``door``, once their credentials check out and their usage plan lets this request
    through; ``body`` is what a SigV4 signature covers. Raises one of ``REFUSALS``."""
    try:
        caller = _identify(runtime, scope, door, body)
        if caller.key is not None and not caller.key.internal:  # admin and internal keys have no plan
            await runtime.limiter.admit(caller.key)
    except Unauthorized as exc:
        log.info("%s %s: refused: %s", door.name, scope.get("path", ""), exc)
        raise
    return caller


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


def _identify(runtime: Runtime, scope: Scope, door: Door, body: bytes) -> Caller:
    """The caller from the admin key, SigV4 (for ``door.services``), ``x-api-key`` or a query key.

    At a door that takes no admin key the Authorization header is not read at all: on user routes
    it belongs to the application behind them.
    """
    if not door.api_key:
        if is_admin(HTTPConnection(scope), runtime.admin_key):
            return Caller(ADMIN)
        raise Unauthorized("this door takes the admin key only")
    headers = fold_headers(scope["headers"])
    authorization = headers.get("authorization", "") if door.admin or door.services else ""
    if door.admin and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if _is_admin_token(token, runtime.admin_key):
            return Caller(ADMIN)
        raise Unauthorized("the bearer token is not the admin key")
    if door.services and sigv4.looks_signed(headers):
        return _sigv4_caller(runtime, scope, headers, body, door.services)
    secret = headers.get("x-api-key")
    if secret is None and door.query_key is not None:
        secret = _query_param(scope, door.query_key)
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
