"""``faas dlq list [--function F]`` and ``faas dlq replay ID...|--all``.

Both work on the store directly, whether the server runs or not: a replay moves the dead letter
back into the async queue, due now, where the running server's dispatcher picks it up within a
second (or the next ``faas serve`` does). A replayed event gets a fresh ``max_event_age`` and its
full ``max_retries`` again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from faas.cli._common import EXIT_USAGE, CliError, open_event_store, print_table
from faas.config import Config
from faas.events import DeadLetter, iso_time


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("dlq", help="list or replay dead-lettered async events")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    list_p = actions.add_parser("list", parents=[common], help="dead letters, oldest first")
    list_p.add_argument("--function", help="only this function's")
    list_p.add_argument("--json", action="store_true", help="print JSON, payloads included")
    replay_p = actions.add_parser("replay", parents=[common], help="queue dead letters again")
    replay_p.add_argument("ids", nargs="*", type=int, metavar="ID", help="dead letter ids (from `faas dlq list`)")
    replay_p.add_argument("--all", action="store_true", help="every dead letter (of --function, if given)")
    replay_p.add_argument("--function", help="with --all: only this function's")
    p.set_defaults(run=lambda config, a: asyncio.run(dlq(config, a)))


async def dlq(config: Config, args: argparse.Namespace) -> int:
    if args.action == "replay" and bool(args.ids) == bool(args.all):
        raise CliError("give dead letter ids, or --all (not both)", EXIT_USAGE)
    if args.action == "replay" and args.function and not args.all:
        raise CliError("--function goes with --all", EXIT_USAGE)
    async with open_event_store(config) as store:
        if args.action == "list":
            letters = await store.dead_letters(args.function)
            if args.json:
                print(json.dumps([_as_json(d) for d in letters], indent=2))
            elif not letters:
                print("no dead letters" + (f" for {args.function}" if args.function else ""))
            else:
                _print(letters)
            return 0
        replayed = await store.replay(None if args.all else args.ids, function=args.function)
    missing = sorted(set(args.ids) - {d.id for d in replayed})
    for d in replayed:
        print(f"replayed #{d.id}: {d.function} event {d.event_id}")
    if not replayed and args.all:
        print("no dead letters to replay")
    if missing:
        raise CliError(f"no dead letter with id {', '.join(f'#{i}' for i in missing)}")
    return 0


def _print(letters: list[DeadLetter]) -> None:
    rows: list[tuple[object, ...]] = [("ID", "FAILED", "FUNCTION", "TRIGGER", "TRIES", "REASON", "EVENT ID", "LAST ERROR")]
    for d in letters:
        error = ": ".join(x for x in (d.error_type, d.error_message) if x) or "-"
        rows.append((d.id, iso_time(d.failed_at), d.function, d.trigger, d.attempts, d.reason, d.event_id,
                     error.replace("\n", " ")[:100]))
    print_table(rows)


def _as_json(d: DeadLetter) -> dict[str, Any]:
    try:
        payload: Any = json.loads(d.payload)
    except ValueError:
        payload = d.payload.decode("utf-8", "replace")
    return {
        "id": d.id, "eventId": d.event_id, "function": d.function, "trigger": d.trigger, "caller": d.caller,
        "enqueued": iso_time(d.enqueued_at), "failed": iso_time(d.failed_at), "attempts": d.attempts,
        "reason": d.reason, "errorType": d.error_type, "errorMessage": d.error_message,
        "requestIds": list(d.request_ids), "payload": payload,
    }
