"""``config.toml`` parsed once at the edge into frozen dataclasses, validated with precise messages.

Every error names the key path, the bad value and what is allowed, e.g.
``functions.hello.memory = 64: must be an integer from 128 to 10240``. Paths in the file are
relative to the file itself.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from faas.exceptions import ConfigError
from faas.expressions import ScheduleExpressionError, parse_expression

__all__ = [
    "Config",
    "ServerConfig",
    "ExecutorConfig",
    "FunctionConfig",
    "RouteConfig",
    "BillingConfig",
    "UsagePlanConfig",
    "WebSocketConfig",
    "ScheduleConfig",
    "BucketConfig",
    "load_config",
    "parse_config",
]

FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A route path parameter, {name} or greedy {name+}; the gateway matches and documents routes with it.
ROUTE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
AUTH_MODES = ("none", "api_key")
# Paths the platform itself serves; user routes may not shadow them.
RESERVED_PREFIXES = ("/2015-03-31/", "/healthz", "/admin", "/metrics", "/openapi.json", "/buckets")
# Variables the platform sets for every worker; a function may not override them.
RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "TMPDIR",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "FAAS_BUCKETS_DIR",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path
    functions_dir: Path
    max_body_bytes: int = 6 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    body_timeout: float = 30.0
    region: str = "us-east-1"
    account_id: str = "000000000000"
    access_log: bool = False
    metrics_auth: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorConfig:
    max_workers: int = 64
    idle_timeout: float = 600.0
    queue_wait_ms: int = 1000
    init_timeout: float = 10.0
    preload: tuple[str, ...] = ()
    log_cap_bytes: int = 256 * 1024
    max_processes: int = 1024
    max_open_files: int = 1024
    max_file_bytes: int = 512 * 1024 * 1024
    user: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionConfig:
    name: str
    handler: str
    memory: int = 128
    timeout: float = 3.0
    concurrency: int = 10
    environment: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    # Asynchronous invocation (faas/asyncq.py): retries after a failed try, and how old an event may get.
    max_retries: int = 2
    retry_base_delay: float = 60.0
    max_event_age: float = 21600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteConfig:
    method: str
    path: str
    function: str
    auth: str = "none"
    asynchronous: bool = False  # `async = true`: answer 202 once the event is queued

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UsagePlanConfig:
    """Throttle (token bucket: ``rate`` per second, ``burst`` size) and quota per API key."""

    name: str
    rate: float | None = None
    burst: int | None = None
    quota: int | None = None
    quota_period: str = "month"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketConfig:
    """An API Gateway WebSocket API at ``path``; its stage is the path without the leading slash."""

    path: str
    route_selection: str = "$request.body.action"
    routes: Mapping[str, str] = field(default_factory=dict)  # route key -> function
    auth: str = "none"

    @property
    def stage(self) -> str:
        return self.path.lstrip("/")

    @property
    def selection_path(self) -> tuple[str, ...]:
        return tuple(self.route_selection[len("$request.body.") :].split("."))


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingConfig:
    """Lambda's prices (x86, first tier) and monthly free tier; how durations are rounded."""

    price_per_request: Decimal = Decimal("0.0000002")
    price_per_gb_second: Decimal = Decimal("0.0000166667")
    free_requests: int = 1_000_000
    free_gb_seconds: int = 400_000
    granularity_ms: int = 1
    bill_init: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleConfig:
    """A ``[[schedules]]`` entry: fire ``function`` on ``expression`` (see faas/expressions.py)."""

    name: str
    expression: str
    function: str
    input: str | None = None  # constant JSON event, in place of the EventBridge Scheduled Event
    enabled: bool = True
    timezone: str = "UTC"
    max_concurrency: int = 1
    misfire_grace_seconds: float = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketConfig:
    """A ``[[buckets]]`` entry: the folder ``data_dir/buckets/NAME`` announced like S3 notifications."""

    name: str
    function: str | None = None  # None: a plain bucket, nothing is announced
    events: tuple[str, ...] = ("s3:ObjectCreated:*",)
    prefix: str = ""
    suffix: str = ""
    auth: str = "api_key"
    settle_seconds: float = 1.0
    max_object_bytes: int = 100 * 1024 * 1024

    def wants(self, event_name: str, key: str) -> bool:
        """Whether an event ``ObjectCreated:Put`` / ``ObjectRemoved:Delete`` on ``key`` is announced."""
        if self.function is None or not key.startswith(self.prefix) or not key.endswith(self.suffix):
            return False
        kind = event_name.split(":", 1)[0]
        return f"s3:{event_name}" in self.events or f"s3:{kind}:*" in self.events


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    path: Path
    server: ServerConfig
    executor: ExecutorConfig
    functions: Mapping[str, FunctionConfig]
    routes: tuple[RouteConfig, ...]
    usage_plans: Mapping[str, UsagePlanConfig] = field(default_factory=dict)
    websockets: tuple[WebSocketConfig, ...] = ()
    billing: BillingConfig = field(default_factory=BillingConfig)
    schedules: tuple[ScheduleConfig, ...] = ()
    buckets: tuple[BucketConfig, ...] = ()


