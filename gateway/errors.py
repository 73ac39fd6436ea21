"""Core exceptions mapped to responses: one table per response style, and no mapping anywhere else.

Three styles, because three kinds of client read them:

- API Gateway, ``{"message": ...}`` (``GATEWAY_ERRORS``): HTTP routes from ``[[routes]]``, the
  bucket API and the WebSocket API. A refused WebSocket is closed before the upgrade (uvicorn
  answers 403); an error in a message is a frame in this style (gateway/websocket.py).
- AWS service errors, ``{"Type": "User"|"Service", "message": ...}`` with ``x-amzn-ErrorType``, which
  boto3 turns into its exception classes: the Lambda Invoke API (``LAMBDA_ERRORS``) and the
  @connections API (``CONNECTIONS_ERRORS``: it is API Gateway's management API, so it answers in
  that service's error codes, in the same shape).
- Admin (``ADMIN_ERRORS``): ``/admin/api/*`` and ``/metrics`` answer ``{"message": str(exc)}``
  (Starlette's compact JSON); the admin pages show the same status with a title and a sentence.

A row is found along the exception's MRO, so a subclass answers as its parent unless it has a row
of its own (``MissingCredentials`` before ``Unauthorized``). An exception no row covers is a bug
or an outage, never the client's fault: 500.

Why functions, not Starlette exception handlers: the platform app answers in all three styles
from one router, and the HTTP routes and the WebSocket API are pure ASGI in front of it, so no
handler registered per app could tell which style a request wants. Each door calls its style's
function with what it caught instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.responses import JSONResponse, Response

from faas.exceptions import (
    BucketKeyError,
    ConfigError,
    EnvironmentNotReady,
    ExecutorUnavailable,
    FaaSError,
    FunctionNotFound,
    InvalidRequest,
    KeyNotFound,
    MissingCredentials,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
    RequestTimeout,
    ScheduleConflict,
    ScheduleNotFound,
    Throttled,
    Unauthorized,
)
from gateway.asgi import json_message
from gateway.sigv4 import SigV4Error

__all__ = [
    "ADMIN_ERRORS",
    "CONNECTIONS_ERRORS",
    "GATEWAY_ERRORS",
    "LAMBDA_ERRORS",
    "AdminError",
    "AwsError",
    "GatewayError",
    "PageError",
    "admin_error",
    "aws_error",
    "connections_error",
    "gateway_error",
    "gateway_error_asgi",
    "lambda_error",
    "page_error",
    "retry_after_header",
]

WAIT = "wait"  # Retry-After: how long the API key's token bucket needs (RateLimited), else 1 s


@dataclass(frozen=True, slots=True)
class GatewayError:
    status: int
    message: str | None  # None: the exception's own message, written for the client
    retry_after: str | None = None  # "1" or WAIT; None: no Retry-After header


@dataclass(frozen=True, slots=True)
class AwsError:
    status: int
    code: str  # x-amzn-ErrorType; like ``message``, formatted with the exception as ``exc``
    message: str
    reason: str | None = None  # the "Reason" field of a throttling error
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class AdminError:
    status: int
    title: str  # the heading of the admin pages' error page
    sentence: Callable[[Any], str] = str  # what that page says about the exception


# --- API Gateway: {"message": ...} ----------------------------------------------------------------

GATEWAY_ERRORS: dict[type[Exception], GatewayError] = {
    Unauthorized: GatewayError(403, "Forbidden"),  # the reason is logged (gateway/auth.py), never shown
    SigV4Error: GatewayError(403, "Forbidden"),  # these doors take no SigV4; a row so the table is whole
    RateLimited: GatewayError(429, "Too Many Requests", WAIT),
    QuotaExceeded: GatewayError(429, "Limit Exceeded"),
    Throttled: GatewayError(429, "Too Many Requests", "1"),
    PayloadTooLarge: GatewayError(413, "Request Too Long"),
    RequestTimeout: GatewayError(408, "Request Timeout"),
    BucketKeyError: GatewayError(400, None),
    InvalidRequest: GatewayError(400, "Bad Request"),
    FunctionNotFound: GatewayError(500, "Internal server error"),  # a route to a missing function is ours
    ConfigError: GatewayError(500, "Internal server error"),
    ExecutorUnavailable: GatewayError(503, "Service Unavailable"),
    EnvironmentNotReady: GatewayError(503, "Service Unavailable", "5"),  # the reason is logged
}
_GATEWAY_DEFAULT = GatewayError(500, "Internal server error")


def gateway_error(exc: FaaSError | SigV4Error, request_id: str | None = None) -> Response:
    """The API Gateway answer to ``exc`` as a Starlette response (the bucket API)."""
    status, message, headers = _gateway(exc)
    out = dict(headers)
    if request_id:
        out["x-amzn-RequestId"] = request_id
    return Response(json.dumps({"message": message}), status, out, media_type="application/json")


def gateway_error_asgi(exc: FaaSError | SigV4Error, request_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The API Gateway answer to ``exc`` for the pure-ASGI hot path (HTTP routes)."""
    status, message, headers = _gateway(exc)
    extra = [(name.lower().encode(), value.encode()) for name, value in headers]
    return json_message(status, message, request_id, extra)


