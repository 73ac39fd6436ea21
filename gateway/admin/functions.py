"""Functions: settings, warm workers and the last 24 hours of calls, per function."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dataclasses import dataclass

from faas.config import FunctionConfig
from faas.exceptions import FunctionNotFound
from faas.registry import FunctionStatus, arn
from faas.runtime import Runtime
from faas.store import stats as store_stats
from gateway.admin.charts import calls_chart, sparkline
from gateway.admin.pages import Admin, page
from gateway.admin.session import Session

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class FunctionView:
    """A function as its pages show it: settings, the serving version and its environment's state."""

    name: str
    config: FunctionConfig
    arn: str
    status: FunctionStatus

    @property
    def version(self) -> int | None:
        return self.status.version


def _views(runtime: Runtime) -> dict[str, FunctionView]:
    registry = runtime.registry
    return {
        s.name: FunctionView(name=s.name, config=registry.config_of(s.name), arn=arn(runtime.config, s.name), status=s)
        for s in registry.status()
    }


@page
async def function_list(admin: Admin, request: Request, session: Session) -> Response:
    runtime = admin.runtime
    since = time.time() - DAY
    stats = await store_stats.function_stats(runtime.store, since)
    workers = runtime.pool.stats()
    rows = []
    for fn in _views(runtime).values():
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
    fn = _views(runtime).get(name)
    if fn is None:
        return admin.fail(request, session, FunctionNotFound(name), section="functions")
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
