"""Known calls on a real server give a known bill (``faas bill`` in every format) and known metrics.

The server rounds to 100 ms and does not bill init, so every call here has an exact billed duration:
a fast call is billed 100 ms, a timeout its full timeout, a throttled call nothing.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from faas.billing import money
from tests.conftest import ADMIN_KEY, Server, start_server, wait_for

FUNCTIONS = {
    "ok.py": """
        def handler(event, context):
            return {"ok": True}
    """,
    "bad.py": """
        def handler(event, context):
            raise ValueError("boom")
    """,
    "sleepy.py": """
        import time

        def handler(event, context):
            time.sleep(float(event.get("sleep", 0)))
            return "slept"
    """,
}
CONFIG = """
[executor]
queue_wait_ms = 0

[billing]
granularity_ms = 100
bill_init = false
free_requests = 0
free_gb_seconds = 0

[functions.ok]
handler = "ok.handler"
memory = 256

[functions.bad]
handler = "bad.handler"

[functions.sleepy]
handler = "sleepy.handler"
timeout = 1
concurrency = 1

[[routes]]
method = "GET"
path = "/ok"
function = "ok"

[[routes]]
method = "GET"
path = "/bad"
function = "bad"
"""
PRICE_REQUEST = Decimal("0.0000002")
PRICE_GBS = Decimal("0.0000166667")
INVOKE_API = "POST /2015-03-31/functions/{name}/invocations"


@dataclass
class Calls:
    server: Server
    request_ids: list[str]
    month: str


def faas_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI against a project folder, with no server running."""
    return subprocess.run([sys.executable, "-m", "faas", *args, "--config", str(root / "config.toml")],
                          capture_output=True, text=True, timeout=60, cwd=root, env={"PATH": "/usr/bin:/bin"})


