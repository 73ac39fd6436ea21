"""Row 5: metering, the rows per second the batched ``MeteringWriter`` commits to ``SQLiteStore``
against one commit per row, and the time to bill a month of 10 million calls.

The rows are what the Invoker records: a metering row per call, and a log entry for the calls that
printed something (one in ten here; a silent call stores no log). The batched writer is fed as fast as it
can take rows (in slices, yielding to the event loop between them as request handlers would), which
is more than the gateway can serve; so the figure is the writer's capacity, and it must stay above
the gateway's peak requests per second (rows 1 and 2) for metering never to be the bottleneck. A
second figure records a whole burst at once, to show how the writer copes with a backlog.

The calls are spread in time order over last month, 50 functions and 4 callers, so the store ends up
holding a month of usage rollups of the shape 10 million calls over those functions and callers
would leave (one rollup per day, function, caller and memory size, whatever the volume). Billing
that month (``faas.bills.month_bill``) is timed against pricing the same month from its raw rows,
the way a store without rollups would have to; the raw scan grows with the number of calls, so its
time is also scaled to 10 million.
"""

from __future__ import annotations

import asyncio
import calendar
import importlib.util
import time
import uuid
from collections import defaultdict

from bench.report import Row, Verdict, times, verdict
from bench.workspace import Workspace
from faas import billing
from faas.metering import MeteringWriter
from faas.records import Invocation, LogEntry, Status, Trigger
from faas.store import SQLiteStore

SLICE = 200  # rows recorded between two yields to the event loop
DRAIN_TIMEOUT = 300.0
FUNCTIONS = 50
CALLERS = (None, "admin", "key-a", "key-b")
PRINTS = 10  # one call in ten printed something
MONTH_CALLS = 10_000_000
BILL_TARGET_S = 2.0


class Month:
    """Last month (UTC), and start times that walk through it in order as calls are made."""

    def __init__(self, calls: int) -> None:
        now = time.gmtime()
        year, mon = (now.tm_year, now.tm_mon - 1) if now.tm_mon > 1 else (now.tm_year - 1, 12)
        self.name = f"{year:04d}-{mon:02d}"
        self.days = calendar.monthrange(year, mon)[1]
        self.start = float(calendar.timegm((year, mon, 1, 0, 0, 0)))
        self.step = self.days * 86400 / calls
        self.made = 0

    def next_call(self) -> tuple[int, float]:
        i = self.made
        self.made += 1
        return i, self.start + i * self.step


def _records(n: int, month: Month) -> list[tuple[Invocation, LogEntry | None]]:
    """Calls as the Invoker meters them; one in ``PRINTS`` printed a line, so only its row has a log."""
    out: list[tuple[Invocation, LogEntry | None]] = []
    for _ in range(n):
        i, started = month.next_call()
        rid = str(uuid.uuid4())
        row = Invocation(
            request_id=rid, function=f"fn{i % FUNCTIONS}", version=1, trigger=Trigger.HTTP,
            caller=CALLERS[i // FUNCTIONS % len(CALLERS)],
            started_at=started, duration_ms=0.42, billed_ms=1, memory_mb=128, max_memory_mb=18,
            init_ms=None, cold=False, status=Status.SUCCESS, error_type=None,
        )
        entry = None
        if i % PRINTS == 0:
            entry = LogEntry(request_id=rid, function=row.function, started_at=started, text=f"handled {rid}\n")
        out.append((row, entry))
    return out


async def _batched(store: SQLiteStore, records: list[tuple[Invocation, LogEntry | None]], *, burst: bool) -> float:
    """Rows per second from the first record until the writer has committed them all.

    Sustained (``burst=False``): the producer holds back while a full batch is already pending, so
    the writer runs flat out with a bounded backlog, as under steady load. Burst: everything is
    recorded at once and the writer works through the backlog.
    """
    async with MeteringWriter(store) as writer:
        start = time.perf_counter()
        deadline = start + DRAIN_TIMEOUT
        for i in range(0, len(records), SLICE):
            while not burst and writer.pending >= writer.max_batch and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            for row, entry in records[i : i + SLICE]:
                writer.record(row, entry)
            await asyncio.sleep(0)
        while writer.written < len(records):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"metering: only {writer.written} of {len(records)} rows written")
            await asyncio.sleep(0.001)
        return len(records) / (time.perf_counter() - start)


async def _per_row(store: SQLiteStore, records: list[tuple[Invocation, LogEntry | None]]) -> float:
    start = time.perf_counter()
    for row, entry in records:
        await store.write_invocations([row], [entry] if entry is not None else [])
    return len(records) / (time.perf_counter() - start)


