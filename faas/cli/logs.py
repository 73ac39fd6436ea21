"""``faas logs NAME [--since 10m] [--follow] [--request-id ID]``: a function's logs, read from the store.
``faas logs --trace ROOT``: every call of one trace (its X-Amzn-Trace-Id Root), across functions, in the
order they started, each under a line naming its function.

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
from faas.trace import valid_root

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    logs_p = sub.add_parser("logs", parents=[common], help="show a function's logs")
    logs_p.add_argument("name", nargs="?", help="the function (optional with --trace)")
    logs_p.add_argument("--since", help="only logs newer than this: 30s, 10m, 2h, 1d")
    logs_p.add_argument("--follow", "-f", action="store_true", help="keep printing new logs")
    logs_p.add_argument("--request-id", help="only the log of this request")
    logs_p.add_argument("--trace", metavar="ROOT",
                        help="every call of this trace (the 1-... Root of its X-Amzn-Trace-Id), across functions")
    logs_p.set_defaults(
        run=lambda config, a: asyncio.run(logs(config, a.name, a.since, a.follow, a.request_id, a.trace))
    )


def parse_since(text: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise CliError(f'--since "{text}": use a number and a unit, like 30s, 10m, 2h or 1d', EXIT_USAGE)
    return time.time() - float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


async def logs(
    config: Config, name: str | None, since: str | None, follow: bool, request_id: str | None,
    trace: str | None = None,
) -> int:
    if name is None and trace is None:
        raise CliError("faas logs: give a function NAME, or --trace ROOT", EXIT_USAGE)
    if trace is not None:
        trace = trace.strip()
        if trace.startswith("Root="):  # a whole header pasted: take its Root
            trace = trace[5:].split(";", 1)[0]
        if not valid_root(trace.lower()):
            raise CliError(f'--trace "{trace}": give a trace Root like 1-5759e988-bd862e3fe1be46a994272793',
                           EXIT_USAGE)
        trace = trace.lower()
    since_ts = parse_since(since) if since else None
    store = open_store(config)
    if name is not None and name not in config.functions:
        print(f"faas: note: {name} is not in {config.path.name} (showing stored logs anyway)", file=sys.stderr)
    async with store:
        last = 0
        seen: set[int] = set()
        while True:
            if trace is None:
                entries = await store.logs(function=name, since=since_ts, request_id=request_id, after_id=last)
            else:  # in start order, so not by cursor: a trace is a handful of calls
                entries = [e for e in await store.logs(function=name, since=since_ts, request_id=request_id,
                                                        trace_id=trace) if e[0] not in seen]
            for entry_id, entry in entries:
                if trace is not None:
                    seen.add(entry_id)
                    sys.stdout.write(f"== {entry.function} ==\n")
                sys.stdout.write(entry.text)
                last = entry_id
            sys.stdout.flush()
            if not follow:
                return 0
            if not entries:
                await asyncio.sleep(0.5)
