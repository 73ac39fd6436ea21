"""Lambda's pricing model as pure functions. Money is ``Decimal``; nothing here does I/O.

A bill is requests x price per request plus GB-seconds x price per GB-second, where GB-seconds are
``billed ms / 1000 x memory MB / 1024`` summed over the calls. Throttled calls are not requests (they
never ran); errors and timeouts are billed for the time they ran. The monthly free tier is taken off
the *account* total, as AWS does, so each line shows its gross cost (what it would cost alone without
a free tier) and only the total has the free tier applied: the lines can add up to more than the
total, never to less. Splitting a discount across lines would make a line's cost depend on how busy
the other functions were, which answers no useful question.

Everything is exact (``Decimal``, GB-seconds kept as MB-milliseconds, an integer) and rounded only
when shown: :func:`money` for JSON and CSV, :func:`dollars` for people.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "MB_MS_PER_GB_SECOND",
    "Bill",
    "BillLine",
    "BillTotal",
    "Prices",
    "Usage",
    "billed_ms",
    "dollars",
    "estimate",
    "gb_seconds",
    "make_bill",
    "money",
]

# 1 GB-second = 1024 MB x 1000 ms. Its factors are 2 and 5 only, so every GB-second figure is a
# terminating decimal and Decimal division by it is exact.
MB_MS_PER_GB_SECOND = 1024 * 1000
_MONEY_PLACES = Decimal("0.0000000001")  # ten places, as AWS's cost reports show amounts
_CENT = Decimal("0.01")


def billed_ms(duration_ms: float, init_ms: float | None, *, granularity_ms: int = 1, bill_init: bool = True) -> int:
    """Billed duration: run time (plus the init phase, billed since Aug 2025) rounded up to the granularity."""
    total = duration_ms + ((init_ms or 0.0) if bill_init else 0.0)
    if total <= 0:
        return 0
    return math.ceil(round(total / granularity_ms, 6)) * granularity_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Prices:
    """The price list and the monthly free tier (``[billing]`` in config.toml)."""

    price_per_request: Decimal = Decimal("0.0000002")
    price_per_gb_second: Decimal = Decimal("0.0000166667")
    free_requests: int = 1_000_000
    free_gb_seconds: Decimal = Decimal(400_000)

    def without_free_tier(self) -> "Prices":
        return Prices(
            price_per_request=self.price_per_request, price_per_gb_second=self.price_per_gb_second,
            free_requests=0, free_gb_seconds=Decimal(0),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Metered use of one (function, caller, memory size): billable requests and their billed ms."""

    function: str
    caller: str | None
    memory_mb: int
    requests: int
    billed_ms: int

    @property
    def mb_ms(self) -> int:
        return self.billed_ms * self.memory_mb


@dataclass(frozen=True, slots=True, kw_only=True)
class _Amounts:
    requests: int
    billed_ms: int
    gb_seconds: Decimal
    request_cost: Decimal
    compute_cost: Decimal

    @property
    def cost(self) -> Decimal:
        return self.request_cost + self.compute_cost


@dataclass(frozen=True, slots=True, kw_only=True)
class BillLine(_Amounts):
    """One function's (or one key's) gross cost, before the account's free tier."""

    name: str | None  # a function name, or an API key id (None: calls made without a key)


@dataclass(frozen=True, slots=True, kw_only=True)
class BillTotal(_Amounts):
    """The account's total with the free tier taken off (its costs are net, its figures gross)."""

    free_requests_applied: int
    free_gb_seconds_applied: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Bill:
    month: str | None  # "YYYY-MM"; None for an estimate
    by: str  # "function" or "key"
    prices: Prices
    lines: tuple[BillLine, ...]
    total: BillTotal


def gb_seconds(mb_ms: int) -> Decimal:
    """MB-milliseconds as GB-seconds, exactly."""
    return Decimal(mb_ms) / MB_MS_PER_GB_SECOND


def make_bill(month: str | None, usage: Iterable[Usage], prices: Prices, *, by: str = "function") -> Bill:
    """Price a month's usage, one line per function (``by="function"``) or per API key (``by="key"``)."""
    if by not in ("function", "key"):
        raise ValueError(f"by must be 'function' or 'key', not {by!r}")
    groups: dict[str | None, list[int]] = {}
    for u in usage:
        name = u.function if by == "function" else u.caller
        acc = groups.setdefault(name, [0, 0, 0])
        acc[0] += u.requests
        acc[1] += u.billed_ms
        acc[2] += u.mb_ms
    lines = tuple(
        _line(name, requests, ms, mb_ms, prices)
        for name, (requests, ms, mb_ms) in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    )
    requests = sum(line.requests for line in lines)
    total_gbs = gb_seconds(sum(acc[2] for acc in groups.values()))
    free_requests = min(requests, prices.free_requests)
    free_gbs = min(total_gbs, prices.free_gb_seconds)
    total = BillTotal(
        requests=requests,
        billed_ms=sum(line.billed_ms for line in lines),
        gb_seconds=total_gbs,
        free_requests_applied=free_requests,
        free_gb_seconds_applied=free_gbs,
        request_cost=(requests - free_requests) * prices.price_per_request,
        compute_cost=(total_gbs - free_gbs) * prices.price_per_gb_second,
    )
    return Bill(month=month, by=by, prices=prices, lines=lines, total=total)


def _line(name: str | None, requests: int, ms: int, mb_ms: int, prices: Prices) -> BillLine:
    gbs = gb_seconds(mb_ms)
    return BillLine(
        name=name, requests=requests, billed_ms=ms, gb_seconds=gbs,
        request_cost=requests * prices.price_per_request, compute_cost=gbs * prices.price_per_gb_second,
    )


def estimate(
    *, memory_mb: int, requests: int, duration_ms: float, prices: Prices, granularity_ms: int = 1,
    name: str = "estimate",
) -> Bill:
    """Price ``requests`` calls of ``duration_ms`` each at ``memory_mb`` without running them.

    Each call's duration is rounded up to the granularity first, as the metered calls are.
    """
    per_call = billed_ms(duration_ms, None, granularity_ms=granularity_ms)
    usage = Usage(function=name, caller=None, memory_mb=memory_mb, requests=requests, billed_ms=per_call * requests)
    return make_bill(None, [usage], prices)


def money(amount: Decimal) -> str:
    """An amount for JSON and CSV: a decimal string with ten places (exact up to there)."""
    return f"{amount.quantize(_MONEY_PLACES, rounding=ROUND_HALF_UP):f}"


def dollars(amount: Decimal) -> str:
    """An amount for people: "$18.74"; amounts under a cent keep their significant digits ("$0.0000042")."""
    if amount == 0 or abs(amount) >= _CENT:
        return f"${amount.quantize(_CENT, rounding=ROUND_HALF_UP):,}"
    small = amount.quantize(_MONEY_PLACES, rounding=ROUND_HALF_UP)
    return f"${small.normalize():f}" if small else "$0.00"
