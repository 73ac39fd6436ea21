"""Functions: settings, warm workers and the last 24 hours of calls, per function."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from faas.store import stats as store_stats
from faas.exceptions import FunctionNotFound
from gateway.admin.charts import calls_chart, sparkline
from gateway.admin.pages import Admin, page
from gateway.admin.session import Session

DAY = 86400.0


@page
async def function_list(admin: Admin, request: Request, session: Session) -> Response:
    runtime = admin.runtime
    since = time.time() - DAY
    stats = await store_stats.function_stats(runtime.store, since)
    workers = runtime.pool.stats()
    rows = []
    for name in runtime.registry.names():
        fn = runtime.registry.get(name)
        hours = await store_stats.hourly(runtime.store, fn.name, since)
        rows.append({
            "fn": fn, "stats": stats.get(fn.name), "workers": workers.get(fn.name, {"busy": 0, "idle": 0}),
            "spark": sparkline(hours),
        })
    return admin.render(request, "functions.html", section="functions", session=session, rows=rows)


@page
async def function_detail(admin: Admin, request: Request, session: Session) -> Response:
    runtime = admin.runtime
    name = request.path_params["name"]
    try:
        fn = runtime.registry.get(name)
    except FunctionNotFound as exc:
        return admin.fail(request, session, exc, section="functions")
    since = time.time() - DAY
    stats = (await store_stats.function_stats(runtime.store, since)).get(name)
    hours = await store_stats.hourly(runtime.store, name, since)
    recent = await store_stats.search_invocations(runtime.store, function=name, limit=10)
    routes = [r for r in runtime.config.routes if r.function == name]
    return admin.render(
        request, "function.html", section="functions", session=session, fn=fn, stats=stats,
        workers=runtime.pool.stats().get(name, {"busy": 0, "idle": 0}), chart=calls_chart(hours),
        recent=recent, routes=routes,
    )


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/admin/functions", function_list(admin), methods=["GET"]),
        Route("/admin/functions/{name}", function_detail(admin), methods=["GET"]),
    ]
