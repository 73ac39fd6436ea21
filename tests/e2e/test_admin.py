"""The admin pages on a real server: login and session cookie, CSRF, the JSON endpoint's key, each
page's content, the schedules, API keys and dead letters pages and their actions, and a real headless
Chromium (Debian's, driven by Playwright) clicking through it."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, Server, start_server, wait_for

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
    # Fails while its flag file exists: dead letters on demand, which succeed once replayed after.
    "flaky.py": """
        import os

        def handler(event, context):
            if os.path.exists(os.environ["FAIL_FLAG"]):
                raise RuntimeError("the flag file says fail")
            return {"ok": True}
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

[functions.flaky]
handler = "flaky.handler"
max_retries = 0
environment = { FAIL_FLAG = "@FLAG@" }

[usage_plans.free]
rate = 5
burst = 10
quota = 1000

# rate() counts from when the schedule is first seen (server start): no fire within this test module.
[[schedules]]
name = "hourly-report"
expression = "rate(1 hour)"
function = "hello"

[[schedules]]
name = "nightly-backup"
expression = "cron(30 2 * * ? *)"
timezone = "Europe/Berlin"
function = "hello"
enabled = false

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

    @property
    def flag(self) -> Path:
        """While this file exists, the flaky function fails."""
        return self.server.root / "flaky-fails"

    def dead_letter(self, payload: object) -> int:
        """Make flaky fail one asynchronous call (max_retries = 0); its dead letter's id."""
        self.flag.touch()
        r = self.server.invoke("flaky", payload, headers={"X-Amz-Invocation-Type": "Event"})
        assert r.status_code == 202, r.text
        event_id = r.headers["x-amzn-requestid"]

        def letter() -> int | None:
            rows = self.server.db_rows("SELECT id FROM dead_letters WHERE event_id = ?", (event_id,))
            return rows[0][0] if rows else None

        return int(wait_for(letter, 15, what=f"event {event_id} dead-lettered"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("admin")
    server = start_server(root, FUNCTIONS, CONFIG.replace("@FLAG@", str(root / "flaky-fails")))
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
        assert evil.status_code == 303 and evil.headers["location"] == "/admin/schedules"  # schedules first
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


def test_pages_show_functions_calls_logs_and_bills(site: Site) -> None:
    srv = site.server

    def get(path: str) -> httpx.Response:
        return srv.client.get(path, headers=BEARER)  # Bearer works on every admin page

    overview = get("/admin").text
    assert "2</span> schedules" in overview and "dead letters" in overview and "not available yet" not in overview
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


def schedule_api(server: Server, name: str) -> dict[str, Any]:
    r = server.client.get(f"/admin/api/schedules/{name}", headers=BEARER)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def run_row(html: str, run_id: int) -> str:
    m = re.search(rf'<tr id="run-{run_id}">(.*?)</tr>', html, re.S)
    assert m, f"run #{run_id} is not on the page"
    return m.group(1)


def test_schedules_page_pauses_resumes_and_runs_now(site: Site) -> None:
    srv = site.server
    with login(srv) as client:
        listing = client.get("/admin/schedules")
        assert listing.status_code == 200
        text = listing.text
        assert "rate(1 hour)" in text and "cron(30 2 * * ? *)" in text and "in Europe/Berlin" in text
        assert 'class="state active"' in text and 'class="state disabled"' in text and "not while disabled" in text
        token = csrf_of(text)
        pause = "/admin/schedules/hourly-report/pause"

        # Refused without the session's token, or from another site; nothing changes.
        assert client.post(pause).status_code == 403
        assert client.post(pause, data={"csrf": "forged"}).status_code == 403
        assert client.post(pause, data={"csrf": token}, headers={"Origin": "http://evil.example"}).status_code == 403
        assert schedule_api(srv, "hourly-report")["paused"] is False

        paused = client.post(pause, data={"csrf": token})
        assert paused.status_code == 303
        assert paused.headers["location"] == "/admin/schedules?done=paused&name=hourly-report"
        assert schedule_api(srv, "hourly-report")["paused"] is True  # the book the clock and the API use
        after = client.get(paused.headers["location"]).text
        assert "Paused hourly-report" in after and 'class="state paused"' in after and ">Resume</button>" in after
        assert "not while paused" in after
        assert 'class="flash"' not in client.get("/admin/schedules?done=paused&name=Send+money+to").text

        resumed = client.post("/admin/schedules/hourly-report/resume", data={"csrf": token, "back": "schedule"})
        assert resumed.status_code == 303
        assert resumed.headers["location"] == "/admin/schedules/hourly-report?done=resumed&name=hourly-report"
        assert schedule_api(srv, "hourly-report")["paused"] is False

        disabled = client.post("/admin/schedules/nightly-backup/resume", data={"csrf": token})
        assert disabled.status_code == 409 and "enabled = false" in disabled.text
        assert client.post("/admin/schedules/nope/run", data={"csrf": token}).status_code == 404
        assert client.post("/admin/schedules/hourly-report/explode", data={"csrf": token}).status_code == 404
        assert client.get("/admin/schedules/nope").status_code == 404

        ran = client.post("/admin/schedules/hourly-report/run", data={"csrf": token})
        assert ran.status_code == 303
        m = re.fullmatch(r"/admin/schedules/hourly-report\?done=run&run=(\d+)", ran.headers["location"])
        assert m, ran.headers["location"]
        run_id = int(m.group(1))
        first = client.get(ran.headers["location"]).text
        assert f"Run #{run_id} queued" in first
        row = run_row(first, run_id)
        assert "manual" in row
        if re.search(r'class="status (queued|running)"', row):  # still going: the page reloads itself
            assert '<meta http-equiv="refresh" content="2">' in first

        def finished() -> str | None:
            html = client.get(f"/admin/schedules/hourly-report?done=run&run={run_id}").text
            return html if 'class="status success"' in run_row(html, run_id) else None

        done = wait_for(finished, 20, what=f"run #{run_id} to succeed")
        assert 'http-equiv="refresh"' not in done  # nothing runs any more: no reload
        rid = schedule_api(srv, "hourly-report")["runs"][0]["requestId"]
        assert f'href="/admin/invocations/{rid}"' in run_row(done, run_id)
        srv.wait_metered(rid)
        srv.wait_log(rid)
        log = client.get(f"/admin/invocations/{rid}").text
        assert "hello from the admin test" in log and "schedule" in log
        listing = client.get("/admin/schedules").text
        assert f'href="/admin/invocations/{rid}"' in listing  # the last run's log, from the list


def test_keys_page_shows_a_secret_once_and_revokes_at_once(site: Site) -> None:
    srv = site.server

    def api_keys() -> list[dict[str, Any]]:
        return srv.client.get("/admin/api/keys", headers=BEARER).json()["keys"]  # type: ignore[no-any-return]

    with login(srv) as client:
        page = client.get("/admin/keys")
        assert page.status_code == 200
        assert "mobile-app" in page.text and site.key_id in page.text and ">free: 5 calls/s, bursts of 10" in page.text
        token = csrf_of(page.text)
        before = len(api_keys())
        assert client.post("/admin/keys", data={"name": "ci-bot"}).status_code == 403
        assert client.post("/admin/keys", data={"name": "ci-bot", "csrf": token},
                           headers={"Origin": "http://evil.example"}).status_code == 403
        assert len(api_keys()) == before

        nameless = client.post("/admin/keys", data={"name": " ", "csrf": token})
        assert nameless.status_code == 400 and "a key needs a name" in nameless.text
        no_plan = client.post("/admin/keys", data={"name": "ci-bot", "plan": "gold", "csrf": token})
        assert no_plan.status_code == 400 and "no usage plan &#39;gold&#39;" in no_plan.text
        assert 'value="ci-bot"' in no_plan.text  # the form keeps what was typed
        assert len(api_keys()) == before

        created = client.post("/admin/keys", data={"name": "ci-bot", "plan": "free", "csrf": token})
        assert created.status_code == 201
        m = re.search(r'id="secret" readonly value="([^"]+)"', created.text)
        assert m
        secret = m.group(1)
        assert created.text.count(secret) == 1 and "it is not shown again" in created.text
        (key,) = [k for k in api_keys() if k["name"] == "ci-bot"]
        assert key["plan"] == "free" and key["id"] in created.text
        assert srv.client.get("/private", headers={"x-api-key": secret}).status_code == 200

        listing = client.get("/admin/keys").text
        assert f'id="key-{key["id"]}"' in listing and secret not in listing  # never again
        assert secret not in srv.client.get("/admin/api/keys", headers=BEARER).text

        confirm = client.get(f"/admin/keys/{key['id']}/revoke")
        assert confirm.status_code == 200 and "Revoke ci-bot now" in confirm.text
        revoke = f"/admin/keys/{key['id']}/revoke"
        assert client.post(revoke, data={"csrf": "forged"}).status_code == 403
        assert srv.client.get("/private", headers={"x-api-key": secret}).status_code == 200
        revoked = client.post(revoke, data={"csrf": token})
        assert revoked.status_code == 303 and revoked.headers["location"] == f"/admin/keys?done=revoked&id={key['id']}"
        assert srv.client.get("/private", headers={"x-api-key": secret}).status_code == 403  # at once
        after = client.get(revoked.headers["location"]).text
        assert f"Revoked {key['id']}" in after and 'class="state revoked"' in after
        assert client.post("/admin/keys/FKNOSUCHKEY/revoke", data={"csrf": token}).status_code == 404
        assert client.get("/admin/keys/FKNOSUCHKEY/revoke").status_code == 404


def error_page(r: httpx.Response) -> tuple[int, str, str, str]:
    """An admin error page as the user reads it: status, heading, sentence and where Back goes."""
    m = re.search(r'<h1>(.*?)</h1>\s*<p class="alert" role="alert">(.*?)</p>\s*<p><a href="([^"]*)">', r.text, re.S)
    assert m, r.text
    return r.status_code, m.group(1), m.group(2), m.group(3)


def test_admin_errors_in_their_words(site: Site) -> None:
    """The admin JSON API and the admin pages answer each core error the same way every time."""
    srv = site.server
    json_answers = {}
    for method, path, body in [
        ("GET", "/admin/api/schedules/nope", None),
        ("POST", "/admin/api/schedules/nope/pause", None),
        ("POST", "/admin/api/schedules/nightly-backup/resume", None),
        ("POST", "/admin/api/schedules/hourly-report/explode", None),
        ("GET", "/admin/api/schedules/hourly-report?limit=0", None),
        ("GET", "/admin/api/keys/FKNOSUCHKEY", None),
        ("DELETE", "/admin/api/keys/FKNOSUCHKEY", None),
        ("POST", "/admin/api/keys?{", b"{"),
        ("POST", "/admin/api/keys?[1]", b"[1]"),
        ("POST", "/admin/api/keys?colour", b'{"name": "x", "colour": "red"}'),
        ("POST", "/admin/api/keys?gold", b'{"name": "x", "plan": "gold"}'),
    ]:
        r = srv.client.request(method, path, content=body, headers=BEARER)
        headers = [h for h in r.headers.raw if h[0] not in (b"date", b"server")]
        assert headers[1:] == [(b"content-type", b"application/json")], headers
        assert r.content == json.dumps(r.json(), separators=(",", ":")).encode()  # Starlette's compact JSON
        json_answers[f"{method} {path}"] = (r.status_code, r.json())
    with login(srv) as client:
        token = csrf_of(client.get("/admin/schedules").text)
        pages = {
            "schedule": error_page(client.get("/admin/schedules/nope")),
            "run missing": error_page(client.post("/admin/schedules/nope/run", data={"csrf": token, "back": "schedule"})),
            "resume disabled": error_page(client.post("/admin/schedules/nightly-backup/resume",
                                                      data={"csrf": token, "back": "schedule"})),
            "function": error_page(client.get("/admin/functions/nope")),
            "revoke page": error_page(client.get("/admin/keys/FKNOSUCHKEY/revoke")),
            "revoke": error_page(client.post("/admin/keys/FKNOSUCHKEY/revoke", data={"csrf": token})),
        }
    assert json_answers == ADMIN_JSON_ERRORS
    assert pages == ADMIN_PAGE_ERRORS


KNOWN = "(known: hourly-report, nightly-backup)"
ADMIN_JSON_ERRORS = {
    "GET /admin/api/schedules/nope": (404, {"message": f"no schedule named 'nope' {KNOWN}"}),
    "POST /admin/api/schedules/nope/pause": (404, {"message": f"no schedule named 'nope' {KNOWN}"}),
    "POST /admin/api/schedules/nightly-backup/resume": (409, {
        "message": "schedule 'nightly-backup' is disabled in config.toml (enabled = false); enable it there"}),
    "POST /admin/api/schedules/hourly-report/explode": (404, {
        "message": "unknown action 'explode': use pause, resume or run"}),
    "GET /admin/api/schedules/hourly-report?limit=0": (400, {
        "message": "limit = '0': must be an integer from 1 to 1000"}),
    "GET /admin/api/keys/FKNOSUCHKEY": (404, {"message": "API key not found: FKNOSUCHKEY"}),
    "DELETE /admin/api/keys/FKNOSUCHKEY": (404, {"message": "API key not found: FKNOSUCHKEY"}),
    "POST /admin/api/keys?{": (400, {"message": "body must be a JSON object: Expecting property name enclosed in "
                                                "double quotes: line 1 column 2 (char 1)"}),
    "POST /admin/api/keys?[1]": (400, {"message": "body must be a JSON object with name and plan"}),
    "POST /admin/api/keys?colour": (400, {"message": "unknown field 'colour': only name and plan"}),
    "POST /admin/api/keys?gold": (400, {"message": "plan: no usage plan 'gold' in the config (known: free)"}),
}
ADMIN_PAGE_ERRORS = {
    "schedule": (404, "No such schedule", "no schedule named &#39;nope&#39; (known: hourly-report, nightly-backup)",
                 "/admin/schedules"),
    "run missing": (404, "No such schedule",
                    "no schedule named &#39;nope&#39; (known: hourly-report, nightly-backup)", "/admin/schedules"),
    "resume disabled": (409, "Not done", "Schedule &#39;nightly-backup&#39; is disabled in config.toml "
                        "(enabled = false); enable it there.", "/admin/schedules/nightly-backup"),
    "function": (404, "No such function", "There is no function called &#39;nope&#39; in the config.", "/admin"),
    "revoke page": (404, "No such API key", "There is no API key &#39;FKNOSUCHKEY&#39;.", "/admin/keys"),
    "revoke": (404, "No such API key", "There is no API key &#39;FKNOSUCHKEY&#39;.", "/admin/keys"),
}


def test_dead_letters_page_lists_filters_and_replays(site: Site) -> None:
    srv = site.server
    first = site.dead_letter({"order": 17})
    second = site.dead_letter({"order": 18})

    def letters() -> set[int]:
        return {r[0] for r in srv.db_rows("SELECT id FROM dead_letters")}

    with login(srv) as client:
        page = client.get("/admin/dead-letters")
        assert page.status_code == 200
        row = re.search(rf'<tr id="letter-{first}">(.*?)</tr>', page.text, re.S)
        assert row
        assert "flaky" in row.group(1) and "RuntimeError" in row.group(1) and "the flag file says fail" in row.group(1)
        assert "RetriesExhausted" in row.group(1) and "{&#34;order&#34;: 17}" in row.group(1)
        assert re.search(r'href="/admin/invocations/[0-9a-f-]{36}">try 1</a>', row.group(1))
        none_for_hello = client.get("/admin/dead-letters?function=hello").text
        assert "No dead letters for hello" in none_for_hello and f'id="letter-{first}"' not in none_for_hello
        assert f'id="letter-{second}"' in client.get("/admin/dead-letters?function=flaky").text
        token = csrf_of(page.text)

        assert client.post(f"/admin/dead-letters/{first}/replay").status_code == 403
        assert client.post("/admin/dead-letters/replay", data={"csrf": "forged"}).status_code == 403
        assert {first, second} <= letters()

        # Replayed while it still fails: the dispatcher runs it again and it comes back as a new letter.
        again = client.post(f"/admin/dead-letters/{first}/replay", data={"csrf": token, "function": "flaky"})
        assert again.status_code == 303
        assert again.headers["location"] == "/admin/dead-letters?function=flaky&done=replayed&n=1"
        assert "Replayed 1 dead letter:" in client.get(again.headers["location"]).text
        assert first not in letters()
        back = wait_for(lambda: letters() - {second}, 15, what="the replayed event to fail again")
        (third,) = back
        (tries,) = srv.db_rows("SELECT request_ids FROM dead_letters WHERE id = ?", (third,))[0]
        assert len(json.loads(tries)) == 2  # its first try and the replay's

        gone = client.post(f"/admin/dead-letters/{first}/replay", data={"csrf": token})
        assert "Nothing was replayed" in client.get(gone.headers["location"]).text

        # Fixed: replay all, and both run to success.
        site.flag.unlink()
        ok_before = srv.db_rows("SELECT COUNT(*) FROM invocations WHERE function = 'flaky' AND status = 'success'")[0][0]
        everything = client.post("/admin/dead-letters/replay", data={"csrf": token, "function": "flaky"})
        assert everything.headers["location"] == "/admin/dead-letters?function=flaky&done=replayed&n=2"
        assert letters() == set()
        wait_for(lambda: srv.db_rows("SELECT COUNT(*) FROM invocations WHERE function = 'flaky' AND status = 'success'")[0][0]
                 == ok_before + 2, 15, what="both replayed events to succeed")
        empty = client.get("/admin/dead-letters").text
        assert "No dead letters" in empty and "Replay all" not in empty


def test_empty_sections_say_how_to_fill_them(make_server: Callable[..., Server]) -> None:
    srv = make_server({"hello.py": FUNCTIONS["hello.py"]}, '[functions.hello]\nhandler = "hello.handler"\n')
    pages = {slug: srv.client.get(f"/admin/{slug}", headers=BEARER) for slug in ("schedules", "keys", "dead-letters")}
    assert all(page.status_code == 200 for page in pages.values())
    assert "No schedules yet" in pages["schedules"].text and "[[schedules]]" in pages["schedules"].text
    assert "README" in pages["schedules"].text
    assert "No API keys yet" in pages["keys"].text and "No usage plans are configured" in pages["keys"].text
    assert "No dead letters" in pages["dead-letters"].text and "max_retries" in pages["dead-letters"].text


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


def test_browser_clicks_through_every_page(site: Site, tmp_path: Path) -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

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

            # Schedules: pause and resume one, run it now and see its run appear and finish.
            page.click("nav >> text=Schedules")
            page.wait_for_url(f"{srv.url}/admin/schedules")
            row = page.locator("#schedule-hourly-report")
            expect(row.locator(".state")).to_have_text("active")
            row.locator("button", has_text="Pause").click()
            page.wait_for_url(re.compile(r".*/admin/schedules\?done=paused&name=hourly-report$"))
            expect(page.locator(".flash")).to_contain_text("Paused hourly-report")
            expect(row.locator(".state")).to_have_text("paused")
            row.locator("button", has_text="Resume").click()
            page.wait_for_url(re.compile(r".*done=resumed.*"))
            expect(row.locator(".state")).to_have_text("active")
            row.locator("button", has_text="Run now").click()
            page.wait_for_url(re.compile(r".*/admin/schedules/hourly-report\?done=run&run=\d+$"))
            run_id = page.url.rsplit("=", 1)[1]
            expect(page.locator(".flash")).to_contain_text(f"Run #{run_id} queued")
            # The page reloads itself while the run is queued or running; wait for it to show the end.
            expect(page.locator(f"#run-{run_id} .status")).to_have_text("success", timeout=20_000)
            shot("schedule")
            page.click(f"#run-{run_id} a")
            expect(page.locator("pre.log")).to_contain_text("hello from the admin test")
            page.click("nav >> text=Schedules")
            expect(row.locator(".last-run .status")).to_have_text("success")
            shot("schedules")

            # API keys: create one, see its secret once, revoke it.
            page.click("nav >> text=API keys")
            page.wait_for_url(f"{srv.url}/admin/keys")
            page.fill("input[name=name]", "browser-key")
            page.select_option("select[name=plan]", "free")
            page.click("button:has-text('Create key')")
            expect(page.locator("h1")).to_have_text("Key created: browser-key")
            secret = page.input_value("#secret")
            assert len(secret) >= 40 and "it is not shown again" in page.inner_text("main")
            assert srv.client.get("/private", headers={"x-api-key": secret}).status_code == 200
            shot("key-created")
            page.click("text=Done: back to the keys")
            page.wait_for_url(f"{srv.url}/admin/keys")
            assert secret not in page.content()
            shot("keys")
            page.locator("tr", has_text="browser-key").locator("text=Revoke…").click()
            page.click("button:has-text('Revoke browser-key now')")
            expect(page.locator(".flash")).to_contain_text("Revoked")
            expect(page.locator("tr", has_text="browser-key").locator(".state")).to_have_text("revoked")
            assert srv.client.get("/private", headers={"x-api-key": secret}).status_code == 403

            # Dead letters: two failed events; replay one, then the rest, once the function is fixed.
            letters = [site.dead_letter({"order": 42}), site.dead_letter({"order": 43, "note": "made to fail"})]
            page.click("nav >> text=Dead letters")
            page.wait_for_url(f"{srv.url}/admin/dead-letters")
            expect(page.locator(f"#letter-{letters[0]}")).to_contain_text("the flag file says fail")
            shot("dead-letters")
            site.flag.unlink()
            page.locator(f"#letter-{letters[0]} button", has_text="Replay").click()
            expect(page.locator(".flash")).to_contain_text("Replayed 1 dead letter")
            expect(page.locator(f"#letter-{letters[0]}")).to_have_count(0)
            with page.expect_navigation():
                page.click("button:has-text('Replay all')")
            expect(page.locator(".flash")).to_contain_text("Replayed 1 dead letter")
            expect(page.locator("main h2")).to_have_text("No dead letters")

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
