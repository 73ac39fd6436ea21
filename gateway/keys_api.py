"""Admin JSON API for API keys: ``/admin/api/keys`` (list, create) and ``/admin/api/keys/{id}``
(describe, revoke).

Every call needs the admin key as ``Authorization: Bearer``. The secret is in the create answer only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas.config import UsagePlanConfig
from faas.exceptions import InvalidRequest, KeyNotFound
from faas.keys import validate_new_key
from faas.runtime import Runtime
from gateway.auth import ADMIN_ONLY, REFUSALS, authorize
from gateway.errors import ADMIN_KEY_HINT, admin_error
from gateway.openapi import ApiRoute, Operation, json_body


async def admin_required(request: Request, runtime: Runtime, *, hint: str = ADMIN_KEY_HINT) -> Response | None:
    """None for the admin, else the 401 that tells the caller how to get in (``hint``)."""
    try:
        await authorize(runtime, request.scope, ADMIN_ONLY)
    except REFUSALS as exc:
        return admin_error(exc, hint=hint)
    return None


def routes(runtime: Runtime) -> list[Route]:
    async def collection(request: Request) -> Response:
        denied = await admin_required(request, runtime)
        if denied is not None:
            return denied
        if request.method == "GET":
            return JSONResponse({"keys": [k.public() for k in await runtime.keys.list()]})
        try:
            name, plan = _new_key(await request.body(), runtime.config.usage_plans)
        except InvalidRequest as exc:
            return admin_error(exc)
        key, secret = await runtime.keys.create(name, plan)
        return JSONResponse({"id": key.id, "secret": secret, "name": key.name, "plan": key.plan}, 201)

    async def item(request: Request) -> Response:
        denied = await admin_required(request, runtime)
        if denied is not None:
            return denied
        key_id = request.path_params["key_id"]
        try:
            if request.method == "GET":
                found = [k for k in await runtime.keys.list() if k.id == key_id]
                if not found:
                    raise KeyNotFound(key_id)
                return JSONResponse(found[0].public())
            key = await runtime.keys.revoke(key_id)
        except KeyNotFound as exc:
            return admin_error(exc)
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


def _new_key(body: bytes, plans: Mapping[str, UsagePlanConfig]) -> tuple[str, str | None]:
    """The name and plan of a key to create, from the request body; InvalidRequest says what is wrong."""
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise InvalidRequest(f"body must be a JSON object: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object with name and plan")
    unknown = set(data) - {"name", "plan"}
    if unknown:
        raise InvalidRequest(f"unknown field {sorted(unknown)[0]!r}: only name and plan")
    return validate_new_key(data.get("name"), data.get("plan"), plans)