def _gateway(exc: FaaSError | SigV4Error) -> tuple[int, str, list[tuple[str, str]]]:
    row = _lookup(GATEWAY_ERRORS, exc, _GATEWAY_DEFAULT)
    headers = [("Retry-After", _retry_after(row.retry_after, exc))] if row.retry_after else []
    return row.status, str(exc) if row.message is None else row.message, headers


# --- AWS service errors: {"Type", "message"} and x-amzn-ErrorType ---------------------------------

LAMBDA_ERRORS: dict[type[Exception], AwsError] = {
    MissingCredentials: AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
    Unauthorized: AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid."),
    SigV4Error: AwsError(403, "{exc.code}", "{exc.message}"),
    RateLimited: AwsError(429, "TooManyRequestsException", "Rate Exceeded.", "CallerRateLimitExceeded", WAIT),
    QuotaExceeded: AwsError(429, "TooManyRequestsException", "Limit Exceeded", "CallerQuotaExceeded", "1"),
    Throttled: AwsError(429, "TooManyRequestsException", "Rate Exceeded.",
                        "ReservedFunctionConcurrentInvocationLimitExceeded", "1"),
    PayloadTooLarge: AwsError(413, "RequestEntityTooLargeException",
                              "Request must be smaller than {exc.limit} bytes for the InvokeFunction operation"),
    FunctionNotFound: AwsError(404, "ResourceNotFoundException", "{exc}"),
    InvalidRequest: AwsError(400, "InvalidRequestContentException", "{exc}"),
    ConfigError: AwsError(400, "InvalidParameterValueException", "{exc}"),
    ExecutorUnavailable: AwsError(500, "ServiceException", "{exc}"),
    # Lambda's answer to a call on a function that is Pending (or Failed): 409, with the state.
    EnvironmentNotReady: AwsError(409, "ResourceConflictException",
                                  "The operation cannot be performed at this time. The function is currently in "
                                  "the following state: {exc.state}. {exc.reason}", "EnvironmentNotReady"),
}
_LAMBDA_DEFAULT = AwsError(500, "ServiceException", "{exc}")

CONNECTIONS_ERRORS: dict[type[Exception], AwsError] = {
    Unauthorized: AwsError(403, "ForbiddenException", "Forbidden"),
    SigV4Error: AwsError(403, "ForbiddenException", "{exc.message}"),
    RateLimited: AwsError(429, "LimitExceededException", "Too Many Requests", retry_after="1"),
    QuotaExceeded: AwsError(429, "LimitExceededException", "Too Many Requests", retry_after="1"),
}
_CONNECTIONS_DEFAULT = AwsError(500, "InternalFailure", "{exc}")  # AWS's common code for its own failures


