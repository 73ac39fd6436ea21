"""``config.toml`` parsed once at the edge into frozen dataclasses, validated with precise messages.

Every error names the key path, the bad value and what is allowed, e.g.
``functions.hello.memory = 64: must be an integer from 128 to 10240``. Paths in the file are
relative to the file itself.

This module holds the rules (what each key accepts) and reads each section; the records it fills
are in records.py, where each default is written once, and the generic key-by-key reading of a TOML
table is in _table.py. Import them all from ``faas.config``.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from faas.config._table import (
    Table,
    entries,
    field_default,
    is_integer,
    is_number,
    named_entries,
    named_tables,
    show,
    unique,
)
from faas.config._cors import cors_config
from faas.config._files import layer, layer_refs, links, path_of
from faas.config.records import (
    BillingConfig,
    BucketConfig,
    Config,
    CorsConfig,
    ExecutorConfig,
    FunctionConfig,
    LayerConfig,
    RouteConfig,
    ScheduleConfig,
    ServerConfig,
    UsagePlanConfig,
    WebSocketConfig,
)
from faas.exceptions import ConfigError
from faas.expressions import ScheduleExpressionError, parse_expression


FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A route path parameter, {name} or greedy {name+}; the gateway matches and documents routes with it.
ROUTE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
AUTH_MODES = ("none", "api_key")
ROUTE_APIS = ("http", "rest")
PAYLOAD_FORMATS = ("1.0", "2.0")
REST_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# Paths the platform itself serves; user routes may not shadow them.
RESERVED_PREFIXES = ("/2015-03-31/", "/healthz", "/admin", "/metrics", "/openapi.json", "/buckets")
QUOTA_PERIODS = ("day", "week", "month")
WS_PATH = re.compile(r"(/[A-Za-z0-9_.-]+)+")
ROUTE_SELECTION = re.compile(r"^\$request\.body\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
WS_ROUTE_KEY = re.compile(r"^(\$connect|\$disconnect|\$default|[A-Za-z0-9_.:-]{1,128})$")
SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BUCKET_EVENTS = ("s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete")
BUCKET_AUTH_MODES = ("api_key", "none")
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
        "_X_AMZN_TRACE_ID",  # set by the worker for each call (faas/trace.py)
    }
)


# --- sections: each default comes from its record's field (see _table.py) -----------


_NAME_RULE = 'name must be 1-64 letters, digits, "-" or "_"'


def _plain_name(name: str) -> bool:
    """A function's or a usage plan's name."""
    return bool(FUNCTION_NAME.match(name))


def _server(t: Table, base: Path) -> ServerConfig:
    server = ServerConfig(
        host=t.string("host"),
        port=t.integer("port", 0, 65535),
        data_dir=(base / t.string("data_dir", "data")).resolve(),
        functions_dir=(base / t.string("functions_dir", "functions")).resolve(),
        max_body_bytes=t.integer("max_body_bytes", 1, 1024 * 1024 * 1024),
        max_header_bytes=t.integer("max_header_bytes", 1024, 1024 * 1024),
        body_timeout=t.number("body_timeout", 1, 3600),
        region=t.string("region"),
        account_id=t.string("account_id"),
        access_log=t.boolean("access_log"),
        metrics_auth=t.boolean("metrics_auth"),
        rest_stage=t.string("rest_stage"),
    )
    if not re.fullmatch(r"\d{12}", server.account_id):
        raise ConfigError(f'server.account_id = "{server.account_id}": must be 12 digits')
    if not REST_STAGE.match(server.rest_stage):
        raise ConfigError(f'server.rest_stage = "{server.rest_stage}": must be 1-128 letters, digits, "-" or "_"')
    t.done()
    return server


def _executor(t: Table, base: Path) -> ExecutorConfig:
    user = t.string("user", "")  # "" (or left out): the workers keep the gateway's own user
    index_url = t.string("index_url", "")
    executor = ExecutorConfig(
        max_workers=t.integer("max_workers", 1, 10000),
        idle_timeout=t.number("idle_timeout", 1, 86400),
        queue_wait_ms=t.integer("queue_wait_ms", 0, 900_000),
        init_timeout=t.number("init_timeout", 1, 900),
        preload=t.strings("preload"),
        log_cap_bytes=t.integer("log_cap_bytes", 1024, 64 * 1024 * 1024),
        max_processes=t.integer("max_processes", 1, 1_000_000),
        max_open_files=t.integer("max_open_files", 16, 1_000_000),
        max_file_bytes=t.integer("max_file_bytes", 1024, 1 << 50),
        user=user or None,
        max_zygotes=t.integer("max_zygotes", 1, 1000),
        index_url=index_url or None,
        extra_index_url=tuple(u for u in links(t, "extra_index_url", base)),
        find_links=links(t, "find_links", base),
        offline=t.boolean("offline"),
    )
    t.done()
    return executor


def _billing(t: Table) -> BillingConfig:
    billing = BillingConfig(
        price_per_request=t.decimal("price_per_request"),
        price_per_gb_second=t.decimal("price_per_gb_second"),
        free_requests=t.integer("free_requests", 0, 10**15),
        free_gb_seconds=t.integer("free_gb_seconds", 0, 10**15),
        granularity_ms=t.integer("granularity_ms", 1, 60_000),
        bill_init=t.boolean("bill_init"),
    )
    t.done()
    return billing


def _function(t: Table, name: str, base: Path, layers: Mapping[str, LayerConfig]) -> FunctionConfig:
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
            raise ConfigError(f"{env_table.key(var)} = {show(value)}: must be a string")
        environment[var] = value
    function = FunctionConfig(
        name=name,
        handler=handler,
        memory=t.integer("memory", 128, 10240),
        timeout=t.number("timeout", 1, 900),
        concurrency=t.integer("concurrency", 1, 10000),
        environment=environment,
        description=t.string("description"),
        max_retries=t.integer("max_retries", 0, 2),
        retry_base_delay=t.number("retry_base_delay", 0, 21600),
        max_event_age=t.number("max_event_age", 1, 21600),
        code=path_of(t, "code", base, kind="folder or .zip"),
        requirements=path_of(t, "requirements", base, kind="file"),
        layers=layer_refs(t, layers),
    )
    t.done()
    return function


def _known_function(key: str, function: str, functions: Mapping[str, FunctionConfig]) -> str:
    """``function`` if it is configured; else the message names the key and the functions there are."""
    if function not in functions:
        known = ", ".join(sorted(functions)) or "none are configured"
        raise ConfigError(f'{key} = "{function}": no such function (known: {known})')
    return function


def _function_ref(t: Table, functions: Mapping[str, FunctionConfig]) -> str:
    return _known_function(t.key("function"), t.string("function", required=True), functions)


def _check_not_reserved(key: str, path: str) -> None:
    for prefix in RESERVED_PREFIXES:
        if path == prefix.rstrip("/") or path.startswith(prefix):
            raise ConfigError(f'{key} = "{path}": {prefix} is reserved for the platform')


def _route(t: Table, functions: Mapping[str, FunctionConfig]) -> RouteConfig:
    method = t.string("method").upper()
    if method not in METHODS:
        raise ConfigError(f'{t.key("method")} = "{method}": must be one of {", ".join(METHODS)}')
    path = t.string("path", required=True)
    _check_route_path(t.key("path"), path)
    api = t.choice("api", ROUTE_APIS)
    if api == "rest":
        payload = t.string("payload", "1.0")
        if payload != "1.0":
            raise ConfigError(
                f'{t.key("payload")} = {show(payload)}: a REST route (api = "rest") sends payload format "1.0" only'
            )
    else:
        payload = t.choice("payload", PAYLOAD_FORMATS)
    route = RouteConfig(
        method=method, path=path, function=_function_ref(t, functions), auth=t.choice("auth", AUTH_MODES),
        asynchronous=t.boolean("async", field_default(RouteConfig, "asynchronous")), api=api, payload=payload,
        cors=t.boolean("cors"),
    )
    t.done()
    return route


def _check_route_path(key: str, path: str) -> None:
    if not path.startswith("/"):
        raise ConfigError(f'{key} = "{path}": must start with "/"')
    _check_not_reserved(key, path)
    segments = path.strip("/").split("/") if path != "/" else []
    seen: set[str] = set()
    greedy = [s for s in segments if s.endswith("+}")]
    if len(greedy) > 1:
        raise ConfigError(f'{key} = "{path}": at most one greedy parameter ({", ".join(greedy)}), as the last segment')
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


def _usage_plan(t: Table, name: str) -> UsagePlanConfig:
    rate = t.take("rate")
    if rate is not None and not (is_number(rate, 0, 1_000_000) and rate > 0):
        raise ConfigError(f"{t.key('rate')} = {show(rate)}: must be a number of requests per second above 0")
    burst = t.take("burst")
    if burst is not None and not is_integer(burst, 1, 1_000_000):
        raise ConfigError(f"{t.key('burst')} = {show(burst)}: must be an integer from 1 to 1000000")
    if burst is not None and rate is None:
        raise ConfigError(f"{t.key('burst')}: needs a rate as well")
    quota = t.take("quota")
    if quota is not None and not is_integer(quota, 1, math.inf):
        raise ConfigError(f"{t.key('quota')} = {show(quota)}: must be a positive integer (requests per period)")
    plan = UsagePlanConfig(
        name=name,
        rate=float(rate) if rate is not None else None,
        # no burst: room for one second's worth of requests (at least one)
        burst=burst if burst is not None else (max(1, int(-(-rate // 1))) if rate is not None else None),
        quota=quota,
        quota_period=t.choice("quota_period", QUOTA_PERIODS),
    )
    t.done()
    return plan


def _websocket(t: Table, functions: Mapping[str, FunctionConfig]) -> WebSocketConfig:
    path = t.string("path", required=True)
    if not WS_PATH.fullmatch(path):
        raise ConfigError(f'{t.key("path")} = "{path}": must be like "/ws": "/" and letters, digits, "_", "-", "."')
    _check_not_reserved(t.key("path"), path)
    selection = t.string("route_selection")
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
            raise ConfigError(f"{routes_table.key(key)} = {show(function)}: must be a function name")
        routes[key] = _known_function(routes_table.key(key), function, functions)
    ws = WebSocketConfig(path=path, route_selection=selection, routes=routes, auth=t.choice("auth", AUTH_MODES))
    t.done()
    return ws


# --- event sources: [[schedules]] and [[buckets]] ----------------------------------------------


def _schedules(raw: Any, functions: Mapping[str, FunctionConfig]) -> tuple[ScheduleConfig, ...]:
    out: list[ScheduleConfig] = []
    rule = 'must be 1-64 letters, digits, ".", "-" or "_"'
    for t, name in named_entries(raw, "schedules", ScheduleConfig, lambda n: bool(SCHEDULE_NAME.match(n)), rule):
        expression = t.string("expression", required=True)
        timezone = t.string("timezone")
        try:
            parse_expression(expression, "UTC")
        except ScheduleExpressionError as exc:
            reason = str(exc).removeprefix(f"{expression.strip()}: ")
            raise ConfigError(f"{t.key('expression')} = {show(expression)}: {reason}") from None
        try:
            parse_expression(expression, timezone)
        except ScheduleExpressionError:
            raise ConfigError(f'{t.key("timezone")} = {show(timezone)}: not a known IANA time zone, e.g. "Europe/Paris"') from None
        out.append(ScheduleConfig(
            name=name,
            expression=expression.strip(),
            function=_function_ref(t, functions),
            input=_schedule_input(t),
            enabled=t.boolean("enabled"),
            timezone=timezone,
            max_concurrency=t.integer("max_concurrency", 1, 100),
            misfire_grace_seconds=t.number("misfire_grace_seconds", 0, 86400),
        ))
        t.done()
    return tuple(out)


def _schedule_input(t: Table) -> str | None:
    """``input`` is a TOML table, or a string holding JSON (EventBridge's ``Input``)."""
    if "input" not in t.data:
        return None
    value = t.take("input")
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{t.key('input')} = {show(value)}: not valid JSON: {exc}") from None
        return value
    raise ConfigError(f"{t.key('input')} = {show(value)}: must be a table or a string of JSON")


def _buckets(raw: Any, functions: Mapping[str, FunctionConfig]) -> tuple[BucketConfig, ...]:
    out: list[BucketConfig] = []
    rule = 'must be 3-63 lower-case letters, digits, "." or "-", starting and ending with a letter or digit'
    for t, name in named_entries(raw, "buckets", BucketConfig, lambda n: bool(BUCKET_NAME.match(n)) and ".." not in n, rule):
        function = _function_ref(t, functions) if "function" in t.data else None
        events = t.strings("events")
        for event in events:
            if event not in BUCKET_EVENTS:
                allowed = ", ".join(f'"{e}"' for e in BUCKET_EVENTS)
                raise ConfigError(f"{t.key('events')}: {show(event)} is not one of {allowed}")
        if function is not None and not events:
            raise ConfigError(f"{t.key('events')} = []: name at least one event, or leave out function")
        out.append(BucketConfig(
            name=name,
            function=function,
            events=events,
            prefix=t.string("prefix"),
            suffix=t.string("suffix"),
            auth=t.choice("auth", BUCKET_AUTH_MODES),
            settle_seconds=t.number("settle_seconds", 0.05, 3600),
            max_object_bytes=t.integer("max_object_bytes", 1, 1 << 40),
        ))
        t.done()
    return tuple(out)


# --- entry points ------------------------------------------------------------------------------


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    """Validate an already-parsed TOML document; ``path`` anchors relative paths."""
    root = Table(data, "")
    server = _server(root.table("server", ServerConfig), path.parent)
    executor = _executor(root.table("executor", ExecutorConfig), path.parent)
    layers = {
        name: layer(t, name, path.parent)
        for t, name in named_tables(root.table("layers"), LayerConfig, _plain_name, f"a layer {_NAME_RULE}")
    }
    functions = {
        name: _function(t, name, path.parent, layers)
        for t, name in named_tables(root.table("functions"), FunctionConfig, _plain_name, f"a function {_NAME_RULE}")
    }
    routes = tuple(_route(t, functions) for t in entries(root.take("routes", []), "routes", RouteConfig))
    unique((r.route_key for r in routes), lambda i, key, j: f'routes[{i}]: "{key}" is already routed by routes[{j}]')
    usage_plans = {
        name: _usage_plan(t, name)
        for t, name in named_tables(root.table("usage_plans"), UsagePlanConfig, _plain_name, f"a plan {_NAME_RULE}")
    }
    websockets = tuple(
        _websocket(t, functions) for t in entries(root.take("websockets", []), "websockets", WebSocketConfig)
    )
    unique((w.path for w in websockets), lambda i, path, j: f'websockets[{i}].path = "{path}": already used by websockets[{j}]')
    billing = _billing(root.table("billing", BillingConfig))
    schedules = _schedules(root.take("schedules", []), functions)
    buckets = _buckets(root.take("buckets", []), functions)
    cors = cors_config(root.table("cors", CorsConfig)) if "cors" in root.data else None
    root.done()
    return Config(
        path=path, server=server, executor=executor, functions=functions, routes=routes,
        usage_plans=usage_plans, websockets=websockets, billing=billing, schedules=schedules, buckets=buckets,
        layers=layers, cors=cors,
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
