"""The admin pages on a real server: login and session cookie, CSRF, the JSON endpoint's key, each
page's content, and a real headless Chromium (Debian's, driven by Playwright) clicking through it."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, Server, start_server

FUNCTIONS = {
    "hello.py": """
        def handler(event, context):
            print("hello from the admin test")
            return {"statusCode": 200, "body": "hi"}
    """,
    "broken.py": """
        def handler(event, context):
            raise ValueError("broken on purpose")
    """,
}
CONFIG = """
[functions.hello]
handler = "hello.handler"
description = "Says hi"
memory = 256
environment = { GREETING = "secret-value" }

[functions.broken]
handler = "broken.handler"

[[routes]]
method = "GET"
path = "/hello"
function = "hello"

[[routes]]
method = "GET"
path = "/broken"
function = "broken"

[[routes]]
method = "GET"
path = "/private"
function = "hello"
auth = "api_key"
"""
BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Site:
    server: Server
    hello_ids: list[str]
    broken_id: str
    key_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_server(tmp_path_factory.mktemp("admin"), FUNCTIONS, CONFIG)
    try:
        hello = [server.client.get("/hello").headers["x-amzn-requestid"] for _ in range(3)]
        hello.append(server.invoke("hello").headers["x-amzn-requestid"])
        broken = server.client.get("/broken").headers["x-amzn-requestid"]
        created = server.faas("keys", "create", "mobile-app")
        assert created.returncode == 0, created.stderr
        key = json.loads(created.stdout)
        private = server.client.get("/private", headers={"x-api-key": key["secret"]})
        assert private.status_code == 200
        for rid in [*hello, broken, private.headers["x-amzn-requestid"]]:
            server.wait_log(rid)
        yield Site(server=server, hello_ids=hello, broken_id=broken, key_id=key["id"])
    finally:
        server.stop()


@contextmanager
def login(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        r = client.post("/admin/login", data={"key": ADMIN_KEY, "next": "/admin/functions"})
        assert r.status_code == 303 and r.headers["location"] == "/admin/functions"
        yield client


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def test_login_cookie_logout_and_csrf(site: Site) -> None:
    srv = site.server
    with httpx.Client(base_url=srv.url, timeout=30) as anon:
        r = anon.get("/admin/invocations?status=error")
        assert r.status_code == 303 and r.headers["location"] == "/admin/login?next=%2Fadmin%2Finvocations%3Fstatus%3Derror"
        form = anon.get("/admin/login").text
        assert 'type="password"' in form and "data/admin.key" in form
        wrong = anon.post("/admin/login", data={"key": "guess"})
        assert wrong.status_code == 401 and "That is not the admin key" in wrong.text
        assert "set-cookie" not in wrong.headers
        evil = anon.post("/admin/login", data={"key": ADMIN_KEY, "next": "//evil.example/x"})
        assert evil.status_code == 303 and evil.headers["location"] == "/admin"
        cookie = evil.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
        other_site = anon.post("/admin/login", data={"key": ADMIN_KEY}, headers={"Origin": "http://evil.example"})
        assert other_site.status_code == 403

    with login(srv) as client:
        page = client.get("/admin/functions")
        assert page.status_code == 200 and "hello" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        token = csrf_of(page.text)
        assert client.post("/admin/logout").status_code == 403  # no CSRF token
        assert client.post("/admin/logout", data={"csrf": "forged"}).status_code == 403
        assert client.post("/admin/logout", data={"csrf": token}, headers={"Origin": "http://evil.example"}).status_code == 403
        out = client.post("/admin/logout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/admin/login"
        assert client.get("/admin/functions").status_code == 303  # logged out

    with httpx.Client(base_url=srv.url, timeout=30) as forger:
        forger.cookies.set("faas_admin", "eyJleHAiOjk5OTk5OTk5OTksImNzcmYiOiJ4In0.bm90LWEtc2lnbmF0dXJl", path="/admin")
        assert forger.get("/admin/functions").status_code == 303


def test_json_endpoint_needs_the_admin_key(site: Site) -> None:
    srv = site.server
    assert srv.client.get("/admin/api/bill").status_code == 401
    with login(srv) as client:  # a browser session is not enough for JSON
        assert client.get("/admin/api/bill").status_code == 401
    r = srv.client.get("/admin/api/bill", headers=BEARER)
    assert r.status_code == 200
    cli = json.loads(srv.faas("bill", "--format", "json").stdout)
    assert r.json() == cli
    assert [line["function"] for line in cli["lines"]] == ["broken", "hello"]
    assert srv.client.get("/admin/api/bill?month=soon", headers=BEARER).status_code == 400


def test_pages_show_functions_calls_logs_bills_and_placeholders(site: Site) -> None:
    srv = site.server

    def get(path: str) -> httpx.Response:
        return srv.client.get(path, headers=BEARER)  # Bearer works on every admin page

    overview = get("/admin").text
    assert "Schedules" in overview and "not available yet" in overview
    functions = get("/admin/functions").text
    assert "hello.handler" in functions and "256 MB" in functions and 'class="spark"' in functions
    detail = get("/admin/functions/hello")
    assert detail.status_code == 200
    assert "<svg" in detail.text and "calls per hour" in detail.text
    assert "GREETING" in detail.text and "secret-value" not in detail.text  # names, never values
    assert "GET /hello" in detail.text
    assert get("/admin/functions/nope").status_code == 404

    broken_only = get("/admin/invocations?function=broken").text
    assert site.broken_id in broken_only and site.hello_ids[0] not in broken_only
    errors = get("/admin/invocations?status=error&window=1h").text
    assert site.broken_id in errors and site.hello_ids[0] not in errors
    by_prefix = get(f"/admin/invocations?request_id={site.hello_ids[1][:13]}").text
    assert site.hello_ids[1] in by_prefix and site.hello_ids[0] not in by_prefix
    by_caller = get("/admin/invocations?caller=admin").text
    assert site.hello_ids[3] in by_caller and site.hello_ids[0] not in by_caller
    call = get(f"/admin/invocations/{site.broken_id}").text
    assert "START RequestId" in call and "broken on purpose" in call
    assert get("/admin/invocations/not-a-call").status_code == 404

    bills = get("/admin/bills").text
    assert "hello" in bills and "Total, free tier applied" in bills and "Download CSV" in bills
    by_key = get("/admin/bills?by=key").text
    assert "no key" in by_key and "mobile-app" in by_key and site.key_id in by_key
    table = srv.faas("bill", "--by", "key").stdout
    assert f"mobile-app ({site.key_id})" in table and "(no key)" in table
    csv = get("/admin/bills.csv?by=key")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"].startswith('attachment; filename="faas-bill-')
    assert csv.text == srv.faas("bill", "--by", "key", "--format", "csv").stdout

    for slug in ("schedules", "keys", "dead-letters"):
        page = get(f"/admin/{slug}")
        assert page.status_code == 200 and "Not available yet" in page.text


def seed_history(server: Server) -> None:
    """A day of made-up calls, written through the store API, so screenshots show a full chart."""
    import asyncio
    import random
    import time
    import uuid

    from faas.records import Invocation
    from faas.store import SQLiteStore

    rng = random.Random(7)
    now = time.time()
    rows = []
    for hour in range(1, 24):
        for _ in range(rng.randint(20, 120)):
            duration = rng.lognormvariate(3, 0.6)
            failed = rng.random() < 0.04
            rows.append(Invocation(
                request_id=str(uuid.uuid4()), function="hello", version=1, trigger="http",
                caller=rng.choice([None, "key-mobile", "key-web"]), started_at=now - hour * 3600 + rng.random() * 3000,
                duration_ms=duration, billed_ms=int(duration) + 1, memory_mb=256, max_memory_mb=40, init_ms=None,
                cold=False, status="error" if failed else "success", error_type="ValueError" if failed else None,
            ))

    async def write() -> None:
        async with SQLiteStore(server.data_dir / "faas.db") as store:
            await store.write_invocations(rows, [])

    asyncio.run(write())


def test_browser_logs_in_browses_and_downloads_a_bill(site: Site, tmp_path: Path) -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ["FAAS_SCREENSHOTS"]) if os.environ.get("FAAS_SCREENSHOTS") else None
    srv = site.server
    if shots is not None:
        seed_history(srv)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True).new_page()

            def shot(name: str) -> None:
                if shots is not None:
                    shots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(f"{srv.url}/admin/functions")
            assert page.url.startswith(f"{srv.url}/admin/login")
            shot("login")
            page.fill("input[name=key]", "not the key")
            page.click("button:has-text('Log in')")
            assert "That is not the admin key" in page.inner_text("main")
            page.fill("input[name=key]", ADMIN_KEY)
            page.click("button:has-text('Log in')")
            page.wait_for_url(f"{srv.url}/admin/functions")
            assert page.inner_text("h1") == "Functions"
            assert "hello.handler" in page.inner_text("table")
            shot("functions")

            page.click("table a:has-text('hello')")
            page.wait_for_url(f"{srv.url}/admin/functions/hello")
            assert page.locator("svg.chart rect").count() >= 1
            shot("function")

            page.click("nav >> text=Invocations")
            page.wait_for_url(f"{srv.url}/admin/invocations")
            page.select_option("select[name=function]", "broken")
            page.select_option("select[name=status]", "error")
            page.click("button:has-text('Filter')")
            page.wait_for_url(re.compile(r".*status=error.*"))
            rows = page.locator("table.calls tbody tr")
            assert rows.count() == 1 and "broken" in rows.first.inner_text()
            page.goto(f"{srv.url}/admin/invocations")
            shot("invocations")
            page.click(f"a[href='/admin/invocations/{site.broken_id}']")
            assert "broken on purpose" in page.inner_text("pre.log")
            shot("invocation")

            page.click("nav >> text=Bills")
            page.wait_for_url(f"{srv.url}/admin/bills")
            assert "Total, free tier applied" in page.inner_text("table.bill")
            shot("bills")
            with page.expect_download() as info:
                page.click("text=Download CSV")
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            assert saved.name.startswith("faas-bill-") and saved.name.endswith("-by-function.csv")
            assert saved.read_text() == srv.faas("bill", "--format", "csv").stdout

            page.click("nav >> text=Schedules")
            assert "Not available yet" in page.inner_text("main")
            shot("schedules")
            page.click("nav >> text=Overview")
            shot("overview")

            page.click("button:has-text('Log out')")
            page.wait_for_url(re.compile(r".*/admin/login$"))
            page.goto(f"{srv.url}/admin/bills")
            assert page.url.startswith(f"{srv.url}/admin/login")
        finally:
            browser.close()
    if shots is not None:
        shutil.rmtree(shots / "tmp", ignore_errors=True)
