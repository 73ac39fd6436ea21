"""Bills from the store, and their three forms: JSON, CSV and a table for people.

``month_bill`` prices a month's usage rollups (``faas.store.rollups``) with ``faas.billing``; it reads
a few hundred rollup rows whatever the month's volume, so a month of 10 million calls bills in
milliseconds. The CLI (``faas bill``), the admin page and its JSON endpoint all render through here,
so the three agree to the digit.

JSON shape (the contract)::

    {"month": "2026-05" | null, "currency": "USD",
     "prices": {"price_per_request": "0.0000002", "price_per_gb_second": "0.0000166667"},
     "free_tier": {"requests": 1000000, "gb_seconds": 400000},
     "lines": [{"function" | "key": ..., "requests", "billed_ms", "gb_seconds",
                "request_cost", "compute_cost", "cost"}],
     "total": {"requests", "gb_seconds", "free_requests_applied", "free_gb_seconds_applied",
               "request_cost", "compute_cost", "cost"}}

Money is a decimal string with ten places (as AWS's own APIs return amounts); counts are integers;
GB-seconds are numbers. Lines are gross, the total has the free tier applied (see faas.billing).
"""

from __future__ import annotations

import csv
import io
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from faas.billing import Bill, BillLine, Prices, dollars, make_bill, money
from faas.config import BillingConfig
from faas.store import KeyStore
from faas.store import rollups as store_billing

if TYPE_CHECKING:
    from faas.store import SQLiteStore

__all__ = [
    "BY", "FORMATS", "bill_csv", "bill_json", "bill_table", "current_month", "key_names", "month_bill", "prices_of",
]

BY = ("function", "key")
FORMATS = ("table", "json", "csv")
NO_KEY = "(no key)"


def prices_of(config: BillingConfig, *, free_tier: bool = True) -> Prices:
    prices = Prices(
        price_per_request=config.price_per_request,
        price_per_gb_second=config.price_per_gb_second,
        free_requests=config.free_requests,
        free_gb_seconds=Decimal(config.free_gb_seconds),
    )
    return prices if free_tier else prices.without_free_tier()


def current_month(now: float | None = None) -> str:
    return time.strftime("%Y-%m", time.gmtime(time.time() if now is None else now))


async def month_bill(store: SQLiteStore, month: str, prices: Prices, *, by: str = "function") -> Bill:
    """The bill of ``month`` ("YYYY-MM", UTC), one line per function or per API key.

    This is what a benchmark times for "a month of 10 million calls bills in under 2 s".
    """
    return make_bill(month, await store_billing.usage(store, month), prices, by=by)


async def key_names(store: SQLiteStore) -> dict[str, str]:
    """API key id -> the name it was created with, to label a bill by key for people."""
    return {row.id: row.name for row in await KeyStore(store).all()}


# --- forms -------------------------------------------------------------------------------------


def _gbs(value: Decimal) -> float:
    return float(round(value, 6))


def _line_json(bill: Bill, line: BillLine) -> dict[str, Any]:
    return {
        bill.by: line.name,
        "requests": line.requests,
        "billed_ms": line.billed_ms,
        "gb_seconds": _gbs(line.gb_seconds),
        "request_cost": money(line.request_cost),
        "compute_cost": money(line.compute_cost),
        "cost": money(line.cost),
    }


def bill_json(bill: Bill) -> dict[str, Any]:
    """The bill as the JSON contract above (a dict ready for ``json.dumps``)."""
    t = bill.total
    return {
        "month": bill.month,
        "currency": "USD",
        "prices": {
            "price_per_request": f"{bill.prices.price_per_request:f}",
            "price_per_gb_second": f"{bill.prices.price_per_gb_second:f}",
        },
        "free_tier": {"requests": bill.prices.free_requests, "gb_seconds": _gbs(bill.prices.free_gb_seconds)},
        "lines": [_line_json(bill, line) for line in bill.lines],
        "total": {
            "requests": t.requests,
            "gb_seconds": _gbs(t.gb_seconds),
            "free_requests_applied": t.free_requests_applied,
            "free_gb_seconds_applied": _gbs(t.free_gb_seconds_applied),
            "request_cost": money(t.request_cost),
            "compute_cost": money(t.compute_cost),
            "cost": money(t.cost),
        },
    }


CSV_COLUMNS = ("requests", "billed_ms", "gb_seconds", "request_cost", "compute_cost", "cost")


def bill_csv(bill: Bill) -> str:
    """One row per line, then a TOTAL row with the free tier applied (its billed_ms is the plain sum)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((bill.by, *CSV_COLUMNS))
    for line in bill.lines:
        row = _line_json(bill, line)
        writer.writerow((line.name if line.name is not None else "", *(row[c] for c in CSV_COLUMNS)))
    t = bill.total
    writer.writerow(
        ("TOTAL", t.requests, t.billed_ms, _gbs(t.gb_seconds), money(t.request_cost), money(t.compute_cost), money(t.cost))
    )
    return out.getvalue()


def bill_table(bill: Bill, title: str | None = None, names: dict[str, str] | None = None) -> str:
    """A bill for a terminal: aligned columns, dollars rounded for reading; ``names`` labels API keys."""
    if title is None:
        title = f"Bill for {bill.month} (UTC), by {bill.by}" if bill.month else "Estimate"
    header = (bill.by.upper(), "REQUESTS", "BILLED MS", "GB-SECONDS", "REQUEST COST", "COMPUTE COST", "COST")
    rows = [header]
    for line in bill.lines:
        name = line.name if line.name is not None else NO_KEY
        if names and line.name in names:
            name = f"{names[line.name]} ({line.name})"
        rows.append(
            (name, f"{line.requests:,}", f"{line.billed_ms:,}", f"{line.gb_seconds:,.3f}",
             dollars(line.request_cost), dollars(line.compute_cost), dollars(line.cost))
        )
    t = bill.total
    rows.append(
        ("TOTAL", f"{t.requests:,}", f"{t.billed_ms:,}", f"{t.gb_seconds:,.3f}",
         dollars(t.request_cost), dollars(t.compute_cost), dollars(t.cost))
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    text = [title, ""]
    for i, row in enumerate(rows):
        if i == len(rows) - 1:
            text.append("  ".join("-" * w for w in widths))
        text.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
    p = bill.prices
    text += [
        "",
        f"Free tier applied to the total: {t.free_requests_applied:,} of {p.free_requests:,} requests, "
        f"{t.free_gb_seconds_applied:,.3f} of {p.free_gb_seconds:,} GB-seconds.",
        "Lines show gross cost (before the free tier), so they may add up to more than the total.",
        f"Prices: ${p.price_per_request:f} per request, ${p.price_per_gb_second:f} per GB-second (USD).",
    ]
    return "\n".join(text) + "\n"
