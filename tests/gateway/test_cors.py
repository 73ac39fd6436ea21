"""The CORS decisions (gateway/cors.py): preflights the gateway answers or hands on, and the headers
a route's responses get, for each origin, method and configuration."""

from __future__ import annotations

from typing import Any

from faas.config import CorsConfig, RouteConfig
from gateway.cors import Cors
from gateway.routes import RouteTable

APP = "https://app.example.com"
TABLE = RouteTable((
    RouteConfig(method="GET", path="/items/{id}", function="f"),
    RouteConfig(method="ANY", path="/any", function="f"),
    RouteConfig(method="OPTIONS", path="/own", function="f"),
    RouteConfig(method="GET", path="/own", function="f"),
    RouteConfig(method="GET", path="/private", function="f", cors=False),
))
LISTED = CorsConfig(
    allow_origins=(APP, "http://localhost:3000"), allow_methods=("GET", "POST"), allow_headers=("authorization", "x-api-key"),
    expose_headers=("x-request-id", "date"), max_age=300, allow_credentials=True,
)


def preflight(cors: Cors, path: str, headers: dict[str, str]) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
    scope: dict[str, Any] = {
        "method": "OPTIONS", "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return cors.preflight(scope, TABLE)


def request(*headers: tuple[bytes, bytes], method: str = "GET") -> dict[str, Any]:
    return {"method": method, "path": "/items/1", "headers": list(headers)}


def asking(origin: str = APP, method: str = "GET", **more: str) -> dict[str, str]:
    return {"origin": origin, "access-control-request-method": method, **more}


def test_preflight_answered_with_the_configured_headers() -> None:
    answer = preflight(Cors(LISTED), "/items/1", asking(method="POST", **{"access-control-request-headers": "authorization"}))
    assert answer == (204, [
        (b"access-control-allow-origin", APP.encode()),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-max-age", b"300"),
        (b"access-control-allow-methods", b"GET, POST"),
        (b"access-control-allow-headers", b"authorization, x-api-key"),
        (b"vary", b"Origin"),
    ], b"")


def test_preflight_from_an_origin_not_allowed_gets_no_cors_headers() -> None:
    assert preflight(Cors(LISTED), "/items/1", asking(origin="https://evil.example")) == (204, [(b"vary", b"Origin")], b"")
    # an origin matches exactly: scheme, host and port
    assert preflight(Cors(LISTED), "/items/1", asking(origin="http://localhost:3001")) == (204, [(b"vary", b"Origin")], b"")


def test_not_a_preflight_or_not_ours() -> None:
    cors = Cors(LISTED)
    assert preflight(cors, "/items/1", {"origin": APP}) is None  # a plain OPTIONS: the routes decide
    assert preflight(cors, "/items/1", {"access-control-request-method": "GET"}) is None
    assert preflight(cors, "/own", asking()) is None  # an OPTIONS route's function gets it
    assert preflight(cors, "/private", asking()) is None  # cors = false
    assert preflight(cors, "/nowhere", asking()) is None  # no route serves the path: 404 as before
    # an ANY route is not an OPTIONS route: the gateway answers, and a method no route has still gets an answer
    assert preflight(cors, "/any", asking(method="DELETE")) is not None
    assert preflight(cors, "/items/1", asking(method="DELETE")) is not None


def test_wildcards() -> None:
    cors = Cors(CorsConfig(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",), expose_headers=("*",)))
    answer = preflight(cors, "/items/1", asking(origin="https://anyone.example", method="PUT",
                                               **{"access-control-request-headers": "content-type, x-custom"}))
    assert answer == (204, [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", b"PUT"),
        (b"access-control-allow-headers", b"content-type, x-custom"),
    ], b"")
    actual = cors.actual(request((b"origin", b"https://anyone.example")), [(b"content-type", b"text/plain")])
    assert actual == [(b"content-type", b"text/plain"), (b"access-control-allow-origin", b"*"),
                      (b"access-control-expose-headers", b"*")]
    assert cors.actual(request(), [(b"content-type", b"text/plain")]) == [(b"content-type", b"text/plain")]  # no Vary: same answer for all


def test_actual_response_headers() -> None:
    cors = Cors(LISTED)
    function_said = [(b"content-type", b"text/plain"), (b"access-control-allow-origin", b"*"), (b"x-request-id", b"1")]
    assert cors.actual(request((b"host", b"h"), (b"origin", APP.encode())), list(function_said)) == [
        (b"content-type", b"text/plain"), (b"x-request-id", b"1"),
        (b"access-control-allow-origin", APP.encode()),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", b"x-request-id, date"),
        (b"vary", b"Origin"),
    ]
    # an origin not allowed: the function's CORS headers are ignored, as API Gateway does
    assert cors.actual(request((b"origin", b"https://evil.example")), list(function_said)) == [
        (b"content-type", b"text/plain"), (b"x-request-id", b"1"), (b"vary", b"Origin"),
    ]
    # no Origin: nothing to decide, only Vary for caches
    assert cors.actual(request(), list(function_said)) == [*function_said, (b"vary", b"Origin")]


def test_empty_table_allows_nothing() -> None:
    cors = Cors(CorsConfig())
    assert preflight(cors, "/items/1", asking()) == (204, [(b"vary", b"Origin")], b"")
    assert cors.actual(request((b"origin", APP.encode())), []) == [(b"vary", b"Origin")]


def test_an_options_functions_answer_gets_the_preflight_headers() -> None:
    cors = Cors(LISTED)
    said = [(b"access-control-allow-methods", b"DELETE"), (b"x-amzn-RequestId", b"r")]
    asked = request((b"origin", APP.encode()), (b"access-control-request-method", b"PUT"), method="OPTIONS")
    assert cors.actual(asked, list(said)) == [
        (b"x-amzn-RequestId", b"r"),
        (b"access-control-allow-origin", APP.encode()),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-max-age", b"300"),
        (b"access-control-allow-methods", b"GET, POST"),
        (b"access-control-allow-headers", b"authorization, x-api-key"),
        (b"vary", b"Origin"),
    ]
    # a plain OPTIONS (no Access-Control-Request-Method) is an actual request
    plain = cors.actual(request((b"origin", APP.encode()), method="OPTIONS"), [])
    assert (b"access-control-expose-headers", b"x-request-id, date") in plain
