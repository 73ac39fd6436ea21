"""Every error the core raises on purpose.

    FaaSError
    ├── ConfigError (ValueError)          config.toml or a CLI argument is invalid; names the key path
    ├── FunctionNotFound (LookupError)    no function with that name
    ├── InvalidRequest (ValueError)       a request the core refuses (e.g. payload not JSON)
    ├── PayloadTooLarge (ValueError)      a request or response over its size limit
    ├── RequestTimeout                    a client sent its body too slowly
    ├── Throttled                         a concurrency cap held for longer than queue_wait_ms
    ├── ExecutorUnavailable               the worker pool is stopped or could not start a worker
    ├── StoreError                        the SQLite store failed
    ├── KeyNotFound (LookupError)         no API key with that id
    ├── Unauthorized                      missing, unknown or revoked credentials
    ├── RateLimited                       an API key is over its plan's rate (token bucket)
    └── QuotaExceeded                     an API key used up its plan's quota for the period

The core never speaks HTTP: the gateway maps these to responses in one table (gateway/errors.py),
and the CLI maps them to exit codes.
"""

from __future__ import annotations


class FaaSError(Exception):
    """Base class of every error the core raises on purpose."""


class ConfigError(FaaSError, ValueError):
    """The configuration is invalid. The message names the key path, the value and what is allowed."""


class FunctionNotFound(FaaSError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Function not found: {name}")
        self.name = name


class InvalidRequest(FaaSError, ValueError):
    """A request the core refuses as malformed."""


class PayloadTooLarge(FaaSError, ValueError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"payload of {size} bytes is over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class Throttled(FaaSError):
    """No worker could be had within queue_wait_ms: the function or the server is at its cap."""

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(f"{function}: {reason}")
        self.function = function
        self.reason = reason


class ExecutorUnavailable(FaaSError):
    """The executor is shutting down or failed to start a worker."""


class StoreError(FaaSError):
    """The store could not read or write."""


class KeyNotFound(FaaSError, LookupError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key not found: {key_id}")
        self.key_id = key_id


class Unauthorized(FaaSError):
    """The caller presented no valid credentials. The message says why, for logs; clients see less."""


class RateLimited(FaaSError):
    def __init__(self, key_id: str, retry_after: float) -> None:
        super().__init__(f"API key {key_id} is over its rate limit")
        self.key_id = key_id
        self.retry_after = retry_after


class QuotaExceeded(FaaSError):
    def __init__(self, key_id: str, quota: int, period: str) -> None:
        super().__init__(f"API key {key_id} used its quota of {quota} requests per {period}")
        self.key_id = key_id


class RequestTimeout(FaaSError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request body did not arrive within {seconds:g} s")
        self.seconds = seconds
