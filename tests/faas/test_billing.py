"""Bill maths against AWS's published Lambda pricing examples, the free tier, rounding and the rollups."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from faas import billing
from faas.store import rollups as store_billing
from faas.billing import Prices, Usage, dollars, estimate, make_bill, money
from faas.bills import bill_csv, bill_json, bill_table, month_bill
from faas.config import BillingConfig, parse_config
from faas.exceptions import ConfigError
from faas.records import Invocation
from faas.store import SQLiteStore

AWS_RATE = Decimal("0.00001667")  # the per GB-second price AWS's classic examples used
DEFAULT = Prices()
CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


# (memory MB, calls, ms each, free tier?) -> (GB-s charged, compute $, request $, total $) at AWS's rate
AWS_EXAMPLES = [
    ((512, 3_000_000, 1000, True), (1_100_000, "18.34", "0.40", "18.74")),
    ((128, 30_000_000, 200, True), (350_000, "5.83", "5.80", "11.63")),
    ((1536, 3_000_000, 120, False), (540_000, "9.00", "0.60", "9.60")),
]


@pytest.mark.parametrize(("workload", "expected"), AWS_EXAMPLES)
def test_aws_worked_examples_at_their_rate(workload: tuple[int, int, int, bool], expected: tuple[int, str, str, str]) -> None:
    memory, calls, ms, free = workload
    prices = Prices(price_per_gb_second=AWS_RATE)
    bill = estimate(memory_mb=memory, requests=calls, duration_ms=ms, prices=prices if free else prices.without_free_tier())
    charged_gbs, compute, requests, total = expected
    t = bill.total
    assert t.gb_seconds - t.free_gb_seconds_applied == charged_gbs
    assert cents(t.compute_cost) == Decimal(compute)
    assert cents(t.request_cost) == Decimal(requests)
    assert cents(t.cost) == Decimal(total)
    assert dollars(t.cost) == f"${total}"


def test_aws_examples_at_the_default_rate() -> None:
    # $0.0000166667 per GB-s (today's price) is a hair cheaper than the examples' $0.00001667.
    one = estimate(memory_mb=512, requests=3_000_000, duration_ms=1000, prices=DEFAULT).total
    assert one.compute_cost == Decimal("18.33337") and one.request_cost == Decimal("0.4")
    assert cents(one.cost) == Decimal("18.73")
    two = estimate(memory_mb=128, requests=30_000_000, duration_ms=200, prices=DEFAULT).total
    assert two.compute_cost == Decimal("5.833345") and cents(two.cost) == Decimal("11.63")
    three = estimate(memory_mb=1536, requests=3_000_000, duration_ms=120, prices=DEFAULT.without_free_tier()).total
    assert three.gb_seconds == 540_000 and three.compute_cost == Decimal("9.000018") and cents(three.cost) == Decimal("9.60")


def test_free_tier_covers_small_accounts_and_lines_stay_gross() -> None:
    usage = [
        Usage(function="a", caller=None, memory_mb=128, requests=600_000, billed_ms=600_000 * 10),
        Usage(function="b", caller="key1", memory_mb=1024, requests=300_000, billed_ms=300_000 * 100),
    ]
    bill = make_bill("2026-05", usage, DEFAULT)
    assert [line.name for line in bill.lines] == ["a", "b"]
    a, b = bill.lines
    assert a.gb_seconds == Decimal(750) and b.gb_seconds == Decimal(30_000)
    assert a.request_cost == Decimal("0.12") and b.cost > 0
    t = bill.total
    assert t.requests == 900_000 and t.free_requests_applied == 900_000
    assert t.free_gb_seconds_applied == Decimal(30_750)
    assert t.cost == 0  # the free tier is taken off the account total only
    by_key = make_bill("2026-05", usage, DEFAULT, by="key")
    assert [line.name for line in by_key.lines] == ["key1", None]  # calls without a key last
    assert by_key.total == bill.total


def test_exact_money_no_float_drift() -> None:
    # A million 1 ms calls at 128 MB: each 0.000125 GB-s; floats would drift, Decimal does not.
    usage = [Usage(function="f", caller=None, memory_mb=128, requests=1, billed_ms=1) for _ in range(1000)]
    bill = make_bill("2026-05", usage, DEFAULT.without_free_tier())
    assert bill.total.gb_seconds == Decimal("0.125")
    assert bill.total.compute_cost == Decimal("0.125") * Decimal("0.0000166667")
    assert money(bill.total.cost) == "0.0002020833"
    assert dollars(Decimal("0.0000042")) == "$0.0000042" and dollars(Decimal(0)) == "$0.00"
    assert dollars(Decimal("1234.565")) == "$1,234.57"


def test_billed_ms_rounds_up_to_the_granularity_and_bills_init() -> None:
    assert billing.billed_ms(15.74, 130.49) == 147  # AWS's REPORT line example
    assert billing.billed_ms(15.74, 130.49, bill_init=False) == 16
    assert billing.billed_ms(15.74, None, granularity_ms=100) == 100
    assert billing.billed_ms(100.0, None, granularity_ms=100) == 100
    assert billing.billed_ms(0.0, None) == 0
    bill = estimate(memory_mb=128, requests=10, duration_ms=1.2, prices=DEFAULT, granularity_ms=100)
    assert bill.lines[0].billed_ms == 1000


def test_json_csv_and_table_forms() -> None:
    bill = estimate(memory_mb=512, requests=3_000_000, duration_ms=1000, prices=Prices(price_per_gb_second=AWS_RATE))
    data = json.loads(json.dumps(bill_json(bill)))
    assert set(data) == {"month", "currency", "prices", "free_tier", "lines", "total"}
    assert data["month"] is None and data["currency"] == "USD"
    assert data["prices"] == {"price_per_request": "0.0000002", "price_per_gb_second": "0.00001667"}
    assert data["free_tier"] == {"requests": 1_000_000, "gb_seconds": 400_000}
    assert set(data["lines"][0]) == {"function", "requests", "billed_ms", "gb_seconds", "request_cost", "compute_cost", "cost"}
    assert data["lines"][0]["cost"] == "25.6050000000"  # gross: 1.5M GB-s and 3M requests
    assert data["total"] == {
        "requests": 3_000_000, "gb_seconds": 1_500_000, "free_requests_applied": 1_000_000,
        "free_gb_seconds_applied": 400_000, "request_cost": "0.4000000000", "compute_cost": "18.3370000000",
        "cost": "18.7370000000",
    }
    rows = bill_csv(bill).splitlines()
    assert rows[0] == "function,requests,billed_ms,gb_seconds,request_cost,compute_cost,cost"
    assert rows[-1].startswith("TOTAL,3000000,3000000000,") and rows[-1].endswith(",18.7370000000")
    table = bill_table(bill)
    assert "$18.74" in table and "1,000,000 of 1,000,000 requests" in table


def test_billing_config_section() -> None:
    cfg = parse_config({"billing": {"price_per_gb_second": "0.00001667", "granularity_ms": 100, "bill_init": False}}, Path("/x/c.toml"))
    assert cfg.billing.price_per_gb_second == AWS_RATE and cfg.billing.granularity_ms == 100
    assert cfg.billing.price_per_request == Decimal("0.0000002") and cfg.billing.free_requests == 1_000_000
    assert parse_config({}, Path("/x/c.toml")).billing == BillingConfig()
    assert parse_config({"billing": {"price_per_request": 2e-7}}, Path("/x/c.toml")).billing.price_per_request == Decimal("2E-7")
    for bad, message in [
        ({"granularity_ms": 0}, "billing.granularity_ms = 0: must be an integer from 1 to 60000"),
        ({"price_per_request": -1}, "billing.price_per_request = -1: must be a number of 0 or more"),
        ({"price_per_gb_second": "cheap"}, 'billing.price_per_gb_second = "cheap": must be a number of 0 or more'),
        ({"bill_init": "yes"}, 'billing.bill_init = "yes": must be true or false'),
        ({"free_tier": 1}, "billing.free_tier: unknown key"),
    ]:
        with pytest.raises(ConfigError) as err:
            parse_config({"billing": bad}, Path("/x/c.toml"))
        assert str(err.value) == message


def _row(i: int, *, function: str = "f", caller: str | None = None, status: str = "success", billed: int = 10,
         memory: int = 128, started: float | None = None) -> Invocation:
    return Invocation(
        request_id=f"r{i}-{uuid.uuid4()}", function=function, version=1, trigger="invoke", caller=caller,
        started_at=time.time() if started is None else started, duration_ms=billed - 0.5, billed_ms=billed,
        memory_mb=memory, max_memory_mb=20, init_ms=None, cold=False, status=status, error_type=None,
    )


def test_rollups_follow_the_rows_in_the_same_transaction(tmp_path: Path) -> None:
    may = 1_777_593_600.0  # 2026-05-01T00:00:00Z

    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            rows = [_row(i, started=may + i) for i in range(5)]
            rows += [_row(10, status="throttled", billed=0, started=may), _row(11, status="timeout", billed=3000, started=may)]
            rows += [_row(12, function="g", caller="k1", memory=1024, billed=100, started=may - 1)]  # April
            await store.write_invocations(rows, [])
            await store.write_invocations(rows[:2], [])  # duplicates are ignored, and not counted twice
            usage = await store_billing.usage(store, "2026-05")
            assert [(u.function, u.requests, u.billed_ms) for u in usage] == [("f", 6, 3050)]
            april = await month_bill(store, "2026-04", DEFAULT.without_free_tier(), by="key")
            assert [(line.name, line.requests, line.gb_seconds) for line in april.lines] == [("k1", 1, Decimal("0.1"))]
            assert await store_billing.months(store) == ["2026-05", "2026-04"]
            assert await store_billing.usage(store, "2026-06") == []

    asyncio.run(scenario())
    # the rollup agrees with a full scan of the rows
    with sqlite3.connect(tmp_path / "faas.db") as db:
        scan = db.execute("SELECT count(*), sum(billed_ms) FROM invocations WHERE status != 'throttled'").fetchone()
        rolled = db.execute("SELECT sum(requests), sum(billed_ms), sum(throttled) FROM usage_daily").fetchone()
    assert rolled == (scan[0], scan[1], 1)


def test_migration_rolls_up_rows_metered_before_it(tmp_path: Path) -> None:
    from faas import store as store_module

    june = 1_780_272_000.0  # 2026-06-01T00:00:00Z
    saved = dict(store_module.MIGRATIONS)
    del store_module.MIGRATIONS["usage_1"]  # the rollups' migration
    try:
        async def before() -> None:
            async with SQLiteStore(tmp_path / "faas.db") as store:
                await store.write_invocations([_row(i, started=june + i, billed=7) for i in range(4)], [])

        asyncio.run(before())
    finally:
        store_module.MIGRATIONS.clear()
        store_module.MIGRATIONS.update(saved)

    async def after() -> list[Usage]:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            return await store_billing.usage(store, "2026-06")

    assert [(u.requests, u.billed_ms) for u in asyncio.run(after())] == [(4, 28)]


def test_month_days() -> None:
    assert store_billing.month_days("2026-02") == (20485, 20485 + 28)
    assert store_billing.month_days("2024-02")[1] - store_billing.month_days("2024-02")[0] == 29


def test_a_month_of_ten_million_calls_bills_from_rollups_in_well_under_2_s(tmp_path: Path) -> None:
    """Rollup rows grow with days x functions x keys, not with calls: fill a month as 10M calls would."""
    asyncio.run(_open_and_close(tmp_path / "faas.db"))
    first, end = store_billing.month_days("2026-05")
    rows = [
        (day, f"fn{f:02d}", f"key{k}", 128 * (1 + f % 4), 1613, 1613 * 37, 0)
        for day in range(first, end) for f in range(20) for k in range(10)
    ]
    with sqlite3.connect(tmp_path / "faas.db") as db:
        db.executemany("INSERT INTO usage_daily VALUES (?,?,?,?,?,?,?)", rows)
    calls = 1613 * len(rows)
    assert calls >= 10_000_000

    async def bill() -> tuple[float, billing.Bill]:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            started = time.perf_counter()
            result = await month_bill(store, "2026-05", DEFAULT, by="key")
            return time.perf_counter() - started, result

    elapsed, result = asyncio.run(bill())
    assert result.total.requests == calls and len(result.lines) == 10
    assert elapsed < 2.0


async def _open_and_close(path: Path) -> None:
    async with SQLiteStore(path):
        pass
