"""CORS from ``[cors]`` on a real server: preflights the gateway answers without a function call, the
headers on function responses and on the gateway's own errors for a route, the opt-outs, hot reload,
and a real headless Chromium page on another origin fetching a route with credentials."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, free_port, http, start_server, wait_for, wire

CHROMIUM = "/usr/bin/chromium"
PAGE_PORT = free_port()
PAGE = f"http://127.0.0.1:{PAGE_PORT}"  # the other origin: same host, another port

API = """
    import json
    def handler(event, context):
        return {"statusCode": 200,
                "headers": {"content-type": "application/json", "x-custom": "seen",
                            "access-control-allow-origin": "https://ignored.example"},
                "body": json.dumps({"method": event["requestContext"]["http"]["method"],
                                    "cookies": event.get("cookies", [])})}
"""
FUNCTIONS = {
    "api.py": API,
    "page.py": API,  # only the browser calls it, so its calls can be counted
    "counted.py": """
        def handler(event, context):
            return {"statusCode": 200, "body": "counted"}
    """,
    "boom.py": """
        def handler(event, context):
            raise ValueError("boom")
    """,
}

CONFIG = f"""
[functions.api]
handler = "api.handler"
[functions.boom]
handler = "boom.handler"
[functions.page]
handler = "page.handler"
[functions.counted]
handler = "counted.handler"

[[routes]]
method = "GET"
path = "/items/{{id}}"
function = "api"
[[routes]]
method = "POST"
path = "/items"
function = "api"
[[routes]]
method = "ANY"
path = "/own"
function = "api"
[[routes]]
method = "OPTIONS"
path = "/own"
function = "api"
[[routes]]
method = "ANY"
path = "/private"
function = "api"
cors = false
[[routes]]
method = "POST"
path = "/page"
function = "page"
[[routes]]
method = "ANY"
path = "/counted"
function = "counted"
[[routes]]
method = "GET"
path = "/boom"
function = "boom"

[cors]
allow_origins = ["{PAGE}", "https://app.example.com"]
allow_methods = ["GET", "POST", "PUT"]
allow_headers = ["content-type", "x-api-key"]
expose_headers = ["x-custom"]
max_age = 600
allow_credentials = true
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("cors"), FUNCTIONS, CONFIG, server_extra="max_body_bytes = 1000")
    yield srv
    srv.stop()


def preflight(origin: str, method: str, headers: str | None = None) -> dict[str, str]:
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return h


def calls_of(srv: Server, function: str) -> int:
    return int(srv.db_rows("SELECT count(*) FROM invocations WHERE function = ?", (function,))[0][0])


def test_preflight_answered_by_the_gateway_without_a_call(server: Server) -> None:
    assert wire(server, "OPTIONS", "/items/7", preflight(PAGE, "GET", "content-type")) == http(
        "204 No Content",
        f"access-control-allow-origin: {PAGE}",
        "access-control-allow-credentials: true",
        "access-control-max-age: 600",
        "access-control-allow-methods: GET, POST, PUT",
        "access-control-allow-headers: content-type, x-api-key",
        "vary: Origin",
        "content-length: 0",
    )
    # from an origin not listed: answered, without CORS headers, so the browser refuses
    assert wire(server, "OPTIONS", "/items", preflight("https://evil.example", "POST")) == http(
        "204 No Content", "vary: Origin", "content-length: 0")
    # on an ANY route too (an ANY route is not an OPTIONS route), and nothing is metered for
    # preflights: the real call after them is the function's first
    for _ in range(3):
        r = server.client.options("/counted", headers=preflight(PAGE, "DELETE"))
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == PAGE
    r = server.client.delete("/counted", headers={"Origin": PAGE})
    assert r.text == "counted" and r.headers["access-control-allow-origin"] == PAGE
    server.wait_metered(r.headers["x-amzn-RequestId"])
    assert calls_of(server, "counted") == 1


