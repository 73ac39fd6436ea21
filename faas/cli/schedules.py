"""``faas schedules list|runs|pause|resume|run``.

With the server running, the commands go through its admin API (``/admin/api/schedules``), so a
pause stops the clock at once. When the server cannot be reached, ``list``, ``runs``, ``pause`` and
``resume`` read and write the store directly (the next start honours a pause); ``run`` needs the
server, since only it runs functions.
"""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import quote

from faas.cli._common import EXIT_UNREACHABLE, CliError, open_event_store, print_table, server_else_store, server_url
from faas.config import Config


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
    name: str = getattr(args, "name", "")
    if action == "list":
        method, url = "GET", base
    elif action == "runs":
        method, url = "GET", f"{base}/{quote(name, safe='')}?limit={args.limit}"
    else:
        method, url = "POST", f"{base}/{quote(name, safe='')}/{action}"
    # Only the server runs functions, so `run` has no store fallback.
    on_store = None if action == "run" else lambda: _on_store(config, action, name, getattr(args, "limit", 20))
    try:
        data = server_else_store(
            config, method, url, on_store, note=f"server not reachable ({base}); using the store directly",
        )
    except CliError as exc:
        if on_store is None and exc.code == EXIT_UNREACHABLE:
            raise CliError(f"{exc}: `faas schedules run` needs the server running", EXIT_UNREACHABLE) from None
        raise
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


async def _on_store(config: Config, action: str, name: str, limit: int) -> Any:
    from faas.exceptions import FaaSError
    from faas.schedules import ScheduleBook

    async with open_event_store(config, must_exist=action in ("list", "runs")) as store:
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
