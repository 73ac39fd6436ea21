"""The OpenAPI 3 document the gateway serves at ``/openapi.json``, built from the routes it serves (so
a fuzzer or a client generator sees everything, and nothing the gateway does not serve).

Two tables feed it. The platform's own JSON endpoints are ``ApiRoute``s: a Starlette ``Route`` that
carries an ``Operation`` per method, written next to the route, so its path and methods are the
route's own. The user routes are the running config's ``[[routes]]``. The admin HTML pages are plain
``Route``s and stay out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.routing import BaseRoute, Route

from faas import __version__
from faas.config import ROUTE_PARAM, Config

__all__ = ["ApiRoute", "Instance", "Operation", "binary_body", "build_openapi", "each_bucket", "each_websocket",
           "json_body", "param"]

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"type": "object"}}}}
_ANY = {"description": "Response"}
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "admin": [{"adminKey": []}],
    "key": [{"adminKey": []}, {"apiKey": []}, {"sigv4": []}],
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """How one method of an ``ApiRoute`` appears in the document."""

    summary: str  # with ``each``, "{}" becomes the configured bucket or WebSocket API's label
    responses: tuple[str, ...]  # status codes: a 2xx is a "Response", any other (and "default") an "Error"
    security: Literal["admin", "key"] | None = None  # the admin key only, or any credential
    parameters: tuple[dict[str, Any], ...] = ()  # query and header ones; a path one replaces the path's own
    body: dict[str, Any] | None = None  # the requestBody object


@dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    """One configured bucket or WebSocket API that a route family serves."""

    value: str  # fills the route's first path parameter
    label: str  # fills "{}" in the summaries
    public: bool = False  # served without credentials, whatever the operation says


class ApiRoute(Route):
    """A platform route listed in the document; it serves exactly the methods it documents (GET
    brings HEAD, as with any Starlette route).

    ``each`` makes the route a family, documented once per configured thing: the bucket API's
    ``/buckets/{name}/...`` appears as ``/buckets/photos/...`` for each bucket.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        operations: Mapping[str, Operation],
        *,
        each: Callable[[Config], Iterable[Instance]] | None = None,
    ) -> None:
        super().__init__(path, endpoint, methods=list(operations))
        self.operations = operations
        self.each = each


def each_bucket(config: Config) -> Iterator[Instance]:
    for bucket in config.buckets:
        yield Instance(value=bucket.name, label=bucket.name, public=bucket.auth != "api_key")


def each_websocket(config: Config) -> Iterator[Instance]:
    for ws in config.websockets:
        yield Instance(value=ws.stage, label=ws.path)


def param(name: str, where: Literal["path", "query", "header"], **schema: Any) -> dict[str, Any]:
    """A parameter; ``schema`` defaults to any string (a non-empty one in a path)."""
    if where == "path":
        return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string", "minLength": 1}}
    return {"name": name, "in": where, "schema": schema or {"type": "string"}}


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def binary_body() -> dict[str, Any]:
    return {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def build_openapi(routes: Iterable[BaseRoute], config: Config) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if isinstance(route, ApiRoute):
            _document(route, config, paths)
    for user in config.routes:
        path = ROUTE_PARAM.sub(r"{\1}", user.path)
        # a REST route answers under its stage as well (gateway/routes.py)
        served = [path] if user.api != "rest" else [path, (f"/{config.server.rest_stage}{path}").rstrip("/")]
        methods = ["get", "post", "put", "patch", "delete"] if user.method == "ANY" else [user.method.lower()]
        params = [param(m.group(1), "path") for m in ROUTE_PARAM.finditer(user.path)]
        for method in methods:
            op: dict[str, Any] = {
                "summary": f"{user.route_key} -> {user.function}",
                "parameters": params,
                "responses": {"default": _ANY},
            }
            if user.auth == "api_key":
                op["security"] = [{"apiKey": []}]
            if method in ("post", "put", "patch"):
                op["requestBody"] = json_body({}, required=False)
            for served_path in served:
                paths.setdefault(served_path, {})[method] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "faas", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminKey": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "sigv4": {"type": "apiKey", "in": "header", "name": "Authorization"},
            }
        },
    }


def _document(route: ApiRoute, config: Config, paths: dict[str, dict[str, Any]]) -> None:
    names = list(route.param_convertors)  # the path's parameters, in order
    instances: Iterable[Instance | None] = [None] if route.each is None else route.each(config)
    for instance in instances:
        path = route.path_format
        if instance is not None:
            path = path.replace(f"{{{names[0]}}}", instance.value, 1)
        for method, operation in route.operations.items():
            paths.setdefault(path, {})[method.lower()] = _operation(operation, names, instance)


def _operation(operation: Operation, names: list[str], instance: Instance | None) -> dict[str, Any]:
    own = {p["name"]: p for p in operation.parameters if p["in"] == "path"}
    in_path = names[1:] if instance is not None else names
    params = [own.get(name) or param(name, "path") for name in in_path]
    params += [p for p in operation.parameters if p["in"] != "path"]
    op: dict[str, Any] = {"summary": operation.summary.format(instance.label) if instance else operation.summary}
    if params:
        op["parameters"] = params
    if operation.body is not None:
        op["requestBody"] = operation.body
    if instance is not None and instance.public:
        op["security"] = []
    elif operation.security is not None:
        op["security"] = _SECURITY[operation.security]
    op["responses"] = {code: _ANY if code.startswith("2") else _ERROR for code in operation.responses}
    return op
