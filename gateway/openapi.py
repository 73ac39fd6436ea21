"""The OpenAPI 3 document the gateway serves at ``/openapi.json``: the platform's own endpoints plus
the user routes of the running config (so a fuzzer or a client generator sees everything)."""

from __future__ import annotations

from typing import Any

from faas import __version__
from faas.config import ROUTE_PARAM, Config

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"type": "object"}}}}
_ANY = {"description": "Response"}
_BEARER: list[dict[str, list[str]]] = [{"adminKey": []}]
_KEYED: list[dict[str, list[str]]] = [{"adminKey": []}, {"apiKey": []}, {"sigv4": []}]


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def build_openapi(config: Config) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {
        "/healthz": {"get": {"summary": "Readiness", "responses": {"200": _ANY, "503": _ERROR}}},
        "/2015-03-31/functions/{name}/invocations": {
            "post": {
                "summary": "Lambda Invoke API",
                "parameters": [
                    _path_param("name"),
                    {"name": "Qualifier", "in": "query", "schema": {"type": "string"}},
                    {"name": "X-Amz-Invocation-Type", "in": "header",
                     "schema": {"type": "string", "enum": ["RequestResponse", "Event", "DryRun"]}},
                    {"name": "X-Amz-Log-Type", "in": "header", "schema": {"type": "string", "enum": ["None", "Tail"]}},
                ],
                "requestBody": _json_body({}, required=False),
                "security": _KEYED,
                "responses": {"200": _ANY, "202": _ANY, "204": _ANY, "default": _ERROR},
            }
        },
        "/admin/api/keys": {
            "get": {"summary": "List API keys", "security": _BEARER, "responses": {"200": _ANY, "401": _ERROR}},
            "post": {
                "summary": "Create an API key",
                "security": _BEARER,
                "requestBody": _json_body({
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "plan": {"type": "string"}},
                    "required": ["name"],
                }),
                "responses": {"201": _ANY, "400": _ERROR, "401": _ERROR},
            },
        },
        "/admin/api/keys/{key_id}": {
            "get": {"summary": "Describe an API key", "security": _BEARER, "parameters": [_path_param("key_id")],
                    "responses": {"200": _ANY, "401": _ERROR, "404": _ERROR}},
            "delete": {"summary": "Revoke an API key", "security": _BEARER, "parameters": [_path_param("key_id")],
                       "responses": {"200": _ANY, "401": _ERROR, "404": _ERROR}},
        },
    }
    paths["/metrics"] = {"get": {"summary": "Prometheus metrics", "security": _BEARER,
                                 "responses": {"200": _ANY, "401": _ERROR}}}
    paths["/admin/api/bill"] = {"get": {
        "summary": "A month's bill as JSON", "security": _BEARER,
        "parameters": [{"name": "month", "in": "query", "schema": {"type": "string"}},
                       {"name": "by", "in": "query", "schema": {"type": "string", "enum": ["function", "key"]}}],
        "responses": {"200": _ANY, "default": _ERROR}}}
    paths["/admin/api/schedules"] = {"get": {"summary": "List schedules", "security": _BEARER,
                                             "responses": {"200": _ANY, "401": _ERROR}}}
    paths["/admin/api/schedules/{name}"] = {"get": {
        "summary": "A schedule and its runs", "security": _BEARER, "parameters": [_path_param("name")],
        "responses": {"200": _ANY, "default": _ERROR}}}
    paths["/admin/api/schedules/{name}/{action}"] = {"post": {
        "summary": "Pause, resume or run a schedule now", "security": _BEARER,
        "parameters": [_path_param("name"),
                       {"name": "action", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": ["pause", "resume", "run"]}}],
        "responses": {"200": _ANY, "202": _ANY, "default": _ERROR}}}
    for bucket in config.buckets:
        item = f"/buckets/{bucket.name}/{{key}}"
        security = _KEYED if bucket.auth == "api_key" else []
        params = [_path_param("key")]
        paths[item] = {
            "put": {"summary": f"Upload to bucket {bucket.name}", "parameters": params, "security": security,
                    "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                    "responses": {"200": _ANY, "default": _ERROR}},
            "get": {"summary": "Download", "parameters": params, "security": security,
                    "responses": {"200": _ANY, "default": _ERROR}},
            "delete": {"summary": "Delete", "parameters": params, "security": security,
                       "responses": {"204": _ANY, "default": _ERROR}},
        }
    for ws in config.websockets:
        base = f"/{ws.stage}/@connections/{{connectionId}}"
        params = [_path_param("connectionId")]
        paths[base] = {
            "post": {"summary": f"Send to a {ws.path} connection", "parameters": params, "security": _KEYED,
                     "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                     "responses": {"200": _ANY, "default": _ERROR}},
            "get": {"summary": "Describe a connection", "parameters": params, "security": _KEYED,
                    "responses": {"200": _ANY, "default": _ERROR}},
            "delete": {"summary": "Disconnect", "parameters": params, "security": _KEYED,
                       "responses": {"204": _ANY, "default": _ERROR}},
        }
    for route in config.routes:
        path = ROUTE_PARAM.sub(r"{\1}", route.path)
        methods = ["get", "post", "put", "patch", "delete"] if route.method == "ANY" else [route.method.lower()]
        params = [_path_param(m.group(1)) for m in ROUTE_PARAM.finditer(route.path)]
        for method in methods:
            op: dict[str, Any] = {
                "summary": f"{route.route_key} -> {route.function}",
                "parameters": params,
                "responses": {"default": _ANY},
            }
            if route.auth == "api_key":
                op["security"] = [{"apiKey": []}]
            if method in ("post", "put", "patch"):
                op["requestBody"] = _json_body({}, required=False)
            paths.setdefault(path, {})[method] = op
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