async def _bill(store: SQLiteStore, month: Month) -> Row:
    """Time ``faas.bills.month_bill`` (rollups) against the same bill priced from the raw rows."""
    from faas.bills import month_bill  # imported here: the row stays "pending" where it does not exist yet

    prices = billing.Prices()
    start = time.perf_counter()
    bill = await month_bill(store, month.name, prices)
    rollup_s = time.perf_counter() - start

    start = time.perf_counter()
    rows = await store.invocations(since=month.start, limit=month.made + 1)
    sums: dict[tuple[str, str | None, int], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        acc = sums[(r.function, r.caller, r.memory_mb)]
        acc[0] += r.status != Status.THROTTLED
        acc[1] += r.billed_ms
    usage = [
        billing.Usage(function=f, caller=c, memory_mb=m, requests=n, billed_ms=ms) for (f, c, m), (n, ms) in sums.items()
    ]
    scanned = billing.make_bill(month.name, usage, prices)
    scan_s = time.perf_counter() - start

    agree = (bill.total.requests, bill.total.cost) == (scanned.total.requests, scanned.total.cost)
    at_10m = scan_s * MONTH_CALLS / max(len(rows), 1)
    print(f"  billing {month.name}: rollups {rollup_s * 1000:.1f} ms, raw scan of {len(rows):,} calls "
          f"{scan_s * 1000:.0f} ms (~{at_10m:.0f} s at 10M)", flush=True)
    return Row(
        section="5",
        measure=f"Bill a month (rollups: {month.days} days x {FUNCTIONS} functions x {len(CALLERS)} callers)",
        faas=f"{rollup_s * 1000:.1f} ms, as for 10M calls" + ("" if agree else "; DISAGREES with the raw scan"),
        baseline=f"{scan_s * 1000:,.0f} ms raw scan of {len(rows):,} calls (~{at_10m:,.0f} s at 10M)",
        ratio=f"~{times(at_10m / rollup_s)} at 10M",
        target=f"< {BILL_TARGET_S:.0f} s for 10M calls",
        verdict=verdict(rollup_s < BILL_TARGET_S and agree),
        data={"rollup_s": rollup_s, "scan_s": scan_s, "scan_rows": len(rows), "scan_s_at_10m": at_10m,
              "requests": bill.total.requests, "agree": agree},
    )


async def run(*, rows: int, per_row_rows: int, prefill: int, gateway_peak_rps: float | None) -> list[Row]:
    month = Month(prefill + per_row_rows + 2 * rows)
    bill_row: Row | None = None
    with Workspace("metering") as ws:
        ws.data_dir.mkdir(exist_ok=True)
        async with SQLiteStore(ws.data_dir / "faas.db") as store:
            # Insert speed falls as the table and its indexes grow, so every figure is taken on the
            # same file, already holding ``prefill`` rows, as a server that has been up a while.
            await _batched(store, _records(prefill, month), burst=False)
            per_row = await _per_row(store, _records(per_row_rows, month))
            sustained = await _batched(store, _records(rows, month), burst=False)
            burst = await _batched(store, _records(rows, month), burst=True)
            if importlib.util.find_spec("faas.bills") is not None:
                bill_row = await _bill(store, month)
    print(
        f"  metering: batched {sustained:,.0f} rows/s sustained, {burst:,.0f} rows/s for a burst; "
        f"one commit per row {per_row:,.0f} rows/s",
        flush=True,
    )
    if gateway_peak_rps:
        target = f">= gateway peak ({gateway_peak_rps:,.0f}/s)"
        ok = verdict(sustained >= gateway_peak_rps)
    else:
        target, ok = "-", Verdict.INFO
    return [
        Row(
            section="5",
            measure=f"Metering rows/s sustained (n={rows:,}/{per_row_rows:,}, on {prefill:,})",
            faas=f"{sustained:,.0f} rows/s batched",
            baseline=f"{per_row:,.0f} rows/s, 1 commit/row",
            ratio=times(sustained / per_row),
            target=target,
            verdict=ok,
            data={"sustained_rows_per_s": sustained, "per_row_rows_per_s": per_row},
        ),
        Row(
            section="5",
            measure=f"Metering rows/s, burst of {rows:,} recorded at once",
            faas=f"{burst:,.0f} rows/s batched",
            baseline=f"{sustained:,.0f} rows/s sustained",
            ratio=times(burst / sustained),
            target="(backlog handling)",
            data={"burst_rows_per_s": burst},
        ),
        bill_row or Row(
            section="5",
            measure="Bill a month of 10 million calls",
            faas="pending (billing rollups not built yet)",
            verdict=Verdict.PENDING,
        ),
    ]
