"""``make bench``: run every section, one load at a time, and print one table.

    python -m bench.run [--quick] [--only 1,3] [--seconds 5] [--rounds 2] [--wait 60]

Each figure is a ratio against a baseline measured side by side in the same run, with the absolute
numbers for context. Results also go to ``bench/results/latest.json`` and ``latest.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from bench import cold_start, env_build, env_cold_start, metering, scale, schedules, throughput, timeouts, zygote_memory
from bench.loadgen import ensure_wrk
from bench.report import CpuShare, Row, Verdict, machine, markdown_table, text_table

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10")
NOISY_CORES = 0.25  # other processes using more than this (of 2 cores) make a run noisy

T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short runs and few samples: checks the suite works")
    p.add_argument("--only", default="", help="comma-separated rows to run, e.g. 1,3 (1 and 2 run together)")
    p.add_argument("--seconds", type=float, help="seconds per wrk run (default 5, quick 2)")
    p.add_argument("--rounds", type=int, help="wrk runs per figure, best counts (default 2, quick 1)")
    p.add_argument("--wait", type=float, default=60.0,
                   help="seconds to wait at most for other processes to go quiet before starting (default 60)")
    return p


def _async(coro: Coroutine[Any, Any, T]) -> T:
    """Run in-process sections on uvloop, the loop faas serve runs on."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _failed(section: str, name: str, exc: BaseException) -> Row:
    traceback.print_exception(exc)
    return Row(section=section, measure=name, faas=f"FAILED: {type(exc).__name__}: {exc}"[:160], verdict=Verdict.MISS)


def _section(rows: list[Row], notes: dict[str, Any], section: str, name: str, fn: Callable[[], list[Row]]) -> None:
    print(f"[{section}] {name} ...", flush=True)
    start = time.monotonic()
    share = CpuShare()
    try:
        rows += fn()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one broken section must not hide the others
        rows.append(_failed(section, name, exc))
    others = share.others_cores()
    notes[f"other processes' CPU during {section}"] = f"{others:.2f} cores"
    warning = f"; other processes used {others:.2f} cores: figures are noisy" if others > NOISY_CORES else ""
    print(f"[{section}] done in {time.monotonic() - start:.0f} s{warning}", flush=True)


def _wait_for_quiet(limit: float) -> None:
    """Give other people's jobs on this shared machine a moment to finish before measuring."""
    deadline = time.monotonic() + limit
    while True:
        share = CpuShare()
        time.sleep(2.0)
        others = share.others_cores()
        if others <= NOISY_CORES or time.monotonic() >= deadline:
            break
        print(f"bench: other processes are using {others:.2f} cores; waiting for a quieter machine", flush=True)
    if others > NOISY_CORES:
        print(f"bench: still busy after {limit:.0f} s; measuring anyway (see the notes under the table)", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds every `with`, so servers and workers are stopped


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    rounds = args.rounds or (1 if args.quick else 2)
    only = {s.strip() for s in args.only.split(",") if s.strip()} or set(SECTIONS)
    if "1" in only or "2" in only:
        only |= {"1", "2"}
    signal.signal(signal.SIGTERM, _interrupt)

    for module in ("uvloop", "httptools"):
        if importlib.util.find_spec(module) is None:
            print(f"bench: {module} is not installed, so faas serve and the baseline would not run alike", file=sys.stderr)
            return 2
    ensure_wrk()
    if args.wait > 0:
        _wait_for_quiet(args.wait)
    host = machine()
    started = dt.datetime.now(dt.timezone.utc)
    share = CpuShare()
    load_before = os.getloadavg()
    print(f"faas bench, {started:%Y-%m-%d %H:%M} UTC: {host['nproc']} x {host['cpu']}, {host['ram']} RAM, "
          f"Linux {host['kernel']}, Python {host['python']}; load average {load_before[0]:.2f}", flush=True)

    q = args.quick
    rows: list[Row] = []
    notes: dict[str, Any] = {}
    if "1" in only:
        _section(rows, notes, "1-2", "HTTP route and Invoke API vs bare Starlette (wrk)",
                 lambda: throughput.run(seconds=seconds, rounds=rounds, notes=notes))
    if "3" in only:
        _section(rows, notes, "3", "cold start: zygote fork vs python3 spawn",
                 lambda: _async(cold_start.run(isolated=8 if q else 30, burst=8 if q else 30, spawns=5 if q else 15)))
    if "4" in only:
        _section(rows, notes, "4", "timeout precision",
                 lambda: _async(timeouts.run(rounds=1 if q else 6, ballast_rounds=1 if q else 4, storm_rounds=1 if q else 2)))
    if "5" in only:
        peak = max((r.data["faas"]["rps"] for r in rows if "faas" in r.data and "rps" in r.data["faas"]), default=None)
        _section(rows, notes, "5", "metering", lambda: _async(metering.run(
            rows=10_000 if q else 50_000, per_row_rows=500 if q else 2_000, prefill=10_000 if q else 100_000,
            gateway_peak_rps=peak)))
    if "6" in only:
        # One more round than rows 1-2: "no drop" is a claim about noise, so it gets more samples.
        _section(rows, notes, "6", "scale: 200 functions, 100 warm workers",
                 lambda: scale.run(seconds=seconds, rounds=rounds + 1))
    if "7" in only:
        _section(rows, notes, "7", "schedules: 100 rate(1 second)",
                 lambda: schedules.run(seconds=4.0 if q else 10.0))
    if "8" in only:
        _section(rows, notes, "8", "environment build: 5 packages, warm uv cache",
                 lambda: env_build.run(rounds=2 if q else 5))
    if "9" in only:
        _section(rows, notes, "9", "cold start: own environment vs shared environment",
                 lambda: _async(env_cold_start.run(samples=8 if q else 30)))
    if "10" in only:
        _section(rows, notes, "10", "idle memory of each extra zygote (USS)",
                 lambda: _async(zygote_memory.run(count=2 if q else 4)))

    elapsed = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
    others = share.others_cores()
    notes.update({
        "duration": f"{elapsed:.0f} s",
        "load average before/after": f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}",
        "other processes' CPU, whole run": f"{others:.2f} cores on average (approx.)",
        "wrk": f"1 thread, {seconds:g} s per run, best of {rounds}, 127.0.0.1",
    })
    print()
    print(text_table(rows))
    print()
    for key, value in notes.items():
        print(f"{key}: {value}")

    RESULTS.mkdir(exist_ok=True)
    record = {
        "started": started.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": host,
        "notes": notes,
        "rows": [{**{k: getattr(r, k) for k in ("section", "measure", "faas", "baseline", "ratio", "target")},
                  "verdict": r.verdict.value, "data": r.data} for r in rows],
    }
    (RESULTS / "latest.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    (RESULTS / "latest.md").write_text(markdown_table(rows) + "\n")
    print(f"\nresults: {RESULTS / 'latest.json'}, table as Markdown: {RESULTS / 'latest.md'}")
    return 1 if any(r.faas.startswith("FAILED") for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench: interrupted; everything it started is stopped", file=sys.stderr)
        sys.exit(130)
