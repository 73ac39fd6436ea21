"""Rows 1 and 2: a warm trivial function behind an HTTP route, and the Lambda Invoke API, each against
a bare Starlette route on the same uvicorn settings, under the same wrk load at concurrency 1, 16, 64.

Both servers run side by side for the whole section; runs alternate between them (bare, faas, then
faas, bare, ...) so drift in the machine's load falls on both alike. The best of the rounds counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import procs
from bench.loadgen import WrkResult, run_wrk
from bench.report import Row, Verdict, ms, rps, times, verdict
from bench.servers import ADMIN_KEY, ServerProcess, baseline_server, faas_server
from bench.workspace import Workspace

CONCURRENCY = (1, 16, 64)
RATIO_TARGET = 0.60  # of the bare route's requests per second, at concurrency 16
RATIO_AT = 16
ADDED_P50_TARGET_MS = 0.5  # added p50 latency at concurrency 1
WARMUP_SECONDS = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    label: str
    section: str
    path: str
    method: str = "GET"
    headers: dict[str, str] | None = None
    body: str | None = None


ROUTE = Load(label="HTTP route", section="1", path="/hello/bench")
INVOKE = Load(
    label="Invoke API",
    section="2",
    path="/2015-03-31/functions/noop/invocations",
    method="POST",
    headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    body=json.dumps({"key": "value"}),
)


def _fire(server: ServerProcess, load: Load, connections: int, seconds: float) -> WrkResult:
    return run_wrk(
        server.url + load.path, connections=connections, seconds=seconds,
        method=load.method, headers=load.headers, body=load.body,
    )


def _cpu_per_request(server: ServerProcess, fire: Callable[[], WrkResult]) -> tuple[WrkResult, float, float]:
    """Run the load and return it with the server's CPU microseconds per request: own, and its workers'."""
    own0 = procs.cpu_seconds([server.pid])
    kids0 = {pid: procs.cpu_seconds([pid]) for pid in procs.descendants(server.pid)}
    result = fire()
    own1 = procs.cpu_seconds([server.pid])
    # A worker that started during the run counts from zero; one that ended is not counted.
    kids = sum(procs.cpu_seconds([pid]) - kids0.get(pid, 0.0) for pid in procs.descendants(server.pid))
    n = max(result.requests, 1)
    return result, (own1 - own0) / n * 1e6, kids / n * 1e6


def _measure(
    load: Load, faas: ServerProcess, bare: ServerProcess, seconds: float, rounds: int
) -> tuple[dict[int, dict[str, WrkResult]], dict[str, tuple[float, float]]]:
    best: dict[int, dict[str, WrkResult]] = {}
    cpu: dict[str, tuple[float, float]] = {}
    servers = {"faas": faas, "bare": bare}
    for c in CONCURRENCY:
        for server in servers.values():
            _fire(server, load, c, WARMUP_SECONDS)  # start the workers this concurrency needs
        runs: dict[str, list[WrkResult]] = {"faas": [], "bare": []}
        for r in range(rounds):
            for who in ("bare", "faas") if r % 2 == 0 else ("faas", "bare"):
                server = servers[who]
                if c == RATIO_AT and r == 0:
                    result, own_us, kids_us = _cpu_per_request(server, lambda: _fire(server, load, c, seconds))
                    cpu[who] = (own_us, kids_us)
                else:
                    result = _fire(server, load, c, seconds)
                runs[who].append(result)
        best[c] = {who: max(results, key=lambda x: x.rps) for who, results in runs.items()}
        print(
            f"  {load.label} c={c}: faas {best[c]['faas'].rps:,.0f} req/s, bare {best[c]['bare'].rps:,.0f} req/s",
            flush=True,
        )
    return best, cpu


def _rows(load: Load, best: dict[int, dict[str, WrkResult]], cpu: dict[str, tuple[float, float]]) -> list[Row]:
    rows = []
    same = "" if load is ROUTE else " (as row 1)"
    for c in CONCURRENCY:
        f, b = best[c]["faas"], best[c]["bare"]
        ratio = f.rps / b.rps if b.rps else 0.0
        errors = f" +{f.errors} errors" if f.errors else ""
        target = f">= {RATIO_TARGET:.2f}x{same}" if c == RATIO_AT else "-"
        rows.append(
            Row(
                section=load.section,
                measure=f"{load.label} throughput, c={c}",
                faas=f"{rps(f.rps)} (p99 {ms(f.p99_ms, 1)}){errors}",
                baseline=f"{rps(b.rps)} (p99 {ms(b.p99_ms, 1)})",
                ratio=times(ratio),
                target=target,
                verdict=verdict(ratio >= RATIO_TARGET and not f.errors) if c == RATIO_AT else Verdict.INFO,
                data={"faas": f.as_dict(), "bare": b.as_dict(), "ratio": ratio},
            )
        )
    f, b = best[1]["faas"], best[1]["bare"]
    added = f.p50_ms - b.p50_ms
    rows.append(
        Row(
            section=load.section,
            measure=f"{load.label} p50 latency, c=1",
            faas=ms(f.p50_ms, 3),
            baseline=ms(b.p50_ms, 3),
            ratio=f"+{added:.3f} ms",
            target=f"< +{ADDED_P50_TARGET_MS:.1f} ms{same}",
            verdict=verdict(added < ADDED_P50_TARGET_MS),
            data={"faas_p50_ms": f.p50_ms, "bare_p50_ms": b.p50_ms, "added_ms": added},
        )
    )
    if "faas" in cpu and "bare" in cpu:
        own, kids = cpu["faas"]
        bare_own, _ = cpu["bare"]
        rows.append(
            Row(
                section=load.section,
                measure=f"{load.label} CPU per request, c={RATIO_AT}",
                faas=f"{own:.0f} us gateway + {kids:.0f} us zygote/workers",
                baseline=f"{bare_own:.0f} us",
                ratio=times(own / bare_own) if bare_own else "-",
                target="(explains the ratio)",
                verdict=Verdict.INFO,
                data={"faas_gateway_us": own, "faas_workers_us": kids, "bare_us": bare_own},
            )
        )
    return rows


def run(*, seconds: float, rounds: int, notes: dict[str, Any]) -> list[Row]:
    with Workspace("http") as ws:
        config = ws.write_config(
            functions={
                "hello": {"handler": "hello.handler"},
                "noop": {"handler": "noop.handler"},
            },
            routes=[{"method": "GET", "path": "/hello/{name}", "function": "hello"}],
        )
        with faas_server(config, ws.root / "faas.log") as faas, baseline_server(ws.root / "bare.log") as bare:
            notes["worker limits"] = faas.log_search(r"worker limits enforced by (.+)") or "unknown"
            rows: list[Row] = []
            for load in (ROUTE, INVOKE):
                best, cpu = _measure(load, faas, bare, seconds, rounds)
                rows += _rows(load, best, cpu)
            return rows