def metrics(server: Server, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = server.client.get("/metrics", headers=headers or {"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def sample(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return values.get((name, tuple(sorted(labels.items()))))


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Calls]:
    server = start_server(tmp_path_factory.mktemp("bill"), FUNCTIONS, CONFIG)
    try:
        ids = []
        for _ in range(2):
            r = server.client.get("/ok")
            assert r.status_code == 200
            ids.append(r.headers["x-amzn-requestid"])
        r = server.invoke("ok")
        ids.append(r.headers["x-amzn-requestid"])
        r = server.client.get("/bad")
        assert r.status_code == 502
        ids.append(r.headers["x-amzn-requestid"])
        assert server.client.get("/nope").status_code == 404

        # One call runs into its 1 s timeout; while it runs, a second one is throttled (concurrency 1).
        slow: dict[str, httpx.Response] = {}
        runner = threading.Thread(target=lambda: slow.update(r=server.invoke("sleepy", {"sleep": 30})))
        runner.start()
        try:
            wait_for(lambda: sample(metrics(server), "faas_concurrent_executions", function="sleepy") == 1,
                     what="the slow call to be running")
            throttled = server.invoke("sleepy")
            assert throttled.status_code == 429
            ids.append(throttled.headers["x-amzn-requestid"])
        finally:
            runner.join(30)
        assert slow["r"].json()["errorType"] == "Sandbox.Timedout"
        ids.append(slow["r"].headers["x-amzn-requestid"])
        rows = [server.wait_metered(rid) for rid in ids]
        yield Calls(server=server, request_ids=ids, month=time.strftime("%Y-%m", time.gmtime(rows[0]["started_at"])))
    finally:
        server.stop()


def test_known_calls_give_a_known_bill(calls: Calls) -> None:
    srv = calls.server
    rows = srv.db_rows("SELECT function, caller, status, billed_ms, memory_mb FROM invocations ORDER BY function")
    # Rounded to 100 ms, init not billed: fast calls are billed 100 ms, the timeout its full second.
    assert sorted(rows, key=repr) == sorted([
        ("bad", None, "error", 100, 128),
        ("ok", None, "success", 100, 256), ("ok", None, "success", 100, 256), ("ok", "admin", "success", 100, 256),
        ("sleepy", "admin", "throttled", 0, 128), ("sleepy", "admin", "timeout", 1000, 128),
    ], key=repr)
    out = srv.faas("bill", "--format", "json")
    assert out.returncode == 0, out.stderr
    bill = json.loads(out.stdout)
    assert bill["month"] == calls.month and bill["currency"] == "USD"
    assert bill["free_tier"] == {"requests": 0, "gb_seconds": 0}
    lines = {line["function"]: line for line in bill["lines"]}
    assert lines["ok"] == {
        "function": "ok", "requests": 3, "billed_ms": 300, "gb_seconds": 0.075,
        "request_cost": "0.0000006000", "compute_cost": money(Decimal("0.075") * PRICE_GBS),
        "cost": money(3 * PRICE_REQUEST + Decimal("0.075") * PRICE_GBS),
    }
    assert (lines["bad"]["requests"], lines["bad"]["billed_ms"], lines["bad"]["gb_seconds"]) == (1, 100, 0.0125)
    # the timeout is billed for the second it ran; the throttled call costs nothing
    assert (lines["sleepy"]["requests"], lines["sleepy"]["billed_ms"], lines["sleepy"]["gb_seconds"]) == (1, 1000, 0.125)
    gbs = Decimal("0.2125")
    assert bill["total"] == {
        "requests": 5, "gb_seconds": 0.2125, "free_requests_applied": 0, "free_gb_seconds_applied": 0,
        "request_cost": "0.0000010000", "compute_cost": money(gbs * PRICE_GBS), "cost": "0.0000045417",
    }
    # ... and it is what a full scan of the metered rows implies
    scan = srv.db_rows("SELECT count(*), sum(billed_ms * memory_mb) FROM invocations WHERE status != 'throttled'")[0]
    assert bill["total"]["requests"] == scan[0] and Decimal(scan[1]) / 1024000 == gbs

    by_key = json.loads(srv.faas("bill", "--by", "key", "--format", "json").stdout)
    keys = {line["key"]: (line["requests"], line["billed_ms"], line["gb_seconds"]) for line in by_key["lines"]}
    assert keys == {"admin": (2, 1100, 0.15), None: (3, 300, 0.0625)}
    assert by_key["total"] == bill["total"]


def test_bill_cli_table_csv_and_empty_month(calls: Calls) -> None:
    srv = calls.server
    table = srv.faas("bill")
    assert table.returncode == 0, table.stderr
    assert f"Bill for {calls.month} (UTC), by function" in table.stdout
    assert "TOTAL" in table.stdout and "$0.0000045417" in table.stdout
    rows = list(csv.reader(io.StringIO(srv.faas("bill", "--format", "csv", "--by", "key").stdout)))
    assert rows[0] == ["key", "requests", "billed_ms", "gb_seconds", "request_cost", "compute_cost", "cost"]
    assert rows[1][:3] == ["admin", "2", "1100"] and rows[2][:3] == ["", "3", "300"]
    assert rows[-1][0] == "TOTAL" and rows[-1][-1] == "0.0000045417"
    empty = json.loads(srv.faas("bill", "--month", "2020-01", "--format", "json").stdout)
    assert empty["lines"] == [] and empty["total"]["cost"] == "0.0000000000"
    bad = srv.faas("bill", "--month", "January")
    assert bad.returncode == 2 and "use YYYY-MM" in bad.stderr


def test_bill_of_rows_written_through_the_store(tmp_path: Path) -> None:
    """An exact bill from rows inserted with the store API, with a small free tier to cross."""
    import asyncio

    from faas.records import Invocation
    from faas.store import SQLiteStore
    from tests.conftest import write_project

    write_project(tmp_path, {}, "[billing]\nfree_requests = 2\nfree_gb_seconds = 1\n")
    march = 1_772_323_200.0  # 2026-03-01T00:00:00Z

    def row(function: str, caller: str | None, memory: int, billed: int, status: str = "success") -> Invocation:
        return Invocation(
            request_id=str(uuid.uuid4()), function=function, version=1, trigger="invoke", caller=caller,
            started_at=march + 3600, duration_ms=billed - 0.3, billed_ms=billed, memory_mb=memory, max_memory_mb=30,
            init_ms=None, cold=False, status=status, error_type=None,
        )

    async def write() -> None:
        async with SQLiteStore(tmp_path / "data" / "faas.db") as store:
            await store.write_invocations(
                [row("f1", None, 1024, 1000) for _ in range(3)]
                + [row("f2", "k1", 512, 500) for _ in range(2)] + [row("f2", "k1", 512, 0, "throttled")], [],
            )

    asyncio.run(write())
    bill = json.loads(faas_cli(tmp_path, "bill", "--month", "2026-03", "--format", "json").stdout)
    assert [(x["function"], x["requests"], x["gb_seconds"]) for x in bill["lines"]] == [("f1", 3, 3.0), ("f2", 2, 0.5)]
    assert bill["total"] == {
        "requests": 5, "gb_seconds": 3.5, "free_requests_applied": 2, "free_gb_seconds_applied": 1.0,
        "request_cost": "0.0000006000", "compute_cost": "0.0000416668", "cost": "0.0000422668",
    }


@pytest.mark.parametrize(
    ("args", "total"),
    [
        (["--memory", "512", "--requests", "3000000", "--duration-ms", "1000"], "$18.74"),
        (["--memory", "128", "--requests", "30000000", "--duration-ms", "200"], "$11.63"),
        (["--memory", "1536", "--requests", "3000000", "--duration-ms", "120", "--no-free-tier"], "$9.60"),
    ],
)
def test_bill_estimate_reproduces_aws_examples(tmp_path: Path, args: list[str], total: str) -> None:
    from tests.conftest import write_project

    write_project(tmp_path, {}, "")
    out = faas_cli(tmp_path, "bill", "estimate", *args, "--price-per-gb-second", "0.00001667")
    assert out.returncode == 0, out.stderr
    assert [line for line in out.stdout.splitlines() if line.startswith("TOTAL")][0].endswith(total)
    data = json.loads(faas_cli(tmp_path, "bill", "estimate", *args, "--price-per-gb-second", "0.00001667", "--format", "json").stdout)
    assert Decimal(data["total"]["cost"]).quantize(Decimal("0.01")) == Decimal(total[1:])
    assert data["month"] is None and data["lines"][0]["function"] == "estimate"
    assert faas_cli(tmp_path, "bill", "estimate", *args, "--format", "csv").stdout.startswith("function,requests,")
    bad = faas_cli(tmp_path, "bill", "estimate", "--memory", "64", "--requests", "1", "--duration-ms", "1")
    assert bad.returncode == 2 and "--memory 64" in bad.stderr


def test_metrics_after_known_calls(calls: Calls) -> None:
    srv = calls.server
    assert srv.client.get("/metrics").status_code == 401  # metrics_auth defaults to true
    assert srv.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    m = metrics(srv)
    for (function, status), n in {("ok", "success"): 3, ("bad", "error"): 1, ("sleepy", "timeout"): 1,
                                  ("sleepy", "throttled"): 1}.items():
        assert sample(m, "faas_invocations_total", function=function, status=status) == n
    assert sample(m, "faas_throttles_total", function="sleepy") == 1
    assert sample(m, "faas_timeouts_total", function="sleepy") == 1
    assert sample(m, "faas_cold_starts_total", function="ok") == 1
    assert sample(m, "faas_invocation_duration_seconds_count", function="ok") == 3
    assert sample(m, "faas_invocation_duration_seconds_bucket", function="sleepy", le="0.5") == 0
    assert sample(m, "faas_invocation_duration_seconds_bucket", function="sleepy", le="1.0") == 1
    assert sample(m, "faas_warm_workers", function="ok") == 1
    assert sample(m, "faas_concurrent_executions", function="ok") == 0
    assert sample(m, "faas_async_events_queued") == 0
    assert sample(m, "faas_http_requests_total", route="GET /ok", status="200") == 2
    assert sample(m, "faas_http_requests_total", route="GET /bad", status="502") == 1
    assert sample(m, "faas_http_requests_total", route="unmatched", status="404") == 1
    assert sample(m, "faas_http_requests_total", route=INVOKE_API, status="200") == 2
    assert sample(m, "faas_http_requests_total", route=INVOKE_API, status="429") == 1
    assert "# TYPE faas_schedule_runs_total counter" in srv.client.get(
        "/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text


def test_metrics_without_auth_when_configured(tmp_path_factory: pytest.TempPathFactory) -> None:
    srv = start_server(tmp_path_factory.mktemp("open"), FUNCTIONS, '[functions.ok]\nhandler = "ok.handler"\n',
                       server_extra="metrics_auth = false")
    try:
        srv.invoke("ok")
        assert sample(metrics(srv, accept="text/plain"), "faas_invocations_total", function="ok", status="success") == 1
    finally:
        srv.stop()


def test_each_runtime_has_its_own_registry() -> None:
    from faas.metrics import Metrics

    a, b = Metrics(), Metrics()
    a.observe_http("GET /x", 200)
    assert b'route="GET /x"' in a.exposition() and b'route="GET /x"' not in b.exposition()


def test_billing_settings_reload_without_a_restart(make_server: Any) -> None:
    """A changed [billing] applies to the next calls: here the pre-2020 100 ms rounding."""
    config = '[functions.ok]\nhandler = "ok.handler"\n'
    srv = make_server(FUNCTIONS, config)
    first = srv.wait_metered(srv.invoke("ok").headers["x-amzn-requestid"])
    assert first["billed_ms"] < 100  # 1 ms rounding, init included
    srv.config_path.write_text(srv.config_path.read_text() + "\n[billing]\ngranularity_ms = 100\n")

    def billed_in_hundreds() -> bool:
        row = srv.wait_metered(srv.invoke("ok").headers["x-amzn-requestid"])
        return bool(row["billed_ms"] == 100)

    wait_for(billed_in_hundreds, 15, interval=0.2, what="the new granularity to apply")
