"""``faas bill``: a month's bill from the store, and ``faas bill estimate`` for a workload not yet run.

    faas bill [--month YYYY-MM] [--by function|key] [--format table|json|csv]
    faas bill estimate --memory MB --requests N --duration-ms D [--no-free-tier] [--format ...]

Prices and the free tier come from ``[billing]`` in config.toml; ``estimate`` can override the two
prices (AWS's published examples used $0.00001667 per GB-second).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from faas import billing
from faas.bills import BY, FORMATS, bill_csv, bill_json, bill_table, current_month, key_names, month_bill, prices_of
from faas.cli._common import EXIT_USAGE, CliError, open_store
from faas.config import Config

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    bill_p = sub.add_parser(
        "bill", parents=[common], help="show a month's bill under Lambda pricing, or estimate one",
        description="A month's bill under Lambda pricing, from the metered calls. Lines show gross cost; "
        "the total has the monthly free tier taken off.",
    )
    bill_p.add_argument("--month", type=_month, help="YYYY-MM, UTC (default: this month)")
    bill_p.add_argument("--by", choices=BY, default="function", help="one line per function or per API key")
    bill_p.add_argument("--format", choices=FORMATS, default="table")
    bill_p.set_defaults(run=lambda config, a: asyncio.run(show_bill(config, a.month, a.by, a.format)))

    # --config is accepted after "estimate" too; SUPPRESS keeps a value given before it.
    late = argparse.ArgumentParser(add_help=False)
    late.add_argument("--config", default=argparse.SUPPRESS, help="path to config.toml (default: ./config.toml)")
    bill_sub = bill_p.add_subparsers(dest="bill_command", metavar="estimate")
    est_p = bill_sub.add_parser(
        "estimate", parents=[late], help="price a workload without running it",
        description="Price N calls of D ms at MB memory, in the same shapes as a bill.",
    )
    est_p.add_argument("--memory", type=int, required=True, help="memory size in MB (128 to 10240)")
    est_p.add_argument("--requests", type=int, required=True, help="calls in the month")
    est_p.add_argument("--duration-ms", type=float, required=True, help="duration of each call in ms")
    est_p.add_argument("--no-free-tier", action="store_true", help="do not take the monthly free tier off")
    est_p.add_argument("--price-per-request", type=_amount, help="override billing.price_per_request")
    est_p.add_argument("--price-per-gb-second", type=_amount, help="override billing.price_per_gb_second")
    est_p.add_argument("--format", choices=FORMATS, default=argparse.SUPPRESS, help="table (default), json or csv")
    est_p.set_defaults(run=show_estimate)


def _month(text: str) -> str:
    if not _MONTH.match(text):
        raise argparse.ArgumentTypeError(f'"{text}": use YYYY-MM, e.g. 2026-05')
    return text


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f'"{text}": must be a number of 0 or more, e.g. 0.00001667')
    return value


def _print(bill: billing.Bill, fmt: str, title: str | None = None, names: dict[str, str] | None = None) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(bill_json(bill), indent=2) + "\n")
    elif fmt == "csv":
        sys.stdout.write(bill_csv(bill))
    else:
        sys.stdout.write(bill_table(bill, title, names))


async def show_bill(config: Config, month: str | None, by: str, fmt: str) -> int:
    async with open_store(config) as store:
        bill = await month_bill(store, month or current_month(), prices_of(config.billing), by=by)
        names = await key_names(store) if by == "key" and fmt == "table" else None
    _print(bill, fmt, names=names)
    return 0


def show_estimate(config: Config, a: argparse.Namespace) -> int:
    if not 128 <= a.memory <= 10240:
        raise CliError(f"--memory {a.memory}: must be from 128 to 10240 MB", EXIT_USAGE)
    if a.requests < 0 or a.duration_ms < 0:
        raise CliError("--requests and --duration-ms must be 0 or more", EXIT_USAGE)
    prices = prices_of(config.billing, free_tier=not a.no_free_tier)
    if a.price_per_request is not None or a.price_per_gb_second is not None:
        prices = billing.Prices(
            price_per_request=prices.price_per_request if a.price_per_request is None else a.price_per_request,
            price_per_gb_second=prices.price_per_gb_second if a.price_per_gb_second is None else a.price_per_gb_second,
            free_requests=prices.free_requests, free_gb_seconds=prices.free_gb_seconds,
        )
    bill = billing.estimate(
        memory_mb=a.memory, requests=a.requests, duration_ms=a.duration_ms, prices=prices,
        granularity_ms=config.billing.granularity_ms,
    )
    title = (f"Estimate: {a.requests:,} calls of {a.duration_ms:g} ms at {a.memory} MB"
             f"{', no free tier' if a.no_free_tier else ''}")
    _print(bill, a.format, title)
    return 0
