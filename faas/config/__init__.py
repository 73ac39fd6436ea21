"""``config.toml`` parsed once at the edge into frozen dataclasses (``load_config``).

- ``records.py``: the frozen records, each default written once on its field;
- ``load.py``: the rules (what each key accepts) and one reader per section;
- ``_table.py``: reading a TOML table key by key with precise errors (knows no section).
"""

from __future__ import annotations

from faas.config.load import RESERVED_PREFIXES, ROUTE_PARAM, load_config, parse_config
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

__all__ = [
    "Config",
    "CorsConfig",
    "ServerConfig",
    "ExecutorConfig",
    "FunctionConfig",
    "LayerConfig",
    "RouteConfig",
    "BillingConfig",
    "UsagePlanConfig",
    "WebSocketConfig",
    "ScheduleConfig",
    "BucketConfig",
    "ROUTE_PARAM",
    "RESERVED_PREFIXES",
    "load_config",
    "parse_config",
]
