"""Admin JSON API for API keys: ``/admin/api/keys`` (list, create) and ``/admin/api/keys/{id}``
(describe, revoke).

Every call needs the admin key as ``Authorization: Bearer``. The secret is in the create answer only.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas.exceptions import InvalidRequest, KeyNotFound
from faas.keys import validate_new_key
from faas.runtime import Runtime
from gateway.auth import is_admin
from gateway.openapi import ApiRoute, Operation, json_body


def admin_required(request: Request, runtime: Runtime) -> Response | None:
    if is_admin(request, runtime.admin_key):
        return None
    return JSONResponse(
        {"message": "Unauthorized: send the admin key as Authorization: Bearer <key>"}, 401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def routes(runtime: Runtime) -> list[Route]:
    async def collection(request: Request) -> Response:
        denied = admin_required(request, runtime)
        if denied is not None:
            return denied
        if request.method == "GET":
            return JSONResponse({"keys": [k.public() for k in await runtime.keys.list()]})
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            return JSONResponse({"message": f"body must be a JSON object: {exc}"}, 400)
        if not isinstance(data, dict):
            return JSONResponse({"message": "body must be a JSON object with name and plan"}, 400)
        unknown = set(data) - {"name", "plan"}
        if unknown:
            return JSONResponse({"message": f"unknown field {sorted(unknown)[0]!r}: only name and plan"}, 400)
        try:
            name, plan = validate_new_key(data.get("name"), data.get("plan"), runtime.config.usage_plans)
        except InvalidRequest as exc:
            return JSONResponse({"message": str(exc)}, 400)
        key, secret = await runtime.keys.create(name, plan)
        return JSONResponse({"id": key.id, "secret": secret, "name": key.name, "plan": key.plan}, 201)

    async def item(request: Request) -> Response:
        denied = admin_required(request, runtime)
        if denied is not None:
            return denied
        key_id = request.path_params["key_id"]
        if request.method == "GET":
            found = [k for k in await runtime.keys.list() if k.id == key_id]
            if not found:
                return JSONResponse({"message": f"API key not found: {key_id}"}, 404)
            return JSONResponse(found[0].public())
        try:
            key = await runtime.keys.revoke(key_id)
        except KeyNotFound as exc:
            return JSONResponse({"message": str(exc)}, 404)
        return JSONResponse(key.public())

    return [
        ApiRoute("/admin/api/keys", collection, {
            "GET": Operation(summary="List API keys", security="admin", responses=("200", "401")),
            "POST": Operation(summary="Create an API key", security="admin", responses=("201", "400", "401"),
                              body=json_body({"type": "object", "required": ["name"],
                                              "properties": {"name": {"type": "string"}, "plan": {"type": "string"}}})),
        }),
        ApiRoute("/admin/api/keys/{key_id}", item, {
            "GET": Operation(summary="Describe an API key", security="admin", responses=("200", "401", "404")),
            "DELETE": Operation(summary="Revoke an API key", security="admin", responses=("200", "401", "404")),
        }),
    ]
