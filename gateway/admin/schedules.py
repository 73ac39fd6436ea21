"""Schedules: each schedule's state, next and last run; pause, resume, run now; its run history.

The work is the core's ``ScheduleBook`` (faas/schedules.py), the same one the JSON API and
``faas schedules`` use: a pause here stops the clock at once, and run now queues the fire like the
clock does. A run finishes in the background, so a page showing a queued or running run reloads
itself (a meta refresh) until it is done.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from faas.events import RunStatus, ScheduleRun
from faas.exceptions import ScheduleConflict, ScheduleNotFound
from gateway.admin.pages import Admin, action, page, redirect
from gateway.admin.session import Session

RUNS = 50  # runs on a schedule's page
ACTIONS = ("pause", "resume", "run")


def refresh_for(runs: Iterable[ScheduleRun | None]) -> int | None:
    """Reload every few seconds while a run is queued or running, less often while one waits to retry."""
    statuses = {run.status for run in runs if run is not None}
    if statuses & {RunStatus.QUEUED, RunStatus.RUNNING}:
        return 2
    if RunStatus.RETRYING in statuses:
        return 10
    return None


def flash_of(request: Request, names: Collection[str]) -> str | None:
    """What the last action did, from the redirect's query (only a configured schedule's name is echoed)."""
    q = request.query_params
    done, name = q.get("done"), q.get("name", "")
    if done in ("paused", "resumed") and name not in names:
        return None
    if done == "paused":
        return f"Paused {name}: it does not fire until you resume it (a restart keeps the pause)."
    if done == "resumed":
        return f"Resumed {name}: it fires again from its next time on; the paused time is not caught up."
    if done == "run" and q.get("run", "").isdigit():
        return (f"Run #{q['run']} queued. It runs in the background: its status below changes from queued to running "
                "to success or failed, and this page reloads itself until it is done.")
    return None


def _path(name: str) -> str:
    return f"/admin/schedules/{quote(name, safe='')}"


@page
async def schedule_list(admin: Admin, request: Request, session: Session) -> Response:
    infos = await admin.runtime.schedules.describe()
    return admin.render(
        request, "schedules.html", section="schedules", session=session, infos=infos,
        config_file=admin.runtime.config.path.name, flash=flash_of(request, [i.config.name for i in infos]),
        refresh=refresh_for(info.last_run for info in infos),
    )


@page
async def schedule_detail(admin: Admin, request: Request, session: Session) -> Response:
    book = admin.runtime.schedules
    name = request.path_params["name"]
    try:
        info = await book.info(name)
        runs = await book.runs(name, RUNS)
    except ScheduleNotFound as exc:
        return admin.fail(request, session, exc, section="schedules", back="/admin/schedules")
    return admin.render(
        request, "schedule.html", section="schedules", session=session, info=info, runs=runs, limit=RUNS,
        config_file=admin.runtime.config.path.name, flash=flash_of(request, [name]), refresh=refresh_for(runs),
    )


@action
async def schedule_action(admin: Admin, request: Request, session: Session) -> Response:
    book = admin.runtime.schedules
    name, verb = request.path_params["name"], request.path_params["action"]
    back = _path(name) if request.state.form.get("back") == "schedule" else "/admin/schedules"
    if verb not in ACTIONS:
        return admin.refuse(request, session, section="schedules", status=404, title="No such action",
                            message=f"{verb!r} is not something a schedule does: pause, resume or run.", back=back)
    try:
        if verb == "pause":
            await book.pause(name)
            return redirect(back, done="paused", name=name)
        if verb == "resume":
            await book.resume(name)
            return redirect(back, done="resumed", name=name)
        run = await book.run_now(name)
    except ScheduleNotFound as exc:
        return admin.fail(request, session, exc, section="schedules", back="/admin/schedules")
    except ScheduleConflict as exc:
        return admin.fail(request, session, exc, section="schedules", back=back)
    return redirect(_path(name), done="run", run=str(run.id))


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/admin/schedules", schedule_list(admin), methods=["GET"]),
        Route("/admin/schedules/{name}", schedule_detail(admin), methods=["GET"]),
        Route("/admin/schedules/{name}/{action:str}", schedule_action(admin), methods=["POST"]),
    ]
