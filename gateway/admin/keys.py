"""API keys: the list (never a secret), create (the secret shown once), revoke (at once).

The keys are the runtime's ``Keyring`` (faas/keys.py), the same one ``/admin/api/keys`` and
``faas keys`` use, so a key revoked here is refused on its next call.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from faas.config import UsagePlanConfig
from faas.exceptions import InvalidRequest, KeyNotFound
from faas.keys import ApiKey, validate_new_key
from gateway.admin.pages import Admin, action, page, redirect
from gateway.admin.session import Session

KEY_ID = re.compile(r"^[A-Z0-9]{1,64}$")


def plan_text(plan: UsagePlanConfig) -> str:
    """What a usage plan allows, in words: ``5 calls/s, bursts of 10, 1,000 calls a month``."""
    parts = []
    if plan.rate is not None:
        parts.append(f"{plan.rate:g} calls/s")
    if plan.burst is not None:
        parts.append(f"bursts of {plan.burst:,}")
    if plan.quota is not None:
        parts.append(f"{plan.quota:,} calls a {plan.quota_period}")
    return ", ".join(parts) or "no limits"


async def _render_list(admin: Admin, request: Request, session: Session, *, status: int = 200,
                       error: str | None = None, name: str = "", plan: str = "") -> Response:
    keys = await admin.runtime.keys.list()
    keys.sort(key=lambda k: (k.revoked_at is not None, -k.created_at))
    plans = admin.runtime.config.usage_plans
    q = request.query_params
    flash = None
    if q.get("done") == "revoked" and KEY_ID.match(q.get("id", "")):
        flash = f"Revoked {q['id']}: calls with it are refused from now on (403)."
    return admin.render(
        request, "keys.html", section="keys", session=session, status=status, keys=keys, error=error, flash=flash,
        plans={n: plan_text(p) for n, p in sorted(plans.items())}, form={"name": name, "plan": plan},
    )


@page
async def key_list(admin: Admin, request: Request, session: Session) -> Response:
    return await _render_list(admin, request, session)


@action
async def key_create(admin: Admin, request: Request, session: Session) -> Response:
    form = request.state.form
    raw_name, raw_plan = form.get("name", ""), form.get("plan", "")
    try:
        name, plan = validate_new_key(raw_name, raw_plan or None, admin.runtime.config.usage_plans)
    except InvalidRequest as exc:
        return await _render_list(admin, request, session, status=400, error=str(exc), name=raw_name, plan=raw_plan)
    key, secret = await admin.runtime.keys.create(name, plan)
    return admin.render(request, "key_created.html", section="keys", session=session, status=201, key=key,
                        secret=secret, base=str(request.base_url).rstrip("/"))


async def _find(admin: Admin, key_id: str) -> ApiKey | None:
    return next((k for k in await admin.runtime.keys.list() if k.id == key_id), None)


@page
async def key_revoke_confirm(admin: Admin, request: Request, session: Session) -> Response:
    key = await _find(admin, request.path_params["key_id"])
    if key is None:
        return admin.fail(request, session, KeyNotFound(request.path_params["key_id"]), section="keys",
                          back="/admin/keys")
    return admin.render(request, "key_revoke.html", section="keys", session=session, key=key)


@action
async def key_revoke(admin: Admin, request: Request, session: Session) -> Response:
    key_id = request.path_params["key_id"]
    try:
        await admin.runtime.keys.revoke(key_id)
    except KeyNotFound as exc:
        return admin.fail(request, session, exc, section="keys", back="/admin/keys")
    return redirect("/admin/keys", done="revoked", id=key_id)


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/admin/keys", key_list(admin), methods=["GET"]),
        Route("/admin/keys", key_create(admin), methods=["POST"]),
        Route("/admin/keys/{key_id}/revoke", key_revoke_confirm(admin), methods=["GET"]),
        Route("/admin/keys/{key_id}/revoke", key_revoke(admin), methods=["POST"]),
    ]
