"""``faas schedules list|runs|pause|resume|run``.

With the server running, the commands go through its admin API (``/admin/api/schedules``), so a
pause stops the clock at once. When the server cannot be reached, ``list``, ``runs``, ``pause`` and
``resume`` read and write the store directly (the next start honours a pause); ``run`` needs the
server, since only it runs functions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any
from urllib.parse import quote

from faas._cli_table import print_table
from faas.cli import EXIT_FAILED, EXIT_UNREACHABLE, CliError, request, server_url
from faas.config import Config

ACTIONS = ("pause", "resume", "run")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    opts = argparse.ArgumentParser(add_help=False, parents=[common])
    opts.add_argument("--url", help="server URL (default: from config)")
    p = sub.add_parser("schedules", help="list, pause, resume or run schedules")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    list_p = actions.add_parser("list", parents=[opts], help="every schedule: state, next fire, last run")
    list_p.add_argument("--json", action="store_true", help="print JSON")
    runs_p = actions.add_parser("runs", parents=[opts], help="a schedule's latest runs")
    runs_p.add_argument("name")
    runs_p.add_argument("--limit", type=int, default=20, help="how many (default 20, at most 1000)")
    runs_p.add_argument("--json", action="store_true", help="print JSON")
    for action, text in (("pause", "stop firing (kept across restarts)"), ("resume", "fire again"),
                         ("run", "fire now")):
        a = actions.add_parser(action, parents=[opts], help=text)
        a.add_argument("name")
    p.set_defaults(run=lambda config, a: schedules(config, a))


def schedules(config: Config, args: argparse.Namespace) -> int:
    base = f"{server_url(config, args.url)}/admin/api/schedules"
    action: str = args.action
    try:
        if action == "list":
            data = _call(config, "GET", base)
        elif action == "runs":
            data = _call(config, "GET", f"{base}/{quote(args.name, safe='')}?limit={args.limit}")
        else:
            data = _call(config, "POST", f"{base}/{quote(args.name, safe='')}/{action}")
    except CliError as exc:
        if exc.code != EXIT_UNREACHABLE:
            raise
        if action == "run":
            raise CliError(f"{exc}: `faas schedules run` needs the server running", EXIT_UNREACHABLE) from None
        print(f"faas: note: server not reachable ({base}); using the store directly", file=sys.stderr)
        data = asyncio.run(_offline(config, action, getattr(args, "name", ""), getattr(args, "limit", 20)))
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2))
    elif action == "list":
        _print_list(data["schedules"])
    elif action == "runs":
        _print_runs(data.get("runs", []))
    elif action == "run":
        run = data["run"]
        print(f"schedule {args.name}: run #{run['id']} queued (event {run['eventId']})")
    else:
        print(f"schedule {args.name}: {'paused' if data['paused'] else 'resumed'}")
    return 0


def _call(config: Config, method: str, url: str) -> Any:
    status, _, body = request(config, method, url)
    try:
        data = json.loads(body)
    except ValueError:
        data = {"message": body.decode("utf-8", "replace")}
    if status >= 400:
        raise CliError(str(data.get("message", status)), EXIT_FAILED)
    return data


async def _offline(config: Config, action: str, name: str, limit: int) -> Any:
    from faas.exceptions import FaaSError
    from faas.locations import db_path
    from faas.schedules import ScheduleBook
    from faas.store_events import EventStore

    db = db_path(config.server.data_dir)
    if not db.exists() and action in ("list", "runs"):
        raise CliError(f"no data yet: {db} does not exist (has the server run?)")
    async with EventStore(db) as store:
        book = ScheduleBook(store, lambda: config, None)
        try:
            if action == "list":
                return {"schedules": [i.as_json() for i in await book.describe()]}
            if action == "runs":
                return {"runs": [r.as_json() for r in await book.runs(name, limit)]}
            await (book.pause(name) if action == "pause" else book.resume(name))
            return (await book.info(name)).as_json()
        except FaaSError as exc:
            raise CliError(str(exc)) from exc


def _print_list(rows: list[dict[str, Any]]) -> None:
    table = [("NAME", "EXPRESSION", "FUNCTION", "STATE", "NEXT FIRE", "LAST RUN")]
    for s in rows:
        state = "disabled" if not s["enabled"] else "paused" if s["paused"] else "active"
        last = s.get("lastRun")
        last_text = "-" if not last else f"{last['status']} at {last['scheduledTime']}"
        table.append((s["name"], s["expression"], s["function"], state, s["nextFire"] or "-", last_text))
    print_table(table)


def _print_runs(runs: list[dict[str, Any]]) -> None:
    table = [("RUN", "SCHEDULED", "STATUS", "STARTED", "FINISHED", "DURATION", "REQUEST ID", "ERROR")]
    for r in runs:
        duration = "-" if r["durationMs"] is None else f"{r['durationMs']:.1f} ms"
        table.append((
            f"#{r['id']}{' (manual)' if r['manual'] else ''}", r["scheduledTime"], r["status"], r["started"] or "-",
            r["finished"] or "-", duration, r["requestId"] or "-", (r["error"] or "")[:80],
        ))
    print_table(table)