# --- reading helpers ---------------------------------------------------------------------------


class _Table:
    """A TOML table read key by key; whatever is left unread at the end is an unknown key."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: must be a table, got {_show(data)}")
        self.data = dict(data)
        self.where = where

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def _take(self, name: str, default: Any) -> Any:
        return self.data.pop(name, default)

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        if required and name not in self.data:
            raise ConfigError(f"{self.key(name)}: missing, a string is required")
        value = self._take(name, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)} = {_show(value)}: must be a string")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        if value not in options:
            allowed = ", ".join(repr(o) for o in options)
            raise ConfigError(f"{self.key(name)} = {_show(value)}: must be one of {allowed}")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self._take(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ConfigError(f"{self.key(name)} = {_show(value)}: must be an integer from {lo} to {hi}")
        return value

    def number(self, name: str, default: float, lo: float, hi: float) -> float:
        value = self._take(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ConfigError(f"{self.key(name)} = {_show(value)}: must be a number from {lo:g} to {hi:g}")
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self._take(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)} = {_show(value)}: must be true or false")
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        value = self._take(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.key(name)} = {_show(value)}: must be a list of strings")
        return tuple(value)

    def decimal(self, name: str, default: Decimal) -> Decimal:
        """A non-negative amount, exact: a TOML number or a string like "0.0000166667"."""
        value = self._take(name, default)
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
                raise InvalidOperation
            amount = Decimal(str(value))
            if not amount.is_finite() or amount < 0:
                raise InvalidOperation
        except InvalidOperation:
            raise ConfigError(f"{self.key(name)} = {_show(value)}: must be a number of 0 or more") from None
        return amount

    def table(self, name: str) -> "_Table":
        return _Table(self._take(name, {}), self.key(name))

    def done(self) -> None:
        if self.data:
            name = sorted(self.data)[0]
            raise ConfigError(f"{self.key(name)}: unknown key")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list" if value else "[]"
    return repr(value)


# --- sections ----------------------------------------------------------------------------------


def _server(t: _Table, base: Path) -> ServerConfig:
    server = ServerConfig(
        host=t.string("host", "127.0.0.1"),
        port=t.integer("port", 8080, 0, 65535),
        data_dir=(base / t.string("data_dir", "data")).resolve(),
        functions_dir=(base / t.string("functions_dir", "functions")).resolve(),
        max_body_bytes=t.integer("max_body_bytes", 6 * 1024 * 1024, 1, 1024 * 1024 * 1024),
        max_header_bytes=t.integer("max_header_bytes", 16 * 1024, 1024, 1024 * 1024),
        body_timeout=t.number("body_timeout", 30.0, 1, 3600),
        region=t.string("region", "us-east-1"),
        account_id=t.string("account_id", "000000000000"),
        access_log=t.boolean("access_log", False),
        metrics_auth=t.boolean("metrics_auth", True),
    )
    if not re.fullmatch(r"\d{12}", server.account_id):
        raise ConfigError(f'server.account_id = "{server.account_id}": must be 12 digits')
    t.done()
    return server


def _executor(t: _Table) -> ExecutorConfig:
    user = t.string("user", "")
    executor = ExecutorConfig(
        max_workers=t.integer("max_workers", 64, 1, 10000),
        idle_timeout=t.number("idle_timeout", 600.0, 1, 86400),
        queue_wait_ms=t.integer("queue_wait_ms", 1000, 0, 900_000),
        init_timeout=t.number("init_timeout", 10.0, 1, 900),
        preload=t.strings("preload"),
        log_cap_bytes=t.integer("log_cap_bytes", 256 * 1024, 1024, 64 * 1024 * 1024),
        max_processes=t.integer("max_processes", 1024, 1, 1_000_000),
        max_open_files=t.integer("max_open_files", 1024, 16, 1_000_000),
        max_file_bytes=t.integer("max_file_bytes", 512 * 1024 * 1024, 1024, 1 << 50),
        user=user or None,
    )
    t.done()
    return executor


def _billing(t: _Table) -> BillingConfig:
    billing = BillingConfig(
        price_per_request=t.decimal("price_per_request", Decimal("0.0000002")),
        price_per_gb_second=t.decimal("price_per_gb_second", Decimal("0.0000166667")),
        free_requests=t.integer("free_requests", 1_000_000, 0, 10**15),
        free_gb_seconds=t.integer("free_gb_seconds", 400_000, 0, 10**15),
        granularity_ms=t.integer("granularity_ms", 1, 1, 60_000),
        bill_init=t.boolean("bill_init", True),
    )
    t.done()
    return billing


def _function(name: str, t: _Table) -> FunctionConfig:
    if not FUNCTION_NAME.match(name):
        raise ConfigError(f'functions."{name}": a function name must be 1-64 letters, digits, "-" or "_"')
    handler = t.string("handler", required=True)
    if not HANDLER.match(handler):
        raise ConfigError(
            f'{t.key("handler")} = "{handler}": must be module.attribute, e.g. "hello.handler" for '
            f"functions/hello.py or \"pkg.app.handler\" for functions/pkg/app.py"
        )
    env_table = t.table("environment")
    environment: dict[str, str] = {}
    for var, value in env_table.data.items():
        if var in RESERVED_ENV:
            raise ConfigError(f"{env_table.key(var)}: reserved, the platform sets it")
        if not ENV_NAME.match(var):
            raise ConfigError(f"{env_table.key(var)}: not a valid environment variable name")
        if not isinstance(value, str):
            raise ConfigError(f"{env_table.key(var)} = {_show(value)}: must be a string")
        environment[var] = value
    function = FunctionConfig(
        name=name,
        handler=handler,
        memory=t.integer("memory", 128, 128, 10240),
        timeout=t.number("timeout", 3.0, 1, 900),
        concurrency=t.integer("concurrency", 10, 1, 10000),
        environment=environment,
        description=t.string("description", ""),
        max_retries=t.integer("max_retries", 2, 0, 2),
        retry_base_delay=t.number("retry_base_delay", 60.0, 0, 21600),
        max_event_age=t.number("max_event_age", 21600.0, 1, 21600),
    )
    t.done()
    return function


def _route(i: int, data: Any, functions: Mapping[str, FunctionConfig]) -> RouteConfig:
    t = _Table(data, f"routes[{i}]")
    method = t.string("method", "ANY").upper()
    if method not in METHODS:
        raise ConfigError(f'{t.key("method")} = "{method}": must be one of {", ".join(METHODS)}')
    path = t.string("path", required=True)
    _check_route_path(t.key("path"), path)
    function = t.string("function", required=True)
    if function not in functions:
        known = ", ".join(sorted(functions)) or "none are configured"
        raise ConfigError(f'{t.key("function")} = "{function}": no such function (known: {known})')
    route = RouteConfig(method=method, path=path, function=function, auth=t.choice("auth", AUTH_MODES, "none"),
                        asynchronous=t.boolean("async", False))
    t.done()
    return route


def _check_route_path(key: str, path: str) -> None:
    if not path.startswith("/"):
        raise ConfigError(f'{key} = "{path}": must start with "/"')
    for prefix in RESERVED_PREFIXES:
        if path == prefix.rstrip("/") or path.startswith(prefix):
            raise ConfigError(f'{key} = "{path}": {prefix} is reserved for the platform')
    segments = path.strip("/").split("/") if path != "/" else []
    seen: set[str] = set()
    for i, segment in enumerate(segments):
        if "{" in segment or "}" in segment:
            m = ROUTE_PARAM.fullmatch(segment)
            if not m:
                raise ConfigError(f'{key} = "{path}": "{segment}" must be a whole segment like {{id}} or {{proxy+}}')
            if m.group(2) and i != len(segments) - 1:
                raise ConfigError(f'{key} = "{path}": a greedy {{{m.group(1)}+}} must be the last segment')
            if m.group(1) in seen:
                raise ConfigError(f'{key} = "{path}": parameter {{{m.group(1)}}} appears twice')
            seen.add(m.group(1))
        elif segment == "" and path != "/":
            raise ConfigError(f'{key} = "{path}": empty path segment')


QUOTA_PERIODS = ("day", "week", "month")
ROUTE_SELECTION = re.compile(r"^\$request\.body\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
WS_ROUTE_KEY = re.compile(r"^(\$connect|\$disconnect|\$default|[A-Za-z0-9_.:-]{1,128})$")


def _usage_plan(name: str, t: _Table) -> UsagePlanConfig:
    if not FUNCTION_NAME.match(name):
        raise ConfigError(f'usage_plans."{name}": a plan name must be 1-64 letters, digits, "-" or "_"')
    rate = t._take("rate", None)
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1_000_000):
        raise ConfigError(f"{t.key('rate')} = {_show(rate)}: must be a number of requests per second above 0")
    burst = t._take("burst", None)
    if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= 1_000_000):
        raise ConfigError(f"{t.key('burst')} = {_show(burst)}: must be an integer from 1 to 1000000")
    if burst is not None and rate is None:
        raise ConfigError(f"{t.key('burst')}: needs a rate as well")
    quota = t._take("quota", None)
    if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 1):
        raise ConfigError(f"{t.key('quota')} = {_show(quota)}: must be a positive integer (requests per period)")
    plan = UsagePlanConfig(
        name=name,
        rate=float(rate) if rate is not None else None,
        burst=burst if burst is not None else (max(1, int(-(-rate // 1))) if rate is not None else None),
        quota=quota,
        quota_period=t.choice("quota_period", QUOTA_PERIODS, "month"),
    )
    t.done()
    return plan


def _websocket(i: int, data: Any, functions: Mapping[str, FunctionConfig]) -> WebSocketConfig:
    t = _Table(data, f"websockets[{i}]")
    path = t.string("path", required=True)
    if not re.fullmatch(r"(/[A-Za-z0-9_.-]+)+", path):
        raise ConfigError(f'{t.key("path")} = "{path}": must be like "/ws": "/" and letters, digits, "_", "-", "."')
    for prefix in RESERVED_PREFIXES:
        if path == prefix.rstrip("/") or path.startswith(prefix):
            raise ConfigError(f'{t.key("path")} = "{path}": {prefix} is reserved for the platform')
    selection = t.string("route_selection", "$request.body.action")
    if not ROUTE_SELECTION.match(selection):
        raise ConfigError(
            f'{t.key("route_selection")} = "{selection}": must be $request.body.FIELD (dots for nested fields)'
        )
    routes_table = t.table("routes")
    routes: dict[str, str] = {}
    for key, function in routes_table.data.items():
        if not WS_ROUTE_KEY.match(key):
            raise ConfigError(f'{routes_table.key(key)}: not a valid route key (use $connect, $disconnect, $default or a name)')
        if not isinstance(function, str):
            raise ConfigError(f"{routes_table.key(key)} = {_show(function)}: must be a function name")
        if function not in functions:
            known = ", ".join(sorted(functions)) or "none are configured"
            raise ConfigError(f'{routes_table.key(key)} = "{function}": no such function (known: {known})')
        routes[key] = function
    ws = WebSocketConfig(path=path, route_selection=selection, routes=routes, auth=t.choice("auth", AUTH_MODES, "none"))
    t.done()
    return ws


# --- event sources: [[schedules]] and [[buckets]] ----------------------------------------------

SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BUCKET_EVENTS = ("s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete")
BUCKET_AUTH_MODES = ("api_key", "none")


def _array(raw: Any, name: str) -> list[Any]:
    if not isinstance(raw, list):
        raise ConfigError(f"{name}: must be an array of tables ([[{name}]])")
    return raw


def _function_ref(t: _Table, functions: Mapping[str, FunctionConfig], *, required: bool = True) -> str | None:
    if not required and "function" not in t.data:
        return None
    function = t.string("function", required=True)
    if function not in functions:
        known = ", ".join(sorted(functions)) or "none are configured"
        raise ConfigError(f'{t.key("function")} = "{function}": no such function (known: {known})')
    return function


def _named_entries(raw: Any, section: str, valid: Callable[[str], bool], rule: str) -> Iterator[tuple[_Table, str]]:
    """The tables of ``[[section]]``, each with its ``name``: valid (else ``rule`` says why) and unique."""
    seen: dict[str, int] = {}
    for i, data in enumerate(_array(raw, section)):
        t = _Table(data, f"{section}[{i}]")
        name = t.string("name", required=True)
        if not valid(name):
            raise ConfigError(f'{t.key("name")} = "{name}": {rule}')
        if name in seen:
            raise ConfigError(f'{t.key("name")} = "{name}": already used by {section}[{seen[name]}]')
        seen[name] = i
        yield t, name


def _schedules(raw: Any, functions: Mapping[str, FunctionConfig]) -> tuple[ScheduleConfig, ...]:
    out: list[ScheduleConfig] = []
    rule = 'must be 1-64 letters, digits, ".", "-" or "_"'
    for t, name in _named_entries(raw, "schedules", lambda n: bool(SCHEDULE_NAME.match(n)), rule):
        expression = t.string("expression", required=True)
        timezone = t.string("timezone", "UTC")
        try:
            parse_expression(expression, "UTC")
        except ScheduleExpressionError as exc:
            reason = str(exc).removeprefix(f"{expression.strip()}: ")
            raise ConfigError(f"{t.key('expression')} = {_show(expression)}: {reason}") from None
        try:
            parse_expression(expression, timezone)
        except ScheduleExpressionError:
            raise ConfigError(f'{t.key("timezone")} = {_show(timezone)}: not a known IANA time zone, e.g. "Europe/Paris"') from None
        out.append(ScheduleConfig(
            name=name,
            expression=expression.strip(),
            function=_function_ref(t, functions) or "",
            input=_schedule_input(t),
            enabled=t.boolean("enabled", True),
            timezone=timezone,
            max_concurrency=t.integer("max_concurrency", 1, 1, 100),
            misfire_grace_seconds=t.number("misfire_grace_seconds", 300.0, 0, 86400),
        ))
        t.done()
    return tuple(out)


def _schedule_input(t: _Table) -> str | None:
    """``input`` is a TOML table, or a string holding JSON (EventBridge's ``Input``)."""
    if "input" not in t.data:
        return None
    value = t._take("input", None)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{t.key('input')} = {_show(value)}: not valid JSON: {exc}") from None
        return value
    raise ConfigError(f"{t.key('input')} = {_show(value)}: must be a table or a string of JSON")


def _buckets(raw: Any, functions: Mapping[str, FunctionConfig]) -> tuple[BucketConfig, ...]:
    out: list[BucketConfig] = []
    rule = 'must be 3-63 lower-case letters, digits, "." or "-", starting and ending with a letter or digit'
    for t, name in _named_entries(raw, "buckets", lambda n: bool(BUCKET_NAME.match(n)) and ".." not in n, rule):
        function = _function_ref(t, functions, required=False)
        events = t.strings("events") if "events" in t.data else ("s3:ObjectCreated:*",)
        for event in events:
            if event not in BUCKET_EVENTS:
                allowed = ", ".join(f'"{e}"' for e in BUCKET_EVENTS)
                raise ConfigError(f"{t.key('events')}: {_show(event)} is not one of {allowed}")
        if function is not None and not events:
            raise ConfigError(f"{t.key('events')} = []: name at least one event, or leave out function")
        out.append(BucketConfig(
            name=name,
            function=function,
            events=events,
            prefix=t.string("prefix", ""),
            suffix=t.string("suffix", ""),
            auth=t.choice("auth", BUCKET_AUTH_MODES, "api_key"),
            settle_seconds=t.number("settle_seconds", 1.0, 0.05, 3600),
            max_object_bytes=t.integer("max_object_bytes", 100 * 1024 * 1024, 1, 1 << 40),
        ))
        t.done()
    return tuple(out)


# --- entry points ------------------------------------------------------------------------------


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    """Validate an already-parsed TOML document; ``path`` anchors relative paths."""
    root = _Table(data, "")
    base = path.parent
    server = _server(root.table("server"), base)
    executor = _executor(root.table("executor"))
    functions_table = root.table("functions")
    functions = {name: _function(name, _Table(body, f"functions.{name}")) for name, body in functions_table.data.items()}
    routes_raw = root._take("routes", [])
    if not isinstance(routes_raw, list):
        raise ConfigError("routes: must be an array of tables ([[routes]])")
    routes = tuple(_route(i, r, functions) for i, r in enumerate(routes_raw))
    seen: dict[str, int] = {}
    for i, route in enumerate(routes):
        if route.route_key in seen:
            raise ConfigError(f'routes[{i}]: "{route.route_key}" is already routed by routes[{seen[route.route_key]}]')
        seen[route.route_key] = i
    plans_table = root.table("usage_plans")
    usage_plans = {name: _usage_plan(name, _Table(body, f"usage_plans.{name}")) for name, body in plans_table.data.items()}
    ws_raw = root._take("websockets", [])
    if not isinstance(ws_raw, list):
        raise ConfigError("websockets: must be an array of tables ([[websockets]])")
    websockets = tuple(_websocket(i, w, functions) for i, w in enumerate(ws_raw))
    ws_paths: dict[str, int] = {}
    for i, ws in enumerate(websockets):
        if ws.path in ws_paths:
            raise ConfigError(f'websockets[{i}].path = "{ws.path}": already used by websockets[{ws_paths[ws.path]}]')
        ws_paths[ws.path] = i
    billing = _billing(root.table("billing"))
    schedules = _schedules(root._take("schedules", []), functions)
    buckets = _buckets(root._take("buckets", []), functions)
    root.done()
    return Config(
        path=path, server=server, executor=executor, functions=functions, routes=routes,
        usage_plans=usage_plans, websockets=websockets, billing=billing, schedules=schedules, buckets=buckets,
    )


def load_config(path: Path | str) -> Config:
    """Read and validate ``config.toml``; raise ``ConfigError`` naming the first problem."""
    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    try:
        return parse_config(data, path)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
