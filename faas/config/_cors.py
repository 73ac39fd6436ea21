"""The ``[cors]`` table: API Gateway HTTP API's ``CorsConfiguration`` keys, read and checked (what
each key accepts); gateway/cors.py applies it."""

from __future__ import annotations

import re

from faas.config._table import Table
from faas.config.records import CorsConfig
from faas.exceptions import ConfigError

__all__ = ["cors_config"]

# An origin is scheme://host[:port] (lower case, as browsers send it); header names are tokens.
ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://([a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")
ORIGIN_RULE = 'must be "*" or scheme://host[:port], like "https://app.example.com" or "http://localhost:3000"'
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _origin_problem(origin: str) -> str | None:
    """Why ``origin`` is not ``"*"`` or an origin, else None."""
    if origin == "*" or ORIGIN.fullmatch(origin):
        return None
    scheme, sep, rest = origin.partition("://")
    if not sep or not scheme:
        return "no scheme"
    if "?" in rest or "#" in rest:
        return "a query is not part of an origin"
    if rest.endswith("/") and rest.count("/") == 1:
        return 'a trailing "/" is not part of an origin'
    if "/" in rest:
        return "a path is not part of an origin"
    return "not an origin"


def cors_config(t: Table) -> CorsConfig:
    origins = tuple(o.lower() for o in t.strings("allow_origins"))
    for i, origin in enumerate(origins):
        problem = _origin_problem(origin)
        if problem is not None:
            raise ConfigError(f'{t.key("allow_origins")}[{i}] = "{origin}": {problem}; {ORIGIN_RULE}')
    methods = tuple(m.upper() for m in t.strings("allow_methods"))
    for i, method in enumerate(methods):
        if method not in CORS_METHODS:
            raise ConfigError(f'{t.key("allow_methods")}[{i}] = "{method}": must be one of {", ".join(CORS_METHODS)}')
    headers: dict[str, tuple[str, ...]] = {}
    for name in ("allow_headers", "expose_headers"):
        headers[name] = t.strings(name)
        for i, header in enumerate(headers[name]):
            if not HEADER_NAME.fullmatch(header):
                raise ConfigError(f'{t.key(name)}[{i}] = "{header}": must be a header name like "x-api-key", or "*"')
    cors = CorsConfig(
        allow_origins=origins, allow_methods=methods, allow_headers=headers["allow_headers"],
        expose_headers=headers["expose_headers"], max_age=t.integer("max_age", 0, 86400),
        allow_credentials=t.boolean("allow_credentials"),
    )
    if cors.allow_credentials and "*" in origins:
        raise ConfigError(
            f'{t.key("allow_credentials")} = true: not allowed with "*" in {t.key("allow_origins")} '
            "(browsers refuse credentials from a wildcard origin); list the origins instead"
        )
    t.done()
    return cors