def test_actual_responses_get_the_headers(server: Server) -> None:
    r = server.client.get("/items/1", headers={"Origin": "https://app.example.com"})
    assert r.status_code == 200 and r.json()["method"] == "GET"
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"  # echoed; the function's is ignored
    assert r.headers.get_list("access-control-allow-origin") == ["https://app.example.com"]
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-expose-headers"] == "x-custom"
    assert r.headers["vary"] == "Origin"
    assert "access-control-max-age" not in r.headers and "access-control-allow-methods" not in r.headers
    # an origin not allowed: no CORS headers at all, not even the function's own
    r = server.client.get("/items/1", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and not [k for k in r.headers if k.startswith("access-control-")]
    assert r.headers["vary"] == "Origin"
    # no Origin (not a browser's cross-origin call): the function's headers as it sent them, Vary for caches
    r = server.client.get("/items/1")
    assert r.headers["access-control-allow-origin"] == "https://ignored.example" and r.headers["vary"] == "Origin"


def test_gateway_errors_for_a_route_carry_them(server: Server) -> None:
    r = server.client.get("/boom", headers={"Origin": PAGE})
    assert (r.status_code, r.json()) == (502, {"message": "Internal server error"})
    assert (r.headers["access-control-allow-origin"], r.headers["access-control-allow-credentials"]) == (PAGE, "true")
    r = server.client.post("/items", content=b"x" * 2000, headers={"Origin": PAGE})
    assert r.status_code == 413 and r.headers["access-control-allow-origin"] == PAGE
    # a path no route serves: 404 as before, no preflight answer
    assert server.client.options("/nowhere", headers=preflight(PAGE, "GET")).status_code == 404


def test_options_route_and_opt_out_get_the_preflight(server: Server) -> None:
    # an OPTIONS route: its function answers the preflight, with the configured preflight headers
    r = server.client.options("/own", headers=preflight(PAGE, "PUT"))
    assert r.status_code == 200 and r.json()["method"] == "OPTIONS"
    assert r.headers["access-control-allow-origin"] == PAGE
    assert r.headers["access-control-allow-methods"] == "GET, POST, PUT" and r.headers["access-control-max-age"] == "600"
    server.wait_metered(r.headers["x-amzn-RequestId"])
    # cors = false: the ANY route's function gets the preflight, and its own headers go out untouched
    r = server.client.options("/private", headers=preflight(PAGE, "PUT"))
    assert r.status_code == 200 and r.json()["method"] == "OPTIONS"
    assert r.headers["access-control-allow-origin"] == "https://ignored.example" and "vary" not in r.headers
    server.wait_metered(r.headers["x-amzn-RequestId"])


def test_reload_changes_and_removes_cors(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    original = srv.config_path.read_text()
    srv.config_path.write_text(original.replace('"https://app.example.com"', '"https://new.example.com"'))

    def origin_allowed(origin: str) -> bool:
        return bool(srv.client.get("/items/1", headers={"Origin": origin}).headers.get("access-control-allow-origin") == origin)

    wait_for(lambda: origin_allowed("https://new.example.com"), 10, what="the new origin")
    assert not origin_allowed("https://app.example.com")
    # a bad [cors] is refused and the running one stays
    srv.config_path.write_text(original.replace(f'["{PAGE}", "https://app.example.com"]', '["*"]'))
    wait_for(lambda: "cors.allow_credentials = true: not allowed" in srv.log(), 10, what="the refusal's reason")
    assert origin_allowed("https://new.example.com")
    # no [cors] table: no CORS headers, and a preflight is an OPTIONS request like any other (404 here)
    srv.config_path.write_text(original[: original.index("[cors]")])
    wait_for(lambda: "vary" not in srv.client.get("/items/1", headers={"Origin": PAGE}).headers, 10, what="CORS off")
    r = srv.client.get("/items/1", headers={"Origin": PAGE})
    assert r.headers["access-control-allow-origin"] == "https://ignored.example"
    assert srv.client.options("/items/1", headers=preflight(PAGE, "GET")).status_code == 404


# --- a real browser -------------------------------------------------------------------------------

FETCH = """async ([url, init]) => {
    try {
        const r = await fetch(url, init);
        return {ok: true, status: r.status, body: await r.json(), custom: r.headers.get("x-custom")};
    } catch (e) {
        return {ok: false, error: String(e)};
    }
}"""


@pytest.fixture(scope="module")
def page_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The other origin: a page served by Python's http.server on another port."""
    root = tmp_path_factory.mktemp("page")
    (root / "index.html").write_text("<!doctype html><title>other origin</title><p>a page on another origin</p>")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", PAGE_PORT), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"{PAGE}/index.html"
    httpd.shutdown()
    httpd.server_close()


def test_browser_on_another_origin_fetches_with_credentials(server: Server, page_site: str, tmp_path: Path) -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    post = {"method": "POST", "credentials": "include", "headers": {"content-type": "application/json"}, "body": "{}"}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "session", "value": "s3cret", "url": server.url}])
            page = context.new_page()
            page.goto(page_site)
            # configured: the preflight (content-type: application/json) passes, the cookie goes along,
            # and the exposed header is readable
            result = page.evaluate(FETCH, [f"{server.url}/page", post])
            assert result == {"ok": True, "status": 200, "body": {"method": "POST", "cookies": ["session=s3cret"]},
                              "custom": "seen"}
            # a route with cors = false: the browser refuses it (the page sees the failure)
            result = page.evaluate(FETCH, [f"{server.url}/private", post])
            assert result["ok"] is False and "Failed to fetch" in result["error"]
            # the function ran for the POST only: the preflight was the gateway's
            wait_for(lambda: calls_of(server, "page") == 1, 10, what="the POST metered")

            # credentials turned off: the same fetch with credentials fails, without them it passes
            original = server.config_path.read_text()
            server.config_path.write_text(original.replace("allow_credentials = true", "allow_credentials = false"))
            try:
                wait_for(lambda: "access-control-allow-credentials" not in server.client.get(
                    "/items/1", headers={"Origin": PAGE}).headers, 10, what="credentials off")
                result = page.evaluate(FETCH, [f"{server.url}/page", post])
                assert result["ok"] is False and "Failed to fetch" in result["error"]
                result = page.evaluate(FETCH, [f"{server.url}/page", {**post, "credentials": "omit"}])
                assert result == {"ok": True, "status": 200, "body": {"method": "POST", "cookies": []}, "custom": "seen"}
            finally:
                server.config_path.write_text(original)
                wait_for(lambda: "access-control-allow-credentials" in server.client.get(
                    "/items/1", headers={"Origin": PAGE}).headers, 10, what="credentials back on")
        finally:
            browser.close()
