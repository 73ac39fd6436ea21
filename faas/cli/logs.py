"""``faas logs NAME [--since 10m] [--follow] [--request-id ID]``: a function's logs, read from the store.

It reads the store directly, so it works whether the server runs or not; ``--follow`` polls for new
lines every half second.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from typing import Any

from faas.cli._common import EXIT_USAGE, CliError, open_store
from faas.config import Config

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    logs_p = sub.add_parser("logs", parents=[common], help="show a function's logs")
    logs_p.add_argument("name")
    logs_p.add_argument("--since", help="only logs newer than this: 30s, 10m, 2h, 1d")
    logs_p.add_argument("--follow", "-f", action="store_true", help="keep printing new logs")
    logs_p.add_argument("--request-id", help="only the log of this request")
    logs_p.set_defaults(run=lambda config, a: asyncio.run(logs(config, a.name, a.since, a.follow, a.request_id)))


def parse_since(text: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise CliError(f'--since "{text}": use a number and a unit, like 30s, 10m, 2h or 1d', EXIT_USAGE)
    return time.time() - float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


async def logs(config: Config, name: str, since: str | None, follow: bool, request_id: str | None) -> int:
    since_ts = parse_since(since) if since else None
    store = open_store(config)
    if name not in config.functions:
        print(f"faas: note: {name} is not in {config.path.name} (showing stored logs anyway)", file=sys.stderr)
    async with store:
        last = 0
        while True:
            entries = await store.logs(function=name, since=since_ts, request_id=request_id, after_id=last)
            for entry_id, entry in entries:
                sys.stdout.write(entry.text)
                last = entry_id
            sys.stdout.flush()
            if not follow:
                return 0
            if not entries:
                await asyncio.sleep(0.5)
