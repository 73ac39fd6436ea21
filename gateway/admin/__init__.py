"""The admin web pages under ``/admin``: log in with the admin key, then one section per nav entry.

``admin_routes(runtime)`` gives the gateway its routes: login and logout, the overview, the static
stylesheet, and the routes of each section's module (one per entry of ``gateway.admin.pages.SECTIONS``).
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from faas.store import stats as store_stats
from faas.bills import current_month, month_bill, prices_of
from faas.runtime import Runtime
from gateway.admin import bills, dead_letters, functions, invocations, keys, schedules
from gateway.admin.pages import Admin, Endpoint, action, page, secure
from gateway.admin.session import COOKIE, LIFETIME, Session, read_form, safe_next, same_origin

__all__ = ["admin_routes"]

STATIC = {"admin.css": "text/css; charset=utf-8"}


def admin_routes(runtime: Runtime) -> list[BaseRoute]:
    admin = Admin(runtime)
    return [
        Route("/admin", overview(admin), methods=["GET"]),
        Route("/admin/login", _login(admin), methods=["GET", "POST"]),
        Route("/admin/logout", logout(admin), methods=["POST"]),
        Route("/admin/static/{name}", _static(), methods=["GET"]),
        # One module per entry of pages.SECTIONS, in nav order.
        *schedules.routes(admin),
        *functions.routes(admin),
        *invocations.routes(admin),
        *bills.routes(admin),
        *keys.routes(admin),
        *dead_letters.routes(admin),
    ]


@page
async def overview(admin: Admin, request: Request, session: Session) -> Response:
    runtime = admin.runtime
    stats = await store_stats.function_stats(runtime.store, time.time() - 86400)
    bill = await month_bill(runtime.store, current_month(), prices_of(runtime.config.billing))
    workers = runtime.pool.stats()
    schedules = await runtime.schedules.describe()
    letters = sum((await runtime.events.dead_letter_counts()).values())
    return admin.render(
        request, "overview.html", section="", session=session, schedules=len(schedules),
        paused=sum(1 for s in schedules if s.paused), letters=letters,
        functions=len(runtime.registry.names()), calls=sum(s.calls for s in stats.values()),
        errors=sum(s.errors for s in stats.values()), throttles=sum(s.throttles for s in stats.values()),
        busy=sum(w["busy"] for w in workers.values()), idle=sum(w["idle"] for w in workers.values()), bill=bill,
    )


def _login(admin: Admin) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if request.method == "GET":
            if admin.session(request) is not None:
                return secure(RedirectResponse(target, 303))
            return admin.render(request, "login.html", section="", session=None, next=target, error=None)
        form = await read_form(request)
        target = safe_next(form.get("next"))
        key = form.get("key", "").strip()
        runtime = admin.runtime
        if not same_origin(request):
            return admin.render(request, "login.html", section="", session=None, next=target, status=403,
                                error="This login form came from another site.")
        if not runtime.admin_key or not hmac.compare_digest(key.encode(), runtime.admin_key.encode()):
            return admin.render(request, "login.html", section="", session=None, next=target, status=401,
                                error="That is not the admin key. It is in FAAS_ADMIN_KEY, or in data/admin.key "
                                "on the server.")
        cookie, _ = admin.signer.issue()
        response = RedirectResponse(target, 303)
        response.set_cookie(COOKIE, cookie, max_age=LIFETIME, path="/admin", httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return secure(response)

    return endpoint


@action
async def logout(admin: Admin, request: Request, session: Session) -> Response:
    response = RedirectResponse("/admin/login", 303)
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="strict")
    return secure(response)


def _static() -> Endpoint:
    files = {name: (Path(__file__).parent / "static" / name).read_bytes() for name in STATIC}

    async def endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files:
            return Response(b"Not Found", 404)
        return Response(files[name], media_type=STATIC[name], headers={"cache-control": "max-age=300"})

    return endpoint
