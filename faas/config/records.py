"""The frozen records ``config.toml`` is parsed into (by ``faas.config.load``; ``faas.config`` exports them).

Each default is written once, here, on its field: the parser takes a left-out key's value from the
field of the same name. Lambda's prices and free tier default to faas/billing.py's price list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from faas.config._table import field_default
from faas.billing import Prices

__all__ = [
    "BillingConfig",
    "BucketConfig",
    "Config",
    "CorsConfig",
    "ExecutorConfig",
    "FunctionConfig",
    "LayerConfig",
    "RouteConfig",
    "ScheduleConfig",
    "ServerConfig",
    "UsagePlanConfig",
    "WebSocketConfig",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path  # absolute; config.toml's default is "data" beside the file
    functions_dir: Path  # likewise "functions"
    max_body_bytes: int = 6 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    body_timeout: float = 30.0
    region: str = "us-east-1"
    account_id: str = "000000000000"
    access_log: bool = False
    metrics_auth: bool = True
    # The stage of REST routes (api = "rest"): served at /STAGE/path and at /path, in requestContext.
    rest_stage: str = "Prod"


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
    # Zygotes: one per execution environment (dependency set + layers), at most this many running.
    max_zygotes: int = 16
    # Where function dependencies are built from (uv's flags of the same names). find_links entries
    # are absolute paths (relative ones are resolved against config.toml's folder) or URLs.
    index_url: str | None = None
    extra_index_url: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    offline: bool = False


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
    # The deployment package: None = the functions folder (functions/NAME.py or functions/NAME/);
    # else an absolute path to a folder or a .zip in Lambda's layout (handler module at its root).
    code: Path | None = None
    # An explicit requirements file (absolute); None = functions/NAME/requirements.txt if the
    # function is a package folder that has one (resolved when the function is loaded, not here).
    requirements: Path | None = None
    layers: tuple[str, ...] = ()  # names of [layers.NAME], applied in order: a later one wins


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerConfig:
    """A ``[layers.NAME]`` table: a folder or .zip in Lambda's layer layout (``python/`` or
    ``python/lib/python3.X/site-packages/``); ``requirements`` is what ``faas layers build`` turns
    into that zip."""

    name: str
    path: Path  # absolute
    requirements: Path | None = None  # absolute
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteConfig:
    method: str = "ANY"
    path: str
    function: str
    auth: str = "none"
    asynchronous: bool = False  # `async = true`: answer 202 once the event is queued
    cors: bool = True  # `cors = false`: the [cors] table does not apply to this route
    api: str = "http"  # "http": an HTTP API route; "rest": a REST API resource (payload 1.0 only)
    payload: str = "2.0"  # the event format: "2.0" (HTTP APIs' default) or "1.0"; "rest" implies "1.0"

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CorsConfig:
    """The ``[cors]`` table: API Gateway HTTP API's ``CorsConfiguration``, for every route (gateway/cors.py).

    Origins are ``scheme://host[:port]`` in lower case, or ``"*"``; ``"*"`` in ``allow_methods`` or
    ``allow_headers`` answers a preflight with what it asks for."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int = 0  # seconds; 0 sends no Access-Control-Max-Age
    allow_credentials: bool = False


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
    """Lambda's prices (x86, first tier) and monthly free tier, as faas/billing.py lists them; how
    durations are rounded."""

    price_per_request: Decimal = field_default(Prices, "price_per_request")
    price_per_gb_second: Decimal = field_default(Prices, "price_per_gb_second")
    free_requests: int = field_default(Prices, "free_requests")
    free_gb_seconds: int = int(field_default(Prices, "free_gb_seconds"))
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
    layers: Mapping[str, LayerConfig] = field(default_factory=dict)
    cors: CorsConfig | None = None  # no [cors] table: no CORS headers at all
