"""Every error the core raises on purpose, and nowhere else.

    FaaSError
    ├── ConfigError (ValueError)          config.toml or a CLI argument is invalid; names the key path
    ├── FunctionNotFound (LookupError)    no function with that name
    ├── InvalidRequest (ValueError)       a request the core refuses (e.g. payload not JSON)
    │   └── BucketKeyError                an object key that may not be used; the message says why
    ├── PayloadTooLarge (ValueError)      a request or response over its size limit
    ├── RequestTimeout                    a client sent its body too slowly
    ├── Throttled                         a concurrency cap held for longer than queue_wait_ms
    ├── ExecutorUnavailable               the worker pool is stopped or could not start a worker
    ├── EnvironmentNotReady               a function's environment is still building, or its build failed
    ├── PackageError (ValueError)         a code package, layer or requirements file is refused; names the file
    │   └── RequirementsError             a requirements file does not parse (file, line, why)
    ├── BuildFailed                       uv could not build a dependency set; carries the resolver's message
    ├── StoreError                        the SQLite store failed
    ├── SecretBoxError                    the master key is missing or unreadable, or a secret does not decrypt
    ├── KeyNotFound (LookupError)         no API key with that id
    ├── ScheduleNotFound (LookupError)    no schedule with that name
    ├── ScheduleConflict                  the schedule's state refuses the request (disabled, busy)
    └── Refused                           a door turns the caller away (gateway/auth.py ``authorize``)
        ├── Unauthorized                  missing, unknown or revoked credentials
        │   └── MissingCredentials        no credentials at all
        ├── RateLimited                   an API key is over its plan's rate (token bucket)
        └── QuotaExceeded                 an API key used up its plan's quota for the period

The core never speaks HTTP: the gateway maps these to responses in one table per response style
(gateway/errors.py), and the CLI maps them to exit codes.
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


class BucketKeyError(InvalidRequest):
    """A bucket object key that may not be used (faas/buckets.py): the message says why."""


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


class EnvironmentNotReady(FaaSError):
    """A function cannot run yet: its environment is being built (``failed=False``) or its last build
    failed and no earlier version of it can serve (``failed=True``)."""

    def __init__(self, function: str, reason: str, *, failed: bool = False) -> None:
        super().__init__(f"{function}: {reason}")
        self.function = function
        self.reason = reason
        self.failed = failed

    @property
    def state(self) -> str:
        """The function's state as Lambda names it."""
        return "Failed" if self.failed else "Pending"


class PackageError(FaaSError, ValueError):
    """A code package, layer or requirements file is refused. The message names the function (or
    layer), the file and the problem."""


class RequirementsError(PackageError):
    """A requirements file does not parse: the message names the file, the line and why."""


class BuildFailed(FaaSError):
    """Building a dependency set failed; the message is the resolver's own."""


class StoreError(FaaSError):
    """The store could not read or write."""


class SecretBoxError(FaaSError):
    """The master key is missing or unreadable, or a ciphertext does not decrypt."""


class KeyNotFound(FaaSError, LookupError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key not found: {key_id}")
        self.key_id = key_id


class ScheduleNotFound(FaaSError, LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no schedule named {name!r} (known: {', '.join(known) or 'none are configured'})")
        self.name = name


class ScheduleConflict(FaaSError):
    """The request does not fit the schedule's state (resume a disabled one, run one that is busy)."""


class Refused(FaaSError):
    """A door turns the caller away: what ``authorize`` raises, answered by each door's error table."""


class Unauthorized(Refused):
    """The caller presented no valid credentials. The message says why, for logs; clients see less."""


class MissingCredentials(Unauthorized):
    """The request carried no credentials at all (the Lambda API answers this one in its own words)."""


class RateLimited(Refused):
    def __init__(self, key_id: str, retry_after: float) -> None:
        super().__init__(f"API key {key_id} is over its rate limit")
        self.key_id = key_id
        self.retry_after = retry_after


class QuotaExceeded(Refused):
    def __init__(self, key_id: str, quota: int, period: str) -> None:
        super().__init__(f"API key {key_id} used its quota of {quota} requests per {period}")
        self.key_id = key_id


class RequestTimeout(FaaSError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request body did not arrive within {seconds:g} s")
        self.seconds = seconds
