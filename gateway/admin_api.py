"""The admin JSON API for functions and schedules, behind the admin key (``Authorization: Bearer``).

    GET  /admin/api/functions                  every function: serving version, environment state, build error
    GET  /admin/api/schedules                  every schedule: config, paused, next fire, last run
    GET  /admin/api/schedules/{name}?limit=N   one schedule and its latest runs
    POST /admin/api/schedules/{name}/pause     stop firing (persisted: a restart keeps it)
    POST /admin/api/schedules/{name}/resume    fire again, from the next time on
    POST /admin/api/schedules/{name}/run       fire now: 202 with the run, 409 if it is busy
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from faas.exceptions import FaaSError
from faas.runtime import Runtime
from gateway.errors import admin_error
from gateway.keys_api import admin_required

MAX_RUNS = 1000


class AdminApi:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def functions(self, request: Request) -> Response:
        if (refused := await admin_required(request, self.runtime)) is not None:
            return refused
        return JSONResponse({"functions": [s.as_json() for s in self.runtime.registry.status()]})

    async def schedules(self, request: Request) -> Response:
        if (refused := await admin_required(request, self.runtime)) is not None:
            return refused
        infos = await self.runtime.schedules.describe()
        return JSONResponse({"schedules": [i.as_json() for i in infos]})

    async def schedule(self, request: Request) -> Response:
        if (refused := await admin_required(request, self.runtime)) is not None:
            return refused
        raw = request.query_params.get("limit", "20")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_RUNS:
            return JSONResponse({"message": f"limit = {raw!r}: must be an integer from 1 to {MAX_RUNS}"}, 400)
        name = request.path_params["name"]
        book = self.runtime.schedules
        try:
            info = await book.info(name)
            runs = await book.runs(name, int(raw))
        except FaaSError as exc:
            return admin_error(exc)
        return JSONResponse({**info.as_json(), "runs": [r.as_json() for r in runs]})

    async def action(self, request: Request) -> Response:
        if (refused := await admin_required(request, self.runtime)) is not None:
            return refused
        name, action = request.path_params["name"], request.path_params["action"]
        book = self.runtime.schedules
        try:
            if action == "pause":
                await book.pause(name)
            elif action == "resume":
                await book.resume(name)
            elif action == "run":
                run = await book.run_now(name)
                return JSONResponse({"run": run.as_json()}, 202)
            else:
                return JSONResponse({"message": f"unknown action {action!r}: use pause, resume or run"}, 404)
            info = await book.info(name)
        except FaaSError as exc:
            return admin_error(exc)
        return JSONResponse(info.as_json())

