"""The shipped example functions, served from the shipped config.toml, as the README shows them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, start_server

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("examples")
    shutil.copytree(ROOT / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    config = (ROOT / "config.toml").read_text().split("[executor]", 1)[1]
    # The examples' dependencies come from the wheels `make test` downloaded: no index at test time.
    offline = f'[executor]\nfind_links = ["{ROOT / ".venv" / "wheelhouse"}"]\noffline = true\n'
    srv = start_server(root, {}, offline + config)
    srv.wait_environments()
    yield srv
    srv.stop()


def test_hello(server: Server) -> None:
    r = server.client.get("/hello/world", params={"greeting": "Hi"})
    assert r.status_code == 200
    assert r.json()["message"] == "Hi, world!"
    assert r.json()["requestId"] == r.headers["x-amzn-requestid"]


def test_echo_returns_the_event(server: Server) -> None:
    r = server.client.post("/echo/a/b", json={"k": 1})
    assert r.json()["pathParameters"] == {"proxy": "a/b"}
    assert r.json()["body"] == '{"k":1}'


def test_mangum_app_behind_proxy_route(server: Server) -> None:
    assert server.client.get("/app/").text == "webapp is up"
    r = server.client.get("/app/items/42", params={"q": "x"}, headers={"Cookie": "a=1; b=2"})
    assert r.json() == {"item": "42", "q": "x", "cookies": {"a": "1", "b": "2"}}
    r = server.client.post("/app/items", json={"name": "widget"})
    assert r.status_code == 201
    assert r.json() == {"created": {"name": "widget"}}
    assert r.headers["set-cookie"].startswith("last=widget")


def test_slow_demo_times_out_and_fails(server: Server) -> None:
    assert server.client.get("/slow", params={"sleep": "0"}).json() == {"slept": 0.0}
    assert server.client.get("/slow", params={"sleep": "5"}).status_code == 504
    assert server.client.get("/slow", params={"fail": "1"}).status_code == 502


def test_thumbnail_on_upload(server: Server) -> None:
    import io
    import json

    from PIL import Image

    from tests.conftest import ADMIN_KEY, wait_for

    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    image = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(image, format="PNG")
    r = server.client.put("/buckets/uploads/photos/red cat.png", content=image.getvalue(), headers=auth)
    assert r.status_code == 200, r.text
    server.client.put("/buckets/uploads/notes.txt", content=b"not an image", headers=auth)

    def fetched(key: str) -> bytes | None:
        got = server.client.get(f"/buckets/thumbnails/{key}", headers=auth)
        return got.content if got.status_code == 200 else None

    meta = json.loads(wait_for(lambda: fetched("photos/red cat.png.json"), 20, what="the metadata record"))
    thumb = Image.open(io.BytesIO(wait_for(lambda: fetched("photos/red cat.png"), what="the thumbnail")))
    assert thumb.format == "PNG" and thumb.size == (128, 96)
    assert meta["name"] == "photos/red cat.png" and meta["size"] == len(image.getvalue())
    assert meta["dimensions"] == {"width": 640, "height": 480} and meta["created"].endswith("Z")
    assert meta["thumbnail"] == {"bucket": "thumbnails", "key": "photos/red cat.png", "width": 128, "height": 96}
    wait_for(lambda: server.db_rows("SELECT COUNT(*) FROM invocations WHERE function = 'thumbnail' AND "
                                    "trigger = 'bucket' AND status = 'success'") == [(2,)], what="both uploads handled")
    assert fetched("notes.txt") is None  # not an image: skipped, not retried
