"""Invocations: every call, newest first, filtered; one call with its log."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from faas.store import stats as store_stats
from faas.records import Status, Trigger
from gateway.admin.pages import Admin, page
from gateway.admin.session import Session

PAGE_SIZE = 50
WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": None}


@page
async def invocation_list(admin: Admin, request: Request, session: Session) -> Response:
    q = request.query_params
    filters = {name: q.get(name, "").strip() for name in ("function", "status", "trigger", "caller", "request_id")}
    window = q.get("window", "24h")
    if window not in WINDOWS:
        window = "24h"
    seconds = WINDOWS[window]
    try:
        before = float(q["before"]) if q.get("before") else None
    except ValueError:
        before = None
    rows = await store_stats.search_invocations(
        admin.runtime.store, since=None if seconds is None else time.time() - seconds, before=before,
        limit=PAGE_SIZE + 1, **{k: v or None for k, v in filters.items()},
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    older = None
    if more:
        params = {k: v for k, v in filters.items() if v}
        params.update(window=window, before=repr(rows[-1].started_at))
        older = "?" + "&".join(f"{k}={_q(v)}" for k, v in params.items())
    return admin.render(
        request, "invocations.html", section="invocations", session=session, rows=rows, filters=filters,
        window=window, windows=list(WINDOWS), older=older, paged=before is not None,
        functions=admin.runtime.registry.names(), statuses=[s.value for s in Status],
        triggers=[t.value for t in Trigger],
    )


@page
async def invocation_detail(admin: Admin, request: Request, session: Session) -> Response:
    store = admin.runtime.store
    rid = request.path_params["request_id"]
    row = await store.invocation(rid)
    if row is None:
        return admin.render(request, "error.html", section="invocations", session=session, status=404,
                            title="No such invocation",
                            message=f"No call with request id {rid!r} has been metered (yet: rows are written "
                            "every 50 ms).")
    entries = await store.logs(request_id=rid, limit=10)
    log = "".join(entry.text for _, entry in entries)
    return admin.render(request, "invocation.html", section="invocations", session=session, row=row, log=log)


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/admin/invocations", invocation_list(admin), methods=["GET"]),
        Route("/admin/invocations/{request_id}", invocation_detail(admin), methods=["GET"]),
    ]
