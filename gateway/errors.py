"""Core exceptions mapped to responses, in one place.

Two flavours: API Gateway style (``{"message": ...}``) for HTTP routes, and the AWS service error
shape (``{"Type": "User", "message": ...}`` plus ``x-amzn-ErrorType``) for the Lambda Invoke API.
"""

from __future__ import annotations

import json

from starlette.responses import Response

from faas.exceptions import (
    ConfigError,
    ExecutorUnavailable,
    FaaSError,
    FunctionNotFound,
    InvalidRequest,
    PayloadTooLarge,
    Throttled,
)

# exception type -> (HTTP status, API Gateway message)
GATEWAY_ERRORS: dict[type[FaaSError], tuple[int, str]] = {
    FunctionNotFound: (500, "Internal server error"),
    Throttled: (429, "Too Many Requests"),
    PayloadTooLarge: (413, "Request Too Long"),
    InvalidRequest: (400, "Bad Request"),
    ExecutorUnavailable: (503, "Service Unavailable"),
    ConfigError: (500, "Internal server error"),
}

# exception type -> (HTTP status, AWS error code)
LAMBDA_ERRORS: dict[type[FaaSError], tuple[int, str]] = {
    FunctionNotFound: (404, "ResourceNotFoundException"),
    Throttled: (429, "TooManyRequestsException"),
    PayloadTooLarge: (413, "RequestEntityTooLargeException"),
    InvalidRequest: (400, "InvalidRequestContentException"),
    ExecutorUnavailable: (500, "ServiceException"),
    ConfigError: (400, "InvalidParameterValueException"),
}


def lookup(table: dict[type[FaaSError], tuple[int, str]], exc: FaaSError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return 500, "Internal server error" if table is GATEWAY_ERRORS else "ServiceException"


def gateway_message(status: int, message: str, request_id: str | None = None, headers: dict[str, str] | None = None) -> Response:
    out = dict(headers or {})
    if request_id:
        out["x-amzn-RequestId"] = request_id
    return Response(json.dumps({"message": message}), status, out, media_type="application/json")


def gateway_error(exc: FaaSError, request_id: str | None = None) -> Response:
    status, message = lookup(GATEWAY_ERRORS, exc)
    headers = {"Retry-After": "1"} if isinstance(exc, Throttled) else None
    return gateway_message(status, message, request_id, headers)


def aws_error(
    status: int, code: str, message: str, request_id: str | None = None, *, retry_after: str = "1", **extra: str
) -> Response:
    headers = {"x-amzn-ErrorType": code}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    if status == 429:
        headers["Retry-After"] = retry_after
    body = {"Type": "User" if status < 500 else "Service", "message": message, **extra}
    return Response(json.dumps(body), status, headers, media_type="application/json")


def lambda_error(exc: FaaSError, request_id: str | None = None) -> Response:
    status, code = lookup(LAMBDA_ERRORS, exc)
    if isinstance(exc, Throttled):
        return aws_error(status, code, "Rate Exceeded.", request_id,
                         Reason="ReservedFunctionConcurrentInvocationLimitExceeded")
    if isinstance(exc, PayloadTooLarge):
        return aws_error(status, code, f"Request must be smaller than {exc.limit} bytes for the InvokeFunction operation", request_id)
    return aws_error(status, code, str(exc), request_id)