def lambda_error(exc: FaaSError | SigV4Error, request_id: str | None = None) -> Response:
    """The Lambda API's answer to ``exc``."""
    return _aws(_lookup(LAMBDA_ERRORS, exc, _LAMBDA_DEFAULT), exc, request_id)


def connections_error(exc: FaaSError | SigV4Error) -> Response:
    """The @connections API's answer to ``exc`` (API Gateway's management API sends no request id)."""
    return _aws(_lookup(CONNECTIONS_ERRORS, exc, _CONNECTIONS_DEFAULT), exc, None)


def _aws(row: AwsError, exc: Exception, request_id: str | None) -> Response:
    extra = {"Reason": row.reason} if row.reason else {}
    retry_after = _retry_after(row.retry_after, exc) if row.retry_after else None
    return aws_error(row.status, row.code.format(exc=exc), row.message.format(exc=exc), request_id,
                     retry_after=retry_after, **extra)


def aws_error(status: int, code: str, message: str, request_id: str | None = None, *,
              retry_after: str | None = None, **extra: str) -> Response:
    """An AWS service error: also for the answers no exception stands behind (410 Gone, a bad header)."""
    headers = {"x-amzn-ErrorType": code}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = {"Type": "User" if status < 500 else "Service", "message": message, **extra}
    return Response(json.dumps(body), status, headers, media_type="application/json")


# --- admin: the JSON API, /metrics and the admin pages ----------------------------------------------


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return f"{text[:1].upper()}{text[1:]}."


ADMIN_ERRORS: dict[type[Exception], AdminError] = {
    Unauthorized: AdminError(401, "Unauthorized"),  # the message is the door's hint (admin_error)
    SigV4Error: AdminError(401, "Unauthorized"),  # admin doors take no SigV4; a row so the table is whole
    InvalidRequest: AdminError(400, "Not done"),
    KeyNotFound: AdminError(404, "No such API key", lambda exc: f"There is no API key {exc.key_id!r}."),
    FunctionNotFound: AdminError(404, "No such function",
                                 lambda exc: f"There is no function called {exc.name!r} in the config."),
    ScheduleNotFound: AdminError(404, "No such schedule"),
    ScheduleConflict: AdminError(409, "Not done", _sentence),
}
_ADMIN_DEFAULT = AdminError(500, "Something went wrong")

ADMIN_KEY_HINT = "Unauthorized: send the admin key as Authorization: Bearer <key>"


def admin_error(exc: FaaSError | SigV4Error, *, hint: str = ADMIN_KEY_HINT) -> Response:
    """The admin JSON answer to ``exc``. A refused caller reads ``hint``: how to get in at this door."""
    row = _lookup(ADMIN_ERRORS, exc, _ADMIN_DEFAULT)
    if row.status == 401:
        return JSONResponse({"message": hint}, 401, headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse({"message": str(exc)}, row.status)


@dataclass(frozen=True, slots=True)
class PageError:
    status: int
    title: str
    message: str


def page_error(exc: FaaSError) -> PageError:
    """What the admin pages' error page shows for ``exc`` (gateway/admin/pages.py ``Admin.fail``)."""
    row = _lookup(ADMIN_ERRORS, exc, _ADMIN_DEFAULT)
    return PageError(row.status, row.title, row.sentence(exc))


# --- shared -----------------------------------------------------------------------------------------

_Row = TypeVar("_Row")


def _lookup(table: Mapping[type[Exception], _Row], exc: Exception, default: _Row) -> _Row:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return default


def _retry_after(policy: str, exc: Exception) -> str:
    if policy == WAIT and isinstance(exc, RateLimited):
        return retry_after_header(exc.retry_after)
    return "1"


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1: Retry-After takes no fractions, and 0 would invite a retry storm."""
    return str(max(1, math.ceil(seconds)))
