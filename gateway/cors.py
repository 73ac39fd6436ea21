"""CORS for ``[[routes]]`` as API Gateway HTTP APIs do it, from the ``[cors]`` table (pure ASGI).

- A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) on a path a route
  serves is answered here, 204 and the configured headers, without calling a function, unless an
  ``OPTIONS`` route (method ``OPTIONS``, not ``ANY``) takes the path: then its function answers, as on
  AWS, and its answer gets the same configured headers. A route with ``cors = false`` is left alone.
- A route's responses (the function's, and the errors the gateway makes for the route: 413, 429,
  502...) get ``Access-Control-Allow-Origin`` (the request's origin echoed, or ``*`` when the origins
  are ``"*"``, which config allows only without credentials), ``Access-Control-Allow-Credentials``
  and ``Access-Control-Expose-Headers`` when the request's ``Origin`` is allowed. The function's own
  ``Access-Control-*`` headers are dropped for a request with an ``Origin``: API Gateway ignores them
  once CORS is configured.
- ``Vary: Origin`` on every response whose CORS headers depend on the origin (listed origins), so a
  cache does not hand one origin's answer to another.

Cheap on the hot path: nothing happens without ``[cors]``; with it, one scan of the request headers
per call and, for a request without ``Origin``, at most one appended header. Everything else is
built once per config (``Cors.__init__``).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from faas.config import CorsConfig
from gateway.routes import Route, RouteTable

__all__ = ["Cors", "Headers"]

Headers = list[tuple[bytes, bytes]]

ALLOW_ORIGIN = b"access-control-allow-origin"
VARY_ORIGIN = (b"vary", b"Origin")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _joined(values: tuple[str, ...]) -> bytes:
    return ", ".join(v for v in values if v != "*").encode("latin-1")


class Cors:
    """The ``[cors]`` table compiled into the header bytes it sends; one per config."""

    def __init__(self, config: CorsConfig) -> None:
        self.config = config
        # "*" with credentials is refused at load, so "*" always answers "Access-Control-Allow-Origin: *".
        self.any_origin = "*" in config.allow_origins
        self.origins = frozenset(o.encode("latin-1") for o in config.allow_origins if o != "*")
        self.vary: Headers = [] if self.any_origin else [VARY_ORIGIN]
        credentials: Headers = [(b"access-control-allow-credentials", b"true")] if config.allow_credentials else []
        self.actual_headers = list(credentials)
        if config.expose_headers:
            self.actual_headers.append((b"access-control-expose-headers", ", ".join(config.expose_headers).encode()))
        self.echo_methods = "*" in config.allow_methods
        self.methods = _joined(config.allow_methods)
        self.echo_headers = "*" in config.allow_headers
        self.allow_headers = _joined(config.allow_headers)
        self.preflight_headers = list(credentials)
        if config.max_age:
            self.preflight_headers.append((b"access-control-max-age", str(config.max_age).encode()))

    def allowed(self, origin: bytes) -> Headers | None:
        """``Access-Control-Allow-Origin`` for an allowed ``origin``, else None."""
        if self.any_origin:
            return [(ALLOW_ORIGIN, b"*")]
        if origin in self.origins:
            return [(ALLOW_ORIGIN, origin)]
        return None

    def actual(self, scope: MutableMapping[str, Any], headers: Headers) -> Headers:
        """A route's response ``headers`` with CORS applied, for the request in ``scope``. A preflight
        an OPTIONS route's function answered gets the preflight headers, as the gateway's own answer."""
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
                break
        if origin is None:
            headers.extend(self.vary)
            return headers
        kept = [h for h in headers if not h[0].startswith(b"access-control-")]
        if scope["method"] == "OPTIONS":
            preflight = _preflight_request(scope)
            if preflight is not None:
                return kept + self._preflight_headers(*preflight)
        allow = self.allowed(origin)
        if allow is not None:
            kept += allow
            kept += self.actual_headers
        kept += self.vary
        return kept

    def preflight(self, scope: MutableMapping[str, Any], table: RouteTable) -> tuple[int, Headers, bytes] | None:
        """The gateway's answer to a preflight (status, headers, body), or None when the request is
        not one, or a route's function is to get it (an OPTIONS route, a route with ``cors = false``)."""
        request = _preflight_request(scope)
        if request is None:
            return None
        path: str = scope["path"]
        own = table.match("OPTIONS", path)
        if own is not None and own[0].config.method == "OPTIONS":
            return None
        route = self._route(table, request[1].decode("latin-1"), path)
        if route is None or not route.config.cors:
            return None
        scope["faas.route"] = f"OPTIONS {route.config.path}"  # the HTTP metrics label (gateway/metrics.py)
        return 204, self._preflight_headers(*request), b""

    def _preflight_headers(self, origin: bytes, method: bytes, asked: bytes | None) -> Headers:
        headers: Headers = []
        allow = self.allowed(origin)
        if allow is not None:
            headers += allow
            headers += self.preflight_headers
            methods = method if self.echo_methods else self.methods
            if methods:
                headers.append((b"access-control-allow-methods", methods))
            allowed_headers = asked if self.echo_headers and asked else self.allow_headers
            if allowed_headers:
                headers.append((b"access-control-allow-headers", allowed_headers))
        headers += self.vary
        return headers

    @staticmethod
    def _route(table: RouteTable, method: str, path: str) -> Route | None:
        """The route the actual request would reach, else any route serving the path."""
        matched = table.match(method, path)
        if matched is None:
            for other in _METHODS:
                matched = table.match(other, path)
                if matched is not None:
                    break
        return matched[0] if matched is not None else None


def _preflight_request(scope: MutableMapping[str, Any]) -> tuple[bytes, bytes, bytes | None] | None:
    """A preflight's ``Origin``, ``Access-Control-Request-Method`` and ``-Headers``; None if not one."""
    origin = method = asked = None
    for name, value in scope["headers"]:
        if name == b"origin":
            origin = value
        elif name == b"access-control-request-method":
            method = value
        elif name == b"access-control-request-headers":
            asked = value
    if origin is None or method is None:
        return None
    return origin, method, asked
